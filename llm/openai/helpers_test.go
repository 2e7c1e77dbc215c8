package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
)

// testKey is the API key every test client uses. Tests check that it never
// appears in an error string.
const testKey = "sk-test-abc123secretvalue"

// recordedRequest is one request a test server received.
type recordedRequest struct {
	// Test is the name of the test that sent it.
	Test     string
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	// NonStandard marks requests that deliberately carry fields outside
	// OpenAI's schema (vLLM extensions, reasoning_content round trips,
	// Request.Extra), which a strict contract check must skip.
	NonStandard bool
}

// allRequests collects every request any test server received in this test
// binary, in arrival order, for the contract test.
var allRequests struct {
	sync.Mutex
	list []recordedRequest
}

func recordedSoFar() []recordedRequest {
	allRequests.Lock()
	defer allRequests.Unlock()
	return append([]recordedRequest(nil), allRequests.list...)
}

type testServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recordedRequest
}

// Requests returns the requests the server has received so far.
func (s *testServer) Requests() []recordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedRequest(nil), s.reqs...)
}

// Bodies returns the request bodies the server has received so far.
func (s *testServer) Bodies() [][]byte {
	var out [][]byte
	for _, r := range s.Requests() {
		out = append(out, r.Body)
	}
	return out
}

// LastBody decodes the last request body into a generic map.
func (s *testServer) LastBody(t testing.TB) map[string]any {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("server received no request")
	}
	var m map[string]any
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &m); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, reqs[len(reqs)-1].Body)
	}
	return m
}

type serverConfig struct {
	nonStandard bool
	tls         bool
}

type serverOption func(*serverConfig)

// nonStandard marks the server's requests as deliberately outside OpenAI's
// schema.
func nonStandard() serverOption { return func(c *serverConfig) { c.nonStandard = true } }

// withTLS starts an HTTPS server (Azure requires HTTPS).
func withTLS() serverOption { return func(c *serverConfig) { c.tls = true } }

// newServer starts a test server that records every request (method, path,
// query, headers, body) before passing it, body intact, to h.
func newServer(t testing.TB, h http.HandlerFunc, opts ...serverOption) *testServer {
	t.Helper()
	var cfg serverConfig
	for _, o := range opts {
		o(&cfg)
	}
	s := &testServer{}
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := recordedRequest{
			Test: t.Name(), Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, NonStandard: cfg.nonStandard,
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, rec)
		s.mu.Unlock()
		allRequests.Lock()
		allRequests.list = append(allRequests.list, rec)
		allRequests.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	})
	if cfg.tls {
		s.Server = httptest.NewTLSServer(wrapped)
	} else {
		s.Server = httptest.NewServer(wrapped)
	}
	t.Cleanup(s.Close)
	return s
}

// newTestClient returns a client for srv with the test key.
func newTestClient(t testing.TB, srv *testServer, opts ...Option) *Client {
	t.Helper()
	all := append([]Option{WithBaseURL(srv.URL + "/v1"), WithAPIKey(testKey)}, opts...)
	c, err := New(all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// redirectClient sends every request to srv whatever host its URL names,
// so that a client configured for api.openai.com (or an Azure host) can be
// tested against srv. It trusts srv's certificate when srv uses TLS.
func redirectClient(srv *testServer) *http.Client {
	u, err := url.Parse(srv.URL)
	if err != nil {
		panic(err)
	}
	next := srv.Client().Transport
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, ""
		return next.RoundTrip(r)
	})}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonHandler answers every request with status, the headers and body.
func jsonHandler(status int, body []byte, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_test_123")
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// chatHandler answers chat requests with the jsonFixture, or with the
// sseFixture when the request asks for a stream.
func chatHandler(t testing.TB, jsonFixture, sseFixture string) http.HandlerFunc {
	j, e := fixture(t, jsonFixture), fixture(t, sseFixture)
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Stream bool }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Stream {
			sseHandler(e)(w, r)
			return
		}
		jsonHandler(200, j)(w, r)
	}
}

// sseEvents splits a .sse fixture into its events (each ends with a blank
// line).
func sseEvents(body []byte) [][]byte {
	var out [][]byte
	for _, ev := range bytes.SplitAfter(body, []byte("\n\n")) {
		if len(ev) > 0 {
			out = append(out, ev)
		}
	}
	return out
}

// sseHandler streams body as text/event-stream, flushing after every event
// so the client sees them arrive one by one.
func sseHandler(body []byte, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Request-Id", "req_stream_456")
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(http.StatusOK)
		f, _ := w.(http.Flusher)
		for _, ev := range sseEvents(body) {
			if _, err := w.Write(ev); err != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
		}
	}
}

// sseDataLines returns the JSON of every data: line of a .sse body except
// [DONE].
func sseDataLines(body []byte) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok || string(data) == "[DONE]" {
			continue
		}
		out = append(out, append([]byte(nil), data...))
	}
	return out
}

func collectEvents(t testing.TB, s func(func(llm.Event, error) bool)) ([]llm.Event, error) {
	t.Helper()
	var evs []llm.Event
	for ev, err := range s {
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func asLLMError(t testing.TB, err error) *llm.Error {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got nil")
	}
	e, ok := err.(*llm.Error)
	if !ok {
		t.Fatalf("error is %T (%v), want *llm.Error", err, err)
	}
	if strings.Contains(e.Error(), testKey) {
		t.Fatalf("error string leaks the API key: %s", e.Error())
	}
	return e
}

// waitGoroutines polls until the goroutine count is back to at most n,
// failing with a dump after the deadline.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if runtime.NumGoroutine() <= n {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func simpleRequest() *llm.Request {
	return &llm.Request{
		Model:    "gpt-4o-mini",
		Messages: []llm.Message{llm.SystemMessage("Be brief."), llm.UserText("Where is my ticket?")},
	}
}

var bg = context.Background()
