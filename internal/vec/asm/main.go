// Command asm generates the AVX2+FMA kernels of package vec with avo
// (github.com/mmcloughlin/avo). It is its own module so that the main
// module does not depend on avo; run it through go generate in
// internal/vec, which writes vec_amd64.s and vec_amd64.go.
//
// Every generated function trusts its caller: lengths, dim and row indexes
// are validated by the Go wrappers in package vec before the call, so the
// assembly has no bounds checks of its own.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// f32Unroll is the number of independent ymm accumulators in the float32
// loop. FMA has a latency of 4 cycles and two ports on the targets we
// care about, so eight chains keep both ports busy when the data is in
// cache; when it is not, the loop is limited by memory anyway.
const f32Unroll = 8

// i8Unroll is the number of independent ymm accumulators in the int8
// loops; a step of the sign-extension loop consumes 16 bytes of each input
// (sign-extended to 16 int16), a step of the VPMADDUBSW loop 32.
const i8Unroll = 4

// i8Prefetch is how many bytes ahead of its reads a contiguous int8 scan
// prefetches: as far as the float32 scan (one row of 768 float32) and
// sumBitsAVX2, so that all three get the same help and their bandwidths
// compare. One int8 row ahead, as the sign-extension loop prefetches, is
// read in less time than a miss to memory takes and hides little.
const i8Prefetch = 768 * 4

// sumBitsPrefetch is how many bytes ahead of its reads sumBitsAVX2
// prefetches: one row of 768 float32.
const sumBitsPrefetch = 768 * 4

func main() {
	ConstraintExpr("amd64,!purego")

	genDot()
	genDotBatch()
	genDotRows()
	genDotInt8()
	genDotInt8Batch()
	genDotInt8Rows()
	genSumUint32()

	Generate()
}

// emitDotF32 emits code that computes the float32 dot product of the n
// elements at x and y and leaves it in the low lane of the returned XMM
// register. x, y and n are consumed (advanced and decremented). prefix
// keeps the labels of several expansions in one function apart.
func emitDotF32(prefix string, x, y Mem, n Register) Register {
	return emitDotF32PF(prefix, x, y, n, nil)
}

// emitDotF32PF is emitDotF32 that, when pf is not nil, also prefetches
// the 256 bytes at y+pf for each 256 bytes of y it reads: pf holds the
// distance in bytes from the row being read to the next row the caller
// will read, so that the next row arrives while this one is being
// summed.
func emitDotF32PF(prefix string, x, y Mem, n Register, pf Register) Register {
	acc := make([]VecVirtual, f32Unroll)
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}

	block := 8 * f32Unroll
	Label(prefix + "block")
	CMPQ(n, U32(block))
	JL(LabelRef(prefix + "vec8"))
	if pf != nil {
		for i := 0; i < 4; i++ {
			PREFETCHT0(Mem{Base: y.Base, Index: pf, Scale: 1, Disp: 64 * i})
		}
	}
	for i := range acc {
		t := YMM()
		VMOVUPS(x.Offset(32*i), t)
		VFMADD231PS(y.Offset(32*i), t, acc[i])
	}
	ADDQ(U32(4*block), x.Base)
	ADDQ(U32(4*block), y.Base)
	SUBQ(U32(block), n)
	JMP(LabelRef(prefix + "block"))

	// Up to seven more whole vectors of 8, into the first accumulator.
	Label(prefix + "vec8")
	CMPQ(n, U32(8))
	JL(LabelRef(prefix + "reduce"))
	t := YMM()
	VMOVUPS(x, t)
	VFMADD231PS(y, t, acc[0])
	ADDQ(U32(32), x.Base)
	ADDQ(U32(32), y.Base)
	SUBQ(U32(8), n)
	JMP(LabelRef(prefix + "vec8"))

	// Pairwise reduction of the accumulators, then of the lanes.
	Label(prefix + "reduce")
	for step := f32Unroll / 2; step > 0; step /= 2 {
		for i := 0; i < step; i++ {
			VADDPS(acc[i+step], acc[i], acc[i])
		}
	}
	res := acc[0].AsX()
	hi := XMM()
	VEXTRACTF128(U8(1), acc[0], hi)
	VADDPS(hi, res, res)
	VMOVHLPS(res, res, hi)
	VADDPS(hi, res, res)
	VMOVSHDUP(res, hi)
	VADDSS(hi, res, res)

	// The last 0..7 elements one at a time, added to the reduced sum.
	Label(prefix + "tail")
	TESTQ(n, n)
	JE(LabelRef(prefix + "done"))
	s := XMM()
	VMOVSS(x, s)
	VFMADD231SS(y, s, res)
	ADDQ(U32(4), x.Base)
	ADDQ(U32(4), y.Base)
	DECQ(n)
	JMP(LabelRef(prefix + "tail"))

	Label(prefix + "done")
	return res
}

