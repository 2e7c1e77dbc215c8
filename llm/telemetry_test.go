package llm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// telemetryHarness returns a Telemetry middleware recording into an
// in-memory span exporter (spans are exported as they end) and a manual
// metric reader.
func telemetryHarness(opts llm.TelemetryOptions) (llm.Middleware, *tracetest.InMemoryExporter, *sdkmetric.ManualReader) {
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	opts.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	opts.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	return llm.Telemetry(opts), spans, reader
}

// telemetryRequest is the realistic request with sampling parameters and a
// prompt reference, for tenant acme, user u-42, feature support-answer.
func telemetryRequest() *llm.Request {
	req := realisticRequest()
	temp, topP := 0.2, 0.9
	req.Temperature, req.TopP = &temp, &topP
	req.Prompt = &llm.PromptRef{Name: "support-answer", Version: "v3", Hash: "sha256:ab12"}
	return req
}

// telemetryRequestAttrs returns the span attributes telemetryRequest gives
// every call, with extra added.
func telemetryRequestAttrs(extra map[string]any) map[string]any {
	m := map[string]any{
		"gen_ai.operation.name":      "chat",
		"gen_ai.request.model":       "gpt-4o-mini",
		"gen_ai.request.max_tokens":  int64(512),
		"gen_ai.request.temperature": 0.2,
		"gen_ai.request.top_p":       0.9,
		"keel.tenant":                "acme",
		"keel.user":                  "u-42",
		"keel.feature":               "support-answer",
		"keel.prompt.name":           "support-answer",
		"keel.prompt.version":        "v3",
		"keel.prompt.hash":           "sha256:ab12",
	}
	maps.Copy(m, extra)
	return m
}

// telemetryMetricAttrs returns the metric attributes of a call of
// telemetryRequest answered by provider with responseModel, with extra.
func telemetryMetricAttrs(provider, responseModel string, extra map[string]any) map[string]any {
	m := map[string]any{
		"gen_ai.operation.name": "chat",
		"gen_ai.provider.name":  provider,
		"gen_ai.request.model":  "gpt-4o-mini",
		"keel.feature":          "support-answer",
	}
	if responseModel != "" {
		m["gen_ai.response.model"] = responseModel
	}
	maps.Copy(m, extra)
	return m
}

// telemetryPoint is a collected data point reduced to what the tests
// compare: the attributes, the value (a counter's sum or a histogram's
// sum) and a histogram's count (0 for a counter).
type telemetryPoint struct {
	Attrs map[string]any
	Value float64
	Count uint64
}

// telemetryTokenPoints returns the token usage points of one call.
func telemetryTokenPoints(attrs map[string]any, input, output float64) []telemetryPoint {
	with := func(typ string) map[string]any {
		m := maps.Clone(attrs)
		m["gen_ai.token.type"] = typ
		return m
	}
	return []telemetryPoint{{with("input"), input, 1}, {with("output"), output, 1}}
}

func telemetryAttrMap(kvs []attribute.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

// telemetryUnits are the units the instruments must declare.
var telemetryUnits = map[string]string{
	"gen_ai.client.operation.duration":            "s",
	"gen_ai.client.token.usage":                   "{token}",
	"gen_ai.client.operation.time_to_first_chunk": "s",
	"keel.client.cost":                            "USD",
	"keel.client.cache.hits":                      "{request}",
}

// collectTelemetry collects the reader's metrics by name, leaving out
// instruments without points, and checks that no data point carries a user
// id.
func collectTelemetry(t *testing.T, reader *sdkmetric.ManualReader) map[string][]telemetryPoint {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]telemetryPoint{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/keel-go/keel/llm" {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			if want, ok := telemetryUnits[m.Name]; !ok || m.Unit != want {
				t.Errorf("metric %s has unit %q, want %q", m.Name, m.Unit, want)
			}
			var pts []telemetryPoint
			add := func(set attribute.Set, v float64, n uint64) {
				pts = append(pts, telemetryPoint{telemetryAttrMap(set.ToSlice()), v, n})
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					add(dp.Attributes, dp.Sum, dp.Count)
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					add(dp.Attributes, float64(dp.Sum), dp.Count)
				}
			case metricdata.Sum[float64]:
				for _, dp := range d.DataPoints {
					add(dp.Attributes, dp.Value, 0)
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					add(dp.Attributes, float64(dp.Value), 0)
				}
			default:
				t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
			}
			for _, p := range pts {
				for k, v := range p.Attrs {
					if k == "keel.user" || v == "u-42" {
						t.Errorf("metric %s carries the user id: %v", m.Name, p.Attrs)
					}
				}
			}
			if len(pts) > 0 {
				slices.SortFunc(pts, func(a, b telemetryPoint) int {
					return strings.Compare(fmt.Sprint(a.Attrs), fmt.Sprint(b.Attrs))
				})
				out[m.Name] = pts
			}
		}
	}
	return out
}

