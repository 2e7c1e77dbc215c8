// Package vec holds the vector kernels of keel's embedded vector store
// (rag/memstore): float32 dot products of one query against many stored
// vectors, L2 normalisation, and symmetric per-vector int8 quantisation with
// its integer dot product.
//
// # Kernels
//
// On amd64 the dot products run in AVX2+FMA assembly generated with avo
// (github.com/mmcloughlin/avo) by the generator in ./asm, a module of its
// own so that the main module does not depend on avo. The CPU is checked
// once at start-up (golang.org/x/sys/cpu); without AVX2 and FMA, on other
// architectures, and under the purego build tag, a portable pure-Go
// implementation (8-wide, unrolled, several accumulators) runs instead.
// [Implementation] says which one is in use. The tests compare both against
// a float64 reference in every build, so
//
//	go test ./internal/vec/
//	go test -tags purego ./internal/vec/
//
// together cover the dispatch in both configurations. After editing
// asm/main.go, run go generate in this directory.
//
// Built with GOEXPERIMENT=simd (build tag goexperiment.simd), amd64 uses
// the same algorithms written with Go's experimental simd/archsimd package
// instead of the assembly; that build is opt-in, since the experiment has
// no compatibility promise, and is tested with
//
//	GOEXPERIMENT=simd go test ./internal/vec/
//
// # Scanning a store
//
// [DotBatch] scores a contiguous block of rows of a row-major matrix
// against one query: a store scans each run of admitted rows by passing the
// sub-slice flat[first*dim:end*dim] and a matching out, in blocks small
// enough for out to stay in cache. [DotRows] scores scattered rows named by
// index, for a filter whose admitted rows are not contiguous. Neither
// allocates; several goroutines may score disjoint parts of one matrix at
// once, since the kernels only read their inputs and write out.
//
// # Accuracy
//
// Float32 results differ from the exact dot product by at most
//
//	γ(n+2) · Σ|a[i]·b[i]|,  γ(k) = k·u / (1 - k·u),  u = 2⁻²⁴
//
// (plus a few units of the smallest subnormal when products underflow):
// the standard bound for any order of float32 summation of n products,
// which the tests check against a float64 reference. The assembly and the
// portable code add in different orders, so their results may differ in the
// last bits; both stay within the bound. In practice, with 8 to 64
// independent partial sums, the error is far smaller than the bound.
//
// NaN and ±Inf follow IEEE 754: a NaN in either input gives NaN; an
// infinity gives ±Inf, or NaN where infinities of opposite sign meet or one
// is multiplied by zero. When finite partial sums overflow float32 the
// result depends on the summation order and may differ between kernels.
//
// Int8 dot products are exact in wrapping int32 arithmetic in every kernel:
// they cannot wrap for vectors shorter than 131,072 elements, since each
// product is at most 128² = 16,384 in magnitude. On amd64 they take one of
// two loops, chosen by a quick check of the query (the first argument of
// [DotInt8]): without -128, as every vector from [QuantizeInt8] is,
// VPMADDUBSW multiplies |b| by a with b's sign and adds pairs into int16,
// which cannot saturate since |a| ≤ 127; with -128 the bytes are
// sign-extended to int16 first, which takes twice the instructions. Both
// give the same, exact, result.
//
// # Lengths
//
// Mismatched lengths, a negative dim, or a row index out of range are
// programming errors and panic, as copy and slice indexing do, with a
// message naming the function: a kernel that returned an error would make
// every caller check it in the hot loop of a search. A store must check the
// dimension of vectors that come from outside (documents, queries,
// embedding providers) before it reaches these functions, and return an
// error there.
package vec

//go:generate go run -C asm . -out ../vec_amd64.s -stubs ../vec_amd64.go -pkg vec
