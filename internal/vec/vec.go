package vec

import (
	"fmt"
	"math"
)

// Implementation names the kernels in use: "avx2+fma" for the amd64
// assembly, "archsimd-avx2+fma" for the simd/archsimd kernels of a
// GOEXPERIMENT=simd build, "portable" for the pure-Go code (other
// architectures, CPUs without AVX2 or FMA, or the purego build tag). Benchmarks and logs can
// print it so that a number is never read without knowing which code
// produced it.
func Implementation() string { return implementation() }

// Dot returns the dot product of a and b, accumulated in float32 (see the
// package documentation for the error bound and NaN/Inf behaviour).
//
// It panics if len(a) != len(b).
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("vec.Dot: length mismatch: %d != %d", len(a), len(b)))
	}
	if len(a) == 0 {
		return 0
	}
	return dot(a, b)
}

// DotBatch scores the rows of a row-major matrix against one query: it sets
// out[i] to Dot(q, flat[i*dim:(i+1)*dim]) for every i < len(out). This is
// the inner loop of an exact search: to scan a run of admitted rows
// [first, end), pass flat[first*dim:end*dim] and out[:end-first]. It does
// not allocate.
//
// It panics unless len(q) == dim and len(flat) == dim*len(out).
func DotBatch(q, flat []float32, dim int, out []float32) {
	checkBatch("vec.DotBatch", len(q), len(flat), dim, len(out))
	if dim == 0 {
		clear(out)
		return
	}
	dotBatch(q, flat, out)
}

// DotRows scores scattered rows of a row-major matrix against one query: it
// sets out[i] to Dot(q, flat[r*dim:(r+1)*dim]) with r = rows[i]. It is for
// filters whose admitted rows are not contiguous; for runs of rows,
// [DotBatch] on a sub-slice avoids reading the indexes. It does not
// allocate.
//
// It panics unless len(q) == dim, len(flat) is a multiple of dim,
// len(out) == len(rows), and every index is in [0, len(flat)/dim).
func DotRows(q, flat []float32, dim int, rows []int, out []float32) {
	checkRows("vec.DotRows", len(q), len(flat), dim, rows, len(out))
	if dim == 0 {
		clear(out)
		return
	}
	dotRows(q, flat, rows, out)
}

// Normalize scales v in place to unit Euclidean length, so that Dot of two
// normalised vectors is their cosine similarity. The norm is computed in
// float64 and each element is the float64 quotient rounded once to
// float32, so the result is the same on every architecture. A vector
// whose norm is zero, or not finite (it holds a NaN or an infinity), is
// left unchanged: it has no direction. (Squares of float32 values cannot
// overflow the float64 sum.)
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	norm := math.Sqrt(ss)
	if norm == 0 || math.IsInf(norm, 0) || math.IsNaN(norm) {
		return
	}
	for i, x := range v {
		v[i] = float32(float64(x) / norm)
	}
}

// QuantizeInt8 quantises v symmetrically to int8: it returns q and scale
// such that v[i] ≈ float32(q[i]) * scale, with scale = max|v[i]| / 127
// (rounded up to a float32) and q[i] = round(v[i] / scale), so q is in
// [-127, 127] and -128 is never used. See [QuantizeInt8Into] for the error bound and for non-finite
// input; that function does the same without allocating.
func QuantizeInt8(v []float32) (q []int8, scale float32) {
	q = make([]int8, len(v))
	return q, QuantizeInt8Into(q, v)
}

// QuantizeInt8Into quantises v into dst as [QuantizeInt8] does and returns
// the scale.
//
// Error bound: for every finite v[i],
//
//	|v[i] - q[i]·scale| ≤ scale/2 ≈ max|v| / 254
//
// computed exactly (in float64, say); dequantising in float32 adds one
// rounding, |v[i]|·2⁻²⁴ at most. Because of this, with a = qa·sa and
// b = qb·sb,
//
//	|a·b - sa·sb·DotInt8(qa, qb)| ≤ (sb·Σ|a[i]| + sa·Σ|b[i]|)/2 + n·sa·sb/4
//
// and for unit vectors of dimension n (Σ|a[i]| ≤ √n, max|a| ≤ 1) the error
// of a cosine similarity is at most about √n/127 + n/64516, which is a
// loose worst case: rounding errors are not all of one sign, and the
// typical error is some √n times smaller.
//
// The scale is taken from the finite elements only. NaN becomes 0 and ±Inf
// become ±127; such vectors have no meaningful quantisation, and a store
// should reject them before. The scale is 0 only when no element is finite
// and non-zero.
//
// It panics if len(dst) != len(v).
func QuantizeInt8Into(dst []int8, v []float32) float32 {
	if len(dst) != len(v) {
		panic(fmt.Sprintf("vec.QuantizeInt8Into: length mismatch: %d != %d", len(dst), len(v)))
	}
	var m float32
	for _, x := range v {
		if a := float32(math.Abs(float64(x))); a > m && a <= math.MaxFloat32 {
			m = a
		}
	}
	if m == 0 {
		// No finite element is non-zero: there is no scale to find.
		for i, x := range v {
			dst[i] = saturate(x)
		}
		return 0
	}
	// Round the scale up, never down, so that max|v|/scale ≤ 127 and no
	// element is clamped: the bound below then holds even where the scale
	// is a subnormal float32 with few bits of precision.
	scale := float32(float64(m) / 127)
	if float64(scale)*127 < float64(m) {
		scale = math.Nextafter32(scale, float32(math.Inf(1)))
	}
	// Divide by the float32 scale actually returned, in float64, so that
	// the bound holds for the scale the caller multiplies by.
	inv := 1 / float64(scale)
	for i, x := range v {
		f := float64(x) * inv
		switch {
		case f != f:
			dst[i] = 0
		case f >= 127:
			dst[i] = 127
		case f <= -127:
			dst[i] = -127
		default:
			dst[i] = int8(math.Round(f))
		}
	}
	return scale
}

