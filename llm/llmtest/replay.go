package llmtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/keel-go/keel/llm"
)

// Record and replay of provider HTTP sessions.
//
// A recording is a JSON file ("cassette") that people can read and review
// in a diff:
//
//	{
//	  "version": 1,
//	  "interactions": [
//	    {
//	      "request":  {"method": "POST", "url": "...", "header": {...}, "body_json": {...}},
//	      "response": {"status": 200, "header": {...}, "body": "data: {...}\n\n..."}
//	    }
//	  ]
//	}
//
// Interactions are in the order the requests were sent and header names are
// sorted, so recording the same session twice gives the same file.
//
// What is scrubbed: the values of credential headers (Authorization,
// Proxy-Authorization, Api-Key, X-Api-Key, Cookie, Set-Cookie, and any header
// whose name contains "api-key", "apikey", "secret", "password",
// "authorization" or "cookie", or ends in "-token"), in requests and
// responses alike; other header values pass through llm.RedactSecrets; in
// URLs, query values whose name looks like a credential (key, token,
// secret, password, signature, ...) or whose value looks like a key, and
// user:password info. Scrubbed values are replaced with "[REDACTED]" in
// headers and "REDACTED" in URLs.
//
// What is not scrubbed: bodies. Response bodies are stored and replayed
// byte for byte (as a JSON string, or base64 when they are not UTF-8), and
// request bodies are kept for matching (as embedded JSON when they are
// JSON). Providers take credentials in headers, so bodies normally carry
// none; do not put real secrets or personal data in prompts you record.

const cassetteVersion = 1

// redacted replaces scrubbed header values; redactedParam replaces scrubbed
// URL parts (without brackets, which URLs would percent-encode).
const (
	redacted      = "[REDACTED]"
	redactedParam = "REDACTED"
)

// ErrNotRecorded is in the chain of the error a Replayer returns for a
// request that matches no unused recorded interaction.
var ErrNotRecorded = errors.New("llmtest: request not recorded")

type cassette struct {
	Version      int            `json:"version"`
	Interactions []*interaction `json:"interactions"`
}

type interaction struct {
	Request  recordedRequest  `json:"request"`
	Response recordedResponse `json:"response"`
}

type recordedRequest struct {
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	// One of the body fields is set when the request had a body: JSON
	// bodies are embedded (readable, compared as JSON), other UTF-8 text
	// is a string, anything else base64.
	BodyJSON   json.RawMessage `json:"body_json,omitempty"`
	Body       string          `json:"body,omitempty"`
	BodyBase64 string          `json:"body_base64,omitempty"`
}

type recordedResponse struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	// Body is the body byte for byte when it is UTF-8, else BodyBase64.
	Body       string `json:"body,omitempty"`
	BodyBase64 string `json:"body_base64,omitempty"`
}

// Recorder is an http.RoundTripper that passes requests to another
// RoundTripper and records every completed request/response pair, scrubbed
// of credentials, for Save to write to a file that a Replayer serves
// later. Give it to the provider's HTTP client:
//
//	rec := llmtest.NewRecorder("testdata/chat.json", nil)
//	client := &http.Client{Transport: rec}
//	// ... run the session against the real provider ...
//	if err := rec.Close(); err != nil { t.Fatal(err) }
//
// Each response body is read completely before RoundTrip returns (so a
// streamed response is recorded whole, even if the caller stops reading
// early); a request that fails in transport or while its body is read is
// not recorded. A Recorder is safe for concurrent use; interactions are
// written in the order their requests were sent.
type Recorder struct {
	path string
	next http.RoundTripper

	mu    sync.Mutex
	slots []*interaction // nil for requests that failed or are in flight
}

