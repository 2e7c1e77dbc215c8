package llmtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keel-go/keel/llm/llmtest"
)

const (
	apiKey      = "sk-test-SECRETKEY1234567890"
	azureKey    = "AZUREKEY0123456789abcdef"
	queryKey    = "QUERYKEY0123456789"
	cookieValue = "COOKIEVALUE0123456789"
	sseBody     = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n" +
		": keep-alive comment\n\n" +
		"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5}}\n\n" +
		"data: [DONE]\n\n"
)

var binaryBody = []byte{0xff, 0xfe, 0x00, 0x01, 'b', 'i', 'n', 0x80}

// provider is a local stand-in for an LLM provider's HTTP API.
func provider(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits, chats atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+apiKey {
			http.Error(w, `{"error":{"message":"Incorrect API key provided"}}`, http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Request-Id", "req_123")
		w.Header().Set("Set-Cookie", "__cf_bm="+cookieValue+"; path=/; HttpOnly")
		w.Header().Set("X-Ratelimit-Remaining-Tokens", "9000")
		if bytes.Contains(body, []byte(`"stream":true`)) {
			w.Header().Set("Content-Type", "text/event-stream")
			f := w.(http.Flusher)
			for chunk := range strings.SplitAfterSeq(sseBody, "\n\n") {
				io.WriteString(w, chunk)
				f.Flush()
			}
			return
		}
		n := chats.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-%d","choices":[{"message":{"role":"assistant","content":"answer %d <b>&</b>"}}]}`+"\n", n, n)
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("key") != queryKey {
			http.Error(w, "bad key", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":[{"id":"gpt-test"}]}`)
	})
	mux.HandleFunc("GET /v1/files/bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(binaryBody)
	})
	mux.HandleFunc("GET /v1/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

type exchange struct {
	name   string
	method string
	path   string
	body   string
	header map[string]string
}

func session() []exchange {
	auth := map[string]string{
		"Authorization": "Bearer " + apiKey,
		"Api-Key":       azureKey,
		"X-Api-Key":     azureKey,
		"Cookie":        "session=" + cookieValue,
		"Content-Type":  "application/json",
	}
	chat := `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`
	return []exchange{
		{"chat", "POST", "/v1/chat/completions", chat, auth},
		{"chat again (same request, new answer)", "POST", "/v1/chat/completions", chat, auth},
		{"stream", "POST", "/v1/chat/completions", `{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`, auth},
		{"key in query", "GET", "/v1/models?key=" + queryKey + "&limit=2", "", nil},
		{"binary", "GET", "/v1/files/bin", "", nil},
		{"error status", "GET", "/v1/missing", "", nil},
	}
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func do(ctx context.Context, client *http.Client, base string, ex exchange) (result, error) {
	var body io.Reader
	if ex.body != "" {
		body = strings.NewReader(ex.body)
	}
	req, err := http.NewRequestWithContext(ctx, ex.method, base+ex.path, body)
	if err != nil {
		return result{}, err
	}
	for k, v := range ex.header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{resp.StatusCode, resp.Header, b}, nil
}

// record runs the session against a live local server and returns the
// recording's path, the server's base URL and what the client received.
func record(t *testing.T) (string, string, []result) {
	srv, hits := provider(t)
	path := filepath.Join(t.TempDir(), "sub", "session.json")
	rec := llmtest.NewRecorder(path, nil)
	client := &http.Client{Transport: rec}
	var live []result
	for _, ex := range session() {
		r, err := do(t.Context(), client, srv.URL, ex)
		if err != nil {
			t.Fatalf("%s: %v", ex.name, err)
		}
		live = append(live, r)
	}
	if int(hits.Load()) != len(session()) {
		t.Fatalf("server saw %d requests, want %d", hits.Load(), len(session()))
	}
	if live[0].status != 200 || live[2].header.Get("Content-Type") != "text/event-stream" || string(live[2].body) != sseBody {
		t.Fatalf("recording did not pass responses through: %+v", live[:3])
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	return path, srv.URL, live
}

func TestRecordReplay(t *testing.T) {
	path, base, live := record(t)

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("file is scrubbed", func(t *testing.T) {
		for _, secret := range []string{apiKey, "SECRETKEY", azureKey, queryKey, cookieValue} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("recording contains secret %q", secret)
			}
		}
		for _, want := range []string{`"Authorization": [`, `"[REDACTED]"`, "key=REDACTED", `"X-Ratelimit-Remaining-Tokens": [`, `"9000"`} {
			if !bytes.Contains(data, []byte(want)) {
				t.Errorf("recording lacks %s", want)
			}
		}
	})
	t.Run("file is readable JSON", func(t *testing.T) {
		var c struct {
			Version      int `json:"version"`
			Interactions []struct {
				Request struct {
					Method   string          `json:"method"`
					BodyJSON json.RawMessage `json:"body_json"`
				} `json:"request"`
				Response struct {
					Status     int    `json:"status"`
					BodyBase64 string `json:"body_base64"`
				} `json:"response"`
			} `json:"interactions"`
		}
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		if c.Version != 1 || len(c.Interactions) != len(session()) {
			t.Fatalf("version %d with %d interactions", c.Version, len(c.Interactions))
		}
		if !bytes.Contains(c.Interactions[0].Request.BodyJSON, []byte(`"gpt-test"`)) || c.Interactions[4].Response.BodyBase64 == "" {
			t.Errorf("bodies not stored as embedded JSON / base64")
		}
		if !bytes.Contains(data, []byte("\n    ")) || !bytes.Contains(data, []byte(`<b>&</b>`)) {
			t.Errorf("recording is not indented, or escapes HTML")
		}
	})

	t.Run("replays byte for byte without a server", func(t *testing.T) {
		p, err := llmtest.NewReplayer(path)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: p}
		for i, ex := range session() {
			// Credentials differ at replay time: headers are not matched.
			if ex.header != nil {
				ex.header["Authorization"] = "Bearer sk-other-key-000000"
			}
			got, err := do(t.Context(), client, base, ex)
			if err != nil {
				t.Fatalf("%s: %v", ex.name, err)
			}
			want := live[i]
			if got.status != want.status || !bytes.Equal(got.body, want.body) {
				t.Errorf("%s: replayed %d %q, recorded %d %q", ex.name, got.status, got.body, want.status, want.body)
			}
			for _, h := range []string{"Content-Type", "X-Request-Id", "X-Ratelimit-Remaining-Tokens"} {
				if got.header.Get(h) != want.header.Get(h) {
					t.Errorf("%s: header %s = %q, recorded %q", ex.name, h, got.header.Get(h), want.header.Get(h))
				}
			}
			if c := got.header.Get("Set-Cookie"); c != "" && c != "[REDACTED]" {
				t.Errorf("%s: Set-Cookie replayed as %q", ex.name, c)
			}
		}
		if u := p.Unused(); len(u) != 0 {
			t.Errorf("Unused() = %v after replaying everything", u)
		}
	})

	t.Run("unrecorded requests fail loudly", func(t *testing.T) {
		tests := []struct {
			name     string
			ex       exchange
			wantMsgs []string
		}{
			{"different body", exchange{method: "POST", path: "/v1/chat/completions", body: `{"model":"gpt-test","messages":[{"role":"user","content":"something new"}]}`},
				[]string{"POST", base + "/v1/chat/completions", "something new", "different body"}},
			{"different path", exchange{method: "GET", path: "/v1/unknown"},
				[]string{"GET", base + "/v1/unknown", "(empty)"}},
			{"different method", exchange{method: "DELETE", path: "/v1/files/bin"},
				[]string{"DELETE", "/v1/files/bin"}},
			{"secret in query is not echoed", exchange{method: "GET", path: "/v1/models?key=" + queryKey + "&limit=3"},
				[]string{"key=REDACTED", "limit=3"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := llmtest.NewReplayer(path)
				if err != nil {
					t.Fatal(err)
				}
				_, err = do(t.Context(), &http.Client{Transport: p}, base, tt.ex)
				if !errors.Is(err, llmtest.ErrNotRecorded) {
					t.Fatalf("err = %v, want ErrNotRecorded", err)
				}
				var msg string
				for e := err; e != nil; e = errors.Unwrap(e) {
					if _, isURLErr := e.(*url.Error); !isURLErr {
						msg = e.Error() // the Replayer's own message, without url.Error's prefix
						break
					}
				}
				for _, want := range tt.wantMsgs {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q lacks %q", msg, want)
					}
				}
				if strings.Contains(msg, queryKey) {
					t.Errorf("error leaks the query key: %s", msg)
				}
				if len(p.Unused()) != len(session()) {
					t.Errorf("a failed match consumed an interaction")
				}
			})
		}
	})

	t.Run("JSON bodies match by value", func(t *testing.T) {
		p, err := llmtest.NewReplayer(path)
		if err != nil {
			t.Fatal(err)
		}
		reordered := exchange{method: "POST", path: "/v1/chat/completions",
			body: "{\n  \"messages\": [{\"content\": \"hi\", \"role\": \"user\"}],\n  \"model\": \"gpt-test\"\n}"}
		got, err := do(t.Context(), &http.Client{Transport: p}, base, reordered)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.body, live[0].body) {
			t.Errorf("got %q, want the first recorded answer", got.body)
		}
		if u := p.Unused(); len(u) != len(session())-1 || !strings.HasPrefix(u[0], "#1 POST ") {
			t.Errorf("Unused() = %v", u)
		}
	})
}