func genDot() {
	TEXT("dotAVX2", NOSPLIT, "func(a, b []float32) float32")
	Pragma("noescape")
	Doc("dotAVX2 returns the dot product of a and b; len(b) must be >= len(a).")
	x := Mem{Base: Load(Param("a").Base(), GP64())}
	y := Mem{Base: Load(Param("b").Base(), GP64())}
	n := Load(Param("a").Len(), GP64())
	res := emitDotF32("", x, y, n)
	VZEROUPPER()
	Store(res, ReturnIndex(0))
	RET()
}

func genDotBatch() {
	TEXT("dotBatchAVX2", NOSPLIT, "func(q, flat []float32, dim int, out []float32)")
	Pragma("noescape")
	Doc("dotBatchAVX2 sets out[i] to the dot product of q[:dim] and row i of",
		"flat; flat must hold len(out)*dim elements.")
	qp := Load(Param("q").Base(), GP64())
	row := Load(Param("flat").Base(), GP64())
	dim := Load(Param("dim"), GP64())
	out := Load(Param("out").Base(), GP64())
	rows := Load(Param("out").Len(), GP64())
	stride := GP64()
	MOVQ(dim, stride)
	SHLQ(U8(2), stride)

	Label("row")
	TESTQ(rows, rows)
	JE(LabelRef("end"))
	x, n := GP64(), GP64()
	MOVQ(qp, x)
	MOVQ(dim, n)
	// The next row follows this one; prefetching it (past the end of
	// flat for the last row, which cannot fault) helps the hardware
	// prefetcher, which stops at page boundaries.
	res := emitDotF32PF("r", Mem{Base: x}, Mem{Base: row}, n, stride)
	VMOVSS(res, Mem{Base: out})
	ADDQ(U32(4), out)
	DECQ(rows)
	JMP(LabelRef("row"))

	Label("end")
	VZEROUPPER()
	RET()
}

func genDotRows() {
	TEXT("dotRowsAVX2", NOSPLIT, "func(q, flat []float32, dim int, rows []int, out []float32)")
	Pragma("noescape")
	Doc("dotRowsAVX2 sets out[i] to the dot product of q[:dim] and row rows[i]",
		"of flat; every index must be in range and len(out) >= len(rows).")
	qp := Load(Param("q").Base(), GP64())
	base := Load(Param("flat").Base(), GP64())
	dim := Load(Param("dim"), GP64())
	idx := Load(Param("rows").Base(), GP64())
	cnt := Load(Param("rows").Len(), GP64())
	out := Load(Param("out").Base(), GP64())
	stride := GP64()
	MOVQ(dim, stride)
	SHLQ(U8(2), stride)

	Label("row")
	TESTQ(cnt, cnt)
	JE(LabelRef("end"))
	x, y, n, pf := GP64(), GP64(), GP64(), GP64()
	MOVQ(Mem{Base: idx}, y)
	// pf = (rows[i+1] - rows[i]) * stride: the next row to prefetch,
	// relative to this one; 0 for the last row.
	XORQ(pf, pf)
	CMPQ(cnt, U8(1))
	JE(LabelRef("last"))
	MOVQ(Mem{Base: idx, Disp: 8}, pf)
	SUBQ(y, pf)
	IMULQ(stride, pf)
	Label("last")
	IMULQ(stride, y)
	ADDQ(base, y)
	MOVQ(qp, x)
	MOVQ(dim, n)
	res := emitDotF32PF("r", Mem{Base: x}, Mem{Base: y}, n, pf)
	VMOVSS(res, Mem{Base: out})
	ADDQ(U32(4), out)
	ADDQ(U32(8), idx)
	DECQ(cnt)
	JMP(LabelRef("row"))

	Label("end")
	VZEROUPPER()
	RET()
}