// onlySpan returns the one span the exporter holds.
func onlySpan(t *testing.T, spans *tracetest.InMemoryExporter) tracetest.SpanStub {
	t.Helper()
	got := spans.GetSpans()
	if len(got) != 1 {
		t.Fatalf("%d spans exported, want 1", len(got))
	}
	return got[0]
}

// The ways a test calls the Model.
func telemetryGenerate(ctx context.Context, m llm.Model, req *llm.Request) error {
	_, err := m.Generate(ctx, req)
	return err
}

func telemetryStream(ctx context.Context, m llm.Model, req *llm.Request) error {
	_, err := llm.Collect(m.Stream(ctx, req))
	return err
}

// telemetryAbandon stops ranging at the first text event.
func telemetryAbandon(ctx context.Context, m llm.Model, req *llm.Request) error {
	for ev, err := range m.Stream(ctx, req) {
		if err != nil {
			return err
		}
		if ev.Kind == llm.EventTextDelta {
			break
		}
	}
	return nil
}

func TestTelemetry(t *testing.T) {
	answer := func() *llm.Response {
		return &llm.Response{
			Message:      llm.AssistantText("Your parcel left the depot this morning."),
			FinishReason: llm.FinishStop,
			Usage:        llm.Usage{InputTokens: 480, OutputTokens: 12, CachedInputTokens: 256},
			Model:        "gpt-4o-mini-2024-07-18",
			Provider:     "openai",
			RequestID:    "req_abc",
			Cost:         0.000085,
		}
	}
	cached := func() *llm.Response {
		r := answer()
		r.Cost, r.CacheHit = 0, true
		return r
	}
	reply := func() llmtest.Step {
		return llmtest.Reply("Your parcel left the depot this morning.").WithUsage(480, 12)
	}
	const dated = "gpt-4o-mini-2024-07-18"
	tests := []struct {
		name  string
		opts  llm.TelemetryOptions
		model func() llm.Model
		call  func(context.Context, llm.Model, *llm.Request) error
		// wantErr is the kind the call fails with, if it fails.
		wantErr     llm.Kind
		wantSpan    map[string]any
		wantMetrics map[string][]telemetryPoint
	}{
		{
			name:  "plain call",
			model: func() llm.Model { return llmtest.NewModel(llmtest.Response(answer()).Delay(250 * time.Millisecond)) },
			call:  telemetryGenerate,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.provider.name":                 "openai",
				"gen_ai.response.model":                dated,
				"gen_ai.response.id":                   "req_abc",
				"gen_ai.response.finish_reasons":       []string{"stop"},
				"gen_ai.usage.input_tokens":            int64(480),
				"gen_ai.usage.output_tokens":           int64(12),
				"gen_ai.usage.cache_read.input_tokens": int64(256),
				"keel.cost_usd":                        0.000085,
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration": {{telemetryMetricAttrs("openai", dated, nil), 0.25, 1}},
				"gen_ai.client.token.usage":        telemetryTokenPoints(telemetryMetricAttrs("openai", dated, nil), 480, 12),
				"keel.client.cost":                 {{telemetryMetricAttrs("openai", dated, nil), 0.000085, 0}},
			},
		},
		{
			name:  "tenant on metrics",
			opts:  llm.TelemetryOptions{TenantAttribute: true},
			model: func() llm.Model { return llmtest.NewModel(llmtest.Response(answer())) },
			call:  telemetryGenerate,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.provider.name":                 "openai",
				"gen_ai.response.model":                dated,
				"gen_ai.response.id":                   "req_abc",
				"gen_ai.response.finish_reasons":       []string{"stop"},
				"gen_ai.usage.input_tokens":            int64(480),
				"gen_ai.usage.output_tokens":           int64(12),
				"gen_ai.usage.cache_read.input_tokens": int64(256),
				"keel.cost_usd":                        0.000085,
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration": {{telemetryMetricAttrs("openai", dated, map[string]any{"keel.tenant": "acme"}), 0, 1}},
				"gen_ai.client.token.usage":        telemetryTokenPoints(telemetryMetricAttrs("openai", dated, map[string]any{"keel.tenant": "acme"}), 480, 12),
				"keel.client.cost":                 {{telemetryMetricAttrs("openai", dated, map[string]any{"keel.tenant": "acme"}), 0.000085, 0}},
			},
		},
		{
			name: "streamed call",
			model: func() llm.Model {
				return llmtest.NewModel(reply().Delay(300*time.Millisecond).StallAfter(4, 200*time.Millisecond))
			},
			call: telemetryStream,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.request.stream":               true,
				"gen_ai.provider.name":                "llmtest",
				"gen_ai.response.model":               "gpt-4o-mini",
				"gen_ai.response.finish_reasons":      []string{"stop"},
				"gen_ai.response.time_to_first_chunk": 0.3,
				"gen_ai.usage.input_tokens":           int64(480),
				"gen_ai.usage.output_tokens":          int64(12),
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration":            {{telemetryMetricAttrs("llmtest", "gpt-4o-mini", nil), 0.5, 1}},
				"gen_ai.client.operation.time_to_first_chunk": {{telemetryMetricAttrs("llmtest", "gpt-4o-mini", nil), 0.3, 1}},
				"gen_ai.client.token.usage":                   telemetryTokenPoints(telemetryMetricAttrs("llmtest", "gpt-4o-mini", nil), 480, 12),
			},
		},
		{
			name:  "abandoned stream",
			model: func() llm.Model { return llmtest.NewModel(reply().Delay(300 * time.Millisecond)) },
			call:  telemetryAbandon,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.request.stream":               true,
				"gen_ai.provider.name":                "llmtest",
				"gen_ai.response.model":               "gpt-4o-mini",
				"gen_ai.response.time_to_first_chunk": 0.3,
				"keel.stream.abandoned":               true,
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration": {{telemetryMetricAttrs("llmtest", "gpt-4o-mini",
					map[string]any{"keel.stream.abandoned": true}), 0.3, 1}},
				"gen_ai.client.operation.time_to_first_chunk": {{telemetryMetricAttrs("llmtest", "gpt-4o-mini",
					map[string]any{"keel.stream.abandoned": true}), 0.3, 1}},
			},
		},
		{
			name: "stream cut off",
			model: func() llm.Model {
				return llmtest.NewModel(reply().Delay(300 * time.Millisecond).CutOffAfter(3))
			},
			call:    telemetryStream,
			wantErr: llm.KindUnavailable,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.request.stream":               true,
				"gen_ai.provider.name":                "llmtest",
				"gen_ai.response.model":               "gpt-4o-mini",
				"gen_ai.response.time_to_first_chunk": 0.3,
				"error.type":                          "unavailable",
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration": {{telemetryMetricAttrs("llmtest", "gpt-4o-mini",
					map[string]any{"error.type": "unavailable"}), 0.3, 1}},
				"gen_ai.client.operation.time_to_first_chunk": {{telemetryMetricAttrs("llmtest", "gpt-4o-mini",
					map[string]any{"error.type": "unavailable"}), 0.3, 1}},
			},
		},
		{
			name: "cache hit",
			model: func() llm.Model {
				return llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) { return cached(), nil }}
			},
			call: telemetryGenerate,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.provider.name":                 "openai",
				"gen_ai.response.model":                dated,
				"gen_ai.response.id":                   "req_abc",
				"gen_ai.response.finish_reasons":       []string{"stop"},
				"gen_ai.usage.input_tokens":            int64(480),
				"gen_ai.usage.output_tokens":           int64(12),
				"gen_ai.usage.cache_read.input_tokens": int64(256),
				"keel.cache_hit":                       true,
			}),
			wantMetrics: map[string][]telemetryPoint{
				// No token usage: a hit bills no tokens.
				"gen_ai.client.operation.duration": {{telemetryMetricAttrs("openai", dated, map[string]any{"keel.cache_hit": true}), 0, 1}},
				"keel.client.cache.hits":           {{telemetryMetricAttrs("openai", dated, map[string]any{"keel.cache_hit": true}), 1, 0}},
			},
		},
		{
			name: "cache hit streamed",
			model: func() llm.Model {
				return llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) { return cached(), nil }}
			},
			call: telemetryStream,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.request.stream":                true,
				"gen_ai.provider.name":                 "openai",
				"gen_ai.response.model":                dated,
				"gen_ai.response.id":                   "req_abc",
				"gen_ai.response.finish_reasons":       []string{"stop"},
				"gen_ai.response.time_to_first_chunk":  0.0,
				"gen_ai.usage.input_tokens":            int64(480),
				"gen_ai.usage.output_tokens":           int64(12),
				"gen_ai.usage.cache_read.input_tokens": int64(256),
				"keel.cache_hit":                       true,
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration":            {{telemetryMetricAttrs("openai", dated, map[string]any{"keel.cache_hit": true}), 0, 1}},
				"gen_ai.client.operation.time_to_first_chunk": {{telemetryMetricAttrs("openai", dated, map[string]any{"keel.cache_hit": true}), 0, 1}},
				"keel.client.cache.hits":                      {{telemetryMetricAttrs("openai", dated, map[string]any{"keel.cache_hit": true}), 1, 0}},
			},
		},
		{
			name: "retried call",
			model: func() llm.Model {
				// One 503, then an answer; the backoff is half of the
				// 250ms base delay.
				return llm.Chain(llmtest.NewModel(llmtest.ServerError(503), reply()),
					llm.Retry(llm.RetryOptions{Rand: func() float64 { return 0.5 }}))
			},
			call: telemetryGenerate,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.provider.name":           "llmtest",
				"gen_ai.response.model":          "gpt-4o-mini",
				"gen_ai.response.finish_reasons": []string{"stop"},
				"gen_ai.usage.input_tokens":      int64(480),
				"gen_ai.usage.output_tokens":     int64(12),
				"keel.attempts":                  int64(2),
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration": {{telemetryMetricAttrs("llmtest", "gpt-4o-mini", nil), 0.125, 1}},
				"gen_ai.client.token.usage":        telemetryTokenPoints(telemetryMetricAttrs("llmtest", "gpt-4o-mini", nil), 480, 12),
			},
		},
		{
			name: "fallback",
			model: func() llm.Model {
				return llm.Fallback(llm.FallbackOptions{},
					llm.Target{Name: "primary", Model: llmtest.NewModel(llmtest.ServerError(503))},
					llm.Target{Name: "secondary", Model: llmtest.NewModel(reply())})
			},
			call: telemetryStream,
			wantSpan: telemetryRequestAttrs(map[string]any{
				"gen_ai.request.stream":               true,
				"gen_ai.provider.name":                "llmtest",
				"gen_ai.response.model":               "gpt-4o-mini",
				"gen_ai.response.finish_reasons":      []string{"stop"},
				"gen_ai.response.time_to_first_chunk": 0.0,
				"gen_ai.usage.input_tokens":           int64(480),
				"gen_ai.usage.output_tokens":          int64(12),
				"keel.attempts":                       int64(2),
				"keel.target":                         "secondary",
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration":            {{telemetryMetricAttrs("llmtest", "gpt-4o-mini", nil), 0, 1}},
				"gen_ai.client.operation.time_to_first_chunk": {{telemetryMetricAttrs("llmtest", "gpt-4o-mini", nil), 0, 1}},
				"gen_ai.client.token.usage":                   telemetryTokenPoints(telemetryMetricAttrs("llmtest", "gpt-4o-mini", nil), 480, 12),
			},
		},
		{
			name: "error",
			opts: llm.TelemetryOptions{ProviderName: "openai"},
			model: func() llm.Model {
				return llmtest.NewModel(llmtest.RateLimited("Retry-After", "2", "X-Request-Id", "req_429").Delay(40 * time.Millisecond))
			},
			call:    telemetryGenerate,
			wantErr: llm.KindRateLimited,
			wantSpan: telemetryRequestAttrs(map[string]any{
				// The error names its provider, which wins over the
				// option given at span start.
				"gen_ai.provider.name": "llmtest",
				"gen_ai.response.id":   "req_429",
				"error.type":           "rate_limited",
			}),
			wantMetrics: map[string][]telemetryPoint{
				"gen_ai.client.operation.duration": {{telemetryMetricAttrs("llmtest", "", map[string]any{"error.type": "rate_limited"}), 0.04, 1}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mw, spans, reader := telemetryHarness(tt.opts)
				err := tt.call(t.Context(), llm.Chain(tt.model(), mw), telemetryRequest())
				if tt.wantErr == llm.KindUnknown && err != nil {
					t.Fatalf("call failed: %v", err)
				}
				if tt.wantErr != llm.KindUnknown && llm.KindOf(err) != tt.wantErr {
					t.Fatalf("call returned %v, want kind %v", err, tt.wantErr)
				}

				span := onlySpan(t, spans)
				if span.Name != "chat gpt-4o-mini" || span.SpanKind != trace.SpanKindClient {
					t.Errorf("span %q of kind %v, want \"chat gpt-4o-mini\" of kind client", span.Name, span.SpanKind)
				}
				if got := telemetryAttrMap(span.Attributes); !reflect.DeepEqual(got, tt.wantSpan) {
					t.Errorf("span attributes:\n got %v\nwant %v", got, tt.wantSpan)
				}
				wantStatus := codes.Unset
				if tt.wantErr != llm.KindUnknown {
					wantStatus = codes.Error
				}
				if span.Status.Code != wantStatus || (wantStatus == codes.Error) != (span.Status.Description != "") {
					t.Errorf("span status %v %q, want %v with a description on error", span.Status.Code, span.Status.Description, wantStatus)
				}
				if wantStatus == codes.Error && !strings.Contains(span.Status.Description, tt.wantErr.String()) {
					t.Errorf("status description %q does not name the kind", span.Status.Description)
				}

				if got := collectTelemetry(t, reader); !reflect.DeepEqual(got, tt.wantMetrics) {
					t.Errorf("metrics:\n got %v\nwant %v", got, tt.wantMetrics)
				}
			})
		})
	}
}

