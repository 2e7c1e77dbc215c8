package redisstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/llmtest/cachestoretest"
	"github.com/keel-go/keel/llm/llmtest/limitstoretest"
	"github.com/keel-go/keel/llm/redisstore"
)

// cachePrefix returns a key prefix unique to the test.
func cachePrefix(t testing.TB) string {
	return "keel-test:" + limitstoretest.UniqueName(t) + ":"
}

// newCacheStores returns n stores on the test Redis, each with its own
// client (as replicas have), sharing one prefix unique to the test.
func newCacheStores(t *testing.T, n int) []*redisstore.CacheStore {
	prefix := cachePrefix(t)
	stores := make([]*redisstore.CacheStore, n)
	for i := range stores {
		stores[i] = redisstore.NewCacheStore(newClient(t), redisstore.CacheStoreOptions{Prefix: prefix})
	}
	return stores
}

func TestCacheStoreContract(t *testing.T) {
	redisAddr(t)
	cachestoretest.Run(t, func(t *testing.T, n int) []llm.CacheStore {
		stores := make([]llm.CacheStore, n)
		for i, s := range newCacheStores(t, n) {
			stores[i] = s
		}
		return stores
	})
}

// Entries live under the prefix with the TTL as PX; the default prefix is
// DefaultCachePrefix.
func TestCacheStoreKeys(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	prefix := cachePrefix(t)
	s := redisstore.NewCacheStore(c, redisstore.CacheStoreOptions{Prefix: prefix})
	if err := s.Set(ctx, "k", cachestoretest.FullResponse(), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(ctx, prefix+"k").Result()
	if err != nil || ttl <= 89*time.Second || ttl > 90*time.Second {
		t.Fatalf("PTTL = %v, %v; want about 90s", ttl, err)
	}
	if err := s.SetVectors(ctx, []string{"v"}, [][]float32{{1, 2}}, 0); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c.PTTL(ctx, prefix+"v").Result(); err != nil || ttl != -1 {
		t.Fatalf("vector without TTL: PTTL = %v, %v; want none (-1)", ttl, err)
	}
	if b, err := c.Get(ctx, prefix+"v").Bytes(); err != nil || len(b) != 8 {
		t.Fatalf("a 2-dimension vector takes %d bytes (%v), want 8", len(b), err)
	}

	def := redisstore.NewCacheStore(c, redisstore.CacheStoreOptions{})
	key := limitstoretest.UniqueName(t)
	t.Cleanup(func() { c.Del(context.Background(), redisstore.DefaultCachePrefix+key) })
	if err := def.Set(ctx, key, cachestoretest.FullResponse(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, redisstore.DefaultCachePrefix+key).Result(); err != nil || n != 1 {
		t.Fatalf("Exists(%q) = %d, %v; want 1", redisstore.DefaultCachePrefix+key, n, err)
	}
}

// A corrupt entry is a bad_response error; an entry of another encoding
// version is a miss.
func TestCacheStoreBadEntries(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	prefix := cachePrefix(t)
	s := redisstore.NewCacheStore(c, redisstore.CacheStoreOptions{Prefix: prefix})
	c.Set(ctx, prefix+"garbage", "not json", time.Minute)
	c.Set(ctx, prefix+"future", `{"v":99,"m":{"r":"assistant"}}`, time.Minute)
	c.Set(ctx, prefix+"vec", "12345", time.Minute)
	if _, _, err := s.Get(ctx, "garbage"); !errors.Is(err, llm.KindBadResponse) {
		t.Fatalf("corrupt entry: %v, want bad_response", err)
	}
	if r, ok, err := s.Get(ctx, "future"); err != nil || ok || r != nil {
		t.Fatalf("entry of another version: %v, %v, %v; want a miss", r, ok, err)
	}
	if _, err := s.GetVectors(ctx, []string{"vec"}); !errors.Is(err, llm.KindBadResponse) {
		t.Fatalf("5-byte vector: %v, want bad_response", err)
	}
}

// cacheCountingModel answers with the tenant's name and counts calls.
func cacheCountingModel() *llmtest.Model {
	return llmtest.NewModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("answer for " + req.Principal.Tenant), FinishReason: llm.FinishStop}, nil
	})
}

func cacheRedisReq(tenant string) *llm.Request {
	zero := 0.0
	return &llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("Where is my parcel?")},
		Temperature: &zero, Principal: llm.Principal{Tenant: tenant}}
}

