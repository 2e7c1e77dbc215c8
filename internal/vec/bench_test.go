package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"
)

// The store's target workload: exact search over 100,000 chunks of 768
// dimensions (307 MB of float32).
const (
	benchRows  = 100_000
	benchDim   = 768
	benchBlock = 256 // rows scored per call, so that out stays in L1
)

// benchMatrix returns benchRows normalised random vectors of benchDim
// float32 in one row-major slice, and a query.
func benchMatrix() (flat, q []float32) {
	r := rand.New(rand.NewPCG(21, 22))
	flat = make([]float32, benchRows*benchDim)
	for i := range flat {
		flat[i] = float32(r.NormFloat64())
	}
	for i := 0; i < benchRows; i++ {
		Normalize(flat[i*benchDim : (i+1)*benchDim])
	}
	q = make([]float32, benchDim)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	Normalize(q)
	return flat, q
}

// split runs fn over [0, n) cut into parts contiguous ranges, one
// goroutine each (none for one part), as the store parallelises a scan
// over the cores.
func split(n, parts int, fn func(lo, hi int)) {
	if parts == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

var goroutineCounts = []int{1, 2}

func BenchmarkDot768(b *testing.B) {
	r := rand.New(rand.NewPCG(23, 24))
	x, y := randVec(r, benchDim, 1), randVec(r, benchDim, 1)
	for _, k := range dotKernels {
		b.Run("kernel="+k.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(2 * 4 * benchDim)
			var sink float32
			for b.Loop() {
				sink += k.dot(x, y)
			}
			if math.IsNaN(float64(sink)) {
				b.Fatal("NaN")
			}
		})
	}
}

// BenchmarkDotBatch scores every row of the 100,000 × 768 matrix against
// one query, in blocks of benchBlock rows, on one or two goroutines. The
// MB/s column is the bandwidth of the scan, to compare with
// BenchmarkScanFloor.
func BenchmarkDotBatch(b *testing.B) {
	flat, q := benchMatrix()
	for _, k := range batchKernels {
		for _, g := range goroutineCounts {
			b.Run(fmt.Sprintf("kernel=%s/goroutines=%d", k.name, g), func(b *testing.B) {
				outs := make([][benchBlock]float32, g)
				b.ReportAllocs()
				b.SetBytes(4 * benchRows * benchDim)
				scan := func(lo, hi int) {
					out := &outs[lo*g/benchRows]
					for i := lo; i < hi; i += benchBlock {
						end := min(i+benchBlock, hi)
						k.batch(q, flat[i*benchDim:end*benchDim], out[:end-i])
					}
				}
				for b.Loop() {
					split(benchRows, g, scan)
				}
			})
		}
	}
}

// BenchmarkDotRows scores every other row of the matrix, as a tenant
// filter that admits half the chunks does when their rows interleave. The
// MB/s column counts the bytes of the admitted rows only.
func BenchmarkDotRows(b *testing.B) {
	flat, q := benchMatrix()
	rows := make([]int, 0, benchRows/2)
	for i := 0; i < benchRows; i += 2 {
		rows = append(rows, i)
	}
	for _, k := range batchKernels {
		for _, g := range goroutineCounts {
			b.Run(fmt.Sprintf("kernel=%s/goroutines=%d", k.name, g), func(b *testing.B) {
				outs := make([][benchBlock]float32, g)
				b.ReportAllocs()
				b.SetBytes(int64(4 * len(rows) * benchDim))
				scan := func(lo, hi int) {
					out := &outs[lo*g/len(rows)]
					for i := lo; i < hi; i += benchBlock {
						end := min(i+benchBlock, hi)
						k.rows(q, flat, rows[i:end], out[:end-i])
					}
				}
				for b.Loop() {
					split(len(rows), g, scan)
				}
			})
		}
	}
}

// plainSumBits is the memory floor as a plain Go loop would measure it:
// the bits of every float32 summed as uint32.
func plainSumBits(v []float32) uint32 {
	u := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
	var s uint32
	for _, x := range u {
		s += x
	}
	return s
}

// BenchmarkScanFloor only reads the 307 MB of BenchmarkDotBatch, summing
// the bits as uint32: the memory floor of a scan on this machine, measured
// in the same run. "plain" is a one-accumulator Go loop, "SumBits" the
// package's vector loop; where they agree, the floor is the memory's and
// not the loop's.
func BenchmarkScanFloor(b *testing.B) {
	flat, _ := benchMatrix()
	sums := []struct {
		name string
		fn   func([]float32) uint32
	}{
		{"plain", plainSumBits},
		{"SumBits(" + Implementation() + ")", SumBits},
	}
	for _, s := range sums {
		for _, g := range goroutineCounts {
			b.Run(fmt.Sprintf("sum=%s/goroutines=%d", s.name, g), func(b *testing.B) {
				res := make([]uint32, g)
				b.ReportAllocs()
				b.SetBytes(4 * benchRows * benchDim)
				scan := func(lo, hi int) {
					res[lo*g/benchRows] += s.fn(flat[lo*benchDim : hi*benchDim])
				}
				for b.Loop() {
					split(benchRows, g, scan)
				}
			})
		}
	}
}

// BenchmarkDotInt8Batch is BenchmarkDotBatch on the int8 quantisation of
// the same matrix (77 MB). MB/s counts int8 bytes.
func BenchmarkDotInt8Batch(b *testing.B) {
	flat, q := benchMatrix()
	flat8 := make([]int8, len(flat))
	for i := 0; i < benchRows; i++ {
		QuantizeInt8Into(flat8[i*benchDim:(i+1)*benchDim], flat[i*benchDim:(i+1)*benchDim])
	}
	flat = nil // let the float32 copy go
	q8, _ := QuantizeInt8(q)
	for _, k := range int8Kernels {
		for _, g := range goroutineCounts {
			b.Run(fmt.Sprintf("kernel=%s/goroutines=%d", k.name, g), func(b *testing.B) {
				outs := make([][benchBlock]int32, g)
				b.ReportAllocs()
				b.SetBytes(benchRows * benchDim)
				scan := func(lo, hi int) {
					out := &outs[lo*g/benchRows]
					for i := lo; i < hi; i += benchBlock {
						end := min(i+benchBlock, hi)
						k.batch(q8, flat8[i*benchDim:end*benchDim], out[:end-i])
					}
				}
				for b.Loop() {
					split(benchRows, g, scan)
				}
			})
		}
	}
}

func BenchmarkQuantizeInt8Into(b *testing.B) {
	r := rand.New(rand.NewPCG(25, 26))
	v := randVec(r, benchDim, 1)
	dst := make([]int8, benchDim)
	b.ReportAllocs()
	b.SetBytes(4 * benchDim)
	for b.Loop() {
		QuantizeInt8Into(dst, v)
	}
}

func BenchmarkNormalize(b *testing.B) {
	r := rand.New(rand.NewPCG(27, 28))
	v := randVec(r, benchDim, 1)
	b.ReportAllocs()
	b.SetBytes(4 * benchDim)
	for b.Loop() {
		Normalize(v)
	}
}