// emitDotI8 emits code that computes the int8 dot product of the n
// elements at x and y, exactly in wrapping int32 arithmetic, and returns
// the GP register holding it. Each int8 is sign-extended to int16 and
// pairs are multiplied and added into int32 by VPMADDWD, which cannot
// overflow (2 * 128 * 128 = 32768 fits easily), so the result equals the
// scalar sum modulo 2^32 whatever the order. It is the fallback of the
// VPMADDUBSW loop (emitDotI8Sign) for a query that holds -128; its
// sign extensions all run on one port (port 5 on Intel cores), which
// limits it to about 8 bytes of each input per cycle.
func emitDotI8(prefix string, x, y Mem, n Register) GPVirtual {
	return emitDotI8PF(prefix, x, y, n, nil)
}

// emitDotI8PF is emitDotI8 that, when pf is not nil, prefetches the 64
// bytes at y+pf for each 64 bytes of y it reads (see emitDotF32PF).
func emitDotI8PF(prefix string, x, y Mem, n Register, pf Register) GPVirtual {
	acc := make([]VecVirtual, i8Unroll)
	for i := range acc {
		acc[i] = YMM()
		VPXOR(acc[i], acc[i], acc[i])
	}

	block := 16 * i8Unroll
	Label(prefix + "block")
	CMPQ(n, U32(block))
	JL(LabelRef(prefix + "vec16"))
	if pf != nil {
		PREFETCHT0(Mem{Base: y.Base, Index: pf, Scale: 1})
	}
	for i := range acc {
		a, b := YMM(), YMM()
		VPMOVSXBW(x.Offset(16*i), a)
		VPMOVSXBW(y.Offset(16*i), b)
		VPMADDWD(b, a, a)
		VPADDD(a, acc[i], acc[i])
	}
	ADDQ(U32(block), x.Base)
	ADDQ(U32(block), y.Base)
	SUBQ(U32(block), n)
	JMP(LabelRef(prefix + "block"))

	Label(prefix + "vec16")
	CMPQ(n, U32(16))
	JL(LabelRef(prefix + "reduce"))
	a, b := YMM(), YMM()
	VPMOVSXBW(x, a)
	VPMOVSXBW(y, b)
	VPMADDWD(b, a, a)
	VPADDD(a, acc[0], acc[0])
	ADDQ(U32(16), x.Base)
	ADDQ(U32(16), y.Base)
	SUBQ(U32(16), n)
	JMP(LabelRef(prefix + "vec16"))

	Label(prefix + "reduce")
	for step := i8Unroll / 2; step > 0; step /= 2 {
		for i := 0; i < step; i++ {
			VPADDD(acc[i+step], acc[i], acc[i])
		}
	}
	lo := acc[0].AsX()
	hi := XMM()
	VEXTRACTI128(U8(1), acc[0], hi)
	VPADDD(hi, lo, lo)
	return emitDotI8Finish(prefix, lo, x, y, n)
}

// emitDotI8Finish adds the four int32 lanes of lo and then the last n (at
// most 15) products of the int8 elements at x and y one at a time, and
// returns the GP register holding the sum.
func emitDotI8Finish(prefix string, lo Register, x, y Mem, n Register) GPVirtual {
	hi := XMM()
	VPSHUFD(U8(0x4e), lo, hi)
	VPADDD(hi, lo, lo)
	VPSHUFD(U8(0xb1), lo, hi)
	VPADDD(hi, lo, lo)
	sum := GP32()
	VMOVD(lo, sum)

	Label(prefix + "tail")
	TESTQ(n, n)
	JE(LabelRef(prefix + "done"))
	p, q := GP32(), GP32()
	MOVBLSX(x, p)
	MOVBLSX(y, q)
	IMULL(q, p)
	ADDL(p, sum)
	INCQ(x.Base)
	INCQ(y.Base)
	DECQ(n)
	JMP(LabelRef(prefix + "tail"))

	Label(prefix + "done")
	return sum
}

// i8Prefetcher says what an int8 loop prefetches for the 64 bytes at y+off
// that it is about to read; nil means nothing.
type i8Prefetcher func(y Mem, off int) Mem

