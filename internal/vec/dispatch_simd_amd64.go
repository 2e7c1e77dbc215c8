//go:build amd64 && !purego && goexperiment.simd

package vec

import (
	"simd/archsimd"
	"slices"
	"unsafe"
)

// Built with GOEXPERIMENT=simd, the package uses kernels written with Go's
// experimental simd/archsimd package instead of the avo assembly (which is
// still compiled, and tested in the default build). They are the same
// algorithms: 8-lane FMA into four accumulators for float32; for int8,
// VPMADDUBSW on |b| and a with b's sign when a holds no -128 (every
// quantised query), else sign extension to int16 and VPMADDWD. The
// experiment is not covered by the Go 1 promise, so this file is opt-in:
//
//	GOEXPERIMENT=simd go test ./internal/vec/

// haveAVX2 reports whether the CPU and the OS support AVX2 and FMA. It is
// set once when the package is initialised and never changed.
var haveAVX2 = archsimd.X86.AVX2() && archsimd.X86.FMA()

func implementation() string {
	if haveAVX2 {
		return "archsimd-avx2+fma"
	}
	return "portable"
}

func dot(a, b []float32) float32 {
	if haveAVX2 {
		return dotSIMD(a, b)
	}
	return dotGeneric(a, b)
}

func dotBatch(q, flat []float32, out []float32) {
	if !haveAVX2 {
		dotBatchGeneric(q, flat, out)
		return
	}
	dim := len(q)
	for i := range out {
		out[i] = dotSIMD(q, flat[i*dim:(i+1)*dim])
	}
}

func dotRows(q, flat []float32, rows []int, out []float32) {
	if !haveAVX2 {
		dotRowsGeneric(q, flat, rows, out)
		return
	}
	dim := len(q)
	out = out[:len(rows)]
	for i, r := range rows {
		out[i] = dotSIMD(q, flat[r*dim:(r+1)*dim])
	}
}

func dotInt8(a, b []int8) int32 {
	if haveAVX2 {
		return int8DotFor(a)(a, b)
	}
	return dotInt8Generic(a, b)
}

func dotInt8Batch(q, flat []int8, out []int32) {
	if !haveAVX2 {
		dotInt8BatchGeneric(q, flat, out)
		return
	}
	dot := int8DotFor(q) // the query is checked once for all rows
	dim := len(q)
	for i := range out {
		out[i] = dot(q, flat[i*dim:(i+1)*dim])
	}
}

func dotInt8Rows(q, flat []int8, rows []int, out []int32) {
	if !haveAVX2 {
		dotInt8RowsGeneric(q, flat, rows, out)
		return
	}
	dot := int8DotFor(q)
	dim := len(q)
	out = out[:len(rows)]
	for i, r := range rows {
		out[i] = dot(q, flat[r*dim:(r+1)*dim])
	}
}

// int8DotFor returns the int8 dot product to use with query a: the
// VPMADDUBSW loop unless a holds -128 (see dotInt8SignSIMD).
func int8DotFor(a []int8) func(a, b []int8) int32 {
	if hasMinInt8SIMD(a) {
		return dotInt8WideSIMD
	}
	return dotInt8SignSIMD
}

func sumBits(v []float32) uint32 {
	if haveAVX2 {
		return sumBitsSIMD(v)
	}
	return sumBitsGeneric(v)
}

