package openai

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
)

// embeddingServer answers each embeddings request with one vector per input
// whose first value is the input's number (inputs are "text-<n>"), in
// shuffled order, with usage of 2 tokens per input.
func embeddingServer(t *testing.T, inFlight, maxInFlight *atomic.Int32) *testServer {
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if inFlight != nil {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := maxInFlight.Load()
				if n <= m || maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		var req struct {
			Input      []string `json:"input"`
			Model      string   `json:"model"`
			Dimensions int      `json:"dimensions"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		type item struct {
			Object    string    `json:"object"`
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		}
		data := make([]item, len(req.Input))
		for i, in := range req.Input {
			n, _ := strconv.Atoi(strings.TrimPrefix(in, "text-"))
			data[i] = item{"embedding", i, []float64{float64(n), 0.5, -0.25}}
		}
		rand.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
		resp := map[string]any{
			"object": "list", "data": data, "model": req.Model + "-resolved",
			"usage": map[string]int{"prompt_tokens": 2 * len(req.Input), "total_tokens": 2 * len(req.Input)},
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

func TestEmbedBatching(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	srv := embeddingServer(t, &inFlight, &maxInFlight)
	c := newTestClient(t, srv, WithEmbedBatch(10, 1000), WithEmbedConcurrency(2), WithDefaultEmbeddingModel("text-embedding-3-small"))
	inputs := make([]string, 95)
	for i := range inputs {
		inputs[i] = "text-" + strconv.Itoa(i)
	}
	resp, err := c.Embed(bg, &llm.EmbedRequest{Inputs: inputs, Dimensions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Vectors) != len(inputs) {
		t.Fatalf("%d vectors", len(resp.Vectors))
	}
	for i, v := range resp.Vectors {
		if len(v) != 3 || v[0] != float32(i) || v[1] != 0.5 || v[2] != -0.25 {
			t.Fatalf("vector %d = %v", i, v)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 10 {
		t.Errorf("%d requests, want 10 batches", len(reqs))
	}
	for _, r := range reqs {
		var body struct {
			Input          []string `json:"input"`
			Model          string   `json:"model"`
			Dimensions     int      `json:"dimensions"`
			EncodingFormat string   `json:"encoding_format"`
		}
		_ = json.Unmarshal(r.Body, &body)
		if len(body.Input) > 10 || body.Model != "text-embedding-3-small" || body.Dimensions != 3 || body.EncodingFormat != "float" || r.Path != "/v1/embeddings" {
			t.Errorf("batch request %s %s", r.Path, r.Body)
		}
	}
	if resp.Usage.InputTokens != 2*len(inputs) {
		t.Errorf("usage %+v", resp.Usage)
	}
	if resp.Model != "text-embedding-3-small-resolved" || resp.Provider != "openai" {
		t.Errorf("model %q provider %q", resp.Model, resp.Provider)
	}
	if m := maxInFlight.Load(); m > 2 || m < 1 {
		t.Errorf("max batches in flight = %d, want at most 2", m)
	}
}

func TestEmbedBatches(t *testing.T) {
	mk := func(sizes ...int) []string {
		out := make([]string, len(sizes))
		for i, n := range sizes {
			out[i] = strings.Repeat("x", n)
		}
		return out
	}
	tests := []struct {
		inputs    []string
		maxInputs int
		maxBytes  int
		want      []batch
	}{
		{mk(1, 1, 1, 1, 1), 2, 100, []batch{{0, 2}, {2, 4}, {4, 5}}},
		{mk(40, 40, 40), 10, 100, []batch{{0, 2}, {2, 3}}},
		{mk(150, 10, 10), 10, 100, []batch{{0, 1}, {1, 3}}}, // an oversized input goes alone
		{mk(10, 150, 10), 10, 100, []batch{{0, 1}, {1, 2}, {2, 3}}},
		{mk(5), 2048, 300000, []batch{{0, 1}}},
	}
	for _, tt := range tests {
		if got := embedBatches(tt.inputs, tt.maxInputs, tt.maxBytes); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("embedBatches(%d inputs, %d, %d) = %v, want %v", len(tt.inputs), tt.maxInputs, tt.maxBytes, got, tt.want)
		}
	}
	// The defaults follow the API: 2048 inputs, 300k tokens.
	many := make([]string, 5000)
	for i := range many {
		many[i] = "a"
	}
	if got := embedBatches(many, DefaultEmbedBatchInputs, DefaultEmbedBatchTokens); len(got) != 3 || got[0].hi != 2048 {
		t.Errorf("5000 inputs: %v", got)
	}
	big := mk(100_000, 100_000, 100_000, 100_000)
	if got := embedBatches(big, DefaultEmbedBatchInputs, DefaultEmbedBatchTokens); len(got) != 2 || got[0].hi != 3 {
		t.Errorf("400 KB of inputs: %v", got)
	}
}

func TestEmbedFixture(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "embeddings_small.json")))
	c := newTestClient(t, srv)
	resp, err := c.Embed(bg, &llm.EmbedRequest{Model: "text-embedding-3-small", Inputs: []string{"refund policy", "vpn setup"}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{0.0023064255, -0.009327292, 0.015797347}, {-0.0045236535, 0.011245368, -0.0021563566}}
	if !reflect.DeepEqual(resp.Vectors, want) || resp.Usage.InputTokens != 8 {
		t.Errorf("got %+v", resp)
	}
}

func TestEmbedEdgeCases(t *testing.T) {
	t.Run("empty input makes no call", func(t *testing.T) {
		srv := newServer(t, jsonHandler(500, nil))
		c := newTestClient(t, srv)
		resp, err := c.Embed(bg, &llm.EmbedRequest{Model: "text-embedding-3-small"})
		if err != nil || resp == nil || len(resp.Vectors) != 0 || resp.Vectors == nil {
			t.Errorf("resp %+v err %v", resp, err)
		}
		if len(srv.Requests()) != 0 {
			t.Error("a request was sent")
		}
	})
	t.Run("no model", func(t *testing.T) {
		srv := newServer(t, jsonHandler(500, nil))
		c := newTestClient(t, srv)
		_, err := c.Embed(bg, &llm.EmbedRequest{Inputs: []string{"x"}})
		if e := asLLMError(t, err); e.Kind != llm.KindInvalidRequest {
			t.Errorf("got %v", e)
		}
	})
	t.Run("one failing batch fails the call", func(t *testing.T) {
		var calls atomic.Int32
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 2 {
				jsonHandler(429, fixture(t, "error_429_rate_limit.json"), "Retry-After", "1")(w, r)
				return
			}
			jsonHandler(200, fixture(t, "embeddings_small.json"))(w, r)
		})
		c := newTestClient(t, srv, WithEmbedBatch(2, 0), WithEmbedConcurrency(1))
		_, err := c.Embed(bg, &llm.EmbedRequest{Model: "text-embedding-3-small", Inputs: []string{"a", "b", "c", "d", "e", "f"}})
		if e := asLLMError(t, err); e.Kind != llm.KindRateLimited || e.RetryAfter != time.Second {
			t.Errorf("got %v", e)
		}
	})
	for name, body := range map[string]string{
		"repeated index":     `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1]},{"object":"embedding","index":0,"embedding":[2]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`,
		"index out of range": `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1]},{"object":"embedding","index":7,"embedding":[2]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`,
		"too few vectors":    `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`,
		"not JSON":           `{"object":"list","data":[`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, jsonHandler(200, []byte(body)))
			c := newTestClient(t, srv)
			_, err := c.Embed(bg, &llm.EmbedRequest{Model: "m", Inputs: []string{"a", "b"}})
			if e := asLLMError(t, err); e.Kind != llm.KindBadResponse {
				t.Errorf("got %v", e)
			}
		})
	}
}

func TestModerate(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "moderation_mixed.json")))
	c := newTestClient(t, srv)
	resp, err := c.Moderate(bg, &llm.ModerationRequest{Inputs: []string{"I will hurt you", "hello"}, Model: "omni-moderation-latest"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 2 || resp.Model != "omni-moderation-2024-09-26" || resp.Provider != "openai" {
		t.Fatalf("resp %+v", resp)
	}
	r0, r1 := resp.Results[0], resp.Results[1]
	if !r0.Flagged || !r0.Categories["harassment/threatening"] || !r0.Categories["violence"] || r0.Categories["hate"] {
		t.Errorf("result 0 = %+v", r0)
	}
	if len(r0.Categories) != 13 || len(r0.Scores) != 13 || r0.Scores["violence"] != 0.9971174675452384 {
		t.Errorf("result 0 scores = %v", r0.Scores)
	}
	if r1.Flagged || len(r1.Categories) != 13 {
		t.Errorf("result 1 = %+v", r1)
	}
	body := srv.LastBody(t)
	jsonEq(t, "input", body["input"], `["I will hurt you","hello"]`)
	jsonEq(t, "model", body["model"], `"omni-moderation-latest"`)
	if p := srv.Requests()[0].Path; p != "/v1/moderations" {
		t.Errorf("path %s", p)
	}
}

func TestModerateNewCategory(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "compat_moderation_new_category.json")))
	c := newTestClient(t, srv)
	resp, err := c.Moderate(bg, &llm.ModerationRequest{Inputs: []string{"vote on tuesday"}})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Results[0]
	if !r.Categories["election-misinformation"] || r.Scores["election-misinformation"] != 0.93 {
		t.Errorf("new category lost: %+v", r)
	}
	if _, ok := r.Scores["hate"]; ok || r.Categories["hate"] {
		t.Errorf("null values: %+v", r)
	}
	if _, ok := srv.LastBody(t)["model"]; ok {
		t.Error("model sent although none was configured")
	}
}

func TestModerateErrors(t *testing.T) {
	t.Run("empty input", func(t *testing.T) {
		srv := newServer(t, jsonHandler(500, nil))
		c := newTestClient(t, srv)
		resp, err := c.Moderate(bg, &llm.ModerationRequest{})
		if err != nil || len(resp.Results) != 0 || len(srv.Requests()) != 0 {
			t.Errorf("resp %+v err %v", resp, err)
		}
	})
	t.Run("count mismatch", func(t *testing.T) {
		srv := newServer(t, jsonHandler(200, fixture(t, "moderation_mixed.json")))
		c := newTestClient(t, srv)
		_, err := c.Moderate(bg, &llm.ModerationRequest{Inputs: []string{"only one"}})
		if e := asLLMError(t, err); e.Kind != llm.KindBadResponse {
			t.Errorf("got %v", e)
		}
	})
	t.Run("HTTP error", func(t *testing.T) {
		srv := newServer(t, jsonHandler(401, fixture(t, "error_401_invalid_key.json")))
		c := newTestClient(t, srv)
		_, err := c.Moderate(bg, &llm.ModerationRequest{Inputs: []string{"x"}})
		if e := asLLMError(t, err); e.Kind != llm.KindAuth || e.Status != 401 {
			t.Errorf("got %v", e)
		}
	})
}
