package llm

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

// cacheKeyTestRequest returns a request with a long system prompt, the
// user text, and optionally an image too large for the memo.
func cacheKeyTestRequest(user string, image bool) *Request {
	r := &Request{
		Model: "m",
		Messages: []Message{
			SystemMessage(strings.Repeat("Be brief. ", 100)),
			UserText(user),
		},
		Tools:          []ToolDef{{Name: "t", Parameters: []byte(`{"type":"object"}`)}},
		ResponseFormat: &ResponseFormat{Type: FormatJSONObject},
		Principal:      Principal{Tenant: "acme", User: "u"},
	}
	if image {
		r.Messages = append(r.Messages, Message{Role: RoleUser, Parts: []Part{{Kind: PartImage, ImageData: make([]byte, cacheKeyMemoMax+1)}}})
	}
	return r
}

// The memo changes the cost of a key, never its value: keys with a warm,
// cold, rotated or absent memo are the same, also under concurrency.
func TestCacheKeyMemoKeepsKeys(t *testing.T) {
	plain := &cacheKeyer{} // no memo
	memo := newCacheKeyer(false)
	for i := range 3 {
		for _, user := range []string{"hi", strings.Repeat("long question ", 50)} {
			req := cacheKeyTestRequest(user, true)
			if a, b := plain.key(req), memo.key(req); a != b {
				t.Fatalf("round %d: memo key %s != plain key %s", i, b, a)
			}
		}
	}
	// Fill the memo past two generations with distinct sections: the
	// oldest are forgotten, keys stay right.
	n := 2*cacheKeyMemoBytes/1000 + 10
	first := cacheKeyTestRequest("0"+strings.Repeat("x", 1000), false)
	want := plain.key(first)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				req := cacheKeyTestRequest(strconv.Itoa(i)+strings.Repeat("x", 1000), false)
				if a, b := plain.key(req), memo.key(req); a != b {
					t.Errorf("request %d: memo key %s != plain key %s", i, b, a)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := memo.key(first); got != want {
		t.Fatalf("after rotation: %s, want %s", got, want)
	}
	m := memo.memo
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.curBytes > cacheKeyMemoBytes {
		t.Fatalf("memo generation holds %d bytes, over its %d budget", m.curBytes, cacheKeyMemoBytes)
	}
}

// A section used in the previous generation is promoted into the current
// one rather than hashed again.
func TestCacheKeyMemoPromotes(t *testing.T) {
	m := &cacheKeyMemo{}
	a := []byte("section a")
	da := m.digest(a)
	m.prev, m.cur, m.curBytes = m.cur, map[string][32]byte{}, 0 // rotate
	if got := m.digest(a); got != da {
		t.Fatal("promoted digest differs")
	}
	if _, ok := m.cur[string(a)]; !ok {
		t.Fatal("section of the previous generation not promoted")
	}
}

// The memo learns every section of a request but its last message (a new
// question, usually seen once); the same message as an earlier turn is
// learned, and the key is the same either way.
func TestCacheKeyMemoSkipsLastMessage(t *testing.T) {
	k := newCacheKeyer(false)
	req := cacheBenchRequest()
	question := req.Messages[1]
	want := (&cacheKeyer{}).key(req)
	if got := k.key(req); got != want {
		t.Fatalf("key with memo %s, without %s", got, want)
	}
	var sec cacheKeyBuf
	sec.message(&question)
	learned := func() bool {
		k.memo.mu.RLock()
		defer k.memo.mu.RUnlock()
		_, ok := k.memo.cur[string(sec)]
		return ok
	}
	if learned() {
		t.Fatal("the memo learned the last message")
	}
	var sys cacheKeyBuf
	sys.message(&req.Messages[0])
	if _, ok := k.memo.cur[string(sys)]; !ok {
		t.Fatal("the memo did not learn the system message")
	}
	next := req.Clone()
	next.Messages = append(next.Messages, AssistantText("Let me check."), UserText("Thanks."))
	_ = k.key(next)
	if !learned() {
		t.Fatal("the memo did not learn the question once it was an earlier turn")
	}
	// A request that repeats (a cache hit: release with remember) teaches
	// the memo its last message too.
	again := cacheBenchRequest()
	again.Messages[1] = UserText("Where is my refund?")
	var q cacheKeyBuf
	q.message(&again.Messages[1])
	b := k.compute(again, cacheKeyDomain, -1)
	k.release(b, true)
	if _, ok := k.memo.cur[string(q)]; !ok {
		t.Fatal("the memo did not learn the last message of a repeated request")
	}
}

// cacheBenchRequest mirrors realisticRequest (package llm_test): about 2 KB
// with three tool definitions.
func cacheBenchRequest() *Request {
	tool := func(name string) ToolDef {
		return ToolDef{Name: name, Description: "Looks up " + name + " for the customer's account.",
			Parameters: []byte(`{"type":"object","properties":{"account_id":{"type":"string"},"since":{"type":"string","format":"date"}},"required":["account_id"]}`)}
	}
	return &Request{
		Model: "gpt-4o-mini",
		Messages: []Message{
			SystemMessage(strings.Repeat("You are a support assistant for an online store. Be brief and accurate. ", 12)),
			UserText(strings.Repeat("My order has not arrived and the tracking page shows no updates. ", 8)),
		},
		Tools:           []ToolDef{tool("orders"), tool("shipments"), tool("refunds")},
		MaxOutputTokens: 512,
		Principal:       Principal{Tenant: "acme", User: "u-42"},
		Feature:         "support-answer",
	}
}

// BenchmarkCacheKey measures the key of the realistic request with a warm
// memo, and without one (every section hashed: the cost of BLAKE2b-256 on
// this machine).
func BenchmarkCacheKey(b *testing.B) {
	req := cacheBenchRequest()
	b.Run("Memo", func(b *testing.B) {
		k := newCacheKeyer(false)
		k.key(req)
		b.ReportAllocs()
		for b.Loop() {
			k.key(req)
		}
	})
	// A request never seen before whose sections are: the top level
	// misses the memo and is hashed and remembered.
	b.Run("NewTenant", func(b *testing.B) {
		k := newCacheKeyer(false)
		k.key(req)
		tenants := make([]string, 1<<16)
		for i := range tenants {
			tenants[i] = "tenant-" + strconv.Itoa(i)
		}
		r := *req
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.Principal.Tenant = tenants[i&(1<<16-1)]
			k.key(&r)
			i++
		}
	})
	b.Run("NoMemo", func(b *testing.B) {
		k := &cacheKeyer{}
		b.ReportAllocs()
		for b.Loop() {
			k.key(req)
		}
	})
}