// NewRecorder returns a Recorder that writes to path and sends requests
// through next (http.DefaultTransport when nil).
func NewRecorder(path string, next http.RoundTripper) *Recorder {
	if next == nil {
		next = http.DefaultTransport
	}
	return &Recorder{path: path, next: next}
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := drainBody(req)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
	}
	r.mu.Lock()
	slot := len(r.slots)
	r.slots = append(r.slots, nil)
	r.mu.Unlock()

	resp, err := r.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))

	it := &interaction{
		Request: recordedRequest{
			Method: req.Method,
			URL:    scrubURL(req.URL),
			Header: scrubHeader(req.Header),
		},
		Response: recordedResponse{
			Status: resp.StatusCode,
			Header: scrubHeader(resp.Header),
		},
	}
	switch {
	case len(body) == 0:
	case json.Valid(body):
		it.Request.BodyJSON = body
	case utf8.Valid(body):
		it.Request.Body = string(body)
	default:
		it.Request.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	if utf8.Valid(data) {
		it.Response.Body = string(data)
	} else {
		it.Response.BodyBase64 = base64.StdEncoding.EncodeToString(data)
	}
	r.mu.Lock()
	r.slots[slot] = it
	r.mu.Unlock()
	return resp, nil
}

// Save writes the interactions recorded so far to the file, creating its
// directory if needed and replacing the file atomically. It may be called
// more than once.
func (r *Recorder) Save() error {
	c := cassette{Version: cassetteVersion, Interactions: []*interaction{}}
	r.mu.Lock()
	for _, it := range r.slots {
		if it != nil {
			c.Interactions = append(c.Interactions, it)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(c)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("llmtest: encode recording: %w", err)
	}
	return writeFileAtomic(r.path, buf.Bytes())
}

// Close saves the recording; see Save.
func (r *Recorder) Close() error { return r.Save() }

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("llmtest: save recording: %w", err)
	}
	f, err := os.CreateTemp(dir, ".llmtest-*.json")
	if err != nil {
		return fmt.Errorf("llmtest: save recording: %w", err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), 0o644)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("llmtest: save recording: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("llmtest: save recording: %w", err)
	}
	return nil
}

// Replayer is an http.RoundTripper that serves a recording made by a
// Recorder, without any network: each request is matched to the first
// unused interaction with the same method, URL (compared after scrubbing)
// and body (compared as JSON when both are JSON, else byte for byte), and
// gets its response back byte for byte: status, headers (as scrubbed when
// recorded) and body, text/event-stream bodies included. Identical
// requests are served their recorded responses in order.
//
// A request that matches nothing fails loudly: RoundTrip returns an error
// wrapping ErrNotRecorded that shows the method, URL and an excerpt of the
// body. A Replayer is safe for concurrent use.
type Replayer struct {
	path string
	t    testing.TB

	mu           sync.Mutex
	interactions []*interaction
	reqBodies    [][]byte
	respBodies   [][]byte
	used         []bool
}

// NewReplayer loads the recording at path.
func NewReplayer(path string) (*Replayer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("llmtest: load recording (record it with NewRecorder first): %w", err)
	}
	var c cassette
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("llmtest: load recording %s: %w", path, err)
	}
	if c.Version != cassetteVersion {
		return nil, fmt.Errorf("llmtest: load recording %s: unsupported version %d (want %d)", path, c.Version, cassetteVersion)
	}
	p := &Replayer{path: path, interactions: c.Interactions, used: make([]bool, len(c.Interactions))}
	for i, it := range c.Interactions {
		if it == nil {
			return nil, fmt.Errorf("llmtest: load recording %s: interaction %d is null", path, i)
		}
		reqBody, err := it.Request.body()
		if err != nil {
			return nil, fmt.Errorf("llmtest: load recording %s: interaction %d request: %w", path, i, err)
		}
		respBody, err := it.Response.body()
		if err != nil {
			return nil, fmt.Errorf("llmtest: load recording %s: interaction %d response: %w", path, i, err)
		}
		p.reqBodies = append(p.reqBodies, reqBody)
		p.respBodies = append(p.respBodies, respBody)
	}
	return p, nil
}

// Replay loads the recording at path for a test: it calls t.Fatal if the
// file cannot be loaded, t.Errorf for every request that matches no
// recorded interaction (RoundTrip also returns the error), and, when the
// test ends, t.Errorf for every recorded interaction that was never
// replayed.
func Replay(t testing.TB, path string) *Replayer {
	t.Helper()
	p, err := NewReplayer(path)
	if err != nil {
		t.Fatal(err)
	}
	p.t = t
	t.Cleanup(func() {
		for _, u := range p.Unused() {
			t.Errorf("llmtest: recorded interaction was never replayed: %s", u)
		}
	})
	return p
}

