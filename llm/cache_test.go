package llm_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// cacheReq returns a cacheable request (temperature 0) for tenant.
func cacheReq(tenant, question string) *llm.Request {
	return &llm.Request{
		Model:       "gpt-4o-mini",
		Messages:    []llm.Message{llm.SystemMessage("Be brief."), llm.UserText(question)},
		Temperature: cachePtr(0.0),
		Principal:   llm.Principal{Tenant: tenant, User: "u-1"},
	}
}

// cacheEcho answers every request with a reply naming its tenant and
// question, annotated as a stack below the cache would annotate it.
func cacheEcho() *llmtest.Model {
	return llmtest.NewModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{
			Message:      llm.AssistantText("answer for " + req.Principal.Tenant + ": " + req.Messages[len(req.Messages)-1].Text()),
			FinishReason: llm.FinishStop,
			Usage:        llm.Usage{InputTokens: 20, OutputTokens: 5},
			Route:        "default",
			Target:       "primary",
			Attempts:     2,
			Cost:         0.001,
		}, nil
	})
}

// cacheAnswer returns the fields of r that a cache serves back.
func cacheAnswer(r *llm.Response) llm.Response {
	return llm.Response{Message: r.Message, FinishReason: r.FinishReason, Usage: r.Usage, Model: r.Model, Provider: r.Provider, RequestID: r.RequestID}
}

func TestCacheHitAndMiss(t *testing.T) {
	fake := cacheEcho()
	m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
	ctx := t.Context()

	first, err := m.Generate(ctx, cacheReq("acme", "Where is my parcel?"))
	if err != nil {
		t.Fatal(err)
	}
	if first.CacheHit || first.Attempts != 2 || first.Route != "default" || first.Cost != 0.001 {
		t.Fatalf("miss = %+v; want the upstream response with its annotations", first)
	}
	first.Message.Parts[0].Text = "changed by a middleware above" // the caller owns it

	second, err := m.Generate(ctx, cacheReq("acme", "Where is my parcel?"))
	if err != nil {
		t.Fatal(err)
	}
	if fake.Calls() != 1 {
		t.Fatalf("upstream calls = %d, want 1", fake.Calls())
	}
	if !second.CacheHit || second.Attempts != 0 || second.Cost != 0 || second.CostEstimated || second.Route != "" || second.Target != "" {
		t.Fatalf("hit annotations = %+v; want CacheHit and no attempts, cost, route or target", second)
	}
	if got := second.Text(); got != "answer for acme: Where is my parcel?" {
		t.Fatalf("hit text = %q", got)
	}
	if second.Usage != (llm.Usage{InputTokens: 20, OutputTokens: 5}) || second.Model != "gpt-4o-mini" || second.Provider != llmtest.Provider {
		t.Fatalf("hit lost answer fields: %+v", second)
	}
	second.Message.Parts[0].Text = "changed again"
	third, _ := m.Generate(ctx, cacheReq("acme", "Where is my parcel?"))
	if third.Text() != "answer for acme: Where is my parcel?" {
		t.Fatalf("a hit's changes leaked into the cache: %q", third.Text())
	}

	// Another tenant and another question each go upstream.
	other, _ := m.Generate(ctx, cacheReq("globex", "Where is my parcel?"))
	if other.CacheHit || other.Text() != "answer for globex: Where is my parcel?" {
		t.Fatalf("another tenant got %+v", other)
	}
	_, _ = m.Generate(ctx, cacheReq("acme", "Where is my refund?"))
	if fake.Calls() != 3 {
		t.Fatalf("upstream calls = %d, want 3", fake.Calls())
	}
}

func TestCacheTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := cacheEcho()
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{TTL: time.Minute}))
		req := cacheReq("acme", "hi")
		call := func() bool {
			r, err := m.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			return r.CacheHit
		}
		call()
		time.Sleep(time.Minute - time.Nanosecond)
		if !call() {
			t.Fatal("miss before the TTL")
		}
		time.Sleep(time.Nanosecond)
		if call() {
			t.Fatal("hit after the TTL")
		}
		if !call() {
			t.Fatal("the fresh answer was not stored")
		}
		if fake.Calls() != 2 {
			t.Fatalf("upstream calls = %d, want 2", fake.Calls())
		}
	})
}

