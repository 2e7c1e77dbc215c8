package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/keel-go/keel/llm"
)

// maxErrorBody bounds how much of an error response is parsed.
const maxErrorBody = 64 << 10

// errorObject is what an error body says, in any of the shapes OpenAI and
// compatible servers use:
//
//	{"error":{"message":..,"type":..,"param":..,"code":..}}   OpenAI, Azure, OpenRouter
//	{"error":"model not found"}                              Ollama
//	{"object":"error","message":..,"type":..,"code":400}     vLLM
type errorObject struct {
	Message string
	Type    string
	Code    string
	Param   string
	// Inner is Azure's innererror.code ("ResponsibleAIPolicyViolation").
	Inner string
	// NumericCode is a code given as a number (vLLM and OpenRouter put the
	// HTTP status there).
	NumericCode int
}

type rawErrorObject struct {
	Message    json.RawMessage `json:"message"`
	Type       json.RawMessage `json:"type"`
	Code       json.RawMessage `json:"code"`
	Param      json.RawMessage `json:"param"`
	InnerError *struct {
		Code json.RawMessage `json:"code"`
	} `json:"innererror"`
}

type rawErrorBody struct {
	Error json.RawMessage `json:"error"`
	rawErrorObject
}

// parseErrorBody reads an error response body. Anything it cannot parse
// gives the zero errorObject.
func parseErrorBody(body []byte) errorObject {
	body = trimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return errorObject{}
	}
	var rb rawErrorBody
	if json.Unmarshal(body, &rb) != nil {
		return errorObject{}
	}
	inner := trimSpace(rb.Error)
	switch {
	case len(inner) > 0 && inner[0] == '{':
		var ro rawErrorObject
		if json.Unmarshal(inner, &ro) != nil {
			return errorObject{}
		}
		return ro.object()
	case len(inner) > 0 && inner[0] == '"':
		return errorObject{Message: scalar(inner)}
	}
	return rb.rawErrorObject.object()
}

func (ro *rawErrorObject) object() errorObject {
	o := errorObject{
		Message: scalar(ro.Message),
		Type:    scalar(ro.Type),
		Code:    scalar(ro.Code),
		Param:   scalar(ro.Param),
	}
	if ro.InnerError != nil {
		o.Inner = scalar(ro.InnerError.Code)
	}
	if c := trimSpace(ro.Code); len(c) > 0 && (c[0] == '-' || (c[0] >= '0' && c[0] <= '9')) {
		if n, err := strconv.Atoi(string(c)); err == nil {
			o.NumericCode = n
		}
	}
	return o
}

// scalar renders a JSON string, number or boolean as text; null, objects
// and arrays give "".
func scalar(raw json.RawMessage) string {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	case '{', '[', 'n':
		return ""
	}
	return string(raw)
}

// httpError builds the *llm.Error for an HTTP response with an error
// status: the kind from the status and code (llm.HTTPError), refined with
// the body's type, message and Azure's inner code.
func (c *Client) httpError(model string, status int, h http.Header, obj errorObject, cause error) *llm.Error {
	e := llm.HTTPError(c.cfg.provider, model, status, h, obj.Code, c.scrub(obj.Message), c.cfg.now())
	e.Type, e.Param = obj.Type, obj.Param
	e.Err = cause
	refine(e, obj, status)
	return e
}

// streamError maps an {"error":{...}} event received in the middle of a
// stream. No HTTP status applies (the stream began with 200), so the kind
// comes from a numeric code when the server sends one, else from the
// error type; an unrecognised error is a server-side failure
// (KindUnavailable).
func (c *Client) streamError(model string, data []byte, h http.Header, cause error) *llm.Error {
	obj := parseErrorBody(data)
	e := &llm.Error{
		Kind:     llm.KindUnavailable,
		Provider: c.cfg.provider,
		Model:    model,
		Code:     obj.Code,
		Type:     obj.Type,
		Param:    obj.Param,
		Message:  llm.RedactSecrets(c.scrub(obj.Message)),
		Err:      cause,
	}
	if e.Message == "" {
		e.Message = "error event in stream"
	}
	if h != nil {
		e.RequestID = llm.RequestIDFrom(h)
	}
	switch {
	case obj.NumericCode >= 400 && obj.NumericCode < 600:
		e.Kind = llm.KindForStatus(obj.NumericCode)
	default:
		switch strings.ToLower(obj.Type) {
		case "invalid_request_error", "badrequesterror":
			e.Kind = llm.KindInvalidRequest
		case "rate_limit_error", "requests", "tokens":
			e.Kind = llm.KindRateLimited
		case "authentication_error", "permission_error":
			e.Kind = llm.KindAuth
		}
		if strings.EqualFold(obj.Code, "rate_limit_exceeded") {
			e.Kind = llm.KindRateLimited
		}
	}
	refine(e, obj, 0)
	return e
}

// refine applies what the error code, type and message say about the kind
// beyond the HTTP status (status 0: an error event inside a stream). The
// codes every provider shares are llm.KindForCode's, applied with the same
// status rule: quota on any status, context length and content filter on
// client errors only. On top of that, OpenAI-specific signals:
//   - the type, when the code says nothing (OpenAI's quota error has the
//     type insufficient_quota too; some servers put content_filter in the
//     type and leave the code null);
//   - the message, for servers that report an overlong prompt in prose
//     only ("This model's maximum context length is 4096 tokens");
//   - Azure's innererror.code ResponsibleAIPolicyViolation.
func refine(e *llm.Error, obj errorObject, status int) {
	kind := llm.KindForCode(e.Kind, status, strings.ToLower(obj.Code))
	if kind == e.Kind && obj.Type != "" {
		kind = llm.KindForCode(e.Kind, status, strings.ToLower(obj.Type))
	}
	clientSide := status == 0 || (status >= 400 && status < 500)
	if clientSide && kind != llm.KindQuotaExhausted && kind != llm.KindContextLength && kind != llm.KindContentFiltered {
		switch {
		case isContextLengthMessage(obj.Message):
			kind = llm.KindContextLength
		case strings.EqualFold(obj.Inner, "ResponsibleAIPolicyViolation"):
			kind = llm.KindContentFiltered
		}
	}
	e.Kind = kind
}

