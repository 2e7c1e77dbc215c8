package memstore_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
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

// Parallel scans (a tenant above the threshold, several workers claiming
// blocks of rows) give the same results, scores included, as one worker,
// with and without quantisation, whatever rows the ACLs and the filter
// leave visible.
func TestParallelScanMatchesSerial(t *testing.T) {
	ctx := context.Background()
	// 5000 documents of 4 chunks in 2 tenants: 10,000 rows in t0, above
	// the 8192 from which a scan is split.
	const dim, docs = 32, 5000
	corpus := newCorpus(1, docs, 4, dim, 2)
	for i, d := range corpus.docs {
		d.info.Metadata = map[string]string{"part": fmt.Sprint(i % 5)}
		corpus.docs[i] = d
	}
	tests := []struct {
		name     string
		quantize bool
		filter   rag.Filter
	}{
		{"float", false, rag.Filter{}},
		{"int8", true, rag.Filter{}},
		{"float/filter", false, rag.Filter{Equals: map[string]string{"part": "3"}}},
		{"int8/filter", true, rag.Filter{Equals: map[string]string{"part": "3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serial := memstore.New(memstore.Options{Dim: dim, Workers: 1, Quantize: tt.quantize})
			par := memstore.New(memstore.Options{Dim: dim, Workers: 4, Quantize: tt.quantize})
			for _, d := range corpus.docs {
				if err := serial.Replace(ctx, d.info, d.chunks); err != nil {
					t.Fatal(err)
				}
				if err := par.Replace(ctx, d.info, d.chunks); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 20 {
				q := rag.VectorQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "t0", User: "u1"}, K: 10, Filter: tt.filter}, Vector: corpus.query(i)}
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
					if a[j].Chunk.ID() != b[j].Chunk.ID() || a[j].Score != b[j].Score {
						t.Fatalf("query %d hit %d: %s (%v) vs %s (%v)", i, j, a[j].Chunk.ID(), a[j].Score, b[j].Chunk.ID(), b[j].Score)
					}
				}
			}
		})
	}
}

// A document's visibility follows its ACL through updates, deletes and
// the reuse of its slot, with and without a filter (a search decides the
// visibility of documents open to everyone without reading them, from a
// per-slot flag that these operations keep).
func TestVisibilityFollowsACL(t *testing.T) {
	ctx := context.Background()
	alice := llm.Principal{Tenant: "t", User: "alice"}
	bob := llm.Principal{Tenant: "t", User: "bob"}
	everyone := rag.ACL{Everyone: true}
	aliceOnly := rag.ACL{Users: []string{"alice"}}
	type step struct {
		name               string
		apply              func(s *memstore.Store) error
		aliceSees, bobSees []string // document IDs, in any order
	}
	replace := func(id string, acl rag.ACL) func(*memstore.Store) error {
		return func(s *memstore.Store) error {
			info := rag.DocumentInfo{ID: id, Tenant: "t", ACL: acl, Metadata: map[string]string{"k": "v"}}
			return s.Replace(ctx, info, []rag.Chunk{{Index: 0, Text: "", Vector: []float32{1, 0}}})
		}
	}
	update := func(id string, acl rag.ACL) func(*memstore.Store) error {
		return func(s *memstore.Store) error {
			return s.Update(ctx, rag.DocumentInfo{ID: id, Tenant: "t", ACL: acl, Metadata: map[string]string{"k": "v"}})
		}
	}
	del := func(id string) func(*memstore.Store) error {
		return func(s *memstore.Store) error { return s.Delete(ctx, "t", id) }
	}
	steps := []step{
		{"open document", replace("a", everyone), []string{"a"}, []string{"a"}},
		{"closed to bob", update("a", aliceOnly), []string{"a"}, nil},
		{"open again", update("a", everyone), []string{"a"}, []string{"a"}},
		{"second, closed", replace("b", aliceOnly), []string{"a", "b"}, []string{"a"}},
		{"open one deleted", del("a"), []string{"b"}, nil},
		{"slot reused, closed", replace("c", aliceOnly), []string{"b", "c"}, nil},
		{"replaced open", replace("c", everyone), []string{"b", "c"}, []string{"c"}},
	}
	for _, quantize := range []bool{false, true} {
		for _, filter := range []rag.Filter{{}, {Equals: map[string]string{"k": "v"}}} {
			s := memstore.New(memstore.Options{Dim: 2, Quantize: quantize})
			for _, st := range steps {
				if err := st.apply(s); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				for _, who := range []struct {
					p    llm.Principal
					want []string
				}{{alice, st.aliceSees}, {bob, st.bobSees}} {
					hits, err := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: who.p, K: 10, Filter: filter}, Vector: []float32{1, 0}})
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, h := range hits {
						got = append(got, h.Chunk.DocID)
					}
					slices.Sort(got)
					if !slices.Equal(got, who.want) {
						t.Errorf("quantize %v, filter %v, %s: %s sees %v, want %v", quantize, !filter.IsZero(), st.name, who.p.User, got, who.want)
					}
				}
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