// prefetchAhead prefetches i8Prefetch bytes ahead in a contiguous scan.
func prefetchAhead(y Mem, off int) Mem { return y.Offset(i8Prefetch + off) }

// prefetchBy prefetches the bytes pf ahead: the same offset in the next
// row a scattered scan will read.
func prefetchBy(pf Register) i8Prefetcher {
	return func(y Mem, off int) Mem { return Mem{Base: y.Base, Index: pf, Scale: 1, Disp: off} }
}

// emitOnes16 returns a ymm register with 1 in every int16 lane, the
// multiplier with which VPMADDWD widens pairs of int16 into int32.
func emitOnes16() VecVirtual {
	ones := YMM()
	VPCMPEQW(ones, ones, ones)
	VPSRLW(U8(15), ones, ones)
	return ones
}

// emitDotI8Sign is emitDotI8 for a query x that holds no -128, at half the
// cost: VPMADDUBSW multiplies unsigned by signed bytes and adds pairs into
// int16, so each step multiplies |y| (VPABSB; |-128| = 128 read as
// unsigned) by x with y's sign (VPSIGNB), which is x·y, and VPMADDWD by
// ones widens the pairs into int32. A pair is at most 2·128·127 = 32512
// in magnitude, so the saturating add never saturates, and the result is
// exact like emitDotI8's; with -128 in x, x·sign(y) could wrap and a
// pair could reach 32768, which is why the caller checks x first. All
// four operations run on either of two ports, against one for the sign
// extensions. pf, if not nil, is prefetched for each 64 bytes of y read.
func emitDotI8Sign(prefix string, x, y Mem, n Register, ones VecVirtual, pf i8Prefetcher) GPVirtual {
	acc := make([]VecVirtual, i8Unroll)
	for i := range acc {
		acc[i] = YMM()
		VPXOR(acc[i], acc[i], acc[i])
	}
	// step adds the products of the 32 bytes at x+off and y+off to a; with
	// xmm registers, of 16 bytes (a VEX.128 operation zeroes the upper half
	// of its destination, so a must then be an xmm register too).
	step := func(off int, a, r, s, ones Op) {
		VMOVDQU(y.Offset(off), r)
		VMOVDQU(x.Offset(off), s)
		VPSIGNB(r, s, s)
		VPABSB(r, r)
		VPMADDUBSW(s, r, r)
		VPMADDWD(ones, r, r)
		VPADDD(r, a, a)
	}

	block := 32 * i8Unroll
	Label(prefix + "block")
	CMPQ(n, U32(block))
	JL(LabelRef(prefix + "vec32"))
	if pf != nil {
		for off := 0; off < block; off += 64 {
			PREFETCHT0(pf(y, off))
		}
	}
	for i := range acc {
		step(32*i, acc[i], YMM(), YMM(), ones)
	}
	ADDQ(U32(block), x.Base)
	ADDQ(U32(block), y.Base)
	SUBQ(U32(block), n)
	JMP(LabelRef(prefix + "block"))

	Label(prefix + "vec32")
	CMPQ(n, U32(32))
	JL(LabelRef(prefix + "reduce"))
	step(0, acc[0], YMM(), YMM(), ones)
	ADDQ(U32(32), x.Base)
	ADDQ(U32(32), y.Base)
	SUBQ(U32(32), n)
	JMP(LabelRef(prefix + "vec32"))

	Label(prefix + "reduce")
	for st := i8Unroll / 2; st > 0; st /= 2 {
		for i := 0; i < st; i++ {
			VPADDD(acc[i+st], acc[i], acc[i])
		}
	}
	lo := acc[0].AsX()
	hi := XMM()
	VEXTRACTI128(U8(1), acc[0], hi)
	VPADDD(hi, lo, lo)
	// Up to 16 more elements into the reduced xmm sum.
	CMPQ(n, U32(16))
	JL(LabelRef(prefix + "finish"))
	step(0, lo, XMM(), XMM(), ones.AsX())
	ADDQ(U32(16), x.Base)
	ADDQ(U32(16), y.Base)
	SUBQ(U32(16), n)
	Label(prefix + "finish")
	return emitDotI8Finish(prefix, lo, x, y, n)
}

