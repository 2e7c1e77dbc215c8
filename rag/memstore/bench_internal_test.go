package memstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/keel-go/keel/internal/vec"
	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
)

// The vector benchmark's corpus: 100,000 chunks × 768 dimensions in two
// tenants of 50,000, so a search's tenant filter admits half the chunks.
const (
	benchChunks = 100_000
	benchDim    = 768
	benchK      = 10
)

var benchStores = struct {
	once      sync.Once
	float, i8 *Store
	queries   [][]float32
}{}

// benchVectors returns n unit vectors, seeded, built in parallel.
func benchVectors(seed uint64, n, dim int) []float32 {
	flat := make([]float32, n*dim)
	var wg sync.WaitGroup
	workers := 4
	per := (n + workers - 1) / workers
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := w * per; i < min((w+1)*per, n); i++ {
				v := flat[i*dim : (i+1)*dim]
				for j := range v {
					v[j] = float32(rng.NormFloat64())
				}
				vec.Normalize(v)
			}
		})
	}
	wg.Wait()
	return flat
}

func loadBenchStores(b *testing.B) {
	benchStores.once.Do(func() {
		ctx := context.Background()
		flat := benchVectors(1, benchChunks, benchDim)
		benchStores.float = New(Options{Dim: benchDim})
		benchStores.i8 = New(Options{Dim: benchDim, Quantize: true})
		const perDoc = 10
		for d := 0; d < benchChunks/perDoc; d++ {
			info := rag.DocumentInfo{ID: fmt.Sprintf("doc%05d", d), Tenant: fmt.Sprintf("t%d", d%2), ACL: rag.ACL{Everyone: true}}
			chunks := make([]rag.Chunk, perDoc)
			for i := range chunks {
				r := d*perDoc + i
				chunks[i] = rag.Chunk{Index: i, Start: i, End: i + 1, Text: "x", Vector: flat[r*benchDim : (r+1)*benchDim]}
			}
			for _, s := range []*Store{benchStores.float, benchStores.i8} {
				if err := s.Replace(ctx, info, chunks); err != nil {
					panic(err)
				}
			}
		}
		q := benchVectors(2, 64, benchDim)
		for i := range 64 {
			benchStores.queries = append(benchStores.queries, q[i*benchDim:(i+1)*benchDim])
		}
	})
	if benchStores.float == nil {
		b.Fatal("bench stores not built")
	}
}

func benchQuery(i int) rag.VectorQuery {
	return rag.VectorQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "t0", User: "u"}, K: benchK}, Vector: benchStores.queries[i%len(benchStores.queries)]}
}

// BenchmarkVectorSearch: exact top-10 over the 50,000 chunks × 768
// dimensions (153 MB of float32) of one tenant of a 100,000-chunk store:
// the tenant filter admits half the chunks. Compare with BenchmarkScanFloor.
func BenchmarkVectorSearch(b *testing.B) {
	loadBenchStores(b)
	ctx := context.Background()
	b.SetBytes(int64(benchChunks / 2 * benchDim * 4))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		hits, err := benchStores.float.VectorSearch(ctx, benchQuery(i))
		if err != nil || len(hits) != benchK {
			b.Fatal(len(hits), err)
		}
		i++
	}
}

// BenchmarkScanFloor reads the same vectors as BenchmarkVectorSearch,
// summing their bits as integers, on as many goroutines: the machine's
// memory floor for the scan, measured in the same run.
func BenchmarkScanFloor(b *testing.B) {
	loadBenchStores(b)
	t := benchStores.float.tenant("t0", false)
	flat := t.vectors
	workers := benchStores.float.opts.Workers
	b.SetBytes(int64(len(flat) * 4))
	b.ReportAllocs()
	var sink uint32
	for b.Loop() {
		var wg sync.WaitGroup
		sums := make([]uint32, workers)
		per := (len(flat)/benchDim + workers - 1) / workers * benchDim
		for w := range workers {
			lo, hi := w*per, min((w+1)*per, len(flat))
			wg.Go(func() { sums[w] = vec.SumBits(flat[lo:hi]) })
		}
		wg.Wait()
		for _, s := range sums {
			sink += s
		}
	}
	_ = sink
}