// TestTelemetryContent checks that prompts and answers stay off spans by
// default, and are recorded in the convention's message format when
// RecordContent is set, for Generate and Stream.
func TestTelemetryContent(t *testing.T) {
	const question, answer = "My order has not arrived", "Your parcel left the depot this morning."
	for _, record := range []bool{false, true} {
		for _, call := range []string{"generate", "stream"} {
			t.Run(fmt.Sprintf("record=%v/%s", record, call), func(t *testing.T) {
				mw, spans, _ := telemetryHarness(llm.TelemetryOptions{RecordContent: record})
				m := llm.Chain(llmtest.NewModel(llmtest.Reply(answer)), mw)
				req := telemetryRequest()
				var err error
				if call == "generate" {
					err = telemetryGenerate(t.Context(), m, req)
				} else {
					err = telemetryStream(t.Context(), m, req)
				}
				if err != nil {
					t.Fatal(err)
				}
				span := onlySpan(t, spans)
				attrs := telemetryAttrMap(span.Attributes)
				if !record {
					for k, v := range attrs {
						if s := fmt.Sprint(v); strings.Contains(s, question) || strings.Contains(s, answer) {
							t.Errorf("attribute %s holds content: %q", k, s)
						}
					}
					return
				}
				var in, out []struct {
					Role  string
					Parts []struct{ Type, Content string }
					// FinishReason is only on output messages.
					FinishReason string `json:"finish_reason"`
				}
				if err := json.Unmarshal([]byte(attrs["gen_ai.input.messages"].(string)), &in); err != nil {
					t.Fatalf("input messages: %v", err)
				}
				if err := json.Unmarshal([]byte(attrs["gen_ai.output.messages"].(string)), &out); err != nil {
					t.Fatalf("output messages: %v", err)
				}
				if len(in) != 2 || in[0].Role != "system" || in[1].Role != "user" ||
					len(in[1].Parts) != 1 || in[1].Parts[0].Type != "text" || !strings.Contains(in[1].Parts[0].Content, question) {
					t.Errorf("input messages %+v", in)
				}
				if len(out) != 1 || out[0].Role != "assistant" || out[0].FinishReason != "stop" ||
					len(out[0].Parts) != 1 || out[0].Parts[0].Content != answer {
					t.Errorf("output messages %+v", out)
				}
			})
		}
	}
}

