package llm

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// TelemetryOptions configures Telemetry. The zero value uses the global
// OpenTelemetry providers and records no content.
type TelemetryOptions struct {
	// TracerProvider creates the middleware's tracer; nil means
	// otel.GetTracerProvider(), read when Telemetry is called.
	TracerProvider trace.TracerProvider
	// MeterProvider creates its instruments; nil means
	// otel.GetMeterProvider(), read when Telemetry is called.
	MeterProvider metric.MeterProvider
	// ProviderName is gen_ai.provider.name when the answer does not name
	// its provider (Response.Provider, Event.Provider, Error.Provider),
	// and the value given to samplers at span start. Use the convention's
	// well-known values ("openai", "azure.ai.openai", "anthropic"...).
	ProviderName string
	// TenantAttribute adds keel.tenant to metric attributes. It is off by
	// default because the number of tenants is unbounded in many services
	// and every tenant multiplies the number of time series; spans always
	// carry the tenant. User ids never appear on metrics.
	TenantAttribute bool
	// RecordContent records the prompt and the answer on spans as the
	// gen_ai.input.messages and gen_ai.output.messages attributes (JSON in
	// the convention's message format). Off by default: prompts and
	// answers may hold personal data. Inline image bytes are never
	// recorded, and image URLs lose their query string.
	RecordContent bool
}

// telemetryScope is the instrumentation scope of the tracer and meter.
const telemetryScope = "github.com/keel-go/keel/llm"

// telemetryOperation is gen_ai.operation.name for every call: keel's
// Request is a chat completion.
const telemetryOperation = "chat"

// Attribute keys: the OpenTelemetry GenAI semantic conventions, then
// keel's own under keel.*.
const (
	telemetryKeyOperation       attribute.Key = "gen_ai.operation.name"
	telemetryKeyProvider        attribute.Key = "gen_ai.provider.name"
	telemetryKeyRequestModel    attribute.Key = "gen_ai.request.model"
	telemetryKeyMaxTokens       attribute.Key = "gen_ai.request.max_tokens"
	telemetryKeyTemperature     attribute.Key = "gen_ai.request.temperature"
	telemetryKeyTopP            attribute.Key = "gen_ai.request.top_p"
	telemetryKeySeed            attribute.Key = "gen_ai.request.seed"
	telemetryKeyStopSequences   attribute.Key = "gen_ai.request.stop_sequences"
	telemetryKeyStream          attribute.Key = "gen_ai.request.stream"
	telemetryKeyOutputType      attribute.Key = "gen_ai.output.type"
	telemetryKeyResponseModel   attribute.Key = "gen_ai.response.model"
	telemetryKeyResponseID      attribute.Key = "gen_ai.response.id"
	telemetryKeyFinishReasons   attribute.Key = "gen_ai.response.finish_reasons"
	telemetryKeyTimeToFirst     attribute.Key = "gen_ai.response.time_to_first_chunk"
	telemetryKeyInputTokens     attribute.Key = "gen_ai.usage.input_tokens"
	telemetryKeyOutputTokens    attribute.Key = "gen_ai.usage.output_tokens"
	telemetryKeyCacheReadTokens attribute.Key = "gen_ai.usage.cache_read.input_tokens"
	telemetryKeyCacheWriteToken attribute.Key = "gen_ai.usage.cache_creation.input_tokens"
	telemetryKeyReasoningTokens attribute.Key = "gen_ai.usage.reasoning.output_tokens"
	telemetryKeyTokenType       attribute.Key = "gen_ai.token.type"
	telemetryKeyInputMessages   attribute.Key = "gen_ai.input.messages"
	telemetryKeyOutputMessages  attribute.Key = "gen_ai.output.messages"
	telemetryKeyErrorType       attribute.Key = "error.type"

	telemetryKeyCost          attribute.Key = "keel.cost_usd"
	telemetryKeyCostEstimated attribute.Key = "keel.cost_estimated"
	telemetryKeyCacheHit      attribute.Key = "keel.cache_hit"
	telemetryKeyAttempts      attribute.Key = "keel.attempts"
	telemetryKeyRoute         attribute.Key = "keel.route"
	telemetryKeyTarget        attribute.Key = "keel.target"
	telemetryKeyTenant        attribute.Key = "keel.tenant"
	telemetryKeyUser          attribute.Key = "keel.user"
	telemetryKeyFeature       attribute.Key = "keel.feature"
	telemetryKeyPromptName    attribute.Key = "keel.prompt.name"
	telemetryKeyPromptVersion attribute.Key = "keel.prompt.version"
	telemetryKeyPromptHash    attribute.Key = "keel.prompt.hash"
	telemetryKeyAbandoned     attribute.Key = "keel.stream.abandoned"
)