// Two replicas (two clients, one prefix): one replica's answer is the
// other's hit, for responses, streams and vectors; tenants stay apart.
func TestCacheReplicasShareRedis(t *testing.T) {
	stores := newCacheStores(t, 2)
	fakeA, fakeB := cacheCountingModel(), cacheCountingModel()
	a := llm.Chain(fakeA, llm.Cache(llm.CacheOptions{Store: stores[0]}))
	b := llm.Chain(fakeB, llm.Cache(llm.CacheOptions{Store: stores[1]}))
	ctx := t.Context()

	if r, err := a.Generate(ctx, cacheRedisReq("acme")); err != nil || r.CacheHit {
		t.Fatalf("replica a: %+v, %v", r, err)
	}
	r, err := b.Generate(ctx, cacheRedisReq("acme"))
	if err != nil || !r.CacheHit || r.Text() != "answer for acme" {
		t.Fatalf("replica b: %+v, %v; want a's answer as a hit", r, err)
	}
	streamed, err := llm.Collect(b.Stream(ctx, cacheRedisReq("acme")))
	if err != nil || !streamed.CacheHit || streamed.Text() != "answer for acme" {
		t.Fatalf("replica b stream: %+v, %v", streamed, err)
	}
	if r, _ := b.Generate(ctx, cacheRedisReq("globex")); r.CacheHit {
		t.Fatal("another tenant hit acme's entry")
	}
	if fakeA.Calls() != 1 || fakeB.Calls() != 1 {
		t.Fatalf("upstream calls a=%d b=%d, want 1 and 1", fakeA.Calls(), fakeB.Calls())
	}

	embA, embB := llmtest.NewEmbedder(), llmtest.NewEmbedder()
	ea := llm.ChainEmbedder(embA, llm.CacheEmbedder(llm.EmbedCacheOptions{Store: stores[0]}))
	eb := llm.ChainEmbedder(embB, llm.CacheEmbedder(llm.EmbedCacheOptions{Store: stores[1]}))
	want, err := ea.Embed(ctx, &llm.EmbedRequest{Model: "e", Inputs: []string{"one", "two"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := eb.Embed(ctx, &llm.EmbedRequest{Model: "e", Inputs: []string{"two", "three", "one"}})
	if err != nil {
		t.Fatal(err)
	}
	if reqs := embB.Requests(); len(reqs) != 1 || len(reqs[0].Inputs) != 1 || reqs[0].Inputs[0] != "three" {
		t.Fatalf("replica b embedded %v upstream; want only [three]", reqs)
	}
	for i, j := range map[int]int{0: 1, 2: 0} {
		for d := range got.Vectors[i] {
			if got.Vectors[i][d] != want.Vectors[j][d] {
				t.Fatalf("replica b's vector %d differs from a's vector %d", i, j)
			}
		}
	}
}

// A Redis that is not there: every call still works, upstream, and the
// failures are reported (once per cooldown).
func TestCacheRedisOutage(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: closedAddr(t), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	store := redisstore.NewCacheStore(c, redisstore.CacheStoreOptions{})
	ctx := t.Context()

	if _, _, err := store.Get(ctx, "k"); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("Get on a closed port: %v, want unavailable", err)
	}
	if err := store.Set(ctx, "k", cachestoretest.FullResponse(), time.Minute); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("Set on a closed port: %v, want unavailable", err)
	}
	if _, err := store.GetVectors(ctx, []string{"k"}); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("GetVectors on a closed port: %v, want unavailable", err)
	}

	var mu sync.Mutex
	var reports []error
	onError := func(_ context.Context, err error) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, err)
	}
	fake := cacheCountingModel()
	m := llm.Chain(fake, llm.Cache(llm.CacheOptions{Store: store, OnError: onError}))
	for range 3 {
		if r, err := m.Generate(ctx, cacheRedisReq("acme")); err != nil || r.Text() != "answer for acme" {
			t.Fatalf("Generate with Redis down: %+v, %v", r, err)
		}
		if r, err := llm.Collect(m.Stream(ctx, cacheRedisReq("acme"))); err != nil || r.Text() != "answer for acme" {
			t.Fatalf("Stream with Redis down: %+v, %v", r, err)
		}
	}
	if fake.Calls() != 6 {
		t.Fatalf("upstream calls = %d, want 6", fake.Calls())
	}
	emb := llm.ChainEmbedder(llmtest.NewEmbedder(), llm.CacheEmbedder(llm.EmbedCacheOptions{Store: store, OnError: onError}))
	if r, err := emb.Embed(ctx, &llm.EmbedRequest{Inputs: []string{"a", "b"}}); err != nil || len(r.Vectors) != 2 {
		t.Fatalf("Embed with Redis down: %+v, %v", r, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 2 { // one per middleware: then each leaves the store alone for a second
		t.Fatalf("%d reports, want 2: %v", len(reports), reports)
	}
	for _, err := range reports {
		if !errors.Is(err, llm.KindUnavailable) {
			t.Fatalf("report %v, want kind unavailable", err)
		}
	}
}

// cacheProxy forwards TCP connections to a Redis until it is stopped,
// which closes the listener and every connection: to the client, the
// server went away.
type cacheProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startCacheProxy(t *testing.T, addr, target string) *cacheProxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &cacheProxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(p.stop)
	return p
}

