package rag_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/rag"
	"github.com/keel-go/keel/rag/memstore"
)

// paragraphs splits on blank lines: a small splitter for these tests.
type paragraphs struct{}

func (paragraphs) Split(text string) []rag.Span {
	var spans []rag.Span
	start := 0
	for start < len(text) {
		end := strings.Index(text[start:], "\n\n")
		if end < 0 {
			end = len(text)
		} else {
			end += start
		}
		if strings.TrimSpace(text[start:end]) != "" {
			spans = append(spans, rag.Span{Start: start, End: end})
		}
		start = end + 2
	}
	return spans
}

func (paragraphs) Settings() string { return "paragraphs" }

func newIngester(emb llm.Embedder) (*rag.Ingester, *memstore.Store) {
	store := memstore.New(memstore.Options{Dim: 16})
	return &rag.Ingester{Store: store, Embedder: emb, Model: "text-embedding-3-small", Dimensions: 16, Splitter: paragraphs{}, BatchSize: 2}, store
}

func handbook(text string) rag.Document {
	return rag.Document{ID: "handbook", Tenant: "acme", ACL: rag.ACL{Everyone: true}, Title: "Handbook", Text: text}
}

func TestIngestIncremental(t *testing.T) {
	ctx := context.Background()
	emb := &llmtest.Embedder{}
	ing, store := newIngester(emb)
	doc := handbook("Refunds take five days.\n\nShipping is free over 50 EUR.\n\nPasswords reset by email.")

	r, err := ing.Ingest(ctx, doc)
	if err != nil || r.Added != 1 || r.Chunks != 3 {
		t.Fatalf("first ingest %+v, %v", r, err)
	}
	if n := len(emb.Requests()); n != 2 { // 3 chunks in batches of 2
		t.Fatalf("%d embedding calls, want 2", n)
	}
	chunks, _ := store.Chunks(ctx, "acme", "handbook")
	for _, c := range chunks {
		if doc.Text[c.Start:c.End] != c.Text {
			t.Fatalf("chunk %d offsets do not round-trip", c.Index)
		}
	}

	// Unchanged: skipped, no embedding.
	if r, err = ing.Ingest(ctx, doc); err != nil || r.Skipped != 1 || len(emb.Requests()) != 2 {
		t.Fatalf("unchanged ingest %+v, %v, %d calls", r, err, len(emb.Requests()))
	}
	// ACL and title only: updated without embedding.
	doc.ACL = rag.ACL{Groups: []string{"support"}}
	doc.Title = "Support handbook"
	if r, err = ing.Ingest(ctx, doc); err != nil || r.Updated != 1 || len(emb.Requests()) != 2 {
		t.Fatalf("ACL-only ingest %+v, %v, %d calls", r, err, len(emb.Requests()))
	}
	hits, _ := store.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "acme", User: "x"}, K: 5}, Text: "refunds"})
	if len(hits) != 0 {
		t.Fatalf("a principal outside the new ACL still sees %d chunks", len(hits))
	}
	// Changed text: re-embedded and replaced.
	doc.Text = "Refunds take three days.\n\nShipping is free over 50 EUR."
	if r, err = ing.Ingest(ctx, doc); err != nil || r.Replaced != 1 || r.Chunks != 2 {
		t.Fatalf("changed ingest %+v, %v", r, err)
	}
	if chunks, _ := store.Chunks(ctx, "acme", "handbook"); len(chunks) != 2 || chunks[0].Text != "Refunds take three days." {
		t.Fatalf("chunks after change %+v", chunks)
	}
	// Another embedding model: everything re-embedded, nothing mixed.
	calls := len(emb.Requests())
	ing.Model = "text-embedding-3-large"
	if r, err = ing.Ingest(ctx, doc); err != nil || r.Replaced != 1 || len(emb.Requests()) == calls {
		t.Fatalf("model change %+v, %v", r, err)
	}
	// Another splitter configuration: re-split.
	calls = len(emb.Requests())
	ing.SplitterSettings = "paragraphs, v2"
	if r, err = ing.Ingest(ctx, doc); err != nil || r.Replaced != 1 || len(emb.Requests()) == calls {
		t.Fatalf("splitter change %+v, %v", r, err)
	}
}

func TestIngestSyncDeletes(t *testing.T) {
	ctx := context.Background()
	ing, store := newIngester(&llmtest.Embedder{})
	a := rag.Document{ID: "a", Tenant: "acme", ACL: rag.ACL{Everyone: true}, Text: "alpha"}
	b := rag.Document{ID: "b", Tenant: "acme", ACL: rag.ACL{Everyone: true}, Text: "beta"}
	other := rag.Document{ID: "c", Tenant: "globex", ACL: rag.ACL{Everyone: true}, Text: "gamma"}
	if _, err := ing.Ingest(ctx, a, b, other); err != nil {
		t.Fatal(err)
	}
	r, err := ing.Sync(ctx, "acme", []rag.Document{a})
	if err != nil || r.Deleted != 1 || r.Skipped != 1 {
		t.Fatalf("sync %+v, %v", r, err)
	}
	if docs, _ := store.Documents(ctx, "acme"); len(docs) != 1 || docs[0].ID != "a" {
		t.Fatalf("acme documents %+v", docs)
	}
	if docs, _ := store.Documents(ctx, "globex"); len(docs) != 1 {
		t.Fatal("sync of one tenant touched another")
	}
	if _, err := ing.Sync(ctx, "acme", []rag.Document{other}); err == nil {
		t.Error("sync accepted another tenant's document")
	}
	if _, err := ing.Sync(ctx, "", nil); !errors.Is(err, rag.ErrNoPrincipal) {
		t.Errorf("sync without a tenant: %v", err)
	}
}

