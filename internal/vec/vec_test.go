package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// u is the unit roundoff of float32.
const u = 0x1p-24

// refDot returns the dot product of a and b computed in float64, which is
// exact for the products of float32 values and far more accurate than
// float32 for their sum, and Σ|a[i]·b[i]|, the scale of the error bound.
func refDot(a, b []float32) (dot, abs float64) {
	for i := range a {
		p := float64(a[i]) * float64(b[i])
		dot += p
		abs += math.Abs(p)
	}
	return dot, abs
}

// dotBound is the error bound documented in the package comment:
// γ(n+2)·Σ|a[i]·b[i]| plus an allowance for underflow in each of the at
// most 2n+2 rounded operations.
func dotBound(n int, abs float64) float64 {
	k := float64(n + 2)
	return k*u/(1-k*u)*abs + float64(2*n+2)*0x1p-150
}

// dotKernel is one implementation of Dot under test.
type dotKernel struct {
	name string
	dot  func(a, b []float32) float32
}

// dotKernels lists the dispatching entry point (the assembly where the CPU
// has AVX2 and FMA) and the portable code, which every build compiles, so
// that one test run covers both.
var dotKernels = []dotKernel{
	{"Dot(" + Implementation() + ")", Dot},
	{"portable", dotGeneric},
}

// randVec returns n values of the given magnitude with random signs and
// mantissas.
func randVec(r *rand.Rand, n int, mag float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((r.Float64()*2 - 1) * mag)
	}
	return v
}

// misaligned returns a copy of v that starts off elements into a fresh
// allocation, so that the kernels see every alignment of their inputs.
func misaligned(v []float32, off int) []float32 {
	buf := make([]float32, len(v)+off+8)
	s := buf[off : off+len(v) : off+len(v)]
	copy(s, v)
	return s
}

func TestImplementation(t *testing.T) {
	if got := Implementation(); got != wantImplementation() {
		t.Fatalf("Implementation() = %q, want %q", got, wantImplementation())
	}
}

func TestDotTable(t *testing.T) {
	ones := make([]float32, 300)
	ramp := make([]float32, 300)
	for i := range ones {
		ones[i] = 1
		ramp[i] = float32(i)
	}
	tests := []struct {
		name string
		a, b []float32
		want float32
	}{
		{"empty", nil, nil, 0},
		{"one", []float32{3}, []float32{-2}, -6},
		{"three", []float32{1, 2, 3}, []float32{4, 5, 6}, 32},
		{"orthogonal", []float32{1, 0, 0, 0, 0, 0, 0, 0, 0}, []float32{0, 1, 0, 0, 0, 0, 0, 0, 0}, 0},
		// Small integers: every partial sum is exact, in any order.
		{"ones·ramp 300", ones, ramp, 299 * 300 / 2},
		{"ramp·ramp 300", ramp, ramp, 299 * 300 * 599 / 6},
		{"ones·ones 300", ones, ones, 300},
		{"negative zero", []float32{float32(math.Copysign(0, -1))}, []float32{1}, 0},
	}
	for _, k := range dotKernels {
		for _, tt := range tests {
			if got := k.dot(tt.a, tt.b); got != tt.want {
				t.Errorf("%s %s: got %v, want %v", k.name, tt.name, got, tt.want)
			}
		}
	}
}

func TestDotAllLengthsAndAlignments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range dotKernels {
		for n := 0; n <= 300; n++ {
			for off := 0; off < 4; off++ {
				// Mixed magnitudes make the order of summation matter.
				mag := math.Pow(10, float64(r.IntN(7)-3))
				a := misaligned(randVec(r, n, mag), off)
				b := misaligned(randVec(r, n, 1), (off+n)%5)
				got := float64(k.dot(a, b))
				want, abs := refDot(a, b)
				if err := math.Abs(got - want); err > dotBound(n, abs) {
					t.Fatalf("%s n=%d off=%d: got %v, want %v: error %g > bound %g",
						k.name, n, off, got, want, err, dotBound(n, abs))
				}
			}
		}
	}
}