func TestCacheNeverCachesErrors(t *testing.T) {
	fake := llmtest.NewModel(llmtest.ServerError(503), llmtest.Reply("ok"))
	m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
	req := cacheReq("acme", "hi")
	if _, err := m.Generate(t.Context(), req); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("first call: %v, want the 503", err)
	}
	for i, wantHit := range []bool{false, true} {
		r, err := m.Generate(t.Context(), req)
		if err != nil || r.CacheHit != wantHit {
			t.Fatalf("call %d: %+v, %v; want hit %v", i+2, r, err, wantHit)
		}
	}
	if fake.Calls() != 2 {
		t.Fatalf("upstream calls = %d, want 2", fake.Calls())
	}
}

// Answers cut at the output limit, filtered or refused are not stored.
func TestCacheSkipsIncompleteAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp *llm.Response
	}{
		{"length", &llm.Response{Message: llm.AssistantText("Your parcel is in"), FinishReason: llm.FinishLength}},
		{"content filter", &llm.Response{FinishReason: llm.FinishContentFilter}},
		{"refusal finish", &llm.Response{Message: llm.AssistantText("no"), FinishReason: llm.FinishRefusal}},
		{"refusal text", &llm.Response{Message: llm.Message{Role: llm.RoleAssistant, Refusal: "I can't help with that."}, FinishReason: llm.FinishStop}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := llmtest.NewModel(llmtest.Response(tc.resp).Times(2))
			m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
			for range 2 {
				if r, err := m.Generate(t.Context(), cacheReq("acme", "hi")); err != nil || r.CacheHit {
					t.Fatalf("%+v, %v", r, err)
				}
			}
			if fake.Calls() != 2 {
				t.Fatalf("upstream calls = %d, want 2 (nothing stored)", fake.Calls())
			}
		})
	}
}

func TestCacheTemperatureRule(t *testing.T) {
	for _, tc := range []struct {
		name          string
		temperature   *float64
		nonDetOK      bool
		wantUpstreams int
	}{
		{"zero", cachePtr(0.0), false, 1},
		{"unset means the provider's default", nil, false, 4},
		{"non-zero", cachePtr(0.7), false, 4},
		{"unset, allowed", nil, true, 1},
		{"non-zero, allowed", cachePtr(0.7), true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := cacheEcho()
			m := llm.Chain(fake, llm.Cache(llm.CacheOptions{AllowNonDeterministic: tc.nonDetOK}))
			req := cacheReq("acme", "hi")
			req.Temperature = tc.temperature
			for range 2 {
				if _, err := m.Generate(t.Context(), req); err != nil {
					t.Fatal(err)
				}
				if _, err := llm.Collect(m.Stream(t.Context(), req)); err != nil {
					t.Fatal(err)
				}
			}
			if fake.Calls() != tc.wantUpstreams { // of two Generate and two Stream calls
				t.Fatalf("upstream calls = %d, want %d", fake.Calls(), tc.wantUpstreams)
			}
		})
	}
}

func TestCachePerUser(t *testing.T) {
	for _, perUser := range []bool{false, true} {
		fake := cacheEcho()
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{PerUser: perUser}))
		a, b := cacheReq("acme", "hi"), cacheReq("acme", "hi")
		b.Principal.User = "u-2"
		_, _ = m.Generate(t.Context(), a)
		r, _ := m.Generate(t.Context(), b)
		if r.CacheHit == perUser {
			t.Fatalf("PerUser %v: another user's call hit = %v", perUser, r.CacheHit)
		}
	}
}

// CacheOptions.Key names the entry, so one answer can be removed.
func TestCacheKeyDeletesEntry(t *testing.T) {
	store := llm.NewMemoryCache(1 << 20)
	opts := llm.CacheOptions{Store: store}
	fake := cacheEcho()
	m := llm.Chain(fake, llm.Cache(opts))
	req := cacheReq("acme", "hi")
	_, _ = m.Generate(t.Context(), req)
	if _, ok, _ := store.Get(t.Context(), opts.Key(req)); !ok {
		t.Fatal("no entry under CacheOptions.Key")
	}
	_ = store.Delete(t.Context(), opts.Key(req))
	if r, _ := m.Generate(t.Context(), req); r.CacheHit {
		t.Fatal("hit after the entry was deleted")
	}
}