// telemetryCacheLimit bounds each of the middleware's caches (span start
// options per model, metric attribute sets per series). Past it, values are
// built per call: correct, only slower.
const telemetryCacheLimit = 1024

// Telemetry returns a middleware that traces and measures every call
// following the OpenTelemetry GenAI semantic conventions. It belongs
// outermost in the stack, so that its span covers cache hits, guard blocks
// and budget refusals as well as the calls that reach a provider.
//
// Each call (Generate, or one range over a Stream) is one span of kind
// Client named "{gen_ai.operation.name} {gen_ai.request.model}", for
// example "chat gpt-4o-mini". The context passed below carries the span, so
// spans of inner layers (an instrumented HTTP client) are its children. A
// span carries:
//
//   - gen_ai.operation.name ("chat"), gen_ai.provider.name,
//     gen_ai.request.model, and when set gen_ai.request.max_tokens,
//     .temperature, .top_p, .seed, .stop_sequences, gen_ai.output.type, and
//     gen_ai.request.stream (true for streams);
//   - gen_ai.response.model, gen_ai.response.id (the provider's request
//     id), gen_ai.response.finish_reasons, gen_ai.usage.input_tokens and
//     .output_tokens, .cache_read.input_tokens,
//     .cache_creation.input_tokens and .reasoning.output_tokens when
//     non-zero, and for streams gen_ai.response.time_to_first_chunk;
//   - keel.tenant, keel.user, keel.feature, keel.prompt.name, .version and
//     .hash from the Request when set; keel.cost_usd and keel.cost_estimated
//     (from the cost-accounting middleware), keel.cache_hit (only on hits:
//     every attribute costs time on every span), keel.attempts
//     (upstream calls the answer cost, failed ones included, when a layer
//     below counted more than one: absent means one call, or none for a
//     cache hit), keel.route and keel.target (the fallback target that
//     answered);
//   - on failure, error.type (the Kind's name, such as "rate_limited") and
//     status Error with the error's message, which carries no secrets;
//   - for a stream the caller stopped early, keel.stream.abandoned=true
//     (the status stays unset: stopping is the caller's choice).
//
// No prompt or answer text is recorded unless RecordContent is set.
//
// Metrics, with the GenAI attributes gen_ai.operation.name,
// gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model, plus
// error.type on failure, keel.feature when the request names one,
// keel.cache_hit on hits, keel.stream.abandoned on abandoned streams, and
// keel.tenant only with TenantAttribute (never the user):
//
//	gen_ai.client.operation.duration             histogram, s
//	gen_ai.client.token.usage                    histogram, {token}, with gen_ai.token.type input or output
//	gen_ai.client.operation.time_to_first_chunk  histogram, s, streams only
//	keel.client.cost                             counter, USD
//	keel.client.cache.hits                       counter, {request}
//
// Token usage is recorded when the provider reported usage and the answer
// did not come from a cache (a hit bills no tokens); cost is recorded as
// the cost-accounting middleware reported it. The histograms use the
// bucket boundaries the conventions recommend. Feature names must be few
// and fixed (they are, when they name product features), as every value
// is a time series.
//
// A stream's span starts when the caller starts ranging and ends when the
// stream ends, fails, or the caller stops; time to first chunk is measured
// to the first event that carries content (text, reasoning, refusal or a
// tool call), and usage comes from the usage event.
func Telemetry(opts TelemetryOptions) Middleware {
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &telemetry{
		tracer:  tp.Tracer(telemetryScope),
		metrics: newTelemetryMetrics(mp.Meter(telemetryScope)),
		opts:    opts,
		finish:  make(map[FinishReason]attribute.KeyValue),
	}
	t.attrPool.New = func() any { return &telemetryAttrs{kv: make([]attribute.KeyValue, 0, 32)} }
	for _, r := range []FinishReason{FinishStop, FinishLength, FinishToolCalls, FinishContentFilter, FinishRefusal} {
		t.finish[r] = attribute.StringSlice(string(telemetryKeyFinishReasons), []string{string(r)})
	}
	return func(next Model) Model {
		return &telemetryModel{next: next, t: t}
	}
}

