//go:build !amd64 || purego

package vec

// Without assembly every entry point runs the portable kernels.

func implementation() string { return "portable" }

func dot(a, b []float32) float32 { return dotGeneric(a, b) }

func dotBatch(q, flat []float32, out []float32) { dotBatchGeneric(q, flat, out) }

func dotRows(q, flat []float32, rows []int, out []float32) { dotRowsGeneric(q, flat, rows, out) }

func dotInt8(a, b []int8) int32 { return dotInt8Generic(a, b) }

func dotInt8Batch(q, flat []int8, out []int32) { dotInt8BatchGeneric(q, flat, out) }

func dotInt8Rows(q, flat []int8, rows []int, out []int32) {
	dotInt8RowsGeneric(q, flat, rows, out)
}

func sumBits(v []float32) uint32 { return sumBitsGeneric(v) }
