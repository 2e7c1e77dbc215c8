package llmtest_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func embedOne(t *testing.T, e *llmtest.Embedder, dims int, texts ...string) [][]float32 {
	t.Helper()
	resp, err := e.Embed(t.Context(), &llm.EmbedRequest{Inputs: texts, Dimensions: dims})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Vectors
}

func TestEmbedderSimilarity(t *testing.T) {
	tests := []struct {
		anchor, similar, unrelated string
	}{
		{"The cat sat on the mat.", "A cat was sitting on the mat", "Quarterly revenue grew by twelve percent"},
		{"How do I reset my password?", "Steps to reset a forgotten password", "The weather in Paris is sunny today"},
		{"Refund policy for annual subscriptions", "Can I get a refund on my annual subscription?", "Kubernetes pods restart after OOM kills"},
		{"invoice overdue reminder", "Reminder: your invoice is overdue", "hiking trails near the lake"},
	}
	for _, dims := range []int{0, 64, 1024} {
		for _, tt := range tests {
			t.Run(tt.anchor, func(t *testing.T) {
				v := embedOne(t, llmtest.NewEmbedder(), dims, tt.anchor, tt.similar, tt.unrelated)
				sim, unrel := cosine(v[0], v[1]), cosine(v[0], v[2])
				// Fewer dimensions mean more hash collisions, so less margin.
				margin := 0.15
				if dims == 64 {
					margin = 0.1
				}
				if sim < unrel+margin {
					t.Errorf("dims %d: cos(similar) = %.3f, cos(unrelated) = %.3f; want similar clearly closer", dims, sim, unrel)
				}
				if dims == 0 && (sim < 0.2 || math.Abs(unrel) > 0.15) {
					t.Errorf("cos(similar) = %.3f (want >= 0.2), cos(unrelated) = %.3f (want near 0)", sim, unrel)
				}
			})
		}
	}
}

func TestEmbedderVectors(t *testing.T) {
	tests := []struct {
		name     string
		field    int // Embedder.Dimensions
		req      int // EmbedRequest.Dimensions
		wantDims int
	}{
		{"default", 0, 0, llmtest.DefaultDimensions},
		{"embedder dimensions", 64, 0, 64},
		{"request dimensions", 0, 32, 32},
		{"request overrides embedder", 64, 8, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &llmtest.Embedder{Dimensions: tt.field}
			v := embedOne(t, e, tt.req, "Hello   World", "hello world", "hello world!", "   ")
			for i, vec := range v {
				if len(vec) != tt.wantDims {
					t.Fatalf("vector %d has %d dims, want %d", i, len(vec), tt.wantDims)
				}
				var sq float64
				for _, x := range vec {
					sq += float64(x) * float64(x)
				}
				if math.Abs(sq-1) > 1e-5 {
					t.Errorf("vector %d has norm² %v, want 1", i, sq)
				}
			}
			if !reflect.DeepEqual(v[0], v[1]) {
				t.Errorf("case and white space changed the vector")
			}
			if reflect.DeepEqual(v[1], v[2]) {
				t.Errorf("different texts gave the same vector")
			}
			again := embedOne(t, llmtest.NewEmbedder(), tt.req, "hello world")
			if tt.field == 0 && !reflect.DeepEqual(again[0], v[1]) {
				t.Errorf("not deterministic across Embedders")
			}
		})
	}
}

func TestEmbedderErrorsAndRecords(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		req      *llm.EmbedRequest
		wantKind llm.Kind
	}{
		{"nil request", context.Background(), nil, llm.KindInvalidRequest},
		{"empty input", context.Background(), &llm.EmbedRequest{Inputs: []string{"a", ""}}, llm.KindInvalidRequest},
		{"negative dimensions", context.Background(), &llm.EmbedRequest{Inputs: []string{"a"}, Dimensions: -1}, llm.KindInvalidRequest},
		{"canceled", canceled, &llm.EmbedRequest{Inputs: []string{"a"}}, llm.KindCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := llmtest.NewEmbedder().Embed(tt.ctx, tt.req)
			if !errors.Is(err, tt.wantKind) {
				t.Errorf("err = %v, want kind %v", err, tt.wantKind)
			}
		})
	}

	if resp, err := llmtest.NewEmbedder().Embed(t.Context(), &llm.EmbedRequest{}); err != nil || len(resp.Vectors) != 0 {
		t.Errorf("no inputs: %+v, %v; want an empty response", resp, err)
	}

	e := llmtest.NewEmbedder()
	inputs := []string{"one two three four", "five"}
	resp, err := e.Embed(t.Context(), &llm.EmbedRequest{Model: "emb", Inputs: inputs, Feature: "search"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.InputTokens != 6 || resp.Model != "emb" || resp.Provider != llmtest.Provider {
		t.Errorf("usage, model, provider = %d, %q, %q; want 6, emb, llmtest", resp.Usage.InputTokens, resp.Model, resp.Provider)
	}
	inputs[0] = "changed"
	if e.Calls() != 1 || e.Requests()[0].Inputs[0] != "one two three four" || e.Requests()[0].Feature != "search" {
		t.Errorf("record = %+v", e.Requests())
	}
}

func TestEmbedderConcurrent(t *testing.T) {
	e := llmtest.NewEmbedder()
	want := embedOne(t, llmtest.NewEmbedder(), 0, "concurrent text")[0]
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			resp, err := e.Embed(context.Background(), &llm.EmbedRequest{Inputs: []string{"concurrent text"}})
			if err != nil || !reflect.DeepEqual(resp.Vectors[0], want) {
				t.Errorf("concurrent Embed = %v", err)
			}
		})
	}
	wg.Wait()
	if e.Calls() != 32 {
		t.Errorf("Calls() = %d, want 32", e.Calls())
	}
}
