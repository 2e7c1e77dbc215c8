package vec

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

// floatsOf decodes data as little-endian float32 values, any bit pattern
// included (NaNs, infinities, subnormals).
func floatsOf(data []byte) []float32 {
	v := make([]float32, len(data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return v
}

// checkDot checks one kernel's result on a and b against the float64
// reference: the documented bound where no finite partial sum can
// overflow, and the documented NaN/Inf behaviour where the inputs are not
// finite.
func checkDot(t *testing.T, name string, a, b []float32, got float32) {
	t.Helper()
	var finiteAbs float64 // Σ|a[i]·b[i]| over the finite products
	nonFinite := false
	hasNaN := false
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		if math.IsNaN(x) || math.IsNaN(y) {
			hasNaN = true
		}
		if math.IsInf(x, 0) || math.IsInf(y, 0) || math.IsNaN(x) || math.IsNaN(y) {
			nonFinite = true
			continue
		}
		finiteAbs += math.Abs(x * y)
	}
	if hasNaN {
		if !math.IsNaN(float64(got)) {
			t.Fatalf("%s: NaN input gave %v", name, got)
		}
		return
	}
	// Below this no float32 product or partial sum of the finite terms
	// can overflow (each partial sum is at most finiteAbs·(1+γ)), so the
	// result does not depend on the order of summation.
	if finiteAbs > math.MaxFloat32/2 {
		return
	}
	want, abs := refDot(a, b)
	if nonFinite {
		// The float64 reference sees the same infinities, products with
		// zero and meetings of opposite signs.
		if math.IsNaN(want) != math.IsNaN(float64(got)) || (!math.IsNaN(want) && want != float64(got)) {
			t.Fatalf("%s: got %v, want %v", name, got, want)
		}
		return
	}
	if err := math.Abs(float64(got) - want); err > dotBound(len(a), abs) {
		t.Fatalf("%s: n=%d got %v, want %v: error %g > bound %g", name, len(a), got, want, err, dotBound(len(a), abs))
	}
}

// FuzzDot feeds arbitrary float32 bit patterns to Dot, DotBatch and the
// portable kernel. Equal lengths must give a result within the documented
// bound (or the documented NaN/Inf); unequal lengths must panic with the
// documented message, never read out of bounds.
func FuzzDot(f *testing.F) {
	le := func(vs ...float32) []byte {
		b := make([]byte, 0, 4*len(vs))
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	f.Add(le(1, 2, 3, 4, 5, 6), uint16(3), true)
	f.Add(le(1, 2, 3, 4, 5), uint16(2), false)
	f.Add(le(float32(math.NaN()), 1, 2, 3), uint16(0), true)
	f.Add(le(float32(math.Inf(1)), 0, 1, 1), uint16(0), true)
	f.Add(make([]byte, 4*130), uint16(7), true)
	f.Add(le(math.MaxFloat32, math.MaxFloat32, 2, 2), uint16(1), true)
	f.Fuzz(func(t *testing.T, data []byte, split uint16, equal bool) {
		v := floatsOf(data)
		var a, b []float32
		if equal {
			a, b = v[:len(v)/2], v[len(v)/2:2*(len(v)/2)]
		} else {
			k := int(split) % (len(v) + 1)
			a, b = v[:k], v[k:]
		}
		if len(a) != len(b) {
			msg := panicMessage(func() { Dot(a, b) })
			if !strings.HasPrefix(msg, "vec.Dot: length mismatch") {
				t.Fatalf("Dot(len %d, len %d): panic %q", len(a), len(b), msg)
			}
			msg = panicMessage(func() { DotBatch(a, b, len(a), make([]float32, 1)) })
			if !strings.HasPrefix(msg, "vec.DotBatch: ") {
				t.Fatalf("DotBatch(len %d, len %d): panic %q", len(a), len(b), msg)
			}
			return
		}
		checkDot(t, "Dot", a, b, Dot(a, b))
		checkDot(t, "portable", a, b, dotGeneric(a, b))
		// The same pair as a one-row batch and as a gathered row.
		out := make([]float32, 1)
		DotBatch(a, b, len(a), out)
		checkDot(t, "DotBatch", a, b, out[0])
		if len(a) > 0 {
			DotRows(a, b, len(a), []int{0}, out)
			checkDot(t, "DotRows", a, b, out[0])
		}
	})
}

// FuzzDotInt8 checks that the int8 kernels are exact (wrapping int32)
// for any input, and that unequal lengths panic as documented.
func FuzzDotInt8(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6}, uint16(3), true)
	f.Add([]byte{0x80, 0x80, 0x80, 0x80}, uint16(1), false)
	f.Add(make([]byte, 200), uint16(0), true)
	f.Fuzz(func(t *testing.T, data []byte, split uint16, equal bool) {
		v := make([]int8, len(data))
		for i, x := range data {
			v[i] = int8(x)
		}
		var a, b []int8
		if equal {
			a, b = v[:len(v)/2], v[len(v)/2:2*(len(v)/2)]
		} else {
			k := int(split) % (len(v) + 1)
			a, b = v[:k], v[k:]
		}
		if len(a) != len(b) {
			msg := panicMessage(func() { DotInt8(a, b) })
			if !strings.HasPrefix(msg, "vec.DotInt8: length mismatch") {
				t.Fatalf("DotInt8(len %d, len %d): panic %q", len(a), len(b), msg)
			}
			return
		}
		want := refDotInt8(a, b)
		if got := DotInt8(a, b); got != want {
			t.Fatalf("DotInt8 = %d, want %d", got, want)
		}
		if got := dotInt8Generic(a, b); got != want {
			t.Fatalf("portable = %d, want %d", got, want)
		}
		out := make([]int32, 1)
		DotInt8Batch(a, b, len(a), out)
		if out[0] != want {
			t.Fatalf("DotInt8Batch = %d, want %d", out[0], want)
		}
		// Random bytes hold -128 often, which sends long queries to the
		// sign-extension loop; without it, as quantised vectors are, the
		// VPMADDUBSW loop runs.
		q := slices.Clone(a)
		for i, x := range q {
			if x == -128 {
				q[i] = -127
			}
		}
		want = refDotInt8(q, b)
		if got := DotInt8(q, b); got != want {
			t.Fatalf("DotInt8 without -128 in a = %d, want %d", got, want)
		}
		DotInt8Batch(q, b, len(q), out)
		if out[0] != want {
			t.Fatalf("DotInt8Batch without -128 in q = %d, want %d", out[0], want)
		}
	})
}

// FuzzQuantizeInt8 checks the documented error bound and the handling of
// NaN and infinities for arbitrary float32 bit patterns.
func FuzzQuantizeInt8(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xbf}) // 1, -1
	f.Add([]byte{0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x7f}) // NaN, +Inf
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0x7f, 0x7f}) // smallest subnormal, MaxFloat32
	f.Fuzz(func(t *testing.T, data []byte) {
		v := floatsOf(data)
		q, scale := QuantizeInt8(v)
		if len(q) != len(v) {
			t.Fatalf("len(q) = %d, want %d", len(q), len(v))
		}
		checkQuantized(t, v, q, scale)
	})
}
