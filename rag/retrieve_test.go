package rag_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/rag"
)

func hit(doc string, score float64, vec ...float32) rag.Hit {
	return rag.Hit{Chunk: rag.Chunk{DocID: doc, Tenant: "acme", Text: "text of " + doc, Vector: vec}, Score: score}
}

func docIDs(hits []rag.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Chunk.DocID
	}
	return out
}

func TestFuseRRF(t *testing.T) {
	keyword := []rag.Hit{hit("a", 9), hit("b", 8), hit("c", 7)}
	vector := []rag.Hit{hit("c", .9), hit("d", .8), hit("a", .7)}
	got := rag.FuseRRF(60, []float64{1, 1}, keyword, vector)
	// a: 1/61 + 1/63, c: 1/63 + 1/61 (tie: a first, it appeared first),
	// b: 1/62, d: 1/62 (b first).
	if want := []string{"a", "c", "b", "d"}; !slices.Equal(docIDs(got), want) {
		t.Fatalf("fused %v, want %v", docIDs(got), want)
	}
	if want := 1.0/61 + 1.0/63; got[0].Score < want-1e-12 || got[0].Score > want+1e-12 {
		t.Errorf("score %v, want %v", got[0].Score, want)
	}
	// A weight of 3 on the vector list puts d above b.
	got = rag.FuseRRF(60, []float64{1, 3}, keyword, vector)
	if want := []string{"c", "a", "d", "b"}; !slices.Equal(docIDs(got), want) {
		t.Errorf("weighted %v, want %v", docIDs(got), want)
	}
	if got := rag.FuseRRF(0, nil); len(got) != 0 {
		t.Errorf("no lists: %v", got)
	}
}

func TestMMR(t *testing.T) {
	q := []float32{1, 0, 0}
	hits := []rag.Hit{
		hit("a", 0, 1, 0, 0),
		hit("a-dup", 0, 0.99, 0.14, 0),
		hit("b", 0, 0.7, 0, 0.71),
		hit("none", 0),
	}
	if got := docIDs(rag.MMR(q, hits, 3, 1)); !slices.Equal(got, []string{"a", "a-dup", "b"}) {
		t.Errorf("lambda 1 (pure relevance): %v", got)
	}
	if got := docIDs(rag.MMR(q, hits, 3, 0.3)); !slices.Equal(got, []string{"a", "b", "a-dup"}) {
		t.Errorf("lambda 0.3 (diverse): %v", got)
	}
	if got := docIDs(rag.MMR(q, hits, 4, 0.5)); got[3] != "none" {
		t.Errorf("a hit without a vector is not kept last: %v", got)
	}
}

func TestHTTPReranker(t *testing.T) {
	hits := []rag.Hit{hit("a", 0), hit("b", 0), hit("c", 0)}
	for _, tt := range []struct {
		name   string
		api    rag.RerankAPI
		path   string
		answer string
		want   []string
		kind   llm.Kind
		status int
	}{
		{name: "cohere", api: rag.CohereAPI, path: "/v2/rerank", answer: `{"id":"x","results":[{"index":2,"relevance_score":0.91},{"index":0,"relevance_score":0.40},{"index":1,"relevance_score":0.02}],"meta":{}}`, want: []string{"c", "a", "b"}},
		{name: "jina unordered", api: rag.CohereAPI, path: "/v1/rerank", answer: `{"model":"jina-reranker-v2","results":[{"index":1,"relevance_score":0.2,"document":{"text":"text of b"}},{"index":0,"relevance_score":0.7}],"usage":{"total_tokens":9}}`, want: []string{"a", "b"}},
		{name: "tei", api: rag.TEIAPI, path: "/rerank", answer: `[{"index":1,"score":0.98},{"index":2,"score":0.5},{"index":0,"score":0.01}]`, want: []string{"b", "c", "a"}},
		{name: "index out of range", api: rag.CohereAPI, path: "/v2/rerank", answer: `{"results":[{"index":7,"relevance_score":1}]}`, kind: llm.KindBadResponse},
		{name: "repeated index", api: rag.TEIAPI, path: "/rerank", answer: `[{"index":1,"score":1},{"index":1,"score":0.5}]`, kind: llm.KindBadResponse},
		{name: "not JSON", api: rag.CohereAPI, path: "/v2/rerank", answer: `<html>`, kind: llm.KindBadResponse},
		{name: "rate limited", api: rag.CohereAPI, path: "/v2/rerank", answer: `{"message":"too many requests"}`, status: 429, kind: llm.KindRateLimited},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != tt.path || r.Header.Get("Authorization") != "Bearer k3y" {
					http.Error(w, "bad request line", 400)
					return
				}
				var body map[string]any
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["query"] != "refund" {
					http.Error(w, "bad body", 400)
					return
				}
				field := "documents"
				if tt.api == rag.TEIAPI {
					field = "texts"
				}
				if docs, _ := body[field].([]any); len(docs) != 3 {
					http.Error(w, "missing "+field, 400)
					return
				}
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				w.Write([]byte(tt.answer))
			}))
			defer srv.Close()
			r := &rag.HTTPReranker{URL: srv.URL + tt.path, APIKey: "k3y", Model: "rerank-v3.5", API: tt.api}
			got, err := r.Rerank(context.Background(), "refund", hits)
			if tt.kind != 0 {
				if llm.KindOf(err) != tt.kind {
					t.Fatalf("error %v, want kind %v", err, tt.kind)
				}
				if strings.Contains(err.Error(), "k3y") {
					t.Error("the API key leaked into the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(docIDs(got), tt.want) {
				t.Errorf("reranked %v, want %v", docIDs(got), tt.want)
			}
		})
	}
}

func FuzzParseRerankResponse(f *testing.F) {
	f.Add([]byte(`{"results":[{"index":0,"relevance_score":0.5}]}`), uint8(0))
	f.Add([]byte(`[{"index":2,"score":1e308}]`), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, api uint8) {
		scores, err := rag.ParseRerankResponse(rag.RerankAPI(api%2), data, 3)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, s := range scores {
			if s.Index < 0 || s.Index >= 3 || seen[s.Index] {
				t.Fatalf("bad score %+v", s)
			}
			seen[s.Index] = true
		}
	})
}

func TestLLMReranker(t *testing.T) {
	m := llmtest.NewModel(llmtest.Reply(`{"scores":[{"id":1,"score":2},{"id":2,"score":9},{"id":3,"score":0}]}`))
	r, err := rag.NewLLMReranker(m, llm.Request{Model: "gpt-4o-mini", Principal: llm.Principal{Tenant: "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	r.MinScore = 1
	got, err := r.Rerank(context.Background(), "refund", []rag.Hit{hit("a", 0), hit("b", 0), hit("c", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(docIDs(got), []string{"b", "a"}) || got[0].Score != 0.9 {
		t.Fatalf("reranked %v %+v", docIDs(got), got)
	}
	req := m.Requests()[0]
	if req.ResponseFormat == nil || !req.ResponseFormat.Strict || !req.HasUntrusted() || req.Principal.Tenant != "acme" {
		t.Errorf("rerank request: format %+v, untrusted %v", req.ResponseFormat, req.HasUntrusted())
	}
}
