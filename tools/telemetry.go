package tools

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// TelemetryOptions configures Telemetry.
type TelemetryOptions struct {
	// TracerProvider and MeterProvider default to the global providers,
	// read when Telemetry is called.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

const telemetryScope = "github.com/keel-go/keel/tools"

// Telemetry is a tool middleware that traces each call as an OpenTelemetry
// span following the GenAI semantic conventions ("execute_tool <name>",
// gen_ai.tool.name, gen_ai.tool.call.id) with keel.tool.risk,
// keel.tool.status and, once decided, keel.policy.decision and
// keel.policy.rule; and records keel.tool.duration (seconds) by tool and
// status. Arguments and results are never recorded. Put it in
// Config.Observe to see every call, refused ones included.
func Telemetry(opts TelemetryOptions) Middleware {
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	tracer := tp.Tracer(telemetryScope)
	duration, err := mp.Meter(telemetryScope).Float64Histogram("keel.tool.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of tool calls through the executor"))
	if err != nil {
		otel.Handle(err)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, call *Call) *Result {
			start := time.Now()
			ctx, span := tracer.Start(ctx, "execute_tool "+call.Name, trace.WithSpanKind(trace.SpanKindInternal),
				trace.WithAttributes(
					attribute.String("gen_ai.operation.name", "execute_tool"),
					attribute.String("gen_ai.tool.name", call.Name),
					attribute.String("gen_ai.tool.call.id", call.ID),
				))
			defer span.End()
			r := next(ctx, call)
			attrs := []attribute.KeyValue{attribute.String("keel.tool.status", string(r.Status))}
			if call.Tool != nil {
				attrs = append(attrs, attribute.String("keel.tool.risk", call.Tool.spec.Risk.String()))
			}
			if call.Decision != nil {
				attrs = append(attrs, attribute.String("keel.policy.decision", call.Decision.Effect.String()),
					attribute.String("keel.policy.rule", call.Decision.Rule))
			}
			span.SetAttributes(attrs...)
			if r.Status != StatusOK && r.Status != StatusPending {
				span.SetStatus(codes.Error, string(r.Status))
			}
			if duration != nil {
				duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
					attribute.String("gen_ai.tool.name", call.Name), attribute.String("keel.tool.status", string(r.Status))))
			}
			return r
		}
	}
}