// TestTelemetryContentParts checks the message format of tool calls, tool
// results, reasoning, refusals and images.
func TestTelemetryContentParts(t *testing.T) {
	mw, spans, _ := telemetryHarness(llm.TelemetryOptions{RecordContent: true})
	m := llm.Chain(llmtest.NewModel(llmtest.Response(&llm.Response{
		Message: llm.Message{Role: llm.RoleAssistant, Reasoning: "look it up",
			ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "orders", Arguments: `{"account_id":"a1"}`}, {ID: "call_2", Name: "bad", Arguments: `{"x":`}}},
	})), mw)
	req := &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{
		{Role: llm.RoleUser, Parts: []llm.Part{
			llm.Text("what is this?"),
			llm.ImageURL("https://img.example/a.png?X-Amz-Signature=secret"),
			llm.ImageBytes([]byte{0x89, 'P', 'N', 'G'}, "image/png"),
		}},
		{Role: llm.RoleAssistant, Refusal: "no"},
		{Role: llm.RoleTool, ToolCallID: "call_0", Parts: []llm.Part{llm.Text(`{"status":"shipped"}`)}},
	}}
	if _, err := m.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	attrs := telemetryAttrMap(onlySpan(t, spans).Attributes)
	wantIn := `[{"role":"user","parts":[{"type":"text","content":"what is this?"},{"type":"uri","modality":"image","uri":"https://img.example/a.png"}]},` +
		`{"role":"assistant","parts":[{"type":"refusal","content":"no"}]},` +
		`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_0","response":"{\"status\":\"shipped\"}"}]}]`
	if got := attrs["gen_ai.input.messages"]; got != wantIn {
		t.Errorf("input messages\n got %s\nwant %s", got, wantIn)
	}
	wantOut := `[{"role":"assistant","parts":[{"type":"reasoning","content":"look it up"},` +
		`{"type":"tool_call","id":"call_1","name":"orders","arguments":{"account_id":"a1"}},` +
		`{"type":"tool_call","id":"call_2","name":"bad","arguments":"{\"x\":"}],"finish_reason":"tool_calls"}]`
	if got := attrs["gen_ai.output.messages"]; got != wantOut {
		t.Errorf("output messages\n got %s\nwant %s", got, wantOut)
	}
}

