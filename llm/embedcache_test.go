package llm_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func embedCacheReq(model string, dims int, tenant string, inputs ...string) *llm.EmbedRequest {
	return &llm.EmbedRequest{Model: model, Dimensions: dims, Inputs: inputs, Principal: llm.Principal{Tenant: tenant}}
}

func embedCacheSame(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// Only the inputs not cached go upstream, each distinct text once, in one
// call; the answer keeps input order and counts only upstream tokens.
func TestCacheEmbedderOnlyMissesGoUpstream(t *testing.T) {
	ctx := t.Context()
	fake := llmtest.NewEmbedder()
	direct := llmtest.NewEmbedder() // the same vectors, uncached
	e := llm.ChainEmbedder(fake, llm.CacheEmbedder(llm.EmbedCacheOptions{}))

	if _, err := e.Embed(ctx, embedCacheReq("text-embedding-3-small", 0, "acme", "alpha", "beta")); err != nil {
		t.Fatal(err)
	}
	inputs := []string{"gamma", "alpha", "delta", "beta", "gamma"}
	resp, err := e.Embed(ctx, embedCacheReq("text-embedding-3-small", 0, "acme", inputs...))
	if err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || !slices.Equal(reqs[1].Inputs, []string{"gamma", "delta"}) {
		t.Fatalf("upstream inputs of the second call = %q; want [gamma delta]", reqs[len(reqs)-1].Inputs)
	}
	want, _ := direct.Embed(ctx, embedCacheReq("text-embedding-3-small", 0, "acme", inputs...))
	for i := range inputs {
		if !embedCacheSame(resp.Vectors[i], want.Vectors[i]) {
			t.Fatalf("vector %d (%s) is not the input's vector", i, inputs[i])
		}
	}
	upstreamOnly, _ := direct.Embed(ctx, embedCacheReq("text-embedding-3-small", 0, "acme", "gamma", "delta"))
	if resp.Usage != upstreamOnly.Usage || resp.Provider != llmtest.Provider {
		t.Fatalf("usage %+v, provider %q; want the upstream call's %+v", resp.Usage, resp.Provider, upstreamOnly.Usage)
	}
	resp.Vectors[0][0] = 42 // a repeated input has its own vector
	if resp.Vectors[4][0] == 42 {
		t.Fatal("two positions share one vector slice")
	}

	all, err := e.Embed(ctx, embedCacheReq("text-embedding-3-small", 0, "acme", "delta", "alpha"))
	if err != nil || fake.Calls() != 2 {
		t.Fatalf("all hits: %v, %d upstream calls; want none new", err, fake.Calls())
	}
	if all.Usage != (llm.Usage{}) || all.Model != "text-embedding-3-small" || all.Provider != "" {
		t.Fatalf("all hits: usage %+v, model %q, provider %q", all.Usage, all.Model, all.Provider)
	}
	if !embedCacheSame(all.Vectors[0], want.Vectors[2]) || !embedCacheSame(all.Vectors[1], want.Vectors[1]) {
		t.Fatal("cached vectors differ from the upstream ones")
	}
}

// The key covers the model and the dimensions; the tenant only with
// PerTenant.
func TestCacheEmbedderKey(t *testing.T) {
	for _, tc := range []struct {
		name      string
		perTenant bool
		second    *llm.EmbedRequest
		wantCalls int
	}{
		{"same", false, embedCacheReq("m1", 0, "acme", "text"), 1},
		{"other model", false, embedCacheReq("m2", 0, "acme", "text"), 2},
		{"other dimensions", false, embedCacheReq("m1", 64, "acme", "text"), 2},
		{"other text", false, embedCacheReq("m1", 0, "acme", "text "), 2},
		{"other tenant, shared", false, embedCacheReq("m1", 0, "globex", "text"), 1},
		{"other tenant, per tenant", true, embedCacheReq("m1", 0, "globex", "text"), 2},
		{"same tenant, per tenant", true, embedCacheReq("m1", 0, "acme", "text"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := llmtest.NewEmbedder()
			e := llm.ChainEmbedder(fake, llm.CacheEmbedder(llm.EmbedCacheOptions{PerTenant: tc.perTenant}))
			_, _ = e.Embed(t.Context(), embedCacheReq("m1", 0, "acme", "text"))
			r, err := e.Embed(t.Context(), tc.second)
			if err != nil {
				t.Fatal(err)
			}
			if fake.Calls() != tc.wantCalls {
				t.Fatalf("upstream calls = %d, want %d", fake.Calls(), tc.wantCalls)
			}
			if d := tc.second.Dimensions; d > 0 && len(r.Vectors[0]) != d {
				t.Fatalf("vector of %d dimensions, want %d", len(r.Vectors[0]), d)
			}
		})
	}
}

func TestCacheEmbedderErrors(t *testing.T) {
	ctx := t.Context()
	t.Run("not cached", func(t *testing.T) {
		fake := llmtest.NewEmbedder()
		e := llm.ChainEmbedder(fake, llm.CacheEmbedder(llm.EmbedCacheOptions{}))
		if _, err := e.Embed(ctx, embedCacheReq("m", 0, "acme", "ok", "")); !errors.Is(err, llm.KindInvalidRequest) {
			t.Fatalf("empty input: %v", err)
		}
		if _, err := e.Embed(ctx, embedCacheReq("m", 0, "acme", "ok")); err != nil || fake.Calls() != 2 {
			t.Fatalf("after a failed call: %v, %d calls; want a fresh upstream call", err, fake.Calls())
		}
	})
	t.Run("wrong vector count", func(t *testing.T) {
		short := llm.EmbedderFunc(func(context.Context, *llm.EmbedRequest) (*llm.EmbedResponse, error) {
			return &llm.EmbedResponse{Vectors: [][]float32{{1}}}, nil
		})
		e := llm.ChainEmbedder(short, llm.CacheEmbedder(llm.EmbedCacheOptions{}))
		if _, err := e.Embed(ctx, embedCacheReq("m", 0, "acme", "a", "b")); !errors.Is(err, llm.KindBadResponse) {
			t.Fatalf("one vector for two inputs: %v, want bad_response", err)
		}
	})
	t.Run("nothing to embed", func(t *testing.T) {
		fake := llmtest.NewEmbedder()
		e := llm.ChainEmbedder(fake, llm.CacheEmbedder(llm.EmbedCacheOptions{}))
		r, err := e.Embed(ctx, embedCacheReq("m", 0, "acme"))
		if err != nil || len(r.Vectors) != 0 {
			t.Fatalf("no inputs: %+v, %v", r, err)
		}
	})
}

// embedCacheFakeStore is an EmbedCacheStore that fails.
type embedCacheFakeStore struct{ err error }

func (s embedCacheFakeStore) GetVectors(context.Context, []string) ([][]float32, error) {
	return nil, s.err
}

func (s embedCacheFakeStore) SetVectors(context.Context, []string, [][]float32, time.Duration) error {
	return s.err
}

// A failing store: everything goes upstream, the failure is reported.
func TestCacheEmbedderFailingStore(t *testing.T) {
	fake := llmtest.NewEmbedder()
	var errs cacheErrors
	e := llm.ChainEmbedder(fake, llm.CacheEmbedder(llm.EmbedCacheOptions{
		Store:   embedCacheFakeStore{err: &llm.Error{Kind: llm.KindUnavailable, Provider: "redis"}},
		OnError: errs.hook,
	}))
	r, err := e.Embed(t.Context(), embedCacheReq("m", 0, "acme", "a", "b"))
	if err != nil || len(r.Vectors) != 2 || r.Vectors[0] == nil || r.Vectors[1] == nil {
		t.Fatalf("%+v, %v; want both vectors from upstream", r, err)
	}
	if got := errs.get(); !reflect.DeepEqual(got, []llm.Kind{llm.KindUnavailable}) {
		t.Fatalf("OnError kinds = %v, want one unavailable (the set is skipped during the cooldown)", got)
	}
}