// saturate maps the elements of a vector without finite non-zero
// elements: ±Inf to ±127 and everything else (NaN, zeros) to 0.
func saturate(x float32) int8 {
	switch {
	case math.IsInf(float64(x), 1):
		return 127
	case math.IsInf(float64(x), -1):
		return -127
	}
	return 0
}

// DotInt8 returns the dot product of a and b, exact in wrapping int32
// arithmetic (it cannot wrap below 131,072 elements). For vectors from
// [QuantizeInt8], multiply by both scales to estimate the float32 dot
// product.
//
// It panics if len(a) != len(b).
func DotInt8(a, b []int8) int32 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("vec.DotInt8: length mismatch: %d != %d", len(a), len(b)))
	}
	if len(a) == 0 {
		return 0
	}
	return dotInt8(a, b)
}

// DotInt8Batch is [DotBatch] for int8 vectors: it sets out[i] to
// DotInt8(q, flat[i*dim:(i+1)*dim]) for every i < len(out), without
// allocating. The caller multiplies by the query's and each row's scale.
// It is fastest for a query without -128, as from [QuantizeInt8] (see
// the package documentation); the rows may hold any value.
//
// It panics unless len(q) == dim and len(flat) == dim*len(out).
func DotInt8Batch(q, flat []int8, dim int, out []int32) {
	checkBatch("vec.DotInt8Batch", len(q), len(flat), dim, len(out))
	if dim == 0 {
		clear(out)
		return
	}
	dotInt8Batch(q, flat, out)
}

// DotInt8Rows is [DotRows] for int8 vectors: it sets out[i] to
// DotInt8(q, flat[r*dim:(r+1)*dim]) with r = rows[i], without allocating.
//
// It panics unless len(q) == dim, len(flat) is a multiple of dim,
// len(out) == len(rows), and every index is in [0, len(flat)/dim).
func DotInt8Rows(q, flat []int8, dim int, rows []int, out []int32) {
	checkRows("vec.DotInt8Rows", len(q), len(flat), dim, rows, len(out))
	if dim == 0 {
		clear(out)
		return
	}
	dotInt8Rows(q, flat, rows, out)
}

// SumBits returns the wrapping uint32 sum of the bit patterns of v. It does
// no useful arithmetic: it reads every element once with the cheapest
// vector operation, so that a benchmark can measure the memory floor of a
// scan over the same data beside the real kernels.
func SumBits(v []float32) uint32 { return sumBits(v) }

// checkBatch panics unless a query of length nq, a matrix of nflat
// elements and an output of nout scores agree with dim.
func checkBatch(fn string, nq, nflat, dim, nout int) {
	if dim < 0 {
		panic(fmt.Sprintf("%s: negative dim %d", fn, dim))
	}
	if nq != dim {
		panic(fmt.Sprintf("%s: query length %d != dim %d", fn, nq, dim))
	}
	// Divide rather than multiply, so that a huge len(out) cannot
	// overflow into a match.
	if dim == 0 {
		if nflat != 0 {
			panic(fmt.Sprintf("%s: matrix length %d with dim 0", fn, nflat))
		}
		return
	}
	if nflat%dim != 0 || nflat/dim != nout {
		panic(fmt.Sprintf("%s: matrix length %d != dim %d * %d rows", fn, nflat, dim, nout))
	}
}

// checkRows panics unless the query, matrix and output lengths agree with
// dim and every row index is in range.
func checkRows(fn string, nq, nflat, dim int, rows []int, nout int) {
	if dim < 0 {
		panic(fmt.Sprintf("%s: negative dim %d", fn, dim))
	}
	if nq != dim {
		panic(fmt.Sprintf("%s: query length %d != dim %d", fn, nq, dim))
	}
	if len(rows) != nout {
		panic(fmt.Sprintf("%s: %d row indexes != %d scores", fn, len(rows), nout))
	}
	n := 0
	if dim > 0 {
		if nflat%dim != 0 {
			panic(fmt.Sprintf("%s: matrix length %d is not a multiple of dim %d", fn, nflat, dim))
		}
		n = nflat / dim
	} else if nflat != 0 {
		panic(fmt.Sprintf("%s: matrix length %d with dim 0", fn, nflat))
	}
	for i, r := range rows {
		// One unsigned compare checks both r < 0 and r >= n.
		if uint(r) >= uint(n) {
			panic(fmt.Sprintf("%s: rows[%d] = %d out of range [0, %d)", fn, i, r, n))
		}
	}
}
