package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestErrorTable walks every kind: the table in the package documentation
// must list it with the same retry/fallback/breaker answers as the code,
// and the principles from DESIGN.md must hold.
func TestErrorTable(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]Handling{}
	inTable := false
	for _, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(f) >= 2 && f[0] == "kind" && f[1] == "retry" {
			inTable = true
			continue
		}
		if !inTable {
			continue
		}
		if len(f) < 4 {
			break
		}
		yes := func(s string) bool { return s == "yes" }
		doc[f[0]] = Handling{Retry: yes(f[1]), Fallback: yes(f[2]), Breaker: yes(f[3])}
	}
	for _, k := range Kinds() {
		t.Run(k.String(), func(t *testing.T) {
			row, ok := doc[k.String()]
			if !ok {
				t.Fatalf("kind %s is missing from the table in doc.go", k)
			}
			if row != k.Handling() {
				t.Errorf("doc.go says %+v, code says %+v", row, k.Handling())
			}
		})
	}
	if len(doc) != len(Kinds()) {
		t.Errorf("doc.go lists %d kinds, code defines %d", len(doc), len(Kinds()))
	}
	never := []Kind{KindInvalidRequest, KindCanceled, KindGuardBlocked, KindContextLength, KindAuth, KindNotFound, KindPolicyDenied}
	for _, k := range never {
		if k.Handling().Breaker {
			t.Errorf("%s must never count against a breaker", k)
		}
	}
	if KindQuotaExhausted.Handling().Retry {
		t.Error("insufficient_quota must never be retried")
	}
}