// dotSIMD returns the dot product of a and b[:len(a)].
func dotSIMD(a, b []float32) float32 {
	b = b[:len(a)]
	var acc0, acc1, acc2, acc3 archsimd.Float32x8
	for len(a) >= 32 && len(b) >= 32 {
		acc0 = archsimd.LoadFloat32x8Slice(a).MulAdd(archsimd.LoadFloat32x8Slice(b), acc0)
		acc1 = archsimd.LoadFloat32x8Slice(a[8:]).MulAdd(archsimd.LoadFloat32x8Slice(b[8:]), acc1)
		acc2 = archsimd.LoadFloat32x8Slice(a[16:]).MulAdd(archsimd.LoadFloat32x8Slice(b[16:]), acc2)
		acc3 = archsimd.LoadFloat32x8Slice(a[24:]).MulAdd(archsimd.LoadFloat32x8Slice(b[24:]), acc3)
		a = a[32:]
		b = b[32:]
	}
	for len(a) >= 8 && len(b) >= 8 {
		acc0 = archsimd.LoadFloat32x8Slice(a).MulAdd(archsimd.LoadFloat32x8Slice(b), acc0)
		a = a[8:]
		b = b[8:]
	}
	acc := acc0.Add(acc1).Add(acc2.Add(acc3))
	h := acc.GetLo().Add(acc.GetHi())
	h = h.AddPairs(h)
	h = h.AddPairs(h)
	s := h.GetElem(0)
	b = b[:len(a)]
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// hasMinInt8SIMD reports whether a holds -128. Abs leaves -128 negative
// and makes everything else non-negative, so the OR of the absolute
// values has a sign bit set exactly when -128 occurs.
func hasMinInt8SIMD(a []int8) bool {
	var acc archsimd.Int8x32
	for len(a) >= 32 {
		acc = acc.Or(archsimd.LoadInt8x32Slice(a).Abs())
		a = a[32:]
	}
	if !acc.And(archsimd.BroadcastInt8x32(-128)).IsZero() {
		return true
	}
	return slices.Contains(a, -128)
}

// dotInt8SignSIMD returns the int8 dot product of a and b[:len(a)] in
// wrapping int32 arithmetic, for an a without -128. VPMADDUBSW multiplies
// |b| (|-128| = 128 read as unsigned) by a with b's sign, which is a·b,
// and adds pairs into int16; a pair is at most 2·128·127 = 32512 in
// magnitude, so the saturating add never saturates. VPMADDWD by ones
// widens the pairs into int32. It needs half the instructions of the
// sign extension in dotInt8WideSIMD, on ports that are not all one.
func dotInt8SignSIMD(a, b []int8) int32 {
	b = b[:len(a)]
	ones := archsimd.BroadcastInt16x16(1)
	var acc0, acc1 archsimd.Int32x8
	for len(a) >= 64 && len(b) >= 64 {
		x0, y0 := archsimd.LoadInt8x32Slice(a), archsimd.LoadInt8x32Slice(b)
		x1, y1 := archsimd.LoadInt8x32Slice(a[32:]), archsimd.LoadInt8x32Slice(b[32:])
		p0 := y0.Abs().AsUint8x32().DotProductPairsSaturated(x0.CopySign(y0))
		p1 := y1.Abs().AsUint8x32().DotProductPairsSaturated(x1.CopySign(y1))
		acc0 = acc0.Add(p0.DotProductPairs(ones))
		acc1 = acc1.Add(p1.DotProductPairs(ones))
		a = a[64:]
		b = b[64:]
	}
	for len(a) >= 32 && len(b) >= 32 {
		x, y := archsimd.LoadInt8x32Slice(a), archsimd.LoadInt8x32Slice(b)
		p := y.Abs().AsUint8x32().DotProductPairsSaturated(x.CopySign(y))
		acc0 = acc0.Add(p.DotProductPairs(ones))
		a = a[32:]
		b = b[32:]
	}
	return reduceInt8(acc0.Add(acc1), a, b)
}

// dotInt8WideSIMD returns the int8 dot product of a and b[:len(a)] in
// wrapping int32 arithmetic, for any a: each int8 is sign-extended to
// int16 and VPMADDWD multiplies and adds pairs into int32.
func dotInt8WideSIMD(a, b []int8) int32 {
	b = b[:len(a)]
	var acc0, acc1 archsimd.Int32x8
	for len(a) >= 32 && len(b) >= 32 {
		x0 := archsimd.LoadInt8x16Slice(a).ExtendToInt16()
		y0 := archsimd.LoadInt8x16Slice(b).ExtendToInt16()
		x1 := archsimd.LoadInt8x16Slice(a[16:]).ExtendToInt16()
		y1 := archsimd.LoadInt8x16Slice(b[16:]).ExtendToInt16()
		acc0 = acc0.Add(x0.DotProductPairs(y0))
		acc1 = acc1.Add(x1.DotProductPairs(y1))
		a = a[32:]
		b = b[32:]
	}
	return reduceInt8(acc0.Add(acc1), a, b)
}

// reduceInt8 adds the lanes of acc and the products of the remaining
// elements of a and b[:len(a)].
func reduceInt8(acc archsimd.Int32x8, a, b []int8) int32 {
	h := acc.GetLo().Add(acc.GetHi())
	h = h.AddPairs(h)
	h = h.AddPairs(h)
	s := h.GetElem(0)
	b = b[:len(a)]
	for i, x := range a {
		s += int32(x) * int32(b[i])
	}
	return s
}

// sumBitsSIMD returns the wrapping uint32 sum of the bits of v.
func sumBitsSIMD(v []float32) uint32 {
	u := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
	var acc0, acc1, acc2, acc3 archsimd.Uint32x8
	for len(u) >= 32 {
		acc0 = acc0.Add(archsimd.LoadUint32x8Slice(u))
		acc1 = acc1.Add(archsimd.LoadUint32x8Slice(u[8:]))
		acc2 = acc2.Add(archsimd.LoadUint32x8Slice(u[16:]))
		acc3 = acc3.Add(archsimd.LoadUint32x8Slice(u[24:]))
		u = u[32:]
	}
	acc := acc0.Add(acc1).Add(acc2.Add(acc3))
	h := acc.GetLo().Add(acc.GetHi())
	h = h.AddPairs(h)
	h = h.AddPairs(h)
	s := h.GetElem(0)
	for _, x := range u {
		s += x
	}
	return s
}
