package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kind classifies a failure so that callers and middlewares can act on it
// without parsing messages. Kind implements error, so
// errors.Is(err, llm.KindRateLimited) works on any error chain holding an
// *Error of that kind.
type Kind uint8

// The error kinds. The first group comes from providers, the second is
// raised locally by keel's middlewares. The package documentation has the
// table of what each kind means for retry, fallback and circuit breakers.
const (
	KindUnknown Kind = iota
	// KindRateLimited: the provider returned 429 (other than quota).
	KindRateLimited
	// KindQuotaExhausted: the account has no quota left
	// (insufficient_quota). Never retried.
	KindQuotaExhausted
	// KindTimeout: the call or an attempt ran out of time.
	KindTimeout
	// KindUnavailable: 5xx, overloaded, connection refused or reset, or a
	// stream cut off.
	KindUnavailable
	// KindBadResponse: the provider answered with something unparseable
	// (malformed JSON or SSE).
	KindBadResponse
	// KindInvalidRequest: the provider rejected the request (400, 422).
	KindInvalidRequest
	// KindAuth: authentication or permission failure (401, 403).
	KindAuth
	// KindNotFound: unknown model or deployment (404).
	KindNotFound
	// KindContextLength: the input exceeds the model's context window.
	KindContextLength
	// KindContentFiltered: the provider's content filter blocked the
	// request or the answer.
	KindContentFiltered
	// KindRefusal: the model refused to answer.
	KindRefusal
	// KindCanceled: the caller canceled the context.
	KindCanceled

	// KindBudgetExceeded: a hard cost budget would be exceeded.
	KindBudgetExceeded
	// KindCircuitOpen: the circuit breaker for the model is open.
	KindCircuitOpen
	// KindLocalRateLimited: a client-side rate limit refused the call.
	KindLocalRateLimited
	// KindPolicyDenied: a tool or data policy refused the action.
	KindPolicyDenied
	// KindGuardBlocked: a guardrail blocked the input or output.
	KindGuardBlocked
	// KindInvalidOutput: the answer did not parse or did not match the
	// requested schema, after every repair attempt (llm/structured). It is
	// raised above the stack, so no middleware retries it.
	KindInvalidOutput

	numKinds
)

var kindNames = [numKinds]string{
	KindUnknown:          "unknown",
	KindRateLimited:      "rate_limited",
	KindQuotaExhausted:   "quota_exhausted",
	KindTimeout:          "timeout",
	KindUnavailable:      "unavailable",
	KindBadResponse:      "bad_response",
	KindInvalidRequest:   "invalid_request",
	KindAuth:             "auth",
	KindNotFound:         "not_found",
	KindContextLength:    "context_length_exceeded",
	KindContentFiltered:  "content_filtered",
	KindRefusal:          "refusal",
	KindCanceled:         "canceled",
	KindBudgetExceeded:   "budget_exceeded",
	KindCircuitOpen:      "circuit_open",
	KindLocalRateLimited: "rate_limited_locally",
	KindPolicyDenied:     "policy_denied",
	KindGuardBlocked:     "guard_blocked",
	KindInvalidOutput:    "invalid_output",
}

// String returns the kind's stable snake_case name, used in logs and
// telemetry attributes.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error makes Kind usable as an errors.Is target. It returns the same
// name as String, so a Kind prints the same way whether fmt treats it as an
// error or as a Stringer.
func (k Kind) Error() string { return k.String() }

// Kinds returns every defined kind, in declaration order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// Handling says what the reliability middlewares do with a kind.
type Handling struct {
	// Retry: the same Model may be called again (after the retry-after
	// when one is known).
	Retry bool
	// Fallback: the next Model in a fallback list may be tried.
	Fallback bool
	// Breaker: the failure counts against the Model's circuit breaker.
	Breaker bool
}

