package llm

import (
	"context"
	"encoding/json"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LoggingOptions configures Logging. The zero value logs no content and no
// user id.
type LoggingOptions struct {
	// LogContent adds the prompt and the answer to each line, as
	// input_messages and output_messages in the GenAI conventions' JSON
	// message format. Off by default: prompts and answers may hold
	// personal data.
	LogContent bool
	// LogUser adds the principal's user id. Off by default, for the same
	// reason.
	LogUser bool
}

// The messages Logging writes.
const (
	loggingMessage       = "llm call"
	loggingFailedMessage = "llm call failed"
)

// Logging returns a middleware that writes one structured line to logger
// per call (Generate, or one range over a Stream), when the call ends:
//
//	model, response_model, provider, latency, input_tokens, output_tokens,
//	cached_input_tokens, reasoning_tokens, cost_usd, cost_estimated,
//	cache_hit, attempts, route, target, tenant, feature, prompt_name,
//	prompt_version, request_id, finish_reason; for streams stream, ttft
//	(time to the first content event) and abandoned (the caller stopped
//	early); on failure error_kind and error; trace_id and span_id when the
//	context carries a span.
//
// Fields that are empty or zero are left out, except tokens, cost,
// cache_hit and latency. A success is logged at Info. A failure is logged
// at Warn when its kind is expected in normal operation (rate limits,
// timeouts, unavailability, cancellation, open circuits, budgets, guards,
// policies, refusals, content filters, context length), and at Error when
// it calls for a fix (auth, quota, not found, invalid request, bad
// response, unknown). Nothing is built when the level is disabled.
//
// The lines carry no caller: it would always be this middleware.
//
// No prompt or answer text is logged unless LogContent is set, nor the user
// id unless LogUser is set. Errors are logged with their message, which
// never holds API keys (see Error).
//
// In the canonical stack Logging sits just inside Telemetry, so that each
// line carries the trace and span ids of the call's span.
func Logging(logger *zap.Logger, opts LoggingOptions) Middleware {
	if logger == nil {
		logger = zap.NewNop()
	}
	// The caller would always be this file.
	logger = logger.WithOptions(zap.WithCaller(false))
	return func(next Model) Model {
		return &loggingModel{next: next, log: logger, opts: opts}
	}
}

type loggingModel struct {
	next Model
	log  *zap.Logger
	opts LoggingOptions
}

// Generate implements Model.
func (m *loggingModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	begin := time.Now()
	resp, err := m.next.Generate(ctx, req)
	elapsed := time.Since(begin)
	o := telemetryOutcome{ttft: -1}
	if resp != nil {
		o.fromResponse(resp)
	}
	if err != nil {
		o.fail(err)
	}
	m.write(ctx, req, &o, elapsed, resp)
	return resp, err
}

// Stream implements Model.
func (m *loggingModel) Stream(ctx context.Context, req *Request) Stream {
	return func(yield func(Event, error) bool) {
		s := &loggingStream{m: m, ctx: ctx, req: req}
		s.watch.init(yield, m.opts.LogContent)
		defer s.end()
		m.next.Stream(ctx, req)(s.watch.push)
	}
}

// loggingStream is the state of one range over a stream under Logging.
type loggingStream struct {
	watch telemetryWatch
	m     *loggingModel
	ctx   context.Context
	req   *Request
}

// end writes the line. It runs deferred, so that a panic in the caller's
// loop body is still logged, as abandoned.
func (s *loggingStream) end() {
	elapsed, answer := s.watch.finish()
	s.m.write(s.ctx, s.req, &s.watch.out, elapsed, answer)
}

// write writes the line of one call made with ctx, if its level is
// enabled.
func (m *loggingModel) write(ctx context.Context, req *Request, o *telemetryOutcome, elapsed time.Duration, answer *Response) {
	req = telemetryRequestOf(req)
	level, msg := zapcore.InfoLevel, loggingMessage
	if o.err != nil {
		level, msg = loggingLevel(KindOf(o.err)), loggingFailedMessage
	}
	ce := m.log.Check(level, msg)
	if ce == nil {
		return
	}
	f := make([]zap.Field, 0, 24)
	f = append(f, zap.String("model", req.Model))
	if o.model != "" {
		f = append(f, zap.String("response_model", o.model))
	}
	if o.provider != "" {
		f = append(f, zap.String("provider", o.provider))
	}
	f = append(f,
		zap.Duration("latency", elapsed),
		zap.Int("input_tokens", o.usage.InputTokens),
		zap.Int("output_tokens", o.usage.OutputTokens))
	if o.usage.CachedInputTokens > 0 {
		f = append(f, zap.Int("cached_input_tokens", o.usage.CachedInputTokens))
	}
	if o.usage.ReasoningTokens > 0 {
		f = append(f, zap.Int("reasoning_tokens", o.usage.ReasoningTokens))
	}
	f = append(f, zap.Float64("cost_usd", o.cost))
	if o.costEstimated {
		f = append(f, zap.Bool("cost_estimated", true))
	}
	f = append(f, zap.Bool("cache_hit", o.cacheHit))
	if o.attempts > 0 {
		f = append(f, zap.Int("attempts", o.attempts))
	}
	if o.route != "" {
		f = append(f, zap.String("route", o.route))
	}
	if o.target != "" {
		f = append(f, zap.String("target", o.target))
	}
	if req.Principal.Tenant != "" {
		f = append(f, zap.String("tenant", req.Principal.Tenant))
	}
	if m.opts.LogUser && req.Principal.User != "" {
		f = append(f, zap.String("user", req.Principal.User))
	}
	if req.Feature != "" {
		f = append(f, zap.String("feature", req.Feature))
	}
	if p := req.Prompt; p != nil {
		if p.Name != "" {
			f = append(f, zap.String("prompt_name", p.Name))
		}
		if p.Version != "" {
			f = append(f, zap.String("prompt_version", p.Version))
		}
	}
	if o.requestID != "" {
		f = append(f, zap.String("request_id", o.requestID))
	}
	if o.finish != "" {
		f = append(f, zap.String("finish_reason", string(o.finish)))
	}
	if o.stream {
		f = append(f, zap.Bool("stream", true))
		if o.ttft >= 0 {
			f = append(f, zap.Duration("ttft", o.ttft))
		}
		if o.abandoned {
			f = append(f, zap.Bool("abandoned", true))
		}
	}
	if o.err != nil {
		f = append(f, zap.String("error_kind", KindOf(o.err).String()), zap.Error(o.err))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		f = append(f, zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
	}
	if m.opts.LogContent {
		f = append(f, zap.Reflect("input_messages", json.RawMessage(telemetryInputMessages(req.Messages))))
		if answer != nil && o.err == nil {
			f = append(f, zap.Reflect("output_messages", json.RawMessage(telemetryOutputMessages(answer))))
		}
	}
	ce.Write(f...)
}

// loggingLevel is the level of a failure of kind k: Warn for kinds expected
// in normal operation, Error for those that call for a fix.
func loggingLevel(k Kind) zapcore.Level {
	switch k {
	case KindRateLimited, KindTimeout, KindUnavailable, KindCanceled,
		KindCircuitOpen, KindLocalRateLimited, KindBudgetExceeded,
		KindGuardBlocked, KindPolicyDenied, KindRefusal, KindContentFiltered,
		KindContextLength:
		return zapcore.WarnLevel
	default:
		return zapcore.ErrorLevel
	}
}
