package cachestoretest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
)

// NewStores returns n handles on one fresh, empty store. Handles from one
// call share all state, as replicas of a service share one Redis (each
// should use its own connection); stores from different calls share
// nothing, so subtests do not see each other's keys. For an in-process
// store, returning the same store n times is right.
type NewStores func(t *testing.T, n int) []llm.CacheStore

// Run runs the contract suite as subtests of t. The vector subtests run
// when the stores also implement llm.EmbedCacheStore.
func Run(t *testing.T, newStores NewStores) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, newStores NewStores)
	}{
		{"Miss", testMiss},
		{"RoundTrip", testRoundTrip},
		{"NoAliasing", testNoAliasing},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"NilResponse", testNilResponse},
		{"Expiry", testExpiry},
		{"KeyIsolation", testIsolation},
		{"Concurrent", testConcurrent},
		{"Replicas", testReplicas},
	}
	vectorTests := []struct {
		name string
		fn   func(t *testing.T, newStores NewStores)
	}{
		{"Vectors", testVectors},
		{"VectorsNoAliasing", testVectorsNoAliasing},
		{"VectorsExpiry", testVectorsExpiry},
		{"VectorsReplicas", testVectorsReplicas},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStores) })
	}
	for _, tc := range vectorTests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := one(t, newStores).(llm.EmbedCacheStore); !ok {
				t.Skip("the store does not implement llm.EmbedCacheStore")
			}
			tc.fn(t, newStores)
		})
	}
}

func one(t *testing.T, newStores NewStores) llm.CacheStore {
	t.Helper()
	s := newStores(t, 1)
	if len(s) != 1 {
		t.Fatalf("NewStores(1) returned %d stores", len(s))
	}
	return s[0]
}

// FullResponse returns a Response that sets every answer field a
// CacheStore must keep (two text parts and two image parts, tool calls, a
// refusal, reasoning, Extra, every usage count, finish reason, model,
// provider, request id) and every call annotation it need not keep.
func FullResponse() *llm.Response {
	return &llm.Response{
		Message: llm.Message{
			Role: llm.RoleAssistant,
			Name: "helper",
			Parts: []llm.Part{
				llm.Text("Your parcel left the depot. "),
				{Kind: llm.PartText, Text: "Ünïcödé ✓ and \"quotes\"\n", Provenance: llm.Untrusted, Source: "tool:track"},
				{Kind: llm.PartImage, ImageURL: "https://example.com/map.png", ImageDetail: "low"},
				{Kind: llm.PartImage, ImageData: []byte{0x89, 'P', 'N', 'G', 0, 0xff}, MIMEType: "image/png"},
			},
			ToolCalls: []llm.ToolCall{
				{ID: "call_1", Name: "track", Arguments: `{"id":"A-1"}`},
				{ID: "call_2", Name: "refund", Arguments: `{"broken json`},
			},
			ToolCallID: "call_0",
			Refusal:    "I cannot share the courier's phone number.",
			Reasoning:  "The user asks about a parcel; look it up.",
			Extra:      map[string]json.RawMessage{"audio": json.RawMessage(`{"id":"au_1"}`), "raw": json.RawMessage(`not json`)},
		},
		FinishReason: llm.FinishToolCalls,
		Usage:        llm.Usage{InputTokens: 1200, OutputTokens: 80, CachedInputTokens: 1024, CacheWriteTokens: 7, ReasoningTokens: 30},
		Model:        "gpt-4o-mini-2024-07-18",
		Provider:     "openai",
		RequestID:    "req_123",

		Latency:       3 * time.Second,
		Route:         "support/stable",
		Target:        "primary",
		Attempts:      2,
		CacheHit:      true,
		Cost:          0.0042,
		CostEstimated: true,
	}
}