// emitHasMinInt8 emits a test of the n int8 at p for -128, jumping to
// found if there is one; p and n are left unchanged. VPABSB leaves -128
// negative and makes everything else non-negative, so the OR of the
// absolute values has a sign bit set exactly when -128 occurs.
func emitHasMinInt8(prefix string, p, n Register, found string) {
	x, c := GP64(), GP64()
	MOVQ(p, x)
	MOVQ(n, c)
	acc := YMM()
	VPXOR(acc, acc, acc)
	Label(prefix + "vec")
	CMPQ(c, U32(32))
	JL(LabelRef(prefix + "mask"))
	t := YMM()
	VPABSB(Mem{Base: x}, t)
	VPOR(t, acc, acc)
	ADDQ(U32(32), x)
	SUBQ(U32(32), c)
	JMP(LabelRef(prefix + "vec"))

	Label(prefix + "mask")
	m := GP32()
	VPMOVMSKB(acc, m)
	TESTL(m, m)
	JNE(LabelRef(found))

	Label(prefix + "tail")
	TESTQ(c, c)
	JE(LabelRef(prefix + "none"))
	CMPB(Mem{Base: x}, U8(0x80))
	JE(LabelRef(found))
	INCQ(x)
	DECQ(c)
	JMP(LabelRef(prefix + "tail"))
	Label(prefix + "none")
}

func genDotInt8() {
	TEXT("dotInt8AVX2", NOSPLIT, "func(a, b []int8) int32")
	Pragma("noescape")
	Doc("dotInt8AVX2 returns the int8 dot product of a and b in wrapping int32",
		"arithmetic; len(b) must be >= len(a).")
	ap := Load(Param("a").Base(), GP64())
	bp := Load(Param("b").Base(), GP64())
	n := Load(Param("a").Len(), GP64())
	emitHasMinInt8("q", ap, n, "wide")
	sum := emitDotI8Sign("", Mem{Base: ap}, Mem{Base: bp}, n, emitOnes16(), nil)
	VZEROUPPER()
	Store(sum, ReturnIndex(0))
	RET()

	Label("wide")
	sum = emitDotI8("w", Mem{Base: ap}, Mem{Base: bp}, n)
	VZEROUPPER()
	Store(sum, ReturnIndex(0))
	RET()
}

func genDotInt8Batch() {
	TEXT("dotInt8BatchAVX2", NOSPLIT, "func(q, flat []int8, dim int, out []int32)")
	Pragma("noescape")
	Doc("dotInt8BatchAVX2 sets out[i] to the int8 dot product of q[:dim] and",
		"row i of flat; flat must hold len(out)*dim elements.")
	qp := Load(Param("q").Base(), GP64())
	row := Load(Param("flat").Base(), GP64())
	dim := Load(Param("dim"), GP64())
	out := Load(Param("out").Base(), GP64())
	rows := Load(Param("out").Len(), GP64())
	// The query is checked once for all rows.
	emitHasMinInt8("q", qp, dim, "wide")
	ones := emitOnes16()

	Label("row")
	TESTQ(rows, rows)
	JE(LabelRef("end"))
	x, n := GP64(), GP64()
	MOVQ(qp, x)
	MOVQ(dim, n)
	sum := emitDotI8Sign("r", Mem{Base: x}, Mem{Base: row}, n, ones, prefetchAhead)
	MOVL(sum, Mem{Base: out})
	ADDQ(U32(4), out)
	DECQ(rows)
	JMP(LabelRef("row"))

	Label("wide")
	TESTQ(rows, rows)
	JE(LabelRef("end"))
	MOVQ(qp, x)
	MOVQ(dim, n)
	sum = emitDotI8PF("w", Mem{Base: x}, Mem{Base: row}, n, dim)
	MOVL(sum, Mem{Base: out})
	ADDQ(U32(4), out)
	DECQ(rows)
	JMP(LabelRef("wide"))

	Label("end")
	VZEROUPPER()
	RET()
}