// BenchmarkMemoryCacheShards compares one LRU with sixteen shards under
// parallel hits.
func BenchmarkMemoryCacheShards(b *testing.B) {
	resp := &Response{Message: AssistantText("Your parcel left the depot this morning."), FinishReason: FinishStop}
	for _, shards := range []int{1, 16} {
		b.Run(strconv.Itoa(shards), func(b *testing.B) {
			c := newMemoryCache(64<<20, shards)
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = newCacheKeyer(false).key(&Request{Model: strconv.Itoa(i)})
				c.set(keys[i], resp, 0)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, ok := c.get(keys[i&1023]); !ok {
						b.Error("miss")
						return
					}
					i++
				}
			})
		})
	}
}

// The top level of a request is remembered only when asked (after a hit),
// and a remembered top level gives the same sum.
func TestCacheKeyMemoRemembersHits(t *testing.T) {
	k := newCacheKeyer(false)
	req := cacheBenchRequest()
	want := (&cacheKeyer{}).sum(req, cacheKeyDomain, -1)
	for i, remember := range []bool{false, false, true, false} {
		b := k.compute(req, cacheKeyDomain, -1)
		if b.sum != want {
			t.Fatalf("call %d: sum differs from the plain one", i)
		}
		if wantKnown := i == 3; b.known != wantKnown {
			t.Fatalf("call %d: top level known = %v, want %v", i, b.known, wantKnown)
		}
		k.release(b, remember)
	}
}