// answerOf returns r's answer fields, with empty slices and maps as nil so
// that stores that do not distinguish them compare equal.
func answerOf(r *llm.Response) llm.Response {
	a := llm.Response{FinishReason: r.FinishReason, Usage: r.Usage, Model: r.Model, Provider: r.Provider, RequestID: r.RequestID}
	m := r.Message
	a.Message = llm.Message{Role: m.Role, Name: m.Name, ToolCallID: m.ToolCallID, Refusal: m.Refusal, Reasoning: m.Reasoning}
	for _, p := range m.Parts {
		if len(p.ImageData) == 0 {
			p.ImageData = nil
		}
		a.Message.Parts = append(a.Message.Parts, p)
	}
	a.Message.ToolCalls = append(a.Message.ToolCalls, m.ToolCalls...)
	if len(m.Extra) > 0 {
		a.Message.Extra = make(map[string]json.RawMessage, len(m.Extra))
		for k, v := range m.Extra {
			a.Message.Extra[k] = v
		}
	}
	return a
}

// mustGet returns the entry of key, failing the test on an error or a
// miss.
func mustGet(t *testing.T, s llm.CacheStore, key string) *llm.Response {
	t.Helper()
	r, ok, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !ok || r == nil {
		t.Fatalf("Get(%q) = %v, %v; want a hit", key, r, ok)
	}
	return r
}

func mustMiss(t *testing.T, s llm.CacheStore, key string) {
	t.Helper()
	r, ok, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if ok || r != nil {
		t.Fatalf("Get(%q) = %+v, %v; want a miss", key, r, ok)
	}
}