func genDotInt8Rows() {
	TEXT("dotInt8RowsAVX2", NOSPLIT, "func(q, flat []int8, dim int, rows []int, out []int32)")
	Pragma("noescape")
	Doc("dotInt8RowsAVX2 sets out[i] to the int8 dot product of q[:dim] and",
		"row rows[i] of flat; every index must be in range and len(out) >= len(rows).")
	qp := Load(Param("q").Base(), GP64())
	base := Load(Param("flat").Base(), GP64())
	dim := Load(Param("dim"), GP64())
	idx := Load(Param("rows").Base(), GP64())
	cnt := Load(Param("rows").Len(), GP64())
	out := Load(Param("out").Base(), GP64())
	emitHasMinInt8("q", qp, dim, "wide")
	ones := emitOnes16()

	// rowStart points y at row rows[i] and pf at the next row to read,
	// relative to this one (0 for the last row).
	x, y, n, pf := GP64(), GP64(), GP64(), GP64()
	rowStart := func(prefix string) {
		MOVQ(Mem{Base: idx}, y)
		XORQ(pf, pf)
		CMPQ(cnt, U8(1))
		JE(LabelRef(prefix + "last"))
		MOVQ(Mem{Base: idx, Disp: 8}, pf)
		SUBQ(y, pf)
		IMULQ(dim, pf)
		Label(prefix + "last")
		IMULQ(dim, y)
		ADDQ(base, y)
		MOVQ(qp, x)
		MOVQ(dim, n)
	}
	rowEnd := func(sum GPVirtual, loop string) {
		MOVL(sum, Mem{Base: out})
		ADDQ(U32(4), out)
		ADDQ(U32(8), idx)
		DECQ(cnt)
		JMP(LabelRef(loop))
	}

	Label("row")
	TESTQ(cnt, cnt)
	JE(LabelRef("end"))
	rowStart("r")
	rowEnd(emitDotI8Sign("r", Mem{Base: x}, Mem{Base: y}, n, ones, prefetchBy(pf)), "row")

	Label("wide")
	TESTQ(cnt, cnt)
	JE(LabelRef("end"))
	rowStart("w")
	rowEnd(emitDotI8PF("w", Mem{Base: x}, Mem{Base: y}, n, pf), "wide")

	Label("end")
	VZEROUPPER()
	RET()
}

// genSumUint32 emits a wrapping uint32 sum of a float32 slice's bits: the
// cheapest complete read of the data, used to measure the memory floor
// that the dot-product kernels are compared against.
func genSumUint32() {
	TEXT("sumBitsAVX2", NOSPLIT, "func(v []float32) uint32")
	Pragma("noescape")
	Doc("sumBitsAVX2 returns the wrapping uint32 sum of the bits of v.")
	x := Mem{Base: Load(Param("v").Base(), GP64())}
	n := Load(Param("v").Len(), GP64())
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = YMM()
		VPXOR(acc[i], acc[i], acc[i])
	}
	Label("block")
	CMPQ(n, U32(32))
	JL(LabelRef("vec8"))
	// Prefetch as far ahead as the dot-product kernels do for a 768-float
	// row, so that the floor is measured with the same help to the
	// hardware prefetcher and is not beaten by the kernels it bounds.
	PREFETCHT0(x.Offset(sumBitsPrefetch))
	PREFETCHT0(x.Offset(sumBitsPrefetch + 64))
	for i := range acc {
		VPADDD(x.Offset(32*i), acc[i], acc[i])
	}
	ADDQ(U32(128), x.Base)
	SUBQ(U32(32), n)
	JMP(LabelRef("block"))

	Label("vec8")
	CMPQ(n, U32(8))
	JL(LabelRef("reduce"))
	VPADDD(x, acc[0], acc[0])
	ADDQ(U32(32), x.Base)
	SUBQ(U32(8), n)
	JMP(LabelRef("vec8"))

	Label("reduce")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	lo := acc[0].AsX()
	hi := XMM()
	VEXTRACTI128(U8(1), acc[0], hi)
	VPADDD(hi, lo, lo)
	VPSHUFD(U8(0x4e), lo, hi)
	VPADDD(hi, lo, lo)
	VPSHUFD(U8(0xb1), lo, hi)
	VPADDD(hi, lo, lo)
	sum := GP32()
	VMOVD(lo, sum)

	Label("tail")
	TESTQ(n, n)
	JE(LabelRef("done"))
	ADDL(x, sum)
	ADDQ(U32(4), x.Base)
	DECQ(n)
	JMP(LabelRef("tail"))

	Label("done")
	VZEROUPPER()
	Store(sum, ReturnIndex(0))
	RET()
}