// TestDotCancellation checks the bound where it is tight relative to the
// result: large terms that cancel leave a small sum.
func TestDotCancellation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range dotKernels {
		for _, n := range []int{2, 7, 8, 9, 63, 64, 65, 127, 768, 1536} {
			a := randVec(r, n, 1e6)
			b := make([]float32, n)
			for i := range b {
				b[i] = 1
			}
			// Make the exact sum small by appending the negation of the
			// running sum in the last element.
			var s float64
			for _, x := range a[:n-1] {
				s += float64(x)
			}
			a[n-1] = float32(-s)
			got := float64(k.dot(a, b))
			want, abs := refDot(a, b)
			if err := math.Abs(got - want); err > dotBound(n, abs) {
				t.Errorf("%s n=%d: got %v, want %v: error %g > bound %g", k.name, n, got, want, err, dotBound(n, abs))
			}
		}
	}
}

func TestDotNonFinite(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	tests := []struct {
		name string
		a, b []float32
		want float64 // NaN means any NaN
	}{
		{"NaN", []float32{1, nan, 3}, []float32{1, 2, 3}, math.NaN()},
		{"Inf", []float32{1, inf, 3}, []float32{1, 2, 3}, math.Inf(1)},
		{"-Inf", []float32{1, inf, 3}, []float32{1, -2, 3}, math.Inf(-1)},
		{"Inf·0", []float32{1, inf, 3}, []float32{1, 0, 3}, math.NaN()},
		{"Inf-Inf", []float32{inf, 1, inf}, []float32{1, 1, -1}, math.NaN()},
	}
	for _, k := range dotKernels {
		for _, tt := range tests {
			// Pad to several lengths so that the special value lands in
			// the vector loop and in the scalar tail.
			for _, pad := range []int{0, 5, 64, 130} {
				a := append(make([]float32, pad), tt.a...)
				b := append(make([]float32, pad), tt.b...)
				got := float64(k.dot(a, b))
				if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && got != tt.want) {
					t.Errorf("%s %s pad %d: got %v, want %v", k.name, tt.name, pad, got, tt.want)
				}
			}
		}
	}
}

// batchKernel is one implementation of DotBatch and DotRows.
type batchKernel struct {
	name  string
	batch func(q, flat []float32, out []float32)
	rows  func(q, flat []float32, rows []int, out []float32)
	dot   func(a, b []float32) float32
}

var batchKernels = []batchKernel{
	{
		"DotBatch(" + Implementation() + ")",
		func(q, flat, out []float32) { DotBatch(q, flat, len(q), out) },
		func(q, flat []float32, rows []int, out []float32) { DotRows(q, flat, len(q), rows, out) },
		Dot,
	},
	{"portable", dotBatchGeneric, dotRowsGeneric, dotGeneric},
}

// TestDotBatchAndRows checks that every score of a batch is bit for bit
// the single dot product of the same kernel (they share the code), and so
// within the bound of the reference.
func TestDotBatchAndRows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range batchKernels {
		for _, dim := range []int{1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 127, 128, 129, 300, 768} {
			for off := 0; off < 3; off++ {
				nrows := 1 + r.IntN(9)
				q := misaligned(randVec(r, dim, 1), off)
				flat := misaligned(randVec(r, nrows*dim, 1), 2-off)
				out := make([]float32, nrows)
				k.batch(q, flat, out)
				rows := make([]int, 2*nrows)
				for i := range rows {
					rows[i] = r.IntN(nrows)
				}
				gathered := make([]float32, len(rows))
				k.rows(q, flat, rows, gathered)
				for i := range out {
					row := flat[i*dim : (i+1)*dim]
					if want := k.dot(q, row); out[i] != want {
						t.Fatalf("%s dim=%d row %d: batch %v != dot %v", k.name, dim, i, out[i], want)
					}
					ref, abs := refDot(q, row)
					if err := math.Abs(float64(out[i]) - ref); err > dotBound(dim, abs) {
						t.Fatalf("%s dim=%d row %d: error %g > bound %g", k.name, dim, i, err, dotBound(dim, abs))
					}
				}
				for i, ri := range rows {
					if gathered[i] != out[ri] {
						t.Fatalf("%s dim=%d rows[%d]=%d: %v != batch %v", k.name, dim, i, ri, gathered[i], out[ri])
					}
				}
			}
		}
	}
}