// TestTelemetryContext checks that the Model below receives the span in its
// context, so its own spans are children of the call's.
func TestTelemetryContext(t *testing.T) {
	mw, spans, _ := telemetryHarness(llm.TelemetryOptions{})
	var tracer trace.Tracer
	inner := llm.ModelFuncs{GenerateFunc: func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		_, child := tracer.Start(ctx, "POST /v1/chat/completions")
		child.End()
		return &llm.Response{Message: llm.AssistantText("ok")}, nil
	}}
	tracer = sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)).Tracer("http")
	m := llm.Chain(inner, mw)
	for _, call := range []func(context.Context, llm.Model, *llm.Request) error{telemetryGenerate, telemetryStream} {
		spans.Reset()
		if err := call(t.Context(), m, telemetryRequest()); err != nil {
			t.Fatal(err)
		}
		got := spans.GetSpans()
		if len(got) != 2 {
			t.Fatalf("%d spans, want 2", len(got))
		}
		child, parent := got[0], got[1]
		if parent.Name != "chat gpt-4o-mini" || child.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Errorf("span %q has parent %v, want %q (%v)", child.Name, child.Parent.SpanID(), parent.Name, parent.SpanContext.SpanID())
		}
	}
}

// TestTelemetryStreamLazy checks that a stream nobody ranges over starts no
// span, and that each range is a span of its own.
func TestTelemetryStreamLazy(t *testing.T) {
	mw, spans, reader := telemetryHarness(llm.TelemetryOptions{})
	m := llm.Chain(llmtest.NewModel(llmtest.Reply("a"), llmtest.Reply("b")), mw)
	s := m.Stream(t.Context(), telemetryRequest())
	if n := len(spans.GetSpans()); n != 0 {
		t.Fatalf("%d spans before ranging", n)
	}
	for range 2 {
		if _, err := llm.Collect(s); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(spans.GetSpans()); n != 2 {
		t.Errorf("%d spans after two ranges, want 2", n)
	}
	if got := collectTelemetry(t, reader)["gen_ai.client.operation.duration"]; len(got) != 1 || got[0].Count != 2 {
		t.Errorf("duration points %v, want one series with two calls", got)
	}
}

// TestTelemetryStreamPanic checks that a panic in the caller's loop body
// still ends the span, marked abandoned, and is not swallowed.
func TestTelemetryStreamPanic(t *testing.T) {
	mw, spans, _ := telemetryHarness(llm.TelemetryOptions{})
	m := llm.Chain(llmtest.NewModel(llmtest.Reply("Your parcel left the depot.")), mw)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		for range m.Stream(t.Context(), telemetryRequest()) {
			panic("caller bug")
		}
	}()
	span := onlySpan(t, spans)
	if got := telemetryAttrMap(span.Attributes)["keel.stream.abandoned"]; got != true {
		t.Errorf("keel.stream.abandoned = %v, want true", got)
	}
}