// telemetry is the state a Telemetry middleware shares across the Models
// it wraps.
type telemetry struct {
	tracer  trace.Tracer
	metrics *telemetryMetrics
	opts    TelemetryOptions
	// starts caches the span name and start options per request model.
	starts telemetryCache[string, *telemetrySpanStart]
	// finish holds gen_ai.response.finish_reasons for the known reasons;
	// read-only after construction.
	finish map[FinishReason]attribute.KeyValue
	// attrPool holds *telemetryAttrs buffers for the attributes set when
	// a span ends.
	attrPool sync.Pool
}

// telemetryAttrs is a reusable attribute buffer.
type telemetryAttrs struct {
	kv []attribute.KeyValue
}

// telemetrySpanStart is what starting a span for one request model needs:
// its name and options that carry the attributes samplers may use.
type telemetrySpanStart struct {
	name string
	opts []trace.SpanStartOption
}

// spanStart returns the span name and start options for model.
func (t *telemetry) spanStart(model string) *telemetrySpanStart {
	if s, ok := t.starts.get(model); ok {
		return s
	}
	name := telemetryOperation
	attrs := []attribute.KeyValue{telemetryKeyOperation.String(telemetryOperation)}
	if model != "" {
		name += " " + model
		attrs = append(attrs, telemetryKeyRequestModel.String(model))
	}
	if t.opts.ProviderName != "" {
		attrs = append(attrs, telemetryKeyProvider.String(t.opts.ProviderName))
	}
	s := &telemetrySpanStart{name: name, opts: []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...),
	}}
	t.starts.put(model, s)
	return s
}

// start starts the span of one call.
func (t *telemetry) start(ctx context.Context, req *Request) (context.Context, trace.Span) {
	s := t.spanStart(telemetryRequestOf(req).Model)
	return t.tracer.Start(ctx, s.name, s.opts...)
}

// telemetryOutcome is what telemetry and logging learn about one call: from
// a Response, from the events of a stream, or from an error.
type telemetryOutcome struct {
	model, provider, requestID string
	route, target              string
	finish                     FinishReason
	usage                      Usage
	cost                       float64
	costEstimated              bool
	cacheHit                   bool
	attempts                   int
	// stream is set for streams; ttft is the time to the first content
	// event, negative until one arrives.
	stream    bool
	ttft      time.Duration
	abandoned bool
	err       error
}

// fromResponse records what resp says about the call.
func (o *telemetryOutcome) fromResponse(resp *Response) {
	o.model, o.provider, o.requestID = resp.Model, resp.Provider, resp.RequestID
	o.route, o.target = resp.Route, resp.Target
	o.finish, o.usage = resp.FinishReason, resp.Usage
	o.cost, o.costEstimated = resp.Cost, resp.CostEstimated
	o.cacheHit, o.attempts = resp.CacheHit, resp.Attempts
}