// handling is the error table documented in the package doc; keep the two
// in step (TestErrorTable walks both).
var handling = [numKinds]Handling{
	KindUnknown:          {Retry: false, Fallback: true, Breaker: true},
	KindRateLimited:      {Retry: true, Fallback: true, Breaker: false},
	KindQuotaExhausted:   {Retry: false, Fallback: true, Breaker: true},
	KindTimeout:          {Retry: true, Fallback: true, Breaker: true},
	KindUnavailable:      {Retry: true, Fallback: true, Breaker: true},
	KindBadResponse:      {Retry: true, Fallback: true, Breaker: true},
	KindInvalidRequest:   {},
	KindAuth:             {Retry: false, Fallback: true, Breaker: false},
	KindNotFound:         {Retry: false, Fallback: true, Breaker: false},
	KindContextLength:    {},
	KindContentFiltered:  {},
	KindRefusal:          {},
	KindCanceled:         {},
	KindBudgetExceeded:   {},
	KindCircuitOpen:      {Retry: false, Fallback: true, Breaker: false},
	KindLocalRateLimited: {Retry: false, Fallback: true, Breaker: false},
	KindPolicyDenied:     {},
	KindGuardBlocked:     {},
	KindInvalidOutput:    {},
}

// Handling returns the row of the error table for k.
func (k Kind) Handling() Handling {
	if k < numKinds {
		return handling[k]
	}
	return Handling{}
}

// Error is the one error type keel returns for failed model calls. Every
// field but Kind is optional. Message is sanitised: API keys and
// authorization headers are masked before an Error is built, so it is safe
// to log.
type Error struct {
	Kind Kind
	// Provider and Model name what failed ("openai", "gpt-4o-mini").
	Provider string
	Model    string
	// Status is the HTTP status, or 0 when no response arrived.
	Status int
	// Code is the provider's error code, such as "insufficient_quota".
	Code string
	// Type is the provider's error type, such as "invalid_request_error".
	Type string
	// Param names the request field the provider objected to, such as
	// "messages[1].content".
	Param string
	// Message is the provider's (sanitised) message or a local reason.
	Message string
	// RequestID is the provider's request id.
	RequestID string
	// RetryAfter is how long the provider asked us to wait; 0 if unknown.
	RetryAfter time.Duration
	// ShouldRetry is the provider's explicit retry advice
	// (x-should-retry), nil when absent. It overrides the table, except
	// that quota exhaustion and cancellation are never retried.
	ShouldRetry *bool
	// Attempts counts the upstream calls made before giving up, set by
	// retry and fallback middlewares; 0 when nothing counted.
	Attempts int
	// Err is the underlying cause, if any.
	Err error
}

// Error returns a one-line description without secrets.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("llm")
	if e.Provider != "" {
		b.WriteString(": ")
		b.WriteString(e.Provider)
	}
	if e.Model != "" {
		b.WriteString(" ")
		b.WriteString(e.Model)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Code != "" {
			b.WriteString(", ")
			b.WriteString(e.Code)
		}
		b.WriteString(")")
	} else if e.Code != "" {
		b.WriteString(" (")
		b.WriteString(e.Code)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " [retry after %s]", e.RetryAfter)
	}
	if e.RequestID != "" {
		b.WriteString(" [request ")
		b.WriteString(e.RequestID)
		b.WriteString("]")
	}
	if e.Err != nil && e.Message == "" {
		b.WriteString(": ")
		b.WriteString(RedactSecrets(e.Err.Error()))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind, so errors.Is(err, KindTimeout)
// matches.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// KindOf returns the Kind of the first *Error in err's chain. Without one it
// classifies context and network errors (KindCanceled, KindTimeout,
// KindUnavailable) and returns KindUnknown for anything else; nil gives
// KindUnknown.
func KindOf(err error) Kind {
	if err == nil {
		return KindUnknown
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return classifyCause(err)
}

// Retryable reports whether err may be retried on the same Model: the
// table's answer for its kind, overridden by the provider's explicit
// ShouldRetry advice, except that quota exhaustion and cancellation are
// never retried.
func Retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return KindOf(err).Handling().Retry
	}
	if e.Kind == KindQuotaExhausted || e.Kind == KindCanceled {
		return false
	}
	if e.ShouldRetry != nil {
		return *e.ShouldRetry
	}
	return e.Kind.Handling().Retry
}

// RetryAfterOf returns the retry-after of the first *Error in err's chain.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// classifyCause maps context, network and I/O errors to a kind.
func classifyCause(err error) Kind {
	switch {
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return KindUnavailable
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return KindUnavailable
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return KindUnavailable
	}
	return KindUnknown
}

// TransportError wraps an error that happened without an HTTP response
// (network failure, context cancellation, a stream cut off) into an *Error
// for provider. An *Error already in the chain is returned as is.
func TransportError(provider, model string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	k := classifyCause(err)
	if k == KindUnknown {
		k = KindUnavailable
	}
	return &Error{Kind: k, Provider: provider, Model: model, Err: err}
}

