package guard

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Event is a safety event: a check that found something, and what was
// done. It never holds the sensitive text, only what kind it was and
// where.
type Event struct {
	// Type is the finding type ("EMAIL_ADDRESS", "PROMPT_INJECTION") or
	// "MODERATION:<category>".
	Type string
	// Detector and Rule name what found it.
	Detector, Rule string
	// Score is the finding's confidence.
	Score float64
	// Action is what the guard did.
	Action Action
	// Where says what was checked: "input", "untrusted", "output",
	// "tool_arguments", "tool_result" or "retrieval".
	Where string
	// Policy, Tenant and Feature attribute it.
	Policy, Tenant, Feature string
}

// Events receives safety events. Implementations must be safe for
// concurrent use and quick: they run on the request path.
type Events interface {
	Emit(ctx context.Context, e Event)
}

// EventsFunc adapts a function to Events.
type EventsFunc func(ctx context.Context, e Event)

// Emit calls f.
func (f EventsFunc) Emit(ctx context.Context, e Event) { f(ctx, e) }

// MultiEvents sends each event to every sink.
func MultiEvents(sinks ...Events) Events {
	return EventsFunc(func(ctx context.Context, e Event) {
		for _, s := range sinks {
			if s != nil {
				s.Emit(ctx, e)
			}
		}
	})
}

// ZapEvents logs each event at Warn (Block) or Info, without content.
func ZapEvents(log *zap.Logger) Events {
	return EventsFunc(func(_ context.Context, e Event) {
		fields := []zap.Field{zap.String("type", e.Type), zap.String("action", string(e.Action)), zap.String("where", e.Where),
			zap.String("detector", e.Detector), zap.String("rule", e.Rule), zap.Float64("score", e.Score),
			zap.String("policy", e.Policy), zap.String("tenant", e.Tenant), zap.String("feature", e.Feature)}
		if e.Action == Block {
			log.Warn("guard event", fields...)
			return
		}
		log.Info("guard event", fields...)
	})
}

// OTelEvents adds each event to the current span (as a span event named
// "keel.guard") and counts it in keel.guard.events by type, action and
// where. A nil provider means the global one.
func OTelEvents(mp metric.MeterProvider) Events {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	counter, err := mp.Meter("github.com/keel-go/keel/guard").Int64Counter("keel.guard.events",
		metric.WithDescription("Safety events by type, action and where"))
	if err != nil {
		otel.Handle(err)
	}
	return EventsFunc(func(ctx context.Context, e Event) {
		attrs := []attribute.KeyValue{attribute.String("keel.guard.type", e.Type), attribute.String("keel.guard.action", string(e.Action)),
			attribute.String("keel.guard.where", e.Where)}
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.AddEvent("keel.guard", trace.WithAttributes(append(attrs,
				attribute.String("keel.guard.detector", e.Detector), attribute.String("keel.guard.rule", e.Rule),
				attribute.Float64("keel.guard.score", e.Score), attribute.String("keel.guard.policy", e.Policy))...))
		}
		if counter != nil {
			counter.Add(ctx, 1, metric.WithAttributes(attrs...))
		}
	})
}
