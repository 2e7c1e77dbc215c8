package llm

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The instruments Telemetry records, named as the GenAI semantic
// conventions name them, and keel's own under keel.*.
const (
	telemetryMetricDuration = "gen_ai.client.operation.duration"
	telemetryMetricTokens   = "gen_ai.client.token.usage"
	telemetryMetricTTFC     = "gen_ai.client.operation.time_to_first_chunk"
	telemetryMetricCost     = "keel.client.cost"
	telemetryMetricHits     = "keel.client.cache.hits"
)

// telemetryMetrics holds a Telemetry middleware's instruments and the
// attribute sets of the series it has recorded.
type telemetryMetrics struct {
	duration metric.Float64Histogram
	tokens   metric.Int64Histogram
	ttfc     metric.Float64Histogram
	cost     metric.Float64Counter
	hits     metric.Int64Counter
	// series caches the measurement options of each attribute set, so
	// that a call builds no set once its series has been seen.
	series telemetryCache[telemetrySeriesKey, *telemetrySeries]
}

// newTelemetryMetrics creates the instruments. An instrument the provider
// refuses is reported to the OpenTelemetry error handler and replaced by a
// no-op one, so that telemetry never breaks calls.
func newTelemetryMetrics(meter metric.Meter) *telemetryMetrics {
	// The bucket boundaries the conventions recommend.
	seconds := metric.WithExplicitBucketBoundaries(0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
	tokens := metric.WithExplicitBucketBoundaries(1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)

	m := &telemetryMetrics{}
	var err error
	if m.duration, err = meter.Float64Histogram(telemetryMetricDuration,
		metric.WithDescription("GenAI operation duration."), metric.WithUnit("s"), seconds); err != nil {
		otel.Handle(err)
		m.duration = noop.Float64Histogram{}
	}
	if m.tokens, err = meter.Int64Histogram(telemetryMetricTokens,
		metric.WithDescription("Number of input and output tokens used."), metric.WithUnit("{token}"), tokens); err != nil {
		otel.Handle(err)
		m.tokens = noop.Int64Histogram{}
	}
	if m.ttfc, err = meter.Float64Histogram(telemetryMetricTTFC,
		metric.WithDescription("Time to receive the first chunk of a streamed answer."), metric.WithUnit("s"), seconds); err != nil {
		otel.Handle(err)
		m.ttfc = noop.Float64Histogram{}
	}
	if m.cost, err = meter.Float64Counter(telemetryMetricCost,
		metric.WithDescription("Cost of LLM calls in US dollars, failed attempts included."), metric.WithUnit("USD")); err != nil {
		otel.Handle(err)
		m.cost = noop.Float64Counter{}
	}
	if m.hits, err = meter.Int64Counter(telemetryMetricHits,
		metric.WithDescription("LLM calls answered from a response cache."), metric.WithUnit("{request}")); err != nil {
		otel.Handle(err)
		m.hits = noop.Int64Counter{}
	}
	return m
}

// telemetrySeriesKey identifies one set of metric attributes. It never
// holds a user id.
type telemetrySeriesKey struct {
	provider, requestModel, responseModel string
	feature, tenant, errorType            string
	cacheHit, abandoned                   bool
}

// telemetrySeries holds the measurement options of one attribute set: the
// base set, and the base set with each gen_ai.token.type.
type telemetrySeries struct {
	record        []metric.RecordOption
	add           []metric.AddOption
	input, output []metric.RecordOption
}

func newTelemetrySeries(k telemetrySeriesKey) *telemetrySeries {
	kv := make([]attribute.KeyValue, 0, 10)
	kv = append(kv, telemetryKeyOperation.String(telemetryOperation))
	if k.provider != "" {
		kv = append(kv, telemetryKeyProvider.String(k.provider))
	}
	if k.requestModel != "" {
		kv = append(kv, telemetryKeyRequestModel.String(k.requestModel))
	}
	if k.responseModel != "" {
		kv = append(kv, telemetryKeyResponseModel.String(k.responseModel))
	}
	if k.feature != "" {
		kv = append(kv, telemetryKeyFeature.String(k.feature))
	}
	if k.tenant != "" {
		kv = append(kv, telemetryKeyTenant.String(k.tenant))
	}
	if k.errorType != "" {
		kv = append(kv, telemetryKeyErrorType.String(k.errorType))
	}
	if k.cacheHit {
		kv = append(kv, telemetryKeyCacheHit.Bool(true))
	}
	if k.abandoned {
		kv = append(kv, telemetryKeyAbandoned.Bool(true))
	}
	base := metric.WithAttributeSet(attribute.NewSet(kv...))
	n := len(kv)
	in := metric.WithAttributeSet(attribute.NewSet(append(kv[:n:n], telemetryKeyTokenType.String("input"))...))
	out := metric.WithAttributeSet(attribute.NewSet(append(kv[:n:n], telemetryKeyTokenType.String("output"))...))
	return &telemetrySeries{
		record: []metric.RecordOption{base},
		add:    []metric.AddOption{base},
		input:  []metric.RecordOption{in},
		output: []metric.RecordOption{out},
	}
}

// record records the metrics of one call. ctx carries the call's span, so
// that exemplars link to it.
func (m *telemetryMetrics) record(ctx context.Context, withTenant bool, req *Request, o *telemetryOutcome, provider, errType string, elapsed time.Duration) {
	k := telemetrySeriesKey{
		provider:      provider,
		requestModel:  req.Model,
		responseModel: o.model,
		feature:       req.Feature,
		errorType:     errType,
		cacheHit:      o.cacheHit,
		abandoned:     o.abandoned,
	}
	if withTenant {
		k.tenant = req.Principal.Tenant
	}
	s, ok := m.series.get(k)
	if !ok {
		s = newTelemetrySeries(k)
		m.series.put(k, s)
	}
	m.duration.Record(ctx, elapsed.Seconds(), s.record...)
	if o.stream && o.ttft >= 0 {
		m.ttfc.Record(ctx, o.ttft.Seconds(), s.record...)
	}
	if o.billedUsage() {
		m.tokens.Record(ctx, int64(o.usage.InputTokens), s.input...)
		m.tokens.Record(ctx, int64(o.usage.OutputTokens), s.output...)
	}
	if o.cost > 0 {
		m.cost.Add(ctx, o.cost, s.add...)
	}
	if o.cacheHit {
		m.hits.Add(ctx, 1, s.add...)
	}
}