func mustSet(t *testing.T, s llm.CacheStore, key string, r *llm.Response, ttl time.Duration) {
	t.Helper()
	if err := s.Set(t.Context(), key, r, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func reply(text string) *llm.Response {
	return &llm.Response{Message: llm.AssistantText(text), FinishReason: llm.FinishStop, Model: "m"}
}

func textOf(r *llm.Response) string { return r.Message.Text() }

func testMiss(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustMiss(t, s, "never-set")
	mustMiss(t, s, "")
}

func testRoundTrip(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	want := FullResponse()
	mustSet(t, s, "full", want, time.Hour)
	got := mustGet(t, s, "full")
	if g, w := answerOf(got), answerOf(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("round trip lost answer fields:\n got %+v\nwant %+v", g, w)
	}

	// A minimal answer round-trips too, and an empty one.
	mustSet(t, s, "min", reply("ok"), time.Hour)
	if got := mustGet(t, s, "min"); !reflect.DeepEqual(answerOf(got), answerOf(reply("ok"))) {
		t.Fatalf("minimal answer: got %+v", answerOf(got))
	}
	mustSet(t, s, "empty", &llm.Response{}, time.Hour)
	if got := mustGet(t, s, "empty"); !reflect.DeepEqual(answerOf(got), llm.Response{}) {
		t.Fatalf("empty answer: got %+v", answerOf(got))
	}
}

// The store keeps neither the Response given to Set nor hands out the one
// it keeps: callers modify theirs freely.
func testNoAliasing(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	in := FullResponse()
	want := answerOf(FullResponse())
	mustSet(t, s, "k", in, time.Hour)
	in.Message.Parts[0].Text = "changed"
	in.Message.Parts[3].ImageData[0] = 0
	in.Message.ToolCalls[0].Arguments = "changed"
	in.Message.Extra["audio"][0] = 'X'
	in.Message.Extra["new"] = json.RawMessage(`1`)
	in.Usage.InputTokens = 1
	out := mustGet(t, s, "k")
	if !reflect.DeepEqual(answerOf(out), want) {
		t.Fatalf("changing the Response after Set changed the entry: %+v", answerOf(out))
	}
	out.Message.Parts[1].Text = "changed"
	out.Message.Parts[3].ImageData[1] = 0
	out.Message.ToolCalls[1].Name = "changed"
	out.Message.Extra["raw"][0] = 'X'
	out.CacheHit = true
	if again := mustGet(t, s, "k"); !reflect.DeepEqual(answerOf(again), want) {
		t.Fatalf("changing a Response from Get changed the entry: %+v", answerOf(again))
	}
}

func testOverwrite(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustSet(t, s, "k", reply("first"), time.Hour)
	mustSet(t, s, "k", reply("second"), time.Hour)
	if got := textOf(mustGet(t, s, "k")); got != "second" {
		t.Fatalf("after overwrite Get = %q, want second", got)
	}
}

func testDelete(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustSet(t, s, "k", reply("x"), time.Hour)
	mustSet(t, s, "other", reply("y"), time.Hour)
	if err := s.Delete(t.Context(), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustMiss(t, s, "k")
	mustGet(t, s, "other")
	if err := s.Delete(t.Context(), "k"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func testNilResponse(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	if err := s.Set(t.Context(), "k", nil, time.Hour); err == nil {
		t.Fatal("Set with a nil response: no error")
	}
	mustMiss(t, s, "k")
}

// eventually polls cond every few milliseconds for up to five seconds.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

func testExpiry(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustSet(t, s, "short", reply("short"), 10*time.Millisecond)
	mustSet(t, s, "long", reply("long"), time.Hour)
	mustSet(t, s, "forever", reply("forever"), 0)
	mustSet(t, s, "negative", reply("negative"), -time.Second)
	gone := eventually(func() bool {
		_, ok, err := s.Get(t.Context(), "short")
		return err == nil && !ok
	})
	if !gone {
		t.Fatal("an entry with a 10ms TTL was still there after 5s")
	}
	for _, k := range []string{"long", "forever", "negative"} {
		if got := textOf(mustGet(t, s, k)); got != k {
			t.Fatalf("Get(%q) = %q", k, got)
		}
	}
}

func testIsolation(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	keys := []string{"a", "b", "ab", "a:b", "A", "tenant-1/0123abcd", "tenant-2/0123abcd"}
	for _, k := range keys {
		mustSet(t, s, k, reply("value of "+k), time.Hour)
	}
	for _, k := range keys {
		if got := textOf(mustGet(t, s, k)); got != "value of "+k {
			t.Fatalf("Get(%q) = %q", k, got)
		}
	}
}

// Concurrent writers and readers of shared and private keys: every hit is
// a whole value that some writer wrote.
func testConcurrent(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	const goroutines, rounds = 8, 40
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			own := "own-" + strconv.Itoa(g)
			for i := range rounds {
				val := fmt.Sprintf("g%d-%d", g, i)
				if err := s.Set(context.Background(), "shared", reply(val), time.Hour); err != nil {
					t.Error(err)
					return
				}
				if err := s.Set(context.Background(), own, reply(val), time.Hour); err != nil {
					t.Error(err)
					return
				}
				r, ok, err := s.Get(context.Background(), "shared")
				if err != nil || !ok {
					t.Errorf("Get(shared) = %v, %v", ok, err)
					return
				}
				var gg, ii int
				if _, err := fmt.Sscanf(textOf(r), "g%d-%d", &gg, &ii); err != nil || gg >= goroutines || ii >= rounds {
					t.Errorf("Get(shared) = %q, not a value any writer wrote", textOf(r))
					return
				}
				r, ok, err = s.Get(context.Background(), own)
				if err != nil || !ok || textOf(r) != val {
					t.Errorf("Get(%s) = %v, %v, %v; want %q", own, r, ok, err, val)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Two handles on one backend (two replicas) see each other's writes and
// deletes.
func testReplicas(t *testing.T, newStores NewStores) {
	stores := newStores(t, 2)
	if len(stores) != 2 {
		t.Fatalf("NewStores(2) returned %d stores", len(stores))
	}
	a, b := stores[0], stores[1]
	mustSet(t, a, "k", FullResponse(), time.Hour)
	if got := mustGet(t, b, "k"); !reflect.DeepEqual(answerOf(got), answerOf(FullResponse())) {
		t.Fatalf("replica b read %+v", answerOf(got))
	}
	mustSet(t, b, "k", reply("from b"), time.Hour)
	if got := textOf(mustGet(t, a, "k")); got != "from b" {
		t.Fatalf("replica a read %q after b's overwrite", got)
	}
	if err := a.Delete(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	mustMiss(t, b, "k")
}

func vstore(t *testing.T, s llm.CacheStore) llm.EmbedCacheStore {
	t.Helper()
	return s.(llm.EmbedCacheStore)
}

func getVectors(t *testing.T, s llm.EmbedCacheStore, keys ...string) [][]float32 {
	t.Helper()
	v, err := s.GetVectors(t.Context(), keys)
	if err != nil {
		t.Fatalf("GetVectors(%q): %v", keys, err)
	}
	if len(v) != len(keys) {
		t.Fatalf("GetVectors(%q) returned %d entries", keys, len(v))
	}
	return v
}

func setVectors(t *testing.T, s llm.EmbedCacheStore, keys []string, vectors [][]float32, ttl time.Duration) {
	t.Helper()
	if err := s.SetVectors(t.Context(), keys, vectors, ttl); err != nil {
		t.Fatalf("SetVectors(%q): %v", keys, err)
	}
}

// sameBits reports whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func testVectors(t *testing.T, newStores NewStores) {
	s := vstore(t, one(t, newStores))
	v1 := []float32{0.25, -1, 3.4028235e38, 1e-45, float32(math.Copysign(0, -1))}
	v2 := []float32{1, 2, 3}
	for i, v := range getVectors(t, s, "a", "b", "c") {
		if v != nil {
			t.Fatalf("GetVectors on an empty store: entry %d = %v", i, v)
		}
	}
	if v, err := s.GetVectors(t.Context(), nil); err != nil || len(v) != 0 {
		t.Fatalf("GetVectors(nil) = %v, %v; want no entries", v, err)
	}
	setVectors(t, s, []string{"a", "b", "skip"}, [][]float32{v1, v2, nil}, time.Hour)
	got := getVectors(t, s, "b", "missing", "a", "skip", "a")
	want := [][]float32{v2, nil, v1, nil, v1}
	for i := range want {
		if !sameBits(got[i], want[i]) {
			t.Fatalf("GetVectors entry %d = %v, want %v", i, got[i], want[i])
		}
	}
	if err := s.SetVectors(t.Context(), []string{"x", "y"}, [][]float32{v1}, time.Hour); err == nil {
		t.Fatal("SetVectors with more keys than vectors: no error")
	}
}

func testVectorsNoAliasing(t *testing.T, newStores NewStores) {
	s := vstore(t, one(t, newStores))
	in := []float32{1, 2, 3}
	setVectors(t, s, []string{"k"}, [][]float32{in}, time.Hour)
	in[0] = 99
	out := getVectors(t, s, "k")[0]
	if !sameBits(out, []float32{1, 2, 3}) {
		t.Fatalf("changing the vector after SetVectors changed the entry: %v", out)
	}
	out[1] = 99
	if again := getVectors(t, s, "k")[0]; !sameBits(again, []float32{1, 2, 3}) {
		t.Fatalf("changing a vector from GetVectors changed the entry: %v", again)
	}
}

func testVectorsExpiry(t *testing.T, newStores NewStores) {
	s := vstore(t, one(t, newStores))
	setVectors(t, s, []string{"short"}, [][]float32{{1}}, 10*time.Millisecond)
	setVectors(t, s, []string{"long", "forever"}, [][]float32{{2}, {3}}, time.Hour)
	setVectors(t, s, []string{"forever"}, [][]float32{{3}}, 0)
	gone := eventually(func() bool {
		v, err := s.GetVectors(t.Context(), []string{"short"})
		return err == nil && len(v) == 1 && v[0] == nil
	})
	if !gone {
		t.Fatal("a vector with a 10ms TTL was still there after 5s")
	}
	got := getVectors(t, s, "long", "forever")
	if !sameBits(got[0], []float32{2}) || !sameBits(got[1], []float32{3}) {
		t.Fatalf("long-lived vectors = %v", got)
	}
}

func testVectorsReplicas(t *testing.T, newStores NewStores) {
	stores := newStores(t, 2)
	a, b := vstore(t, stores[0]), vstore(t, stores[1])
	setVectors(t, a, []string{"k1", "k2"}, [][]float32{{1, 2}, {3, 4}}, time.Hour)
	got := getVectors(t, b, "k2", "k1")
	if !sameBits(got[0], []float32{3, 4}) || !sameBits(got[1], []float32{1, 2}) {
		t.Fatalf("replica b read %v", got)
	}
}
