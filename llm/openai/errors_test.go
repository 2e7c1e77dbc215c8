package openai

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"

	"github.com/keel-go/keel/llm"
)

var fixedNow = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func TestHTTPErrors(t *testing.T) {
	rateLimit := "error_429_rate_limit.json"
	tests := []struct {
		name       string
		status     int
		body       string // fixture name, or a literal body when it starts with '{' or '<'
		headers    []string
		kind       llm.Kind
		code       string // the provider's code only, never its type
		typ, param string
		retryAfter time.Duration
		retryable  bool
		msg        string
	}{
		{name: "429 retry-after seconds", status: 429, body: rateLimit, headers: []string{"Retry-After", "2"},
			kind: llm.KindRateLimited, code: "rate_limit_exceeded", typ: "tokens", retryAfter: 2 * time.Second, retryable: true, msg: "Rate limit reached"},
		{name: "429 retry-after fractional", status: 429, body: rateLimit, headers: []string{"Retry-After", "1.5"},
			kind: llm.KindRateLimited, code: "rate_limit_exceeded", typ: "tokens", retryAfter: 1500 * time.Millisecond, retryable: true},
		{name: "429 retry-after HTTP date", status: 429, body: rateLimit,
			headers: []string{"Retry-After", fixedNow.Add(30 * time.Second).Format(http.TimeFormat)},
			kind:    llm.KindRateLimited, code: "rate_limit_exceeded", typ: "tokens", retryAfter: 30 * time.Second, retryable: true},
		{name: "429 retry-after-ms wins", status: 429, body: rateLimit, headers: []string{"Retry-After-Ms", "384", "Retry-After", "1"},
			kind: llm.KindRateLimited, code: "rate_limit_exceeded", typ: "tokens", retryAfter: 384 * time.Millisecond, retryable: true},
		{name: "429 x-ratelimit-reset-tokens", status: 429, body: rateLimit,
			headers: []string{"X-Ratelimit-Reset-Requests", "1s", "X-Ratelimit-Reset-Tokens", "6m0s", "X-Ratelimit-Remaining-Requests", "59", "X-Ratelimit-Remaining-Tokens", "0"},
			kind:    llm.KindRateLimited, code: "rate_limit_exceeded", typ: "tokens", retryAfter: 6 * time.Minute, retryable: true},
		{name: "429 x-ratelimit-reset-requests", status: 429, body: rateLimit,
			headers: []string{"X-Ratelimit-Reset-Requests", "20ms", "X-Ratelimit-Reset-Tokens", "6m0s", "X-Ratelimit-Remaining-Requests", "0", "X-Ratelimit-Remaining-Tokens", "1000"},
			kind:    llm.KindRateLimited, code: "rate_limit_exceeded", typ: "tokens", retryAfter: 20 * time.Millisecond, retryable: true},
		{name: "429 without wait headers", status: 429, body: rateLimit,
			kind: llm.KindRateLimited, code: "rate_limit_exceeded", typ: "tokens", retryable: true},
		{name: "429 x-should-retry false", status: 429, body: rateLimit, headers: []string{"X-Should-Retry", "false"},
			kind: llm.KindRateLimited, code: "rate_limit_exceeded", typ: "tokens", retryable: false},
		{name: "400 x-should-retry true", status: 400, body: `{"error":{"message":"try again","type":"invalid_request_error","param":null,"code":null}}`,
			headers: []string{"X-Should-Retry", "true"}, kind: llm.KindInvalidRequest, typ: "invalid_request_error", retryable: true},
		{name: "insufficient quota", status: 429, body: "error_429_insufficient_quota.json", headers: []string{"X-Should-Retry", "true", "Retry-After", "20"},
			kind: llm.KindQuotaExhausted, code: "insufficient_quota", typ: "insufficient_quota", retryAfter: 20 * time.Second, retryable: false, msg: "exceeded your current quota"},
		{name: "500", status: 500, body: "error_500_server.json",
			kind: llm.KindUnavailable, typ: "server_error", retryable: true, msg: "The server had an error"},
		{name: "503 x-should-retry false", status: 503, body: "error_500_server.json", headers: []string{"X-Should-Retry", "false"},
			kind: llm.KindUnavailable, typ: "server_error", retryable: false},
		{name: "502 HTML from a proxy", status: 502, body: "<html><body>Bad gateway</body></html>",
			kind: llm.KindUnavailable, retryable: true},
		{name: "400 context length", status: 400, body: "error_400_context_length.json",
			kind: llm.KindContextLength, code: "context_length_exceeded", typ: "invalid_request_error", param: "messages", msg: "maximum context length"},
		{name: "400 context length by message only", status: 400,
			body: `{"error":{"message":"This model's maximum context length is 8192 tokens, however you requested 9000 tokens","type":"invalid_request_error","param":null,"code":null}}`,
			kind: llm.KindContextLength, typ: "invalid_request_error"},
		{name: "400 string_above_max_length", status: 400,
			body: `{"error":{"message":"Invalid 'messages[1].content': string too long.","type":"invalid_request_error","param":"messages[1].content","code":"string_above_max_length"}}`,
			kind: llm.KindContextLength, code: "string_above_max_length", typ: "invalid_request_error", param: "messages[1].content"},
		{name: "vLLM context length", status: 400, body: "compat_vllm_error_context.json",
			kind: llm.KindContextLength, code: "400", typ: "BadRequestError", msg: "maximum context length is 4096"},
		{name: "413", status: 413, body: `{"error":{"message":"Request too large","type":"invalid_request_error","param":null,"code":null}}`,
			kind: llm.KindContextLength, typ: "invalid_request_error"},
		{name: "401 echoed key", status: 401, body: "error_401_invalid_key.json",
			kind: llm.KindAuth, code: "invalid_api_key", typ: "invalid_request_error", msg: "Incorrect API key provided"},
		{name: "404 model", status: 404, body: "error_404_model.json", kind: llm.KindNotFound, code: "model_not_found", typ: "invalid_request_error"},
		{name: "Ollama string error", status: 404, body: "compat_ollama_error.json", kind: llm.KindNotFound, msg: "try pulling it first"},
		{name: "Azure content filter", status: 400, body: "compat_azure_content_filter.json", kind: llm.KindContentFiltered, code: "content_filter", param: "prompt"},
		{name: "content policy violation", status: 400,
			body: `{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}`,
			kind: llm.KindContentFiltered, code: "content_policy_violation", typ: "invalid_request_error"},
		{name: "408", status: 408, body: `{}`, kind: llm.KindTimeout, retryable: true},
		{name: "409", status: 409, body: `{}`, kind: llm.KindUnavailable, retryable: true},
		{name: "422", status: 422, body: `{"detail":[{"loc":["body","messages"],"msg":"field required"}]}`, kind: llm.KindInvalidRequest},
		{name: "403", status: 403, body: `{"error":{"message":"Project does not have access to model","type":"invalid_request_error","code":"model_not_found"}}`,
			kind: llm.KindAuth, code: "model_not_found", typ: "invalid_request_error"},
		// Codes that mean the request is at fault only count on client
		// errors: a 500 that mentions the context length is still the
		// server's failure (retried, moved to a fallback).
		{name: "500 with a context length code", status: 500,
			body: `{"error":{"message":"This model's maximum context length is 8192 tokens","type":"server_error","param":null,"code":"context_length_exceeded"}}`,
			kind: llm.KindUnavailable, code: "context_length_exceeded", typ: "server_error", retryable: true},
		{name: "503 with a content filter type", status: 503,
			body: `{"error":{"message":"filter unavailable","type":"content_filter","param":null,"code":null}}`,
			kind: llm.KindUnavailable, typ: "content_filter", retryable: true},
		{name: "400 content filter in the type only", status: 400,
			body: `{"error":{"message":"filtered","type":"content_filter","param":null,"code":null}}`,
			kind: llm.KindContentFiltered, typ: "content_filter"},
		{name: "quota in the type only, any status", status: 503,
			body: `{"error":{"message":"quota","type":"insufficient_quota","param":null,"code":null}}`,
			kind: llm.KindQuotaExhausted, typ: "insufficient_quota"},
	}
	for _, tt := range tests {
		for _, streaming := range []bool{false, true} {
			name := tt.name
			if streaming {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				body := []byte(tt.body)
				if !strings.HasPrefix(tt.body, "{") && !strings.HasPrefix(tt.body, "<") {
					body = fixture(t, tt.body)
				}
				srv := newServer(t, jsonHandler(tt.status, body, tt.headers...))
				c := newTestClient(t, srv)
				c.cfg.now = func() time.Time { return fixedNow }
				var err error
				if streaming {
					_, err = collectEvents(t, c.Stream(bg, simpleRequest()))
				} else {
					_, err = c.Generate(bg, simpleRequest())
				}
				e := asLLMError(t, err)
				if e.Kind != tt.kind || e.Status != tt.status || e.Code != tt.code {
					t.Errorf("got kind %v status %d code %q, want %v %d %q (%v)", e.Kind, e.Status, e.Code, tt.kind, tt.status, tt.code, e)
				}
				if e.Type != tt.typ || e.Param != tt.param {
					t.Errorf("type %q param %q, want %q %q", e.Type, e.Param, tt.typ, tt.param)
				}
				if e.RetryAfter != tt.retryAfter {
					t.Errorf("retry after %v, want %v", e.RetryAfter, tt.retryAfter)
				}
				if llm.Retryable(err) != tt.retryable {
					t.Errorf("Retryable = %v, want %v", llm.Retryable(err), tt.retryable)
				}
				if !errors.Is(err, tt.kind) {
					t.Errorf("errors.Is(err, %v) = false", tt.kind)
				}
				if e.Provider != "openai" || e.Model != "gpt-4o-mini" || e.RequestID != "req_test_123" {
					t.Errorf("provider %q model %q request %q", e.Provider, e.Model, e.RequestID)
				}
				if !strings.Contains(e.Message, tt.msg) {
					t.Errorf("message %q, want it to contain %q", e.Message, tt.msg)
				}
				// openai-go cannot decode Ollama's {"error":"text"}; the
				// status and the body still give the kind.
				var apiErr *oai.Error
				if !strings.Contains(tt.name, "Ollama") && (!errors.As(err, &apiErr) || apiErr.StatusCode != tt.status) {
					t.Errorf("cause chain lost the SDK error: %#v", e.Err)
				}
				for _, s := range []string{e.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprint(e.Err)} {
					if strings.Contains(s, testKey) || strings.Contains(s, "abc123secret") {
						t.Errorf("error text leaks the key: %s", s)
					}
				}
			})
		}
	}
}