// TestTelemetryNotSampled checks that an unsampled call still works and
// still counts in the metrics.
func TestTelemetryNotSampled(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	m := llm.Chain(llmtest.NewModel(llmtest.Reply("ok").WithUsage(10, 1)), llm.Telemetry(llm.TelemetryOptions{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans), sdktrace.WithSampler(sdktrace.NeverSample())),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	}))
	if err := telemetryGenerate(t.Context(), m, telemetryRequest()); err != nil {
		t.Fatal(err)
	}
	if n := len(spans.GetSpans()); n != 0 {
		t.Errorf("%d spans exported, want 0", n)
	}
	if got := collectTelemetry(t, reader)["gen_ai.client.token.usage"]; len(got) != 2 {
		t.Errorf("token usage points %v, want input and output", got)
	}
}

// TestTelemetryManySeries checks that calls keep being measured, each in
// its own series, past the size of the attribute-set cache.
func TestTelemetryManySeries(t *testing.T) {
	mw, _, reader := telemetryHarness(llm.TelemetryOptions{TenantAttribute: true})
	m := llm.Chain(llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("ok")}, nil
	}), mw)
	const tenants = 1500
	for i := range tenants {
		req := telemetryRequest()
		req.Principal.Tenant = fmt.Sprint("t", i)
		if err := telemetryGenerate(t.Context(), m, req); err != nil {
			t.Fatal(err)
		}
	}
	if got := collectTelemetry(t, reader)["gen_ai.client.operation.duration"]; len(got) != tenants {
		t.Errorf("%d duration series, want %d", len(got), tenants)
	}
}

