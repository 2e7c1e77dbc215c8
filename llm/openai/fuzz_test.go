package openai

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
)

// cannedClient returns a client whose transport answers every request with
// status, headers and body, without a network.
func cannedClient(t testing.TB, status int, header http.Header, body []byte) *Client {
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			_ = r.Body.Close()
		}
		h := header.Clone()
		if h == nil {
			h = http.Header{}
		}
		return &http.Response{
			StatusCode: status, Status: http.StatusText(status), Header: h,
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
			Request: r, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		}, nil
	})}
	c, err := New(WithBaseURL("http://fuzz.invalid/v1"), WithAPIKey(testKey), WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addFixtureSeeds(f *testing.F, pattern string) {
	names, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzStream feeds arbitrary bytes as the SSE body of a 200 response. The
// stream must never panic, and must end either with an error (an
// *llm.Error) or with a complete answer: a start and a finish event.
func FuzzStream(f *testing.F) {
	addFixtureSeeds(f, "*.sse")
	f.Add([]byte("data: [DONE]\n\n"))
	f.Add([]byte("data: {\"error\":null}\n\n"))
	f.Add([]byte("event: ping\ndata: {}\n\n: comment\n\ndata: [DONE]"))
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":-5,\"function\":{\"arguments\":\"{\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n"))
	header := http.Header{"Content-Type": {"text/event-stream"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		c := cannedClient(t, 200, header, body)
		var evs []llm.Event
		var err error
		for ev, e := range c.Stream(bg, simpleRequest()) {
			if e != nil {
				err = e
				break
			}
			evs = append(evs, ev)
		}
		if err != nil {
			e, ok := err.(*llm.Error)
			if !ok {
				t.Fatalf("error %T %v is not *llm.Error", err, err)
			}
			if strings.HasPrefix(e.Kind.String(), "kind(") || strings.Contains(e.Error(), testKey) {
				t.Fatalf("bad error %v", e)
			}
			return
		}
		if len(evs) < 2 || evs[0].Kind != llm.EventStart {
			t.Fatalf("stream ended without error and without a start: %v", evs)
		}
		finished := false
		for _, ev := range evs {
			if ev.Kind == llm.EventFinish {
				finished = true
			}
			if ev.Kind == llm.EventStart && ev != evs[0] {
				t.Fatalf("second start event")
			}
		}
		if !finished {
			t.Fatalf("stream ended without error and without a finish: %v", evs)
		}
		// Collect must accept whatever the stream produced.
		if _, err := llm.Collect(llm.StreamResponse(mustCollect(t, evs))); err != nil {
			t.Fatal(err)
		}
	})
}

func mustCollect(t *testing.T, evs []llm.Event) *llm.Response {
	var acc llm.Accumulator
	for _, ev := range evs {
		acc.Add(ev)
	}
	return acc.Response()
}

// FuzzErrorMapping feeds arbitrary status codes, bodies and rate-limit
// headers to the error mapping, through openai-go (Generate and Stream
// against a canned response) and directly (HTTP and mid-stream errors).
func FuzzErrorMapping(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*error*.json"))
	for i, n := range names {
		b, _ := os.ReadFile(n)
		f.Add(400+i*13%200, b, "1.5", "", "", "6m0s", "false")
	}
	f.Add(429, []byte(`{"error":{"message":"Incorrect API key provided: sk-test-abc123secretvalue","code":"insufficient_quota"}}`),
		"Wed, 21 Oct 2015 07:28:00 GMT", "250", "true", "1s", "true")
	f.Add(500, []byte(`<html>`), "-3", "NaN", "maybe", "bogus", "")
	f.Add(0, []byte(`{"error":"x"}`), "1e309", "1e300", "", "99999h", "false")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter, retryAfterMs, shouldRetry, reset, tokensOut string) {
		if status < 400 || status > 599 {
			status = 400 + (status%200+200)%200
		}
		h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req_f"}}
		for k, v := range map[string]string{
			"Retry-After": retryAfter, "Retry-After-Ms": retryAfterMs, "X-Should-Retry": shouldRetry,
			"X-Ratelimit-Reset-Tokens": reset, "X-Ratelimit-Remaining-Tokens": tokensOut,
		} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				h.Set(k, v)
			}
		}
		check := func(what string, err error, wantStatus int) {
			e, ok := err.(*llm.Error)
			if !ok || e == nil {
				t.Fatalf("%s: error %T %v is not *llm.Error", what, err, err)
			}
			if strings.HasPrefix(e.Kind.String(), "kind(") {
				t.Fatalf("%s: invalid kind %d", what, e.Kind)
			}
			if wantStatus != 0 && e.Status != wantStatus {
				t.Fatalf("%s: status %d, want %d", what, e.Status, wantStatus)
			}
			if e.RetryAfter < 0 || e.RetryAfter > 24*time.Hour {
				t.Fatalf("%s: retry after %v", what, e.RetryAfter)
			}
			if strings.Contains(e.Error(), testKey) || strings.Contains(e.Error(), "abc123secret") {
				t.Fatalf("%s: key leaked: %s", what, e.Error())
			}
			if e.Kind == llm.KindQuotaExhausted && llm.Retryable(e) {
				t.Fatalf("%s: quota error is retryable", what)
			}
		}
		c := cannedClient(t, status, h, body)
		_, err := c.Generate(bg, simpleRequest())
		check("generate", err, status)
		_, err = collectEvents(t, c.Stream(bg, simpleRequest()))
		check("stream", err, status)
		check("httpError", c.httpError("m", status, h, parseErrorBody(body), nil), status)
		check("streamError", c.streamError("m", body, h, nil), 0)
	})
}
