package llm_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/keel-go/keel/llm"
)

func ExampleTelemetry() {
	// The OpenTelemetry SDK, set up by the application; in production the
	// exporters send to a collector. Without TracerProvider and
	// MeterProvider, Telemetry uses the global providers.
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	ctx := context.Background()
	defer func() { _ = tp.Shutdown(ctx); _ = mp.Shutdown(ctx) }()

	// A stand-in provider; in production, the llm/openai Model.
	provider := llm.ModelFuncs{GenerateFunc: func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{
			Message:      llm.AssistantText("Your parcel left the depot this morning."),
			FinishReason: llm.FinishStop,
			Usage:        llm.Usage{InputTokens: 480, OutputTokens: 12},
			Model:        "gpt-4o-mini-2024-07-18",
			Provider:     "openai",
			RequestID:    "chatcmpl-123",
		}, nil
	}}
	// Telemetry goes outermost, so that its span covers the whole stack.
	model := llm.Chain(provider, llm.Telemetry(llm.TelemetryOptions{TracerProvider: tp, MeterProvider: mp}))

	_, err := model.Generate(ctx, &llm.Request{
		Model:           "gpt-4o-mini",
		Messages:        []llm.Message{llm.UserText("Where is my parcel?")},
		MaxOutputTokens: 256,
		Principal:       llm.Principal{Tenant: "acme", User: "u-42"},
		Feature:         "support-answer",
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	span := spans.GetSpans()[0]
	fmt.Println(span.Name, span.SpanKind)
	attrs := span.Attributes
	slices.SortFunc(attrs, func(a, b attribute.KeyValue) int { return strings.Compare(string(a.Key), string(b.Key)) })
	for _, kv := range attrs {
		fmt.Printf("  %s=%s\n", kv.Key, kv.Value.Emit())
	}

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name, m.Unit)
	}
	// Output:
	// chat gpt-4o-mini client
	//   gen_ai.operation.name=chat
	//   gen_ai.provider.name=openai
	//   gen_ai.request.max_tokens=256
	//   gen_ai.request.model=gpt-4o-mini
	//   gen_ai.response.finish_reasons=["stop"]
	//   gen_ai.response.id=chatcmpl-123
	//   gen_ai.response.model=gpt-4o-mini-2024-07-18
	//   gen_ai.usage.input_tokens=480
	//   gen_ai.usage.output_tokens=12
	//   keel.feature=support-answer
	//   keel.tenant=acme
	//   keel.user=u-42
	// gen_ai.client.operation.duration s
	// gen_ai.client.token.usage {token}
}