// KindForStatus maps an HTTP status to a kind. Providers refine the result
// with their error codes (quota, context length, content filter).
func KindForStatus(status int) Kind {
	switch {
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusRequestTimeout:
		return KindTimeout
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return KindAuth
	case status == http.StatusPaymentRequired:
		// OpenRouter and other gateways: out of credits.
		return KindQuotaExhausted
	case status == http.StatusNotFound:
		return KindNotFound
	case status == http.StatusConflict:
		// OpenAI returns 409 for lock timeouts; its SDK retries them.
		return KindUnavailable
	case status == http.StatusRequestEntityTooLarge:
		return KindContextLength
	case status >= 500:
		return KindUnavailable
	case status >= 400:
		return KindInvalidRequest
	default:
		return KindUnknown
	}
}

// KindForCode refines the kind of a failure with status (0 when the error
// came inside a stream) by a provider error code that means the same thing
// across providers: insufficient_quota on any status; and, for client
// errors (4xx or no status) only, context_length_exceeded (and
// string_above_max_length), content_filter and content_policy_violation.
// Any other code leaves kind unchanged.
func KindForCode(kind Kind, status int, code string) Kind {
	if code == "insufficient_quota" {
		return KindQuotaExhausted
	}
	if status != 0 && (status < 400 || status >= 500) {
		return kind
	}
	switch code {
	case "context_length_exceeded", "string_above_max_length":
		return KindContextLength
	case "content_filter", "content_policy_violation":
		return KindContentFiltered
	}
	return kind
}

// RequestIDFrom returns the request id a provider put in the response
// headers (X-Request-Id, or Request-Id as Anthropic sends it).
func RequestIDFrom(h http.Header) string {
	if id := h.Get("X-Request-Id"); id != "" {
		return id
	}
	return h.Get("Request-Id")
}

// HTTPError builds an *Error for a failed HTTP response: the kind from the
// status refined by the error code (KindForCode), retry-after and
// x-should-retry from the headers, the request id from x-request-id or
// request-id. message is sanitised with RedactSecrets. Providers refine the
// kind further where their own codes or messages say more.
func HTTPError(provider, model string, status int, h http.Header, code, message string, now time.Time) *Error {
	e := &Error{
		Kind:     KindForCode(KindForStatus(status), status, code),
		Provider: provider,
		Model:    model,
		Status:   status,
		Code:     code,
		Message:  RedactSecrets(message),
	}
	if h != nil {
		e.RetryAfter, _ = parseRetryAfter(h, now, status == http.StatusTooManyRequests)
		e.RequestID = RequestIDFrom(h)
		switch strings.ToLower(strings.TrimSpace(h.Get("X-Should-Retry"))) {
		case "true":
			t := true
			e.ShouldRetry = &t
		case "false":
			f := false
			e.ShouldRetry = &f
		}
	}
	return e
}

// secretPatterns match credentials that providers sometimes echo in error
// messages ("Incorrect API key provided: sk-proj-...") or that transport
// errors may carry (URLs with keys, Authorization headers). Each pattern
// keeps its first group (the context before the secret) and masks the rest.
// Values must look like credentials (long enough, after a credential word
// and a separator), so ordinary prose such as "basic approach" or
// "key: value must be a string" is left alone.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{16,}`),
	regexp.MustCompile(`((?:^|[^A-Za-z0-9])(?:sk|rk|pk)-)[A-Za-z0-9_\-*]{8,}`),
	regexp.MustCompile(`(?i)(\b(?:api[-_]?key|x-api-key|access[-_]?token|auth[-_]?token|refresh[-_]?token|token|secret|client[-_]?secret|password|passwd)["']?\s*[:=]\s*["']?)[^\s"'&,;]{6,}`),
	regexp.MustCompile(`(?i)([?&]key=)[^\s"'&,;]{8,}`),
	regexp.MustCompile(`(://)[^/\s:@]+:[^/\s@]+@`),
}

// RedactSecrets masks API keys, bearer tokens, credential parameters and
// passwords in URLs in s. Errors and logs pass provider text through it.
// A provider that knows its own key should also remove it literally, since
// a self-hosted server's key may look like nothing in particular.
func RedactSecrets(s string) string {
	if s == "" {
		return s
	}
	for _, re := range secretPatterns {
		s = re.ReplaceAllString(s, "${1}[REDACTED]")
	}
	return s
}
