package vec

import "math"

// The portable kernels. They are compiled on every architecture: they are
// the only implementation without AVX2 (or under the purego tag), the
// fallback on amd64 CPUs that lack AVX2 or FMA, and the tests compare them
// with the assembly in every build.
//
// Each processes 8 elements per step into independent accumulators, so
// that the adds of one step do not wait on each other (a float add has a
// latency of several cycles but more than one can start per cycle), and
// slices 8-element windows with a full slice expression so that the
// compiler can drop the bounds checks inside the step.

// dotGeneric returns the dot product of a and b[:len(a)].
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(a) >= 8 && len(b) >= 8 {
		x := a[:8:8]
		y := b[:8:8]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		s4 += x[4] * y[4]
		s5 += x[5] * y[5]
		s6 += x[6] * y[6]
		s7 += x[7] * y[7]
		a = a[8:]
		b = b[8:]
	}
	s := ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
	b = b[:len(a)]
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// dotBatchGeneric sets out[i] to the dot product of q and row i of flat,
// whose rows have len(q) elements.
func dotBatchGeneric(q, flat []float32, out []float32) {
	dim := len(q)
	for i := range out {
		out[i] = dotGeneric(q, flat[i*dim:(i+1)*dim])
	}
}

// dotRowsGeneric sets out[i] to the dot product of q and row rows[i] of
// flat, whose rows have len(q) elements.
func dotRowsGeneric(q, flat []float32, rows []int, out []float32) {
	dim := len(q)
	out = out[:len(rows)]
	for i, r := range rows {
		out[i] = dotGeneric(q, flat[r*dim:(r+1)*dim])
	}
}

// dotInt8Generic returns the int8 dot product of a and b[:len(a)] in
// wrapping int32 arithmetic. Integer adds take one cycle, so two
// accumulators suffice; more of them only spill registers on amd64.
func dotInt8Generic(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1 int32
	for len(a) >= 8 && len(b) >= 8 {
		x := a[:8:8]
		y := b[:8:8]
		s0 += int32(x[0])*int32(y[0]) + int32(x[2])*int32(y[2]) +
			int32(x[4])*int32(y[4]) + int32(x[6])*int32(y[6])
		s1 += int32(x[1])*int32(y[1]) + int32(x[3])*int32(y[3]) +
			int32(x[5])*int32(y[5]) + int32(x[7])*int32(y[7])
		a = a[8:]
		b = b[8:]
	}
	s := s0 + s1
	b = b[:len(a)]
	for i, x := range a {
		s += int32(x) * int32(b[i])
	}
	return s
}

// dotInt8BatchGeneric sets out[i] to the int8 dot product of q and row i
// of flat, whose rows have len(q) elements.
func dotInt8BatchGeneric(q, flat []int8, out []int32) {
	dim := len(q)
	for i := range out {
		out[i] = dotInt8Generic(q, flat[i*dim:(i+1)*dim])
	}
}

// dotInt8RowsGeneric sets out[i] to the int8 dot product of q and row
// rows[i] of flat, whose rows have len(q) elements.
func dotInt8RowsGeneric(q, flat []int8, rows []int, out []int32) {
	dim := len(q)
	out = out[:len(rows)]
	for i, r := range rows {
		out[i] = dotInt8Generic(q, flat[r*dim:(r+1)*dim])
	}
}

// sumBitsGeneric returns the wrapping uint32 sum of the bits of v.
func sumBitsGeneric(v []float32) uint32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 uint32
	for len(v) >= 8 {
		x := v[:8:8]
		s0 += math.Float32bits(x[0])
		s1 += math.Float32bits(x[1])
		s2 += math.Float32bits(x[2])
		s3 += math.Float32bits(x[3])
		s4 += math.Float32bits(x[4])
		s5 += math.Float32bits(x[5])
		s6 += math.Float32bits(x[6])
		s7 += math.Float32bits(x[7])
		v = v[8:]
	}
	s := s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
	for _, x := range v {
		s += math.Float32bits(x)
	}
	return s
}