// fakeTB records what Replay reports.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatal(args ...any) { f.Errorf("%s", fmt.Sprint(args...)); panic("fatal") }
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func TestReplayReportsToTest(t *testing.T) {
	path, base, _ := record(t)
	ftb := &fakeTB{}
	p := llmtest.Replay(ftb, path)
	client := &http.Client{Transport: p}
	ex := session()
	if _, err := do(t.Context(), client, base, ex[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := do(t.Context(), client, base, exchange{method: "GET", path: "/v1/nope"}); err == nil {
		t.Fatal("unrecorded request succeeded")
	}
	if len(ftb.errs) != 1 || !strings.Contains(ftb.errs[0], "GET "+base+"/v1/nope") {
		t.Errorf("errors after an unmatched request = %q", ftb.errs)
	}
	for _, fn := range ftb.cleanups {
		fn()
	}
	// Five recorded interactions were never replayed.
	if len(ftb.errs) != 1+len(ex)-1 || !strings.Contains(ftb.errs[1], "never replayed: #1 POST") {
		t.Errorf("errors at cleanup = %q", ftb.errs)
	}
}

func TestReplayerLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "record it with NewRecorder"},
		{"not JSON", write("bad.json", "{"), "load recording"},
		{"wrong version", write("v9.json", `{"version":9,"interactions":[]}`), "unsupported version 9"},
		{"bad base64", write("b64.json", `{"version":1,"interactions":[{"request":{"method":"GET","url":"x"},"response":{"status":200,"body_base64":"!!"}}]}`), "interaction 0 response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := llmtest.NewReplayer(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	ftb := &fakeTB{}
	func() {
		defer func() { recover() }()
		llmtest.Replay(ftb, filepath.Join(dir, "nope.json"))
	}()
	if len(ftb.errs) != 1 {
		t.Errorf("Replay of a missing file did not fail the test: %q", ftb.errs)
	}
}

func TestRecorderStableAndConcurrent(t *testing.T) {
	srv, _ := provider(t)
	dir := t.TempDir()
	run := func(name string, concurrent bool) []byte {
		path := filepath.Join(dir, name)
		rec := llmtest.NewRecorder(path, nil)
		client := &http.Client{Transport: rec}
		ex := session()[3:] // requests whose answers do not depend on order
		var wg sync.WaitGroup
		for _, e := range ex {
			if concurrent {
				wg.Go(func() {
					if _, err := do(t.Context(), client, srv.URL, e); err != nil {
						t.Error(err)
					}
				})
			} else if _, err := do(t.Context(), client, srv.URL, e); err != nil {
				t.Error(err)
			}
		}
		wg.Wait()
		if err := rec.Save(); err != nil {
			t.Fatal(err)
		}
		first, _ := os.ReadFile(path)
		if err := rec.Save(); err != nil { // saving again gives the same file
			t.Fatal(err)
		}
		second, _ := os.ReadFile(path)
		if !bytes.Equal(first, second) {
			t.Errorf("two saves differ")
		}
		return first
	}
	a, b := run("a.json", false), run("b.json", false)
	if !bytes.Equal(normalizeDates(a), normalizeDates(b)) {
		t.Errorf("recording the same session twice gave different files:\n%s\n%s", a, b)
	}
	c := run("c.json", true)
	p, err := llmtest.NewReplayer(filepath.Join(dir, "c.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Unused()) != 3 {
		t.Errorf("concurrent recording has %d interactions, want 3:\n%s", len(p.Unused()), c)
	}
}

// normalizeDates blanks the Date response header, the only part of a
// recording that changes between runs.
func normalizeDates(b []byte) []byte {
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		return b
	}
	for _, it := range c["interactions"].([]any) {
		resp := it.(map[string]any)["response"].(map[string]any)
		if h, ok := resp["header"].(map[string]any); ok {
			delete(h, "Date")
		}
	}
	out, _ := json.Marshal(c)
	return out
}