// A stream served from the cache collects to Generate's answer, and its
// first event says it is a hit.
func TestCacheStreamServedFromCache(t *testing.T) {
	answer := &llm.Response{
		Message: llm.Message{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("Checking.")}, Reasoning: "look it up",
			ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "track", Arguments: `{"id":"A-1"}`}}},
		FinishReason: llm.FinishToolCalls,
		Usage:        llm.Usage{InputTokens: 30, OutputTokens: 9, ReasoningTokens: 3},
		RequestID:    "req_1",
	}
	fake := llmtest.NewModel(llmtest.Response(answer))
	m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
	req := cacheReq("acme", "Where is A-1?")
	want, err := m.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var events []llm.Event
	for ev, err := range m.Stream(t.Context(), req) {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	if len(events) == 0 || events[0].Kind != llm.EventStart || !events[0].CacheHit || events[0].Attempts != 0 {
		t.Fatalf("first event = %+v; want a start event marked as a cache hit", events[0])
	}
	got, _ := llm.Collect(func(yield func(llm.Event, error) bool) {
		for _, ev := range events {
			if !yield(ev, nil) {
				return
			}
		}
	})
	if !reflect.DeepEqual(cacheAnswer(got), cacheAnswer(want)) {
		t.Fatalf("stream from cache:\n got %+v\nwant %+v", cacheAnswer(got), cacheAnswer(want))
	}
	if fake.Calls() != 1 {
		t.Fatalf("upstream calls = %d, want 1", fake.Calls())
	}
}

// A streamed miss is passed through and stored once it completes; a
// stream that fails or that the caller leaves is not stored.
func TestCacheStreamMiss(t *testing.T) {
	t.Run("stored", func(t *testing.T) {
		fake := cacheEcho()
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
		req := cacheReq("acme", "Where is my parcel?")
		streamed, err := llm.Collect(m.Stream(t.Context(), req))
		if err != nil || streamed.CacheHit || streamed.Text() != "answer for acme: Where is my parcel?" {
			t.Fatalf("streamed miss = %+v, %v; want the upstream stream", streamed, err)
		}
		hit, err := m.Generate(t.Context(), req)
		if err != nil || !hit.CacheHit {
			t.Fatalf("Generate after the stream = %+v, %v; want a hit", hit, err)
		}
		if !reflect.DeepEqual(cacheAnswer(hit), cacheAnswer(streamed)) {
			t.Fatalf("stored answer:\n got %+v\nwant %+v", cacheAnswer(hit), cacheAnswer(streamed))
		}
		if fake.Calls() != 1 {
			t.Fatalf("upstream calls = %d, want 1", fake.Calls())
		}
	})
	t.Run("failed", func(t *testing.T) {
		fake := llmtest.NewModel(llmtest.Reply("a long answer that is cut").CutOffAfter(3), llmtest.Reply("ok"))
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
		req := cacheReq("acme", "hi")
		if _, err := llm.Collect(m.Stream(t.Context(), req)); !errors.Is(err, llm.KindUnavailable) {
			t.Fatalf("cut-off stream: %v", err)
		}
		if r, err := m.Generate(t.Context(), req); err != nil || r.CacheHit || r.Text() != "ok" {
			t.Fatalf("after a failed stream: %+v, %v; want a fresh upstream answer", r, err)
		}
	})
	t.Run("caller stopped", func(t *testing.T) {
		fake := llmtest.NewModel(llmtest.Reply("a long answer").Times(2))
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
		req := cacheReq("acme", "hi")
		n := 0
		for _, err := range m.Stream(t.Context(), req) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 2 {
				break
			}
		}
		if r, err := m.Generate(t.Context(), req); err != nil || r.CacheHit {
			t.Fatalf("after an abandoned stream: %+v, %v; want a miss", r, err)
		}
	})
	t.Run("lazy", func(t *testing.T) {
		fake := cacheEcho()
		store := &cacheFakeStore{}
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{Store: store}))
		_ = m.Stream(t.Context(), cacheReq("acme", "hi"))
		if fake.Calls() != 0 || store.gets.Load() != 0 {
			t.Fatal("Stream did work before it was ranged over")
		}
	})
}

// Concurrent identical calls are collapsed into one upstream call per
// tenant; each caller gets its own copy, and only the caller whose call
// went upstream is not marked as a hit.
func TestCacheCollapsesConcurrentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var calls atomic.Int64
		fake := llm.ModelFuncs{GenerateFunc: func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
			calls.Add(1)
			<-gate
			return &llm.Response{Message: llm.AssistantText("answer for " + req.Principal.Tenant), FinishReason: llm.FinishStop, Attempts: 1}, nil
		}}
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
		const perTenant = 10
		tenants := []string{"acme", "globex"}
		resps := make([][]*llm.Response, len(tenants))
		var wg sync.WaitGroup
		for ti, tenant := range tenants {
			resps[ti] = make([]*llm.Response, perTenant)
			for i := range perTenant {
				wg.Go(func() {
					r, err := m.Generate(context.Background(), cacheReq(tenant, "hi"))
					if err != nil {
						t.Error(err)
					}
					resps[ti][i] = r
				})
			}
		}
		synctest.Wait() // every caller is in its tenant's flight
		close(gate)
		wg.Wait()
		if calls.Load() != 2 {
			t.Fatalf("upstream calls = %d, want 2 (one per tenant)", calls.Load())
		}
		seen := map[*llm.Response]bool{}
		for ti, tenant := range tenants {
			led := 0
			for _, r := range resps[ti] {
				if r.Text() != "answer for "+tenant {
					t.Fatalf("%s got %q", tenant, r.Text())
				}
				if !r.CacheHit {
					led++
					if r.Attempts != 1 {
						t.Fatalf("the caller that went upstream has Attempts %d", r.Attempts)
					}
				}
				if seen[r] {
					t.Fatal("two callers share one *Response")
				}
				seen[r] = true
			}
			if led != 1 {
				t.Fatalf("%s: %d callers not marked as hits, want 1", tenant, led)
			}
		}
	})
}