// telemetryBenchProviders returns the real SDK set up as in production,
// with a batching span processor whose exporter drops everything, an
// always-on sampler, and a metric reader that is never collected.
func telemetryBenchProviders(b *testing.B) (*sdktrace.TracerProvider, *sdkmetric.MeterProvider) {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return tp, mp
}

// BenchmarkTelemetry measures the middleware alone with the real SDK (see
// telemetryBenchProviders) over a fake Model that answers at once, with the
// realistic 2 KB request carrying three tool definitions.
func BenchmarkTelemetry(b *testing.B) {
	answer := llm.Response{Message: llm.AssistantText("Your parcel left the depot this morning."), FinishReason: llm.FinishStop,
		Usage: llm.Usage{InputTokens: 480, OutputTokens: 12}, Model: "gpt-4o-mini", Provider: "openai", RequestID: "req_abc",
		Route: "support/stable", Target: "primary", Attempts: 1, Cost: 0.000085}
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		r := answer
		return &r, nil
	}}
	tp, mp := telemetryBenchProviders(b)
	m := llm.Chain(fake, llm.Telemetry(llm.TelemetryOptions{TracerProvider: tp, MeterProvider: mp}))
	req := realisticRequest()
	ctx := context.Background()
	benchMiddleware(b, m, fake, req)
	// Telemetry over the reliability half of the canonical stack, as in
	// BenchmarkReliabilityStack: the stack without cache and budget.
	stack := llm.Chain(reliabilityStack(b, fake, fake), llm.Telemetry(llm.TelemetryOptions{TracerProvider: tp, MeterProvider: mp}))
	b.Run("ReliabilityStack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stack.Generate(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	// SDKFloor is what the same providers cost with no keel code at all:
	// one span with the two start attributes and the fourteen end
	// attributes Generate sets for this answer, and the four measurements
	// (duration, input and output tokens, cost) with prebuilt attribute
	// sets. The difference to Generate is the middleware's own share.
	b.Run("SDKFloor", func(b *testing.B) {
		tracer, meter := tp.Tracer("floor"), mp.Meter("floor")
		dur, _ := meter.Float64Histogram("d")
		tok, _ := meter.Int64Histogram("t")
		cost, _ := meter.Float64Counter("c")
		startOpts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", "gpt-4o-mini"))}
		end := []attribute.KeyValue{
			attribute.String("gen_ai.provider.name", "openai"), attribute.Int("gen_ai.request.max_tokens", 512),
			attribute.String("keel.tenant", "acme"), attribute.String("keel.user", "u-42"), attribute.String("keel.feature", "support-answer"),
			attribute.String("gen_ai.response.model", "gpt-4o-mini"), attribute.String("gen_ai.response.id", "req_abc"),
			attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"}),
			attribute.Int("gen_ai.usage.input_tokens", 480), attribute.Int("gen_ai.usage.output_tokens", 12),
			attribute.Float64("keel.cost_usd", 0.000085), attribute.String("keel.route", "support/stable"),
			attribute.String("keel.target", "primary"), attribute.Int("keel.attempts", 1),
		}
		base := []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.provider.name", "openai"),
			attribute.String("gen_ai.request.model", "gpt-4o-mini"), attribute.String("gen_ai.response.model", "gpt-4o-mini"),
			attribute.String("keel.feature", "support-answer")}
		set := metric.WithAttributeSet(attribute.NewSet(base...))
		in := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(base), attribute.String("gen_ai.token.type", "input"))...))
		out := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(base), attribute.String("gen_ai.token.type", "output"))...))
		b.ReportAllocs()
		for b.Loop() {
			sctx, span := tracer.Start(ctx, "chat gpt-4o-mini", startOpts...)
			span.SetAttributes(end...)
			span.End()
			dur.Record(sctx, 0.0001, set)
			tok.Record(sctx, 480, in)
			tok.Record(sctx, 12, out)
			cost.Add(sctx, 0.000085, set)
		}
	})
}

