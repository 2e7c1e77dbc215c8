package pgvector

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/keel-go/keel/internal/pgtest"
	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
)

// benchCorpus is 5,000 chunks of 64 dimensions with 40-word texts in 20
// tenants (5% of the rows each).
func benchCorpus() corpus { return corpus{rows: 5000, dim: 64, tenants: 20, perDoc: 10, text: true} }

// BenchmarkSearch measures a search for a principal of one tenant, K=10,
// round trips included, as the store runs by default.
func BenchmarkSearch(b *testing.B) {
	pool := pgtest.Pool(b)
	c := benchCorpus()
	s := newStore(b, pool, Options{Dim: c.dim})
	c.load(b, s)
	rng := rand.New(rand.NewPCG(3, 4))
	p := llm.Principal{Tenant: "t3", User: "u1", Groups: []string{"g1"}}
	b.Run("Vector", func(b *testing.B) {
		q := rag.VectorQuery{Query: rag.Query{Principal: p, K: 10}, Vector: randomUnit(rng, c.dim)}
		b.ReportAllocs()
		for b.Loop() {
			if hits, err := s.VectorSearch(b.Context(), q); err != nil || len(hits) != 10 {
				b.Fatal(len(hits), err)
			}
		}
	})
	b.Run("VectorHNSW", func(b *testing.B) {
		// Forced onto the index, as a tenant too large for an exact scan.
		s.tune = tuning{settings: [][2]string{{"enable_seqscan", "off"}, {"enable_bitmapscan", "off"}, {"enable_sort", "off"}}}
		defer func() { s.tune = tuning{} }()
		q := rag.VectorQuery{Query: rag.Query{Principal: p, K: 10}, Vector: randomUnit(rng, c.dim)}
		b.ReportAllocs()
		for b.Loop() {
			if hits, err := s.VectorSearch(b.Context(), q); err != nil || len(hits) != 10 {
				b.Fatal(len(hits), err)
			}
		}
	})
	b.Run("Keyword", func(b *testing.B) {
		q := rag.KeywordQuery{Query: rag.Query{Principal: p, K: 10}, Text: "w17 w42 w301"}
		b.ReportAllocs()
		for b.Loop() {
			if hits, err := s.KeywordSearch(b.Context(), q); err != nil || len(hits) != 10 {
				b.Fatal(len(hits), err)
			}
		}
	})
}

// BenchmarkReplace measures replacing a document of 10 chunks of 64
// dimensions (about 300 bytes of text each) in one transaction.
func BenchmarkReplace(b *testing.B) {
	pool := pgtest.Pool(b)
	s := newStore(b, pool, Options{Dim: 64})
	rng := rand.New(rand.NewPCG(5, 6))
	info := rag.DocumentInfo{ID: "doc", Tenant: "acme", ACL: rag.ACL{Users: []string{"alice"}, Groups: []string{"support"}},
		Title: "Shipping guide", Metadata: map[string]string{"lang": "en"}}
	chunks := make([]rag.Chunk, 10)
	off := 0
	for i := range chunks {
		text := "Parcels inside the EU arrive within two to four working days; tracking starts once the label is scanned. " +
			"Customs may add a day for Switzerland and Norway. Chunk " + strconv.Itoa(i) + "."
		chunks[i] = rag.Chunk{Index: i, Start: off, End: off + len(text), Text: text, Vector: randomUnit(rng, 64)}
		off += len(text)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Replace(b.Context(), info, chunks); err != nil {
			b.Fatal(err)
		}
	}
}