func TestRetryable(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"rate limited", &Error{Kind: KindRateLimited}, true},
		{"quota never, even when told to", &Error{Kind: KindQuotaExhausted, ShouldRetry: &yes}, false},
		{"canceled never", &Error{Kind: KindCanceled, ShouldRetry: &yes}, false},
		{"x-should-retry false wins", &Error{Kind: KindUnavailable, ShouldRetry: &no}, false},
		{"x-should-retry true wins", &Error{Kind: KindInvalidRequest, ShouldRetry: &yes}, true},
		{"wrapped", fmt.Errorf("call: %w", &Error{Kind: KindTimeout}), true},
		{"bare deadline", context.DeadlineExceeded, true},
		{"bare cancel", context.Canceled, false},
		{"bare reset", syscall.ECONNRESET, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"plain error", errors.New("boom"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestErrorsIsKind(t *testing.T) {
	err := fmt.Errorf("outer: %w", &Error{Kind: KindRateLimited, Err: context.DeadlineExceeded})
	if !errors.Is(err, KindRateLimited) {
		t.Error("errors.Is(err, KindRateLimited) = false")
	}
	if errors.Is(err, KindTimeout) {
		t.Error("errors.Is(err, KindTimeout) = true for a rate-limit error")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("cause not reachable through Unwrap")
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRateLimited {
		t.Error("errors.As failed")
	}
	if KindOf(err) != KindRateLimited {
		t.Errorf("KindOf = %v", KindOf(err))
	}
}

func TestKindForStatus(t *testing.T) {
	tests := map[int]Kind{
		400: KindInvalidRequest, 401: KindAuth, 402: KindQuotaExhausted, 403: KindAuth, 404: KindNotFound,
		408: KindTimeout, 409: KindUnavailable, 413: KindContextLength, 422: KindInvalidRequest,
		429: KindRateLimited, 500: KindUnavailable, 502: KindUnavailable, 503: KindUnavailable,
		529: KindUnavailable, 200: KindUnknown,
	}
	for status, want := range tests {
		if got := KindForStatus(status); got != want {
			t.Errorf("KindForStatus(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestHTTPError(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", "2")
	h.Set("X-Request-Id", "req_123")
	h.Set("X-Should-Retry", "false")
	e := HTTPError("openai", "gpt-4o", 429, h, "rate_limit_exceeded",
		"Rate limit reached. Incorrect API key provided: sk-proj-abcdef123456", now)
	if e.Kind != KindRateLimited || e.RetryAfter != 2*time.Second || e.RequestID != "req_123" {
		t.Errorf("got %+v", e)
	}
	if e.ShouldRetry == nil || *e.ShouldRetry {
		t.Error("x-should-retry: false not honoured")
	}
	if Retryable(e) {
		t.Error("Retryable despite x-should-retry: false")
	}
	s := e.Error()
	if strings.Contains(s, "abcdef123456") {
		t.Errorf("key leaked: %s", s)
	}
	for _, want := range []string{"openai", "gpt-4o", "rate_limited", "429", "rate_limit_exceeded", "req_123", "2s"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q missing from %q", want, s)
		}
	}
}

func TestHTTPErrorCodes(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   Kind
	}{
		{429, "insufficient_quota", KindQuotaExhausted},
		{429, "rate_limit_exceeded", KindRateLimited},
		{400, "context_length_exceeded", KindContextLength},
		{400, "string_above_max_length", KindContextLength},
		{400, "content_filter", KindContentFiltered},
		{400, "content_policy_violation", KindContentFiltered},
		{400, "invalid_value", KindInvalidRequest},
		{503, "", KindUnavailable},
		{500, "content_filter", KindUnavailable},
		{0, "context_length_exceeded", KindContextLength},
	}
	for _, tt := range tests {
		e := HTTPError("p", "m", tt.status, nil, tt.code, "", time.Time{})
		if e.Kind != tt.want {
			t.Errorf("HTTPError(%d, %q).Kind = %v, want %v", tt.status, tt.code, e.Kind, tt.want)
		}
	}
	if Retryable(HTTPError("p", "m", 429, nil, "insufficient_quota", "", time.Time{})) {
		t.Error("insufficient_quota retryable")
	}
}

// TestHTTPErrorIgnoresResetsOutside429: OpenAI sends rate-limit reset
// headers on every metered response; on a 500 they must not turn into a
// retry-after that stops the retry middleware from retrying.
func TestHTTPErrorIgnoresResetsOutside429(t *testing.T) {
	h := http.Header{}
	h.Set("X-Ratelimit-Reset-Requests", "120ms")
	h.Set("X-Ratelimit-Reset-Tokens", "2m0s")
	h.Set("X-Ratelimit-Remaining-Requests", "0")
	h.Set("X-Ratelimit-Remaining-Tokens", "0")
	if e := HTTPError("p", "m", 500, h, "", "boom", time.Time{}); e.RetryAfter != 0 {
		t.Errorf("500 got RetryAfter %v", e.RetryAfter)
	}
	if e := HTTPError("p", "m", 429, h, "", "slow down", time.Time{}); e.RetryAfter != 2*time.Minute {
		t.Errorf("429 got RetryAfter %v, want 2m", e.RetryAfter)
	}
	h.Set("Retry-After", "4")
	if e := HTTPError("p", "m", 503, h, "", "overloaded", time.Time{}); e.RetryAfter != 4*time.Second {
		t.Errorf("503 with Retry-After got %v", e.RetryAfter)
	}
}

func TestRedactSecrets(t *testing.T) {
	secrets := []string{
		"sk-proj-abcdefghijklmnop", "sk-ant-api03-abcdefghij", "Bearer eyJhbGciOiJIUzI1NiJ9.abc.def",
		"api_key=supersecretvalue", "https://user:hunter22@example.com/v1", `"api-key": "abcd1234efgh"`,
		"token_sk-proj-abcdefghijklmnop", "https://generativelanguage.example/v1?key=supersecretvalue&alt=sse",
	}
	for _, s := range secrets {
		in := "failed with " + s + " here"
		out := RedactSecrets(in)
		if out == in {
			t.Errorf("RedactSecrets(%q) left it unchanged", in)
		}
		for _, part := range []string{"abcdefghijklmnop", "api03-abcdefghij", "eyJhbGciOiJIUzI1NiJ9", "supersecretvalue", "hunter22", "abcd1234efgh"} {
			if strings.Contains(out, part) {
				t.Errorf("RedactSecrets(%q) = %q still holds %q", in, out, part)
			}
		}
	}
	for _, plain := range []string{
		"The model gpt-4o does not exist or you do not have access to it.",
		"a basic approach to retries",
		"monkey: 12345 bananas",
		"key: value must be a string",
		"max_tokens is too large: 100000. This model supports at most 16384 completion tokens",
		"Invalid 'messages[1].content': string too long. Expected a string with maximum length 1048576",
	} {
		if got := RedactSecrets(plain); got != plain {
			t.Errorf("plain message changed: %q -> %q", plain, got)
		}
	}
}

func TestTransportError(t *testing.T) {
	tests := []struct {
		err  error
		want Kind
	}{
		{context.Canceled, KindCanceled},
		{context.DeadlineExceeded, KindTimeout},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), KindUnavailable},
		{io.ErrUnexpectedEOF, KindUnavailable},
		{errors.New("something odd"), KindUnavailable},
		{&Error{Kind: KindAuth}, KindAuth},
	}
	for _, tt := range tests {
		if got := TransportError("p", "m", tt.err).Kind; got != tt.want {
			t.Errorf("TransportError(%v).Kind = %v, want %v", tt.err, got, tt.want)
		}
	}
}
