package memstore_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
	"github.com/keel-go/keel/rag/memstore"
	"github.com/keel-go/keel/rag/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dim int) rag.Store {
		return memstore.New(memstore.Options{Dim: dim})
	}, storetest.Options{Exact: true})
}

// With int8 quantisation and exact rescoring, the top k is still exact on
// the contract's corpus (the rescoring window covers it).
func TestContractQuantized(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dim int) rag.Store {
		return memstore.New(memstore.Options{Dim: dim, Quantize: true})
	}, storetest.Options{Exact: true})
}

// Parallel scans (a tenant above the threshold, several workers) give the
// same results as one worker.
func TestParallelScanMatchesSerial(t *testing.T) {
	ctx := context.Background()
	const dim, docs = 32, 3000
	serial := memstore.New(memstore.Options{Dim: dim, Workers: 1})
	par := memstore.New(memstore.Options{Dim: dim, Workers: 4})
	corpus := newCorpus(1, docs, 4, dim, 2)
	for _, d := range corpus.docs {
		if err := serial.Replace(ctx, d.info, d.chunks); err != nil {
			t.Fatal(err)
		}
		if err := par.Replace(ctx, d.info, d.chunks); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		q := rag.VectorQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "t0", User: "u1"}, K: 10}, Vector: corpus.query(i)}
		a, err := serial.VectorSearch(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := par.VectorSearch(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) || len(a) == 0 {
			t.Fatalf("query %d: %d and %d hits", i, len(a), len(b))
		}
		for j := range a {
			if a[j].Chunk.ID() != b[j].Chunk.ID() {
				t.Fatalf("query %d hit %d: %s vs %s", i, j, a[j].Chunk.ID(), b[j].Chunk.ID())
			}
		}
	}
}

func TestSaveLoad(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{Dim: 8})
	corpus := newCorpus(2, 50, 3, 8, 2)
	for _, d := range corpus.docs {
		if err := s.Replace(ctx, d.info, d.chunks); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := s.Save(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	loaded, err := memstore.Load(ctx, bytes.NewReader(buf.Bytes()), memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Len() != s.Len() {
		t.Fatalf("%d chunks loaded, %d saved", loaded.Len(), s.Len())
	}
	p := llm.Principal{Tenant: "t1", User: "u0", Groups: []string{"g1"}}
	for i := range 5 {
		vq := rag.VectorQuery{Query: rag.Query{Principal: p, K: 5}, Vector: corpus.query(i)}
		a, _ := s.VectorSearch(ctx, vq)
		b, _ := loaded.VectorSearch(ctx, vq)
		kq := rag.KeywordQuery{Query: rag.Query{Principal: p, K: 5}, Text: "refund parcel"}
		ka, _ := s.KeywordSearch(ctx, kq)
		kb, _ := loaded.KeywordSearch(ctx, kq)
		if len(a) != len(b) || len(ka) != len(kb) {
			t.Fatalf("query %d: results differ after load", i)
		}
		for j := range a {
			if a[j].Chunk.ID() != b[j].Chunk.ID() {
				t.Fatalf("query %d: %s vs %s", i, a[j].Chunk.ID(), b[j].Chunk.ID())
			}
		}
		for j := range ka {
			if ka[j].Chunk.ID() != kb[j].Chunk.ID() || ka[j].Score != kb[j].Score {
				t.Fatalf("keyword query %d: %v vs %v", i, ka[j], kb[j])
			}
		}
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a snapshot"),
		"truncated": buf.Bytes()[:buf.Len()/2],
	} {
		if _, err := memstore.Load(ctx, bytes.NewReader(data), memstore.Options{}); err == nil {
			t.Errorf("%s snapshot loaded", name)
		}
	}
	if _, err := memstore.Load(ctx, bytes.NewReader(buf.Bytes()), memstore.Options{Dim: 16}); err == nil {
		t.Error("a snapshot of other dimensions loaded")
	}
}