// When the first caller's context ends, the callers waiting on its call
// try again together. A waiting caller whose own context ends gets its
// context's error once the shared call is over.
func TestCacheCollapsedCallContexts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := llmtest.NewModel(llmtest.Timeout(time.Hour), llmtest.Reply("ok").Delay(time.Second))
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
		req := cacheReq("acme", "hi")

		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		var leaderErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, leaderErr = m.Generate(leaderCtx, req) })
		synctest.Wait()

		const waiting = 5
		results := make([]*llm.Response, waiting)
		for i := range waiting {
			wg.Go(func() {
				r, err := m.Generate(context.Background(), req)
				if err != nil {
					t.Errorf("waiting caller %d: %v", i, err)
				}
				results[i] = r
			})
		}
		impatientCtx, cancelImpatient := context.WithTimeout(context.Background(), time.Minute)
		defer cancelImpatient()
		var impatientErr error
		wg.Go(func() { _, impatientErr = m.Generate(impatientCtx, req) })
		synctest.Wait()

		time.Sleep(2 * time.Minute) // the impatient caller's deadline passes
		cancelLeader()
		wg.Wait()
		if !errors.Is(leaderErr, llm.KindCanceled) {
			t.Fatalf("leader: %v, want canceled", leaderErr)
		}
		if !errors.Is(impatientErr, llm.KindTimeout) {
			t.Fatalf("impatient caller: %v, want its deadline's timeout", impatientErr)
		}
		for i, r := range results {
			if r == nil || r.Text() != "ok" {
				t.Fatalf("waiting caller %d got %+v", i, r)
			}
		}
		if fake.Calls() != 2 {
			t.Fatalf("upstream calls = %d, want 2 (the canceled one and one retry for all)", fake.Calls())
		}
	})
}

func TestCachePanicReachesCaller(t *testing.T) {
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		panic("boom")
	}}
	m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
	defer func() {
		p := recover()
		err, ok := p.(error)
		if !ok || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("recovered %v; want an error naming the panic", p)
		}
	}()
	_, _ = m.Generate(t.Context(), cacheReq("acme", "hi"))
	t.Fatal("no panic")
}

// cacheFakeStore is a CacheStore whose operations can hang or fail.
type cacheFakeStore struct {
	hang       bool  // block until the context ends
	err        error // fail with err
	gets, sets atomic.Int64
	mem        *llm.MemoryCache
}

func (s *cacheFakeStore) op(ctx context.Context) error {
	if s.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.err
}

func (s *cacheFakeStore) Get(ctx context.Context, key string) (*llm.Response, bool, error) {
	s.gets.Add(1)
	if err := s.op(ctx); err != nil {
		return nil, false, err
	}
	if s.mem == nil {
		return nil, false, nil
	}
	return s.mem.Get(ctx, key)
}

func (s *cacheFakeStore) Set(ctx context.Context, key string, r *llm.Response, ttl time.Duration) error {
	s.sets.Add(1)
	if err := s.op(ctx); err != nil {
		return err
	}
	if s.mem == nil {
		return nil
	}
	return s.mem.Set(ctx, key, r, ttl)
}

func (s *cacheFakeStore) Delete(ctx context.Context, key string) error { return s.op(ctx) }

// cacheErrors records OnError reports.
type cacheErrors struct {
	mu    sync.Mutex
	kinds []llm.Kind
}

func (e *cacheErrors) hook(_ context.Context, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kinds = append(e.kinds, llm.KindOf(err))
}

func (e *cacheErrors) get() []llm.Kind {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]llm.Kind(nil), e.kinds...)
}