// observe records what a stream event says about the call, which started
// at begin.
func (o *telemetryOutcome) observe(ev Event, begin time.Time) {
	if ev.Model != "" {
		o.model = ev.Model
	}
	if ev.Provider != "" {
		o.provider = ev.Provider
	}
	if ev.RequestID != "" {
		o.requestID = ev.RequestID
	}
	if ev.Route != "" {
		o.route = ev.Route
	}
	if ev.Target != "" {
		o.target = ev.Target
	}
	if ev.Attempts > 0 {
		o.attempts = ev.Attempts
	}
	if ev.CacheHit {
		o.cacheHit = true
	}
	switch ev.Kind {
	case EventUsage:
		o.usage = ev.Usage
		o.cost, o.costEstimated = ev.Cost, ev.CostEstimated
	case EventFinish:
		o.finish = ev.FinishReason
	default:
		if o.ttft < 0 && isContentEvent(ev.Kind) {
			o.ttft = time.Since(begin)
		}
	}
}

// fail records err, and what it says about the call.
func (o *telemetryOutcome) fail(err error) {
	o.err = err
	if n := attemptsOf(err); n > 0 {
		o.attempts = n
	}
	if o.provider == "" || o.requestID == "" {
		var e *Error
		if errors.As(err, &e) {
			if o.provider == "" {
				o.provider = e.Provider
			}
			if o.requestID == "" {
				o.requestID = e.RequestID
			}
		}
	}
}

// providerName returns the provider to report, falling back to def.
func (o *telemetryOutcome) providerName(def string) string {
	if o.provider != "" {
		return o.provider
	}
	return def
}

// errorType returns error.type for the outcome, "" on success.
func (o *telemetryOutcome) errorType() string {
	if o.err == nil {
		return ""
	}
	return KindOf(o.err).String()
}

// billedUsage reports whether the outcome's usage should count as tokens
// spent: the provider reported some, and no cache served the answer.
func (o *telemetryOutcome) billedUsage() bool {
	return !o.cacheHit && (o.usage.InputTokens > 0 || o.usage.OutputTokens > 0)
}

type telemetryModel struct {
	next Model
	t    *telemetry
}

// Generate implements Model.
func (m *telemetryModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	begin := time.Now()
	ctx, span := m.t.start(ctx, req)
	resp, err := m.next.Generate(ctx, req)
	elapsed := time.Since(begin)
	o := telemetryOutcome{ttft: -1}
	if resp != nil {
		o.fromResponse(resp)
	}
	if err != nil {
		o.fail(err)
	}
	m.t.end(ctx, span, req, &o, elapsed, resp)
	return resp, err
}

// Stream implements Model.
func (m *telemetryModel) Stream(ctx context.Context, req *Request) Stream {
	return func(yield func(Event, error) bool) {
		s := &telemetryStream{t: m.t, req: req}
		s.watch.init(yield, m.t.opts.RecordContent)
		s.ctx, s.span = m.t.start(ctx, req)
		defer s.end()
		m.next.Stream(s.ctx, req)(s.watch.push)
	}
}

// telemetryStream is the state of one range over a stream under Telemetry.
type telemetryStream struct {
	watch telemetryWatch
	t     *telemetry
	req   *Request
	ctx   context.Context
	span  trace.Span
}

// end ends the span and records the metrics. It runs deferred, so that a
// panic in the caller's loop body still ends the span, as abandoned.
func (s *telemetryStream) end() {
	elapsed, answer := s.watch.finish()
	s.t.end(s.ctx, s.span, s.req, &s.watch.out, elapsed, answer)
}

// telemetryWatch passes a stream's events on to the caller and notes what
// they say about the call, for Telemetry and Logging.
type telemetryWatch struct {
	yield   func(Event, error) bool
	begin   time.Time
	out     telemetryOutcome
	acc     *Accumulator // the answer, when content is recorded
	done    bool         // the caller's yield must not be called again
	inYield bool         // the caller's loop body is running
}