func TestIngestMoveWithoutEmbedding(t *testing.T) {
	ctx := context.Background()
	emb := &llmtest.Embedder{}
	ing, store := newIngester(emb)
	doc := rag.Document{ID: "memo", Tenant: "acme", ACL: rag.ACL{Everyone: true}, Text: "merger plans\n\nsecret numbers"}
	if _, err := ing.Ingest(ctx, doc); err != nil {
		t.Fatal(err)
	}
	calls := len(emb.Requests())
	if err := ing.Move(ctx, "acme", "memo", rag.DocumentInfo{Tenant: "globex", ACL: rag.ACL{Users: []string{"ceo"}}}); err != nil {
		t.Fatal(err)
	}
	if len(emb.Requests()) != calls {
		t.Error("moving a document re-embedded it")
	}
	if _, err := store.Document(ctx, "acme", "memo"); !errors.Is(err, rag.ErrNotFound) {
		t.Error("the document is still in the old tenant")
	}
	hits, _ := store.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "globex", User: "ceo"}, K: 5}, Text: "merger"})
	if len(hits) != 1 {
		t.Fatalf("moved document: %d hits", len(hits))
	}
}

func TestIngestErrors(t *testing.T) {
	ctx := context.Background()
	ing, _ := newIngester(&llmtest.Embedder{})
	if _, err := ing.Ingest(ctx, rag.Document{ID: "x", Text: "no tenant"}); !errors.Is(err, rag.ErrNoPrincipal) {
		t.Errorf("no tenant: %v", err)
	}
	failing := llm.EmbedderFunc(func(context.Context, *llm.EmbedRequest) (*llm.EmbedResponse, error) {
		return nil, &llm.Error{Kind: llm.KindUnavailable, Message: "down"}
	})
	ing.Embedder = failing
	r, err := ing.Ingest(ctx, handbook("a\n\nb"))
	if llm.KindOf(err) != llm.KindUnavailable || r.Added != 0 {
		t.Errorf("embedder down: %+v, %v", r, err)
	}
	if _, err := (&rag.Ingester{}).Ingest(ctx, handbook("a")); err == nil {
		t.Error("an unconfigured ingester ran")
	}
}

func TestRetrieverHybrid(t *testing.T) {
	ctx := context.Background()
	emb := &llmtest.Embedder{}
	ing, store := newIngester(emb)
	docs := []rag.Document{
		{ID: "refunds", Tenant: "acme", ACL: rag.ACL{Everyone: true}, Title: "Refunds", Text: "Refunds are paid within five days of the return."},
		{ID: "shipping", Tenant: "acme", ACL: rag.ACL{Everyone: true}, Title: "Shipping", Text: "Parcels ship within two days."},
		{ID: "private", Tenant: "acme", ACL: rag.ACL{Users: []string{"boss"}}, Title: "Refund fraud", Text: "Refund fraud cases are reviewed weekly."},
		{ID: "other", Tenant: "globex", ACL: rag.ACL{Everyone: true}, Title: "Refunds", Text: "Globex refunds take a month."},
	}
	if _, err := ing.Ingest(ctx, docs...); err != nil {
		t.Fatal(err)
	}
	r := &rag.Retriever{Store: store, Embedder: emb, Model: ing.Model, Dimensions: 16}
	p := llm.Principal{Tenant: "acme", User: "agent"}
	for _, mode := range []rag.Mode{rag.Hybrid, rag.KeywordOnly, rag.VectorOnly} {
		r.Mode = mode
		hits, err := r.Retrieve(ctx, p, "refunds", 3, rag.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.Chunk.Tenant != "acme" || h.Chunk.DocID == "private" {
				t.Fatalf("mode %d: %+v leaked", mode, h.Chunk)
			}
		}
		if mode != rag.VectorOnly && (len(hits) == 0 || hits[0].Chunk.DocID != "refunds") {
			t.Errorf("mode %d: %v", mode, hits)
		}
	}
	if _, err := r.Retrieve(ctx, llm.Principal{}, "refunds", 3, rag.Filter{}); !errors.Is(err, rag.ErrNoPrincipal) {
		t.Errorf("no principal: %v", err)
	}
}

// A splitter's settings are part of the fingerprint: a new limit re-embeds.
func TestIngestSplitterSettingsInFingerprint(t *testing.T) {
	a, err := rag.NewRecursiveSplitter(rag.SplitOptions{MaxTokens: 100, Overlap: 10})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := rag.NewRecursiveSplitter(rag.SplitOptions{MaxTokens: 200, Overlap: 10})
	exact, _ := rag.ExactCounter("cl100k_base")
	c, _ := rag.NewRecursiveSplitter(rag.SplitOptions{MaxTokens: 100, Overlap: 10, Counter: exact})
	m, _ := rag.NewMarkdownSplitter(rag.MarkdownOptions{MaxTokens: 100, Overlap: 10})
	doc := handbook("text")
	seen := map[string]bool{}
	for _, s := range []rag.TextSplitter{a, b, c, m} {
		fp := (&rag.Ingester{Model: "m", Splitter: s}).Fingerprint(&doc)
		if seen[fp] {
			t.Errorf("splitter %T %+v shares a fingerprint", s, s)
		}
		seen[fp] = true
	}
	same, _ := rag.NewRecursiveSplitter(rag.SplitOptions{MaxTokens: 100, Overlap: 10})
	if (&rag.Ingester{Model: "m", Splitter: a}).Fingerprint(&doc) != (&rag.Ingester{Model: "m", Splitter: same}).Fingerprint(&doc) {
		t.Error("equal settings give different fingerprints")
	}
}