// BenchmarkVectorSearchInt8 is BenchmarkVectorSearch with int8
// quantisation and exact rescoring; it reports recall@10 against exact.
func BenchmarkVectorSearchInt8(b *testing.B) {
	loadBenchStores(b)
	ctx := context.Background()
	var found, total int
	for i := range len(benchStores.queries) {
		exact, _ := benchStores.float.VectorSearch(ctx, benchQuery(i))
		approx, _ := benchStores.i8.VectorSearch(ctx, benchQuery(i))
		want := map[string]bool{}
		for _, h := range exact {
			want[h.Chunk.ID()] = true
		}
		for _, h := range approx {
			if want[h.Chunk.ID()] {
				found++
			}
		}
		total += len(exact)
	}
	b.SetBytes(int64(benchChunks / 2 * benchDim))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := benchStores.i8.VectorSearch(ctx, benchQuery(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// After the loop: b.Loop resets the metrics reported before it.
	b.ReportMetric(float64(found)/float64(total), "recall@10")
}

// TestInt8Recall checks the int8 mode's recall@10 against exact search on
// a smaller corpus of the same shape (the benchmark reports it at full
// size).
func TestInt8Recall(t *testing.T) {
	ctx := context.Background()
	const n, dim = 20_000, 256
	flat := benchVectors(3, n, dim)
	exact, approx := New(Options{Dim: dim}), New(Options{Dim: dim, Quantize: true})
	for d := 0; d < n/10; d++ {
		info := rag.DocumentInfo{ID: fmt.Sprint(d), Tenant: "t", ACL: rag.ACL{Everyone: true}}
		chunks := make([]rag.Chunk, 10)
		for i := range chunks {
			r := d*10 + i
			chunks[i] = rag.Chunk{Index: i, Vector: flat[r*dim : (r+1)*dim]}
		}
		_ = exact.Replace(ctx, info, chunks)
		_ = approx.Replace(ctx, info, chunks)
	}
	queries := benchVectors(4, 100, dim)
	found, total := 0, 0
	for i := range 100 {
		q := rag.VectorQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "t"}, K: 10}, Vector: queries[i*dim : (i+1)*dim]}
		a, _ := exact.VectorSearch(ctx, q)
		b, _ := approx.VectorSearch(ctx, q)
		want := map[string]bool{}
		for _, h := range a {
			want[h.Chunk.ID()] = true
		}
		for _, h := range b {
			if want[h.Chunk.ID()] {
				found++
			}
		}
		total += len(a)
	}
	if r := float64(found) / float64(total); r < 0.99 {
		t.Errorf("int8 recall@10 %.4f, want at least 0.99", r)
	} else {
		t.Logf("int8 recall@10 = %.4f", r)
	}
}

// The BM25 benchmarks' corpus: 100,000 chunks of about 150 words drawn
// from a Zipf-distributed vocabulary of 50,000 words, in one tenant.
var benchText = struct {
	once   sync.Once
	chunks []string
	store  *Store
}{}

func benchWords() []string {
	words := make([]string, 50_000)
	rng := rand.New(rand.NewPCG(5, 5))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	for i := range words {
		n := 3 + rng.IntN(8)
		var b strings.Builder
		for range n {
			b.WriteByte(letters[rng.IntN(len(letters))])
		}
		words[i] = b.String()
	}
	return words
}

func loadBenchText(b *testing.B) {
	benchText.once.Do(func() {
		words := benchWords()
		rng := rand.New(rand.NewPCG(6, 6))
		zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(words)-1))
		benchText.chunks = make([]string, benchChunks)
		for i := range benchText.chunks {
			var sb strings.Builder
			for j := range 150 {
				if j > 0 {
					sb.WriteByte(' ')
				}
				sb.WriteString(words[zipf.Uint64()])
			}
			benchText.chunks[i] = sb.String()
		}
		s := New(Options{Dim: 1})
		ctx := context.Background()
		for d := 0; d < benchChunks/10; d++ {
			info := rag.DocumentInfo{ID: fmt.Sprint(d), Tenant: "t0", ACL: rag.ACL{Everyone: true}}
			chunks := make([]rag.Chunk, 10)
			for i := range chunks {
				text := benchText.chunks[d*10+i]
				chunks[i] = rag.Chunk{Index: i, End: len(text), Text: text, Vector: []float32{1}}
			}
			if err := s.Replace(ctx, info, chunks); err != nil {
				panic(err)
			}
		}
		benchText.store = s
	})
}

// BenchmarkBM25Search: a 3-term query over 100,000 chunks, top 10.
func BenchmarkBM25Search(b *testing.B) {
	loadBenchText(b)
	words := benchWords()
	rng := rand.New(rand.NewPCG(7, 7))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(words)-1))
	queries := make([]string, 256)
	for i := range queries {
		queries[i] = words[zipf.Uint64()+10] + " " + words[zipf.Uint64()+50] + " " + words[zipf.Uint64()+200]
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := rag.KeywordQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "t0"}, K: 10}, Text: queries[i%len(queries)]}
		if _, err := benchText.store.KeywordSearch(ctx, q); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBM25Index: indexing text through Replace (keyword side and a
// 1-dimensional vector), in bytes of text per second.
func BenchmarkBM25Index(b *testing.B) {
	loadBenchText(b)
	ctx := context.Background()
	var size int64
	for _, c := range benchText.chunks[:1000] {
		size += int64(len(c))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		s := New(Options{Dim: 1})
		for d := 0; d < 100; d++ {
			info := rag.DocumentInfo{ID: fmt.Sprint(d), Tenant: "t0", ACL: rag.ACL{Everyone: true}}
			chunks := make([]rag.Chunk, 10)
			for i := range chunks {
				text := benchText.chunks[d*10+i]
				chunks[i] = rag.Chunk{Index: i, End: len(text), Text: text, Vector: []float32{1}}
			}
			if err := s.Replace(ctx, info, chunks); err != nil {
				b.Fatal(err)
			}
		}
	}
}