// init starts watching a stream served to yield; withContent keeps the
// answer's content for finish to return.
func (w *telemetryWatch) init(yield func(Event, error) bool, withContent bool) {
	w.yield, w.begin = yield, time.Now()
	w.out.stream, w.out.ttft = true, -1
	if withContent {
		w.acc = new(Accumulator)
	}
}

// push receives the inner stream's events and passes them on.
func (w *telemetryWatch) push(ev Event, err error) bool {
	if w.done {
		return false
	}
	if err != nil {
		w.done = true
		w.out.fail(err)
		w.inYield = true
		w.yield(Event{}, err)
		w.inYield = false
		return false
	}
	w.out.observe(ev, w.begin)
	if w.acc != nil {
		w.acc.Add(ev)
	}
	w.inYield = true
	more := w.yield(ev, nil)
	w.inYield = false
	if !more {
		w.done = true
		w.out.abandoned = true
		return false
	}
	return true
}

// finish returns the time since the stream started and, when content is
// kept, the answer so far. A caller whose loop body is still running (it
// panicked) has abandoned the stream.
func (w *telemetryWatch) finish() (time.Duration, *Response) {
	if w.inYield {
		w.out.abandoned = true
	}
	var answer *Response
	if w.acc != nil {
		answer = w.acc.Response()
	}
	return time.Since(w.begin), answer
}

// end sets the span's attributes and status, ends it, and records the
// metrics of the call. answer is the response whose content is recorded
// when RecordContent is set; it may be nil.
func (t *telemetry) end(ctx context.Context, span trace.Span, req *Request, o *telemetryOutcome, elapsed time.Duration, answer *Response) {
	req = telemetryRequestOf(req)
	provider := o.providerName(t.opts.ProviderName)
	errType := o.errorType()
	if span.IsRecording() {
		// The buffer goes back to the pool once SetAttributes returns:
		// spans copy the attributes they are given (the SDK appends them to
		// its own slice).
		buf := t.attrPool.Get().(*telemetryAttrs)
		buf.kv = t.attributes(buf.kv[:0], req, o, provider, errType, answer)
		span.SetAttributes(buf.kv...)
		clear(buf.kv) // drop the strings for the collector
		t.attrPool.Put(buf)
		if o.err != nil {
			span.SetStatus(codes.Error, o.err.Error())
		}
	}
	span.End()
	t.metrics.record(ctx, t.opts.TenantAttribute, req, o, provider, errType, elapsed)
}

