package openai

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3/option"

	"github.com/keel-go/keel/llm"
)

func TestNewFromEnvironment(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "chat_plain.json")))
	t.Setenv("OPENAI_API_KEY", "sk-env-key-000111")
	t.Setenv("OPENAI_BASE_URL", srv.URL+"/v1")
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Generate(bg, simpleRequest()); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if got := r.Header.Get("Authorization"); got != "Bearer sk-env-key-000111" || r.Path != "/v1/chat/completions" {
		t.Errorf("Authorization %q path %q", got, r.Path)
	}

	// Options win over the environment.
	c2, err := New(WithAPIKey("sk-option"), WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Generate(bg, simpleRequest()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[1].Header.Get("Authorization"); got != "Bearer sk-option" {
		t.Errorf("Authorization %q", got)
	}
}

func TestNewErrors(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	t.Setenv("AZURE_OPENAI_API_KEY", "")
	tests := []struct {
		name string
		opts []Option
		msg  string
	}{
		{"no key for api.openai.com", nil, "no API key"},
		{"bad base URL", []Option{WithBaseURL("not a url")}, "base URL"},
		{"azure and base URL", []Option{WithAzure("https://x.openai.azure.com", "2024-10-21"), WithBaseURL("http://x"), WithAPIKey("k")}, "cannot be combined"},
		{"azure without version", []Option{WithAzure("https://x.openai.azure.com", ""), WithAPIKey("k")}, "API version"},
		{"azure without key", []Option{WithAzure("https://x.openai.azure.com", "2024-10-21")}, "no API key"},
		{"bad sampling policy", []Option{WithAPIKey("k"), WithSamplingPolicy(9)}, "sampling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts...)
			if e := asLLMError(t, err); e.Kind != llm.KindInvalidRequest || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got %v", e)
			}
		})
	}
	// A local server needs no key.
	c, err := New(WithBaseURL("http://localhost:11434/v1"), WithProviderName("ollama"))
	if err != nil || c.Provider() != "ollama" {
		t.Errorf("local server without key: %v", err)
	}
}

func TestNoSDKRetries(t *testing.T) {
	var calls atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		jsonHandler(503, fixture(t, "error_500_server.json"), "Retry-After", "0", "X-Should-Retry", "true")(w, r)
	})
	c := newTestClient(t, srv)
	_, err := c.Generate(bg, simpleRequest())
	if llm.KindOf(err) != llm.KindUnavailable {
		t.Fatalf("err %v", err)
	}
	_, _ = collectEvents(t, c.Stream(bg, simpleRequest()))
	_, _ = c.Embed(bg, &llm.EmbedRequest{Model: "m", Inputs: []string{"x"}})
	_, _ = c.Moderate(bg, &llm.ModerationRequest{Inputs: []string{"x"}})
	if n := calls.Load(); n != 4 {
		t.Errorf("server saw %d requests for 4 calls; the SDK retried", n)
	}
}

func TestWithHTTPClient(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "chat_plain.json")))
	var used atomic.Bool
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newTestClient(t, srv, WithHTTPClient(hc), WithRequestOptions(option.WithHeader("X-Raw", "1")))
	if _, err := c.Generate(bg, simpleRequest()); err != nil {
		t.Fatal(err)
	}
	if !used.Load() {
		t.Error("the caller's http.Client was not used")
	}
	if srv.Requests()[0].Header.Get("X-Raw") != "1" {
		t.Error("raw request option not applied")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAzure(t *testing.T) {
	var srv *testServer
	srv = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat/completions") {
			jsonHandler(200, fixture(t, "chat_plain.json"))(w, r)
			return
		}
		jsonHandler(200, fixture(t, "embeddings_small.json"))(w, r)
	}, withTLS())
	c, err := New(
		WithAzure(srv.URL, "2024-10-21"),
		WithAPIKey("azure-key-123456"),
		WithHTTPClient(srv.Client()),
		WithProviderName("azure"),
		WithDefaultModel("gpt4o-prod"),
	)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Generate(bg, &llm.Request{Messages: []llm.Message{llm.UserText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Provider != "azure" {
		t.Errorf("provider %q", resp.Provider)
	}
	if _, err := c.Embed(bg, &llm.EmbedRequest{Model: "embed-deploy", Inputs: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, want := range []string{"/openai/deployments/gpt4o-prod/chat/completions", "/openai/deployments/embed-deploy/embeddings"} {
		r := reqs[i]
		if r.Path != want || r.RawQuery != "api-version=2024-10-21" {
			t.Errorf("request %d: %s?%s, want %s?api-version=2024-10-21", i, r.Path, r.RawQuery, want)
		}
		if r.Header.Get("Api-Key") != "azure-key-123456" || r.Header.Get("Authorization") != "" {
			t.Errorf("request %d: Api-Key %q Authorization %q", i, r.Header.Get("Api-Key"), r.Header.Get("Authorization"))
		}
	}
}

// TestDefaultTransportShared: clients built without WithHTTPClient share
// http.DefaultTransport's connection pool instead of each cloning a
// transport (and keeping idle connections no one can close): three clients
// calling one server in turn use one connection.
func TestDefaultTransportShared(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	plain := fixture(t, "chat_plain.json")
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		jsonHandler(200, plain)(w, r)
	})
	t.Cleanup(func() {
		if tr, ok := http.DefaultTransport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
	})
	for i := 0; i < 3; i++ {
		c := newTestClient(t, srv)
		if _, err := c.Generate(bg, simpleRequest()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Errorf("3 clients opened %d connections, want 1 (a shared pool)", len(conns))
	}
}
