package llm_test

import (
	"context"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// semReq returns an approximate-ok request for tenant. With the fake
// embedder, "How do I reset my password?" and "How can I reset my
// password?" have a cosine of 0.81, "How do I change my password?" 0.72.
func semReq(tenant, question string) *llm.Request {
	return &llm.Request{
		Model:            "gpt-4o-mini",
		Messages:         []llm.Message{llm.SystemMessage("You answer account questions."), llm.UserText(question)},
		Principal:        llm.Principal{Tenant: tenant},
		AllowApproximate: true,
	}
}

func semStack(threshold float64) (llm.Model, *llmtest.Model, *llmtest.Embedder) {
	fake := cacheEcho()
	emb := llmtest.NewEmbedder()
	m := llm.Chain(fake, llm.SemanticCache(llm.SemanticCacheOptions{Embedder: emb, EmbedModel: "emb", Threshold: threshold}))
	return m, fake, emb
}

func TestSemanticCache(t *testing.T) {
	const first = "How do I reset my password?"
	tests := []struct {
		name    string
		req     *llm.Request
		wantHit bool
	}{
		{"similar question, same tenant", semReq("acme", "How can I reset my password?"), true},
		{"same question", semReq("acme", first), true},
		{"less similar question", semReq("acme", "How do I change my password?"), false},
		{"unrelated question", semReq("acme", "What is your refund policy?"), false},
		{"other tenant", semReq("globex", first), false},
		{"approximate not allowed", func() *llm.Request { r := semReq("acme", first); r.AllowApproximate = false; return r }(), false},
		{"other system prompt", func() *llm.Request {
			r := semReq("acme", first)
			r.Messages[0] = llm.SystemMessage("You answer in French.")
			return r
		}(), false},
		{"other model", func() *llm.Request { r := semReq("acme", first); r.Model = "gpt-4o"; return r }(), false},
		{"other tools", func() *llm.Request { r := semReq("acme", first); r.Tools = []llm.ToolDef{{Name: "reset"}}; return r }(), false},
		{"other response format", func() *llm.Request {
			r := semReq("acme", first)
			r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject}
			return r
		}(), false},
		{"earlier turn differs", func() *llm.Request {
			r := semReq("acme", first)
			r.Messages = append(r.Messages[:1], llm.UserText("hi"), llm.AssistantText("Hello!"), r.Messages[1])
			return r
		}(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, fake, _ := semStack(0.8)
			if _, err := m.Generate(t.Context(), semReq("acme", first)); err != nil {
				t.Fatal(err)
			}
			r, err := m.Generate(t.Context(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if r.CacheHit != tc.wantHit {
				t.Fatalf("hit = %v, want %v", r.CacheHit, tc.wantHit)
			}
			if tc.wantHit {
				if r.Text() != "answer for acme: "+first || fake.Calls() != 1 || r.Attempts != 0 || r.Cost != 0 {
					t.Fatalf("hit = %+v after %d upstream calls; want the first answer, one call", r, fake.Calls())
				}
			} else if fake.Calls() != 2 {
				t.Fatalf("upstream calls = %d, want 2", fake.Calls())
			}
		})
	}
}

// The default threshold (0.95) takes only near-identical questions.
func TestSemanticCacheDefaultThreshold(t *testing.T) {
	m, _, _ := semStack(0)
	_, _ = m.Generate(t.Context(), semReq("acme", "How do I reset my password?"))
	if r, _ := m.Generate(t.Context(), semReq("acme", "How can I reset my password?")); r.CacheHit {
		t.Fatal("a 0.81 match hit at the default threshold")
	}
	if r, _ := m.Generate(t.Context(), semReq("acme", "how do i reset my password")); !r.CacheHit {
		t.Fatal("a 0.97 match missed at the default threshold")
	}
}

func TestSemanticCacheStreams(t *testing.T) {
	m, fake, _ := semStack(0.8)
	streamed, err := llm.Collect(m.Stream(t.Context(), semReq("acme", "How do I reset my password?")))
	if err != nil || streamed.CacheHit {
		t.Fatalf("streamed miss = %+v, %v", streamed, err)
	}
	var first llm.Event
	got, err := llm.Collect(func(yield func(llm.Event, error) bool) {
		for ev, err := range m.Stream(t.Context(), semReq("acme", "How can I reset my password?")) {
			if first.Kind == 0 {
				first = ev
			}
			if !yield(ev, err) {
				return
			}
		}
	})
	if err != nil || !first.CacheHit || !got.CacheHit {
		t.Fatalf("similar stream = %+v (first event %+v), %v; want a hit", got, first, err)
	}
	if !reflect.DeepEqual(cacheAnswer(got), cacheAnswer(streamed)) || fake.Calls() != 1 {
		t.Fatalf("hit answer %+v after %d calls; want the streamed answer, one call", cacheAnswer(got), fake.Calls())
	}
	// Not approximate: passed through untouched.
	plain := semReq("acme", "How do I reset my password?")
	plain.AllowApproximate = false
	if r, _ := llm.Collect(m.Stream(t.Context(), plain)); r.CacheHit || fake.Calls() != 2 {
		t.Fatalf("plain stream: hit %v, %d calls", r.CacheHit, fake.Calls())
	}
}

// Requests without a final user question pass through without an
// embedding; errors and refusals are not indexed.
func TestSemanticCacheSkips(t *testing.T) {
	m, fake, emb := semStack(0.8)
	toolTurn := semReq("acme", "How do I reset my password?")
	toolTurn.Messages = append(toolTurn.Messages, llm.ToolResult("call_1", "done"))
	for range 2 {
		if r, _ := m.Generate(t.Context(), toolTurn); r.CacheHit {
			t.Fatal("a tool turn hit")
		}
	}
	if emb.Calls() != 0 || fake.Calls() != 2 {
		t.Fatalf("tool turns: %d embeddings, %d calls; want 0 and 2", emb.Calls(), fake.Calls())
	}

	refusing := llmtest.NewModel(llmtest.Refusal("no").Times(2), llmtest.ServerError(500), llmtest.Reply("ok"))
	m = llm.Chain(refusing, llm.SemanticCache(llm.SemanticCacheOptions{Embedder: emb, Threshold: 0.8}))
	req := semReq("acme", "How do I reset my password?")
	for i := range 4 {
		r, err := m.Generate(t.Context(), req)
		if err == nil && r.CacheHit {
			t.Fatalf("call %d hit after a refusal or error", i+1)
		}
	}
	if r, err := m.Generate(t.Context(), req); err != nil || !r.CacheHit {
		t.Fatalf("after a good answer: %+v, %v; want a hit", r, err)
	}
}

// A failing embedder is skipped (and left alone for a second).
func TestSemanticCacheEmbedderFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var embedCalls int
		failing := llm.EmbedderFunc(func(context.Context, *llm.EmbedRequest) (*llm.EmbedResponse, error) {
			embedCalls++
			return nil, &llm.Error{Kind: llm.KindUnavailable, Provider: "fake"}
		})
		var errs cacheErrors
		fake := cacheEcho()
		m := llm.Chain(fake, llm.SemanticCache(llm.SemanticCacheOptions{Embedder: failing, OnError: errs.hook}))
		for range 3 {
			if r, err := m.Generate(t.Context(), semReq("acme", "hi")); err != nil || r.CacheHit {
				t.Fatalf("%+v, %v", r, err)
			}
		}
		if embedCalls != 1 || fake.Calls() != 3 || !reflect.DeepEqual(errs.get(), []llm.Kind{llm.KindUnavailable}) {
			t.Fatalf("%d embed calls, %d model calls, reports %v; want 1, 3, one unavailable", embedCalls, fake.Calls(), errs.get())
		}
		time.Sleep(time.Second)
		_, _ = m.Generate(t.Context(), semReq("acme", "hi"))
		if embedCalls != 2 {
			t.Fatalf("after the cooldown: %d embed calls, want 2", embedCalls)
		}
	})
}

// The index keeps at most MaxEntries, dropping the oldest, and entries
// expire after the TTL.
func TestSemanticCacheBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := cacheEcho()
		m := llm.Chain(fake, llm.SemanticCache(llm.SemanticCacheOptions{
			Embedder: llmtest.NewEmbedder(), MaxEntries: 2, TTL: time.Minute,
		}))
		ask := func(q string) bool {
			r, err := m.Generate(t.Context(), semReq("acme", q))
			if err != nil {
				t.Fatal(err)
			}
			return r.CacheHit
		}
		ask("How do I reset my password?")
		ask("What is your refund policy?")
		ask("Where is my parcel?") // the first goes
		if ask("How do I reset my password?") {
			t.Fatal("the oldest entry was not dropped")
		}
		if !ask("Where is my parcel?") {
			t.Fatal("a recent entry was dropped")
		}
		time.Sleep(time.Minute)
		if ask("Where is my parcel?") {
			t.Fatal("hit after the TTL")
		}
	})
}

func TestSemanticCacheNeedsEmbedder(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic without an Embedder")
		}
	}()
	llm.SemanticCache(llm.SemanticCacheOptions{})
}