// attributes appends to a the span attributes not given at span start.
func (t *telemetry) attributes(a []attribute.KeyValue, req *Request, o *telemetryOutcome, provider, errType string, answer *Response) []attribute.KeyValue {
	if provider != "" && provider != t.opts.ProviderName {
		a = append(a, telemetryKeyProvider.String(provider))
	}
	// The request.
	if req.MaxOutputTokens > 0 {
		a = append(a, telemetryKeyMaxTokens.Int(req.MaxOutputTokens))
	}
	if req.Temperature != nil {
		a = append(a, telemetryKeyTemperature.Float64(*req.Temperature))
	}
	if req.TopP != nil {
		a = append(a, telemetryKeyTopP.Float64(*req.TopP))
	}
	if req.Seed != nil {
		a = append(a, telemetryKeySeed.Int64(*req.Seed))
	}
	if len(req.Stop) > 0 {
		a = append(a, telemetryKeyStopSequences.StringSlice(req.Stop))
	}
	if req.ResponseFormat != nil {
		if req.ResponseFormat.Type == FormatText {
			a = append(a, telemetryKeyOutputType.String("text"))
		} else {
			a = append(a, telemetryKeyOutputType.String("json"))
		}
	}
	if o.stream {
		a = append(a, telemetryKeyStream.Bool(true))
	}
	if p := req.Principal; p.Tenant != "" || p.User != "" {
		if p.Tenant != "" {
			a = append(a, telemetryKeyTenant.String(p.Tenant))
		}
		if p.User != "" {
			a = append(a, telemetryKeyUser.String(p.User))
		}
	}
	if req.Feature != "" {
		a = append(a, telemetryKeyFeature.String(req.Feature))
	}
	if p := req.Prompt; p != nil {
		if p.Name != "" {
			a = append(a, telemetryKeyPromptName.String(p.Name))
		}
		if p.Version != "" {
			a = append(a, telemetryKeyPromptVersion.String(p.Version))
		}
		if p.Hash != "" {
			a = append(a, telemetryKeyPromptHash.String(p.Hash))
		}
	}
	// The answer.
	if o.model != "" {
		a = append(a, telemetryKeyResponseModel.String(o.model))
	}
	if o.requestID != "" {
		a = append(a, telemetryKeyResponseID.String(o.requestID))
	}
	if o.finish != "" {
		kv, ok := t.finish[o.finish]
		if !ok {
			kv = telemetryKeyFinishReasons.StringSlice([]string{string(o.finish)})
		}
		a = append(a, kv)
	}
	if o.usage != (Usage{}) {
		a = append(a,
			telemetryKeyInputTokens.Int(o.usage.InputTokens),
			telemetryKeyOutputTokens.Int(o.usage.OutputTokens))
		if o.usage.CachedInputTokens > 0 {
			a = append(a, telemetryKeyCacheReadTokens.Int(o.usage.CachedInputTokens))
		}
		if o.usage.CacheWriteTokens > 0 {
			a = append(a, telemetryKeyCacheWriteToken.Int(o.usage.CacheWriteTokens))
		}
		if o.usage.ReasoningTokens > 0 {
			a = append(a, telemetryKeyReasoningTokens.Int(o.usage.ReasoningTokens))
		}
	}
	if o.ttft >= 0 {
		a = append(a, telemetryKeyTimeToFirst.Float64(o.ttft.Seconds()))
	}
	if o.cacheHit {
		a = append(a, telemetryKeyCacheHit.Bool(true))
	}
	if o.cost != 0 {
		a = append(a, telemetryKeyCost.Float64(o.cost))
	}
	if o.costEstimated {
		a = append(a, telemetryKeyCostEstimated.Bool(true))
	}
	if o.attempts > 1 {
		a = append(a, telemetryKeyAttempts.Int(o.attempts))
	}
	if o.route != "" {
		a = append(a, telemetryKeyRoute.String(o.route))
	}
	if o.target != "" {
		a = append(a, telemetryKeyTarget.String(o.target))
	}
	if o.abandoned {
		a = append(a, telemetryKeyAbandoned.Bool(true))
	}
	if errType != "" {
		a = append(a, telemetryKeyErrorType.String(errType))
	}
	if t.opts.RecordContent {
		a = append(a, telemetryKeyInputMessages.String(string(telemetryInputMessages(req.Messages))))
		if answer != nil && o.err == nil {
			a = append(a, telemetryKeyOutputMessages.String(string(telemetryOutputMessages(answer))))
		}
	}
	return a
}

// telemetryCache is a bounded map for values computed once and read on
// every call: reads take no lock (the map is replaced, never modified),
// writes copy it. Once it holds telemetryCacheLimit entries it stops
// growing.
type telemetryCache[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

func (c *telemetryCache[K, V]) get(k K) (V, bool) {
	if p := c.m.Load(); p != nil {
		v, ok := (*p)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *telemetryCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m map[K]V
	if p := c.m.Load(); p != nil {
		if len(*p) >= telemetryCacheLimit {
			return
		}
		if _, ok := (*p)[k]; ok {
			return
		}
		m = maps.Clone(*p)
	} else {
		m = make(map[K]V)
	}
	m[k] = v
	c.m.Store(&m)
}

// telemetryRequestOf returns req, or an empty request for a nil one, which
// the Model below rejects: telemetry reports the failure rather than
// panicking.
func telemetryRequestOf(req *Request) *Request {
	if req == nil {
		return &Request{}
	}
	return req
}