func (p *cacheProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Go(func() { _, _ = io.Copy(out, in); out.Close() })
		p.wg.Go(func() { _, _ = io.Copy(in, out); in.Close() })
	}
}

func (p *cacheProxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// Redis goes away mid-run and comes back: calls keep working throughout
// (upstream while it is away), and hits resume once it is back.
func TestCacheRedisStopsMidRun(t *testing.T) {
	target := redisAddr(t)
	proxy := startCacheProxy(t, "127.0.0.1:0", target)
	addr := proxy.ln.Addr().String()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1,
		Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	store := redisstore.NewCacheStore(c, redisstore.CacheStoreOptions{Prefix: cachePrefix(t)})
	var reports sync.Map
	fake := cacheCountingModel()
	m := llm.Chain(fake, llm.Cache(llm.CacheOptions{Store: store, StoreTimeout: time.Second,
		OnError: func(_ context.Context, err error) { reports.Store(err.Error(), err) }}))
	ctx := t.Context()
	call := func(stage string) *llm.Response {
		t.Helper()
		r, err := m.Generate(ctx, cacheRedisReq("acme"))
		if err != nil || r.Text() != "answer for acme" {
			t.Fatalf("%s: %+v, %v", stage, r, err)
		}
		return r
	}

	call("before")
	if !call("before, again").CacheHit {
		t.Fatal("no hit while Redis is up")
	}
	proxy.stop()
	for i := range 5 {
		if call("down " + strconv.Itoa(i)).CacheHit {
			t.Fatal("a hit while Redis is down")
		}
	}
	n := 0
	reports.Range(func(_, v any) bool {
		n++
		if !errors.Is(v.(error), llm.KindUnavailable) {
			t.Errorf("report %v, want unavailable", v)
		}
		return true
	})
	if n == 0 {
		t.Fatal("the outage was not reported")
	}

	startCacheProxy(t, addr, target)    // Redis is back on the same address
	time.Sleep(1100 * time.Millisecond) // the cache leaves a failed store alone for a second
	deadline := time.Now().Add(5 * time.Second)
	for !call("after").CacheHit {
		if time.Now().After(deadline) {
			t.Fatal("no hit within 5s of Redis coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A Redis that accepts connections but never answers: each cache call
// costs exactly the StoreTimeout, then goes upstream. The connection is
// an in-memory pipe inside a synctest bubble, so the timeout is measured
// on the fake clock.
func TestCacheHungRedisTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, closeHung := hungClient()
		defer closeHung()
		fake := cacheCountingModel()
		m := llm.Chain(fake, llm.Cache(llm.CacheOptions{
			Store:        redisstore.NewCacheStore(c, redisstore.CacheStoreOptions{}),
			StoreTimeout: 50 * time.Millisecond,
		}))
		start := time.Now()
		if _, err := m.Generate(t.Context(), cacheRedisReq("acme")); err != nil {
			t.Fatalf("fail-open call: %v", err)
		}
		if got := time.Since(start); got != 50*time.Millisecond {
			t.Fatalf("call took %v, want exactly the 50ms store timeout", got)
		}
		start = time.Now()
		if _, err := m.Generate(t.Context(), cacheRedisReq("acme")); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("second call took %v, want no wait on the failed store", got)
		}
	})
}

func BenchmarkRedisCacheStore(b *testing.B) {
	c := newClient(b)
	s := redisstore.NewCacheStore(c, redisstore.CacheStoreOptions{Prefix: cachePrefix(b)})
	ctx := context.Background()
	if err := s.Set(ctx, "k", cachestoretest.FullResponse(), time.Minute); err != nil {
		b.Fatal(err)
	}
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := s.Get(ctx, "k"); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Set(ctx, "k", cachestoretest.FullResponse(), time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}