// TestTelemetryNilRequest checks that a nil request is reported as the
// failure the Model below returns, not a panic.
func TestTelemetryNilRequest(t *testing.T) {
	mw, spans, _ := telemetryHarness(llm.TelemetryOptions{})
	core, logs := observer.New(zapcore.InfoLevel)
	m := llm.Chain(llmtest.NewModel(), mw, llm.Logging(zap.New(core), llm.LoggingOptions{}))
	for _, call := range []func(context.Context, llm.Model, *llm.Request) error{telemetryGenerate, telemetryStream} {
		if err := call(t.Context(), m, nil); llm.KindOf(err) != llm.KindInvalidRequest {
			t.Errorf("nil request: %v, want invalid_request", err)
		}
	}
	got := spans.GetSpans()
	want := map[string]any{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "llmtest", "error.type": "invalid_request"}
	if len(got) != 2 || got[0].Name != "chat" || !reflect.DeepEqual(telemetryAttrMap(got[0].Attributes), want) {
		t.Errorf("spans %v", got)
	}
	if logs.Len() != 2 {
		t.Errorf("%d lines logged, want 2", logs.Len())
	}
}

// TestTelemetryConcurrent runs calls for several models and tenants at once
// through one middleware, for the race detector, and checks that every
// call is counted.
func TestTelemetryConcurrent(t *testing.T) {
	mw, spans, reader := telemetryHarness(llm.TelemetryOptions{TenantAttribute: true})
	m := llm.Chain(llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: 10, OutputTokens: 1}}, nil
	}), mw)
	const workers, calls = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				req := telemetryRequest()
				req.Model = fmt.Sprint("model-", i%3)
				req.Principal.Tenant = fmt.Sprint("tenant-", w%4)
				call := telemetryGenerate
				if i%2 == 1 {
					call = telemetryStream
				}
				if err := call(t.Context(), m, req); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(spans.GetSpans()); n != workers*calls {
		t.Errorf("%d spans, want %d", n, workers*calls)
	}
	var total uint64
	for _, p := range collectTelemetry(t, reader)["gen_ai.client.operation.duration"] {
		total += p.Count
	}
	if total != workers*calls {
		t.Errorf("%d calls measured, want %d", total, workers*calls)
	}
}