// TestCustomKeyNeverPrinted uses a key that does not look like an OpenAI
// key (self-hosted servers accept any token), echoed by the server.
func TestCustomKeyNeverPrinted(t *testing.T) {
	const key = "vllm-shared-token-9f8e7d"
	body := `{"object":"error","message":"invalid token vllm-shared-token-9f8e7d; Authorization: Bearer vllm-shared-token-9f8e7d","type":"Unauthorized","code":401}`
	srv := newServer(t, jsonHandler(401, []byte(body)))
	c, err := New(WithBaseURL(srv.URL+"/v1"), WithAPIKey(key), WithProviderName("vllm"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Generate(bg, simpleRequest())
	if err == nil {
		t.Fatal("no error")
	}
	if s := err.Error(); strings.Contains(s, key) || !strings.Contains(s, "vllm") {
		t.Errorf("error: %s", s)
	}
	if got := srv.Requests()[0].Header.Get("Authorization"); got != "Bearer "+key {
		t.Errorf("Authorization = %q", got)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		srv := newServer(t, jsonHandler(200, nil))
		c := newTestClient(t, srv)
		srv.Close()
		_, err := c.Generate(bg, simpleRequest())
		e := asLLMError(t, err)
		if e.Kind != llm.KindUnavailable || e.Status != 0 || !llm.Retryable(err) {
			t.Errorf("got %v kind %v", e, e.Kind)
		}
		_, err = collectEvents(t, c.Stream(bg, simpleRequest()))
		if llm.KindOf(err) != llm.KindUnavailable {
			t.Errorf("stream: %v", err)
		}
	})
	t.Run("invalid JSON with 200", func(t *testing.T) {
		srv := newServer(t, jsonHandler(200, []byte(`{"id":"chatcmpl-1","choices":[{"index":0,`)))
		c := newTestClient(t, srv)
		_, err := c.Generate(bg, simpleRequest())
		if e := asLLMError(t, err); e.Kind != llm.KindBadResponse || e.RequestID != "req_test_123" {
			t.Errorf("got %v kind %v", e, e.Kind)
		}
	})
	t.Run("text/plain with 200", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("hello"))
		})
		c := newTestClient(t, srv)
		_, err := c.Generate(bg, simpleRequest())
		if e := asLLMError(t, err); e.Kind != llm.KindBadResponse {
			t.Errorf("got %v kind %v", e, e.Kind)
		}
	})
	t.Run("no choices", func(t *testing.T) {
		srv := newServer(t, jsonHandler(200, []byte(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}`)))
		c := newTestClient(t, srv)
		_, err := c.Generate(bg, simpleRequest())
		if e := asLLMError(t, err); e.Kind != llm.KindBadResponse {
			t.Errorf("got %v kind %v", e, e.Kind)
		}
	})
}

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		body string
		want errorObject
	}{
		{`{"error":{"message":"m","type":"t","param":"p","code":"c"}}`, errorObject{Message: "m", Type: "t", Param: "p", Code: "c"}},
		{`{"error":{"message":"m","type":null,"param":null,"code":null}}`, errorObject{Message: "m"}},
		{`{"error":{"message":"m","code":429}}`, errorObject{Message: "m", Code: "429", NumericCode: 429}},
		{`{"error":"plain"}`, errorObject{Message: "plain"}},
		{`{"object":"error","message":"m","type":"BadRequestError","code":400}`, errorObject{Message: "m", Type: "BadRequestError", Code: "400", NumericCode: 400}},
		{`{"error":{"code":"content_filter","innererror":{"code":"ResponsibleAIPolicyViolation"}}}`, errorObject{Code: "content_filter", Inner: "ResponsibleAIPolicyViolation"}},
		{`{"error":{"message":{"nested":true}}}`, errorObject{}},
		{`<html>`, errorObject{}},
		{``, errorObject{}},
		{`[]`, errorObject{}},
		{`{"error":[1,2]}`, errorObject{}},
	}
	for _, tt := range tests {
		if got := parseErrorBody([]byte(tt.body)); got != tt.want {
			t.Errorf("parseErrorBody(%s) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}