// TestDotBatchDoesNotWritePastOut checks that the kernels write exactly
// len(out) scores.
func TestDotBatchDoesNotWritePastOut(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const dim, nrows = 33, 5
	q := randVec(r, dim, 1)
	flat := randVec(r, dim*nrows, 1)
	buf := make([]float32, nrows+2)
	buf[0], buf[nrows+1] = 42, 42
	DotBatch(q, flat, dim, buf[1:nrows+1])
	DotRows(q, flat, dim, []int{4, 0}, buf[1:3])
	if buf[0] != 42 || buf[nrows+1] != 42 {
		t.Fatalf("guard values overwritten: %v", buf)
	}
	ibuf := make([]int32, nrows+2)
	ibuf[0], ibuf[nrows+1] = 42, 42
	qi, _ := QuantizeInt8(q)
	fi, _ := QuantizeInt8(flat)
	DotInt8Batch(qi, fi, dim, ibuf[1:nrows+1])
	DotInt8Rows(qi, fi, dim, []int{4, 0}, ibuf[1:3])
	if ibuf[0] != 42 || ibuf[nrows+1] != 42 {
		t.Fatalf("int8 guard values overwritten: %v", ibuf)
	}
}

func TestZeroDim(t *testing.T) {
	out := []float32{1, 2}
	DotBatch(nil, nil, 0, out)
	if out[0] != 0 || out[1] != 0 {
		t.Errorf("DotBatch with dim 0: out = %v, want zeros", out)
	}
	iout := []int32{1, 2}
	DotInt8Batch(nil, nil, 0, iout)
	if iout[0] != 0 || iout[1] != 0 {
		t.Errorf("DotInt8Batch with dim 0: out = %v, want zeros", iout)
	}
	DotRows(nil, nil, 0, nil, nil)
	DotInt8Rows(nil, nil, 0, nil, nil)
}

// TestPanics checks that every programming error panics with a message
// naming the function, rather than reading or writing out of bounds.
func TestPanics(t *testing.T) {
	f3 := make([]float32, 3)
	f6 := make([]float32, 6)
	i3 := make([]int8, 3)
	i6 := make([]int8, 6)
	tests := []struct {
		name string
		fn   string
		call func()
	}{
		{"Dot lengths", "vec.Dot", func() { Dot(f3, f6) }},
		{"Dot nil", "vec.Dot", func() { Dot(nil, f3) }},
		{"DotBatch query", "vec.DotBatch", func() { DotBatch(f6, f6, 3, make([]float32, 2)) }},
		{"DotBatch matrix", "vec.DotBatch", func() { DotBatch(f3, f6, 3, make([]float32, 3)) }},
		{"DotBatch ragged", "vec.DotBatch", func() { DotBatch(f3, f6[:5], 3, make([]float32, 1)) }},
		{"DotBatch negative dim", "vec.DotBatch", func() { DotBatch(nil, nil, -1, nil) }},
		{"DotBatch dim 0", "vec.DotBatch", func() { DotBatch(nil, f3, 0, nil) }},
		{"DotRows index", "vec.DotRows", func() { DotRows(f3, f6, 3, []int{2}, make([]float32, 1)) }},
		{"DotRows negative index", "vec.DotRows", func() { DotRows(f3, f6, 3, []int{-1}, make([]float32, 1)) }},
		{"DotRows out", "vec.DotRows", func() { DotRows(f3, f6, 3, []int{0, 1}, make([]float32, 1)) }},
		{"DotRows ragged", "vec.DotRows", func() { DotRows(f3, f6[:5], 3, nil, nil) }},
		{"DotRows dim 0", "vec.DotRows", func() { DotRows(nil, nil, 0, []int{0}, make([]float32, 1)) }},
		{"DotInt8 lengths", "vec.DotInt8", func() { DotInt8(i3, i6) }},
		{"DotInt8Batch matrix", "vec.DotInt8Batch", func() { DotInt8Batch(i3, i6, 3, make([]int32, 1)) }},
		{"DotInt8Rows index", "vec.DotInt8Rows", func() { DotInt8Rows(i3, i6, 3, []int{5}, make([]int32, 1)) }},
		{"QuantizeInt8Into", "vec.QuantizeInt8Into", func() { QuantizeInt8Into(i3, f6) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := panicMessage(tt.call)
			if !strings.HasPrefix(msg, tt.fn+": ") {
				t.Fatalf("panic message %q, want one starting %q", msg, tt.fn+": ")
			}
		})
	}
}