// RoundTrip implements http.RoundTripper.
func (p *Replayer) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := drainBody(req)
	if err != nil {
		return nil, err
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	u := scrubURL(req.URL)
	p.mu.Lock()
	sameURL := 0
	for i, it := range p.interactions {
		if p.used[i] || it.Request.Method != req.Method || it.Request.URL != u {
			continue
		}
		if !sameBody(p.reqBodies[i], body) {
			sameURL++
			continue
		}
		p.used[i] = true
		resp := replayResponse(req, it.Response, p.respBodies[i])
		p.mu.Unlock()
		return resp, nil
	}
	p.mu.Unlock()

	err = fmt.Errorf("%w in %s: %s %s with body %s", ErrNotRecorded, p.path, req.Method, u, excerpt(body))
	if sameURL > 0 {
		err = fmt.Errorf("%w (%d unused recordings of %s %s have a different body; record the session again if the request changed)",
			err, sameURL, req.Method, u)
	}
	if p.t != nil {
		p.t.Errorf("%v", err)
	}
	return nil, err
}

// Unused describes the recorded interactions not replayed yet, as
// "#index METHOD URL", in recording order.
func (p *Replayer) Unused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for i, it := range p.interactions {
		if !p.used[i] {
			out = append(out, fmt.Sprintf("#%d %s %s", i, it.Request.Method, it.Request.URL))
		}
	}
	return out
}

func replayResponse(req *http.Request, r recordedResponse, body []byte) *http.Response {
	h := r.Header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status)),
		StatusCode:    r.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

func (r recordedRequest) body() ([]byte, error) {
	switch {
	case r.BodyBase64 != "":
		return base64.StdEncoding.DecodeString(r.BodyBase64)
	case r.BodyJSON != nil:
		return []byte(r.BodyJSON), nil
	case r.Body != "":
		return []byte(r.Body), nil
	}
	return nil, nil
}

func (r recordedResponse) body() ([]byte, error) {
	if r.BodyBase64 != "" {
		return base64.StdEncoding.DecodeString(r.BodyBase64)
	}
	return []byte(r.Body), nil
}

// drainBody reads and closes req.Body, as a RoundTripper must.
func drainBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("llmtest: read request body: %w", err)
	}
	return b, nil
}

// sameBody compares request bodies: as JSON values when both are JSON (so
// white space and key order do not matter), byte for byte otherwise.
func sameBody(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if len(a) == 0 || len(b) == 0 || !json.Valid(a) || !json.Valid(b) {
		return false
	}
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// excerpt quotes the start of a body for an error message, with secrets
// masked.
func excerpt(b []byte) string {
	const limit = 240
	if len(b) == 0 {
		return "(empty)"
	}
	s, more := b, ""
	if len(s) > limit {
		s, more = s[:limit], "..."
	}
	return fmt.Sprintf("%q%s", llm.RedactSecrets(strings.ToValidUTF8(string(s), "")), more)
}

func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "api-key", "x-api-key", "x-goog-api-key", "ocp-apim-subscription-key":
		return true
	}
	for _, s := range []string{"authorization", "cookie", "api-key", "apikey", "secret", "password"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	// "-token" but not the "-tokens" of rate-limit headers.
	return strings.HasSuffix(n, "-token")
}

func scrubHeader(h http.Header) http.Header {
	if len(h) == 0 {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		c := make([]string, len(vs))
		for i, v := range vs {
			if sensitiveHeader(k) {
				c[i] = redacted
			} else {
				c[i] = llm.RedactSecrets(v)
			}
		}
		out[k] = c
	}
	return out
}

func sensitiveParam(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "token", "sig", "auth", "access_token", "id_token", "refresh_token", "code":
		return true
	}
	for _, s := range []string{"key", "secret", "password", "signature", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return strings.HasSuffix(n, "_token") || strings.HasSuffix(n, "-token")
}

// scrubURL returns u as a string with credentials in its user info and
// query masked. A URL without credentials is returned unchanged.
func scrubURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(redactedParam)
	}
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			c.RawQuery = llm.RedactSecrets(c.RawQuery)
		} else {
			changed := false
			for k, vs := range q {
				for i, v := range vs {
					if v != redactedParam && (sensitiveParam(k) || llm.RedactSecrets(v) != v) {
						vs[i] = redactedParam
						changed = true
					}
				}
			}
			if changed {
				c.RawQuery = q.Encode()
			}
		}
	}
	return c.String()
}