// A store that hangs costs one StoreTimeout, then the call goes upstream;
// the store is left alone for a second after that.
func TestCacheHungStoreFailsOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &cacheFakeStore{hang: true}
		var errs cacheErrors
		fake := cacheEcho()
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{Store: store, OnError: errs.hook}))
		req := cacheReq("acme", "hi")

		start := time.Now()
		r, err := m.Generate(t.Context(), req)
		if err != nil || r.CacheHit {
			t.Fatalf("%+v, %v; want an upstream answer", r, err)
		}
		if took := time.Since(start); took != llm.DefaultCacheStoreTimeout {
			t.Fatalf("call took %v, want exactly the %v store timeout", took, llm.DefaultCacheStoreTimeout)
		}
		if got := errs.get(); !reflect.DeepEqual(got, []llm.Kind{llm.KindTimeout}) {
			t.Fatalf("OnError kinds = %v, want one timeout", got)
		}

		// Within the cooldown the store is not called.
		start = time.Now()
		if _, err := llm.Collect(m.Stream(t.Context(), req)); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 0 {
			t.Fatalf("call during the cooldown took %v", took)
		}
		if store.gets.Load() != 1 || store.sets.Load() != 0 {
			t.Fatalf("store calls: %d gets, %d sets; want 1 get", store.gets.Load(), store.sets.Load())
		}

		// After it, the store is tried again.
		time.Sleep(time.Second)
		start = time.Now()
		_, _ = m.Generate(t.Context(), req)
		if took := time.Since(start); took != llm.DefaultCacheStoreTimeout || store.gets.Load() != 2 {
			t.Fatalf("after the cooldown: took %v, %d gets", took, store.gets.Load())
		}
		if fake.Calls() != 3 {
			t.Fatalf("upstream calls = %d, want 3", fake.Calls())
		}
	})
}

// A store that fails at once: calls go upstream, the failures are
// reported. A bad entry is reported without the cooldown.
func TestCacheFailingStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			err      error
			wantKind llm.Kind
			wantGets int64
		}{
			{errors.New("connection refused"), llm.KindUnavailable, 1},
			{&llm.Error{Kind: llm.KindUnavailable, Provider: "redis"}, llm.KindUnavailable, 1},
			{&llm.Error{Kind: llm.KindBadResponse, Message: "undecodable entry"}, llm.KindBadResponse, 2},
		} {
			store := &cacheFakeStore{err: tc.err}
			var errs cacheErrors
			fake := cacheEcho()
			m := llm.Chain(fake, llm.Cache(llm.CacheOptions{Store: store, OnError: errs.hook, StoreTimeout: time.Second}))
			for range 2 {
				if r, err := m.Generate(t.Context(), cacheReq("acme", "hi")); err != nil || r.CacheHit {
					t.Fatalf("%v: %+v, %v", tc.err, r, err)
				}
			}
			if store.gets.Load() != tc.wantGets {
				t.Fatalf("%v: %d gets, want %d", tc.err, store.gets.Load(), tc.wantGets)
			}
			for _, k := range errs.get() {
				if k != tc.wantKind {
					t.Fatalf("%v: OnError kinds %v, want %v", tc.err, errs.get(), tc.wantKind)
				}
			}
			if len(errs.get()) == 0 {
				t.Fatalf("%v: not reported", tc.err)
			}
		}
	})
}

// The answer is stored after the call, even when the caller gave up.
func TestCacheStoresWithDetachedContext(t *testing.T) {
	store := &cacheFakeStore{mem: llm.NewMemoryCache(1 << 20)}
	ctx, cancel := context.WithCancel(t.Context())
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		cancel() // the caller leaves while the answer arrives
		return &llm.Response{Message: llm.AssistantText("late"), FinishReason: llm.FinishStop}, nil
	}}
	m := llm.Chain(fake, llm.Cache(llm.CacheOptions{Store: store}))
	_, _ = m.Generate(ctx, cacheReq("acme", "hi"))
	r, err := m.Generate(t.Context(), cacheReq("acme", "hi"))
	if err != nil || !r.CacheHit {
		t.Fatalf("%+v, %v; want the late answer stored", r, err)
	}
}

func TestCacheNilRequestPassesThrough(t *testing.T) {
	fake := llmtest.NewModel()
	m := llm.Chain(fake, llm.Cache(llm.CacheOptions{}))
	if _, err := m.Generate(t.Context(), nil); !errors.Is(err, llm.KindInvalidRequest) {
		t.Fatalf("nil request: %v", err)
	}
	if _, err := llm.Collect(m.Stream(t.Context(), nil)); !errors.Is(err, llm.KindInvalidRequest) {
		t.Fatalf("nil request stream: %v", err)
	}
}