// panicMessage runs f and returns the string it panicked with, or "" if
// it returned normally.
func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(string)
			if !ok {
				s = "non-string panic"
			}
			msg = s
		}
	}()
	f()
	return ""
}

// int8Kernel is one implementation of the int8 dot products.
type int8Kernel struct {
	name  string
	dot   func(a, b []int8) int32
	batch func(q, flat []int8, out []int32)
	rows  func(q, flat []int8, rows []int, out []int32)
}

var int8Kernels = []int8Kernel{
	{
		"DotInt8(" + Implementation() + ")",
		DotInt8,
		func(q, flat []int8, out []int32) { DotInt8Batch(q, flat, len(q), out) },
		func(q, flat []int8, rows []int, out []int32) { DotInt8Rows(q, flat, len(q), rows, out) },
	},
	{"portable", dotInt8Generic, dotInt8BatchGeneric, dotInt8RowsGeneric},
}

func refDotInt8(a, b []int8) int32 {
	var s int64
	for i := range a {
		s += int64(a[i]) * int64(b[i])
	}
	return int32(s) // wraps as documented
}

func randInt8(r *rand.Rand, n, off int) []int8 {
	buf := make([]int8, n+off+16)
	v := buf[off : off+n : off+n]
	for i := range v {
		v[i] = int8(r.IntN(256) - 128)
	}
	return v
}

func TestDotInt8Exact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, k := range int8Kernels {
		for n := 0; n <= 300; n++ {
			for off := 0; off < 4; off++ {
				a := randInt8(r, n, off)
				b := randInt8(r, n, 3-off)
				if got, want := k.dot(a, b), refDotInt8(a, b); got != want {
					t.Fatalf("%s n=%d off=%d: got %d, want %d", k.name, n, off, got, want)
				}
			}
		}
		// Extremes: -128·-128 everywhere, long enough to wrap int32.
		for _, n := range []int{16, 64, 131071, 131072, 140000} {
			a := make([]int8, n)
			for i := range a {
				a[i] = -128
			}
			if got, want := k.dot(a, a), refDotInt8(a, a); got != want {
				t.Errorf("%s all -128, n=%d: got %d, want %d", k.name, n, got, want)
			}
		}
	}
}

func TestDotInt8BatchAndRows(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, k := range int8Kernels {
		for _, dim := range []int{1, 15, 16, 17, 63, 64, 65, 100, 768} {
			nrows := 1 + r.IntN(9)
			q := randInt8(r, dim, 1)
			flat := randInt8(r, nrows*dim, 2)
			out := make([]int32, nrows)
			k.batch(q, flat, out)
			rows := make([]int, 2*nrows)
			for i := range rows {
				rows[i] = r.IntN(nrows)
			}
			gathered := make([]int32, len(rows))
			k.rows(q, flat, rows, gathered)
			for i := range out {
				if want := refDotInt8(q, flat[i*dim:(i+1)*dim]); out[i] != want {
					t.Fatalf("%s dim=%d row %d: got %d, want %d", k.name, dim, i, out[i], want)
				}
			}
			for i, ri := range rows {
				if gathered[i] != out[ri] {
					t.Fatalf("%s dim=%d rows[%d]=%d: %d != batch %d", k.name, dim, i, ri, gathered[i], out[ri])
				}
			}
		}
	}
}

