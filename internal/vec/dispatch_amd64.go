//go:build amd64 && !purego && !goexperiment.simd

package vec

import "golang.org/x/sys/cpu"

// haveAVX2 reports whether the CPU and the OS support AVX2 and FMA, which
// every assembly kernel needs. It is set once when the package is
// initialised and never changed; x/sys/cpu also checks that the OS saves
// the ymm registers.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

func implementation() string {
	if haveAVX2 {
		return "avx2+fma"
	}
	return "portable"
}

func dot(a, b []float32) float32 {
	if haveAVX2 {
		return dotAVX2(a, b)
	}
	return dotGeneric(a, b)
}

func dotBatch(q, flat []float32, out []float32) {
	if haveAVX2 {
		dotBatchAVX2(q, flat, len(q), out)
		return
	}
	dotBatchGeneric(q, flat, out)
}

func dotRows(q, flat []float32, rows []int, out []float32) {
	if haveAVX2 {
		dotRowsAVX2(q, flat, len(q), rows, out)
		return
	}
	dotRowsGeneric(q, flat, rows, out)
}

func dotInt8(a, b []int8) int32 {
	if haveAVX2 {
		return dotInt8AVX2(a, b)
	}
	return dotInt8Generic(a, b)
}

func dotInt8Batch(q, flat []int8, out []int32) {
	if haveAVX2 {
		dotInt8BatchAVX2(q, flat, len(q), out)
		return
	}
	dotInt8BatchGeneric(q, flat, out)
}

func dotInt8Rows(q, flat []int8, rows []int, out []int32) {
	if haveAVX2 {
		dotInt8RowsAVX2(q, flat, len(q), rows, out)
		return
	}
	dotInt8RowsGeneric(q, flat, rows, out)
}

func sumBits(v []float32) uint32 {
	if haveAVX2 {
		return sumBitsAVX2(v)
	}
	return sumBitsGeneric(v)
}