// isContextLengthMessage reports whether an error message says the prompt
// is longer than the model's context.
func isContextLengthMessage(message string) bool {
	if message == "" {
		return false
	}
	m := strings.ToLower(message)
	return strings.Contains(m, "maximum context length") ||
		strings.Contains(m, "context_length_exceeded") ||
		strings.Contains(m, "exceeds the context window") ||
		strings.Contains(m, "string_above_max_length")
}

// mapError turns any failure of a call into an *llm.Error. resp is the
// HTTP response captured with option.WithResponseInto, if any.
func (c *Client) mapError(ctx context.Context, err error, resp *http.Response, model string) *llm.Error {
	if err == nil {
		return nil
	}
	var le *llm.Error
	if errors.As(err, &le) {
		return le
	}

	var apiErr *oai.Error
	if errors.As(err, &apiErr) {
		r := apiErr.Response
		if r == nil {
			r = resp
		}
		var h http.Header
		var obj errorObject
		if r != nil {
			h = r.Header
			obj = parseErrorBody(readBody(r))
		}
		if obj == (errorObject{}) {
			obj = errorObject{Message: apiErr.Message, Type: apiErr.Type, Code: apiErr.Code, Param: apiErr.Param}
		}
		return c.httpError(model, apiErr.StatusCode, h, obj, err)
	}
	if resp != nil && resp.StatusCode >= 400 {
		// An error status whose body openai-go could not decode.
		return c.httpError(model, resp.StatusCode, resp.Header, parseErrorBody(readBody(resp)), err)
	}

	var h http.Header
	if resp != nil {
		h = resp.Header
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		return c.streamError(model, se.Event.Data, h, err)
	}

	// The caller's context ended: whatever the transport reported, that is
	// the reason.
	e := c.ended(ctx, model, err)
	var ue *url.Error
	switch k := llm.KindOf(err); {
	case e != nil:
	case isDecodeError(err):
		e = &llm.Error{Kind: llm.KindBadResponse, Provider: c.cfg.provider, Model: model, Err: err}
	case k == llm.KindTimeout || k == llm.KindUnavailable || k == llm.KindCanceled || errors.As(err, &ue):
		// Network failures, streams cut off, timeouts (net/http reports
		// every transport failure as *url.Error).
		e = llm.TransportError(c.cfg.provider, model, err)
	case resp != nil:
		// The provider answered 2xx with something unusable.
		e = &llm.Error{Kind: llm.KindBadResponse, Provider: c.cfg.provider, Model: model, Err: err}
	default:
		// Failures before anything was sent: configuration (Azure
		// credentials), request options.
		e = &llm.Error{Kind: llm.KindUnknown, Provider: c.cfg.provider, Model: model, Err: err}
	}
	// The message is the cause's text with the key and other credentials
	// masked, so Error() never prints the raw cause.
	e.Message = llm.RedactSecrets(c.scrub(err.Error()))
	if h != nil {
		e.RequestID = llm.RequestIDFrom(h)
	}
	return e
}

// ended returns, when ctx has ended, the error for a call that failed
// (cause) or stopped short because of it: KindTimeout when the deadline
// passed or the context was cancelled with a timeout as its cause (as
// llm.Timeout does), else KindCanceled. It returns nil while ctx is live.
func (c *Client) ended(ctx context.Context, model string, cause error) *llm.Error {
	if ctx == nil || ctx.Err() == nil {
		return nil
	}
	kind := llm.KindCanceled
	if llm.KindOf(ctx.Err()) == llm.KindTimeout || llm.KindOf(context.Cause(ctx)) == llm.KindTimeout {
		kind = llm.KindTimeout
	}
	if cause == nil {
		cause = context.Cause(ctx)
	}
	return &llm.Error{Kind: kind, Provider: c.cfg.provider, Model: model, Err: cause}
}

// badJSON is the error for a 2xx response whose body is not the JSON
// expected. openai-go reads the body into bytes and the client decodes them
// itself, so that a body cut off in transit (KindUnavailable, from the
// read) is told apart from a complete body that does not parse.
func (c *Client) badJSON(model string, resp *http.Response, err error) *llm.Error {
	e := &llm.Error{Kind: llm.KindBadResponse, Provider: c.cfg.provider, Model: model,
		Message: "invalid JSON in response: " + llm.RedactSecrets(c.scrub(err.Error())), Err: err}
	if resp != nil {
		e.RequestID = llm.RequestIDFrom(resp.Header)
	}
	return e
}

// isDecodeError reports whether err is a failure to parse what the server
// sent.
func isDecodeError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, bufio.ErrTooLong)
}

func readBody(r *http.Response) []byte {
	if r == nil || r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBody))
	// Leave the body readable for anyone inspecting the cause.
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// scrub removes the configured API key from s, for keys that do not look
// like the sk-... keys llm.RedactSecrets already masks (self-hosted servers
// accept any token).
func (c *Client) scrub(s string) string {
	if k := c.cfg.apiKey; len(k) >= 4 && strings.Contains(s, k) {
		s = strings.ReplaceAll(s, k, "[REDACTED]")
	}
	return s
}