// TestDotInt8QueryWithoutMin covers the two loops of the amd64 int8
// kernels: a query without -128 (every quantised vector) takes the
// VPMADDUBSW loop, one with -128 the sign-extension loop, and a -128
// anywhere in the query, block, 32- or 16-byte step or byte tail, must be
// noticed, since the VPMADDUBSW loop would get -128·-1 wrong.
func TestDotInt8QueryWithoutMin(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	// noMin draws n values in [-127, 127].
	noMin := func(n, off int) []int8 {
		v := randInt8(r, n, off)
		for i, x := range v {
			if x == -128 {
				v[i] = 127
			}
		}
		return v
	}
	fill := func(n int, x int8) []int8 {
		v := make([]int8, n)
		for i := range v {
			v[i] = x
		}
		return v
	}
	type pair struct {
		name string
		q, b []int8
	}
	var cases []pair
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 127, 128, 129, 143, 144, 160, 175, 300, 768, 1000} {
		cases = append(cases, pair{fmt.Sprintf("random n=%d", n), noMin(n, n%3), randInt8(r, n, 2-n%3)})
		// The largest pair sums: |b| = 128 against |q| = 127.
		cases = append(cases,
			pair{fmt.Sprintf("127·-128 n=%d", n), fill(n, 127), fill(n, -128)},
			pair{fmt.Sprintf("-127·-128 n=%d", n), fill(n, -127), fill(n, -128)})
		// One -128 in the query against negative rows, at every position
		// for short vectors and at a spread of positions for long ones.
		for p := 0; p < n; p += 1 + p/16 {
			q := noMin(n, 0)
			q[p] = -128
			cases = append(cases, pair{fmt.Sprintf("-128 at %d of %d", p, n), q, fill(n, -1)})
		}
	}
	// Long enough to wrap int32 on the VPMADDUBSW loop.
	cases = append(cases, pair{"wrap", fill(140000, -127), fill(140000, -128)})
	for _, k := range int8Kernels {
		for _, c := range cases {
			want := refDotInt8(c.q, c.b)
			if got := k.dot(c.q, c.b); got != want {
				t.Fatalf("%s %s: dot %d, want %d", k.name, c.name, got, want)
			}
			if len(c.q) == 0 {
				continue
			}
			// Three rows: b, b again, and b reversed.
			rev := slices.Clone(c.b)
			slices.Reverse(rev)
			flat := slices.Concat(c.b, c.b, rev)
			wants := []int32{want, want, refDotInt8(c.q, rev)}
			out := make([]int32, 3)
			k.batch(c.q, flat, out)
			if !slices.Equal(out, wants) {
				t.Fatalf("%s %s: batch %v, want %v", k.name, c.name, out, wants)
			}
			k.rows(c.q, flat, []int{2, 0, 1}, out)
			if wantRows := []int32{wants[2], wants[0], wants[1]}; !slices.Equal(out, wantRows) {
				t.Fatalf("%s %s: rows %v, want %v", k.name, c.name, out, wantRows)
			}
		}
	}
}

// checkQuantized checks the documented per-element bound of q and scale
// against v, and that q uses the whole range [-127, 127].
func checkQuantized(t *testing.T, v []float32, q []int8, scale float32) {
	t.Helper()
	var m float64
	for _, x := range v {
		if a := math.Abs(float64(x)); a > m && !math.IsInf(a, 0) {
			m = a
		}
	}
	if scale < 0 || math.IsNaN(float64(scale)) {
		t.Fatalf("scale = %v", scale)
	}
	if scale == 0 {
		for i, x := range q {
			if x != saturate(v[i]) {
				t.Fatalf("scale 0: q[%d] = %d for %v", i, x, v[i])
			}
		}
		return
	}
	s := float64(scale)
	// The scale is m/127 rounded up to a float32: the smallest float32
	// that is not below it.
	if s < m/127 || float64(math.Nextafter32(scale, 0)) >= m/127 {
		t.Fatalf("scale = %v, want %v rounded up to a float32", scale, m/127)
	}
	hitMax := false
	for i, x := range v {
		if q[i] == -128 {
			t.Fatalf("q[%d] = -128", i)
		}
		switch {
		case math.IsNaN(float64(x)):
			if q[i] != 0 {
				t.Fatalf("NaN quantised to %d", q[i])
			}
		case math.IsInf(float64(x), 0):
			if q[i] != saturate(x) {
				t.Fatalf("%v quantised to %d", x, q[i])
			}
		default:
			if q[i] == 127 || q[i] == -127 {
				hitMax = true
			}
			if err := math.Abs(float64(x) - float64(q[i])*s); err > s/2*(1+1e-12) {
				t.Fatalf("v[%d] = %v, q = %d, scale %v: error %g > scale/2", i, x, q[i], scale, err)
			}
		}
	}
	// Where the scale has full precision, the largest element maps to
	// ±127; a subnormal scale can be up to twice m/127.
	if !hitMax && s >= 0x1p-126 {
		t.Fatalf("no element quantised to ±127 (max |v| = %v, scale %v)", m, scale)
	}
}

func TestQuantizeInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for n := 1; n <= 300; n++ {
		mag := math.Pow(10, float64(r.IntN(61)-30))
		v := randVec(r, n, mag)
		q, scale := QuantizeInt8(v)
		checkQuantized(t, v, q, scale)
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name      string
		v         []float32
		want      []int8
		wantScale float32
	}{
		{"empty", nil, []int8{}, 0},
		{"zeros", []float32{0, 0, 0}, []int8{0, 0, 0}, 0},
		{"exact", []float32{127, -127, 0, 1, -63}, []int8{127, -127, 0, 1, -63}, 1},
		{"half rounds away from zero", []float32{254, 1, -1, 3}, []int8{127, 1, -1, 2}, 2},
		{"NaN and Inf", []float32{nan, inf, -inf, 127, -1}, []int8{0, 127, -127, 127, -1}, 1},
		{"only non-finite", []float32{nan, inf, -inf}, []int8{0, 127, -127}, 0},
		{"max float32", []float32{math.MaxFloat32, -math.MaxFloat32}, []int8{127, -127}, float32(math.MaxFloat32 / 127)},
	}
	for _, tt := range tests {
		q, scale := QuantizeInt8(tt.v)
		if scale != tt.wantScale || string(int8Bytes(q)) != string(int8Bytes(tt.want)) {
			t.Errorf("%s: got %v, %v; want %v, %v", tt.name, q, scale, tt.want, tt.wantScale)
		}
	}
}

func int8Bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// TestQuantizedDotBound checks the documented bound on the error of a dot
// product estimated from int8 vectors.
func TestQuantizedDotBound(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 7, 64, 300, 768, 1536} {
		for trial := 0; trial < 20; trial++ {
			a := randVec(r, n, math.Pow(10, float64(r.IntN(9)-4)))
			b := randVec(r, n, 1)
			qa, sa := QuantizeInt8(a)
			qb, sb := QuantizeInt8(b)
			est := float64(sa) * float64(sb) * float64(DotInt8(qa, qb))
			want, _ := refDot(a, b)
			var la, lb float64
			for i := range a {
				la += math.Abs(float64(a[i]))
				lb += math.Abs(float64(b[i]))
			}
			fa, fb := float64(sa), float64(sb)
			bound := (fb*la+fa*lb)/2 + float64(n)*fa*fb/4
			if err := math.Abs(est - want); err > bound*(1+1e-9) {
				t.Fatalf("n=%d: estimate %g, exact %g: error %g > bound %g", n, est, want, err, bound)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for n := 1; n <= 300; n++ {
		v := randVec(r, n, math.Pow(10, float64(r.IntN(41)-20)))
		orig := append([]float32(nil), v...)
		Normalize(v)
		var ss float64
		for _, x := range orig {
			ss += float64(x) * float64(x)
		}
		norm := math.Sqrt(ss)
		var got float64
		for i, x := range v {
			got += float64(x) * float64(x)
			// Each element is the correctly rounded quotient.
			if want := float32(float64(orig[i]) / norm); x != want {
				t.Fatalf("n=%d: v[%d] = %v, want %v", n, i, x, want)
			}
		}
		if math.Abs(got-1) > float64(n)*2*u {
			t.Fatalf("n=%d: squared norm after Normalize = %v", n, got)
		}
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, v := range [][]float32{nil, {0, 0, 0}, {1, nan}, {inf, 1}} {
		before := append([]float32(nil), v...)
		Normalize(v)
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(before[i]) {
				t.Errorf("Normalize(%v) changed it to %v", before, v)
				break
			}
		}
	}
	// Float32 squares cannot overflow the float64 sum.
	big := []float32{-math.MaxFloat32, math.MaxFloat32}
	Normalize(big)
	if want := float32(math.Sqrt(0.5)); big[0] != -want || big[1] != want {
		t.Errorf("Normalize(±MaxFloat32) = %v, want ±%v", big, want)
	}
}

func TestSumBits(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, sum := range []func([]float32) uint32{SumBits, sumBitsGeneric} {
		for n := 0; n <= 300; n++ {
			v := misaligned(randVec(r, n, 1e30), n%3)
			var want uint32
			for _, x := range v {
				want += math.Float32bits(x)
			}
			if got := sum(v); got != want {
				t.Fatalf("n=%d: got %d, want %d", n, got, want)
			}
		}
	}
}
