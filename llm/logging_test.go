package llm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// loggingAnswer is the answer text of the logging tests; the prompt is
// telemetryRequest's.
const loggingAnswer = "Your parcel left the depot this morning."

// loggingPromptText is a piece of telemetryRequest's user message.
const loggingPromptText = "My order has not arrived"

// loggingRequestFields are the fields telemetryRequest gives every line.
func loggingRequestFields(extra map[string]any) map[string]any {
	m := map[string]any{
		"model":          "gpt-4o-mini",
		"tenant":         "acme",
		"feature":        "support-answer",
		"prompt_name":    "support-answer",
		"prompt_version": "v3",
		"input_tokens":   int64(0),
		"output_tokens":  int64(0),
		"cost_usd":       0.0,
		"cache_hit":      false,
	}
	maps.Copy(m, extra)
	return m
}

// checkNoContent fails if a field of e holds the prompt, the answer or the
// user id.
func checkNoContent(t *testing.T, e observer.LoggedEntry) {
	t.Helper()
	for k, v := range e.ContextMap() {
		s := fmt.Sprint(v)
		if strings.Contains(s, loggingPromptText) || strings.Contains(s, loggingAnswer) || strings.Contains(s, "u-42") {
			t.Errorf("field %s holds content or the user id: %q", k, s)
		}
	}
}

func TestLogging(t *testing.T) {
	answer := func() *llm.Response {
		return &llm.Response{
			Message:      llm.AssistantText(loggingAnswer),
			FinishReason: llm.FinishStop,
			Usage:        llm.Usage{InputTokens: 480, OutputTokens: 12, CachedInputTokens: 256},
			Model:        "gpt-4o-mini-2024-07-18",
			Provider:     "openai",
			RequestID:    "req_abc",
			Route:        "support/stable",
			Target:       "primary",
			Attempts:     2,
			Cost:         0.000085,
		}
	}
	reply := llmtest.Reply(loggingAnswer).WithUsage(480, 12)
	tests := []struct {
		name       string
		model      func() llm.Model
		call       func(context.Context, llm.Model, *llm.Request) error
		ctx        func(context.Context) context.Context
		wantLevel  zapcore.Level
		wantMsg    string
		wantFields map[string]any
	}{
		{
			name:      "success",
			model:     func() llm.Model { return llmtest.NewModel(llmtest.Response(answer()).Delay(250 * time.Millisecond)) },
			call:      telemetryGenerate,
			wantLevel: zapcore.InfoLevel,
			wantMsg:   "llm call",
			wantFields: loggingRequestFields(map[string]any{
				"response_model":      "gpt-4o-mini-2024-07-18",
				"provider":            "openai",
				"latency":             250 * time.Millisecond,
				"input_tokens":        int64(480),
				"output_tokens":       int64(12),
				"cached_input_tokens": int64(256),
				"cost_usd":            0.000085,
				"attempts":            int64(2),
				"route":               "support/stable",
				"target":              "primary",
				"request_id":          "req_abc",
				"finish_reason":       "stop",
			}),
		},
		{
			name: "cache hit",
			model: func() llm.Model {
				return llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
					r := answer()
					r.CacheHit, r.Cost, r.Attempts, r.Route, r.Target = true, 0, 0, "", ""
					return r, nil
				}}
			},
			call:      telemetryGenerate,
			wantLevel: zapcore.InfoLevel,
			wantMsg:   "llm call",
			wantFields: loggingRequestFields(map[string]any{
				"response_model":      "gpt-4o-mini-2024-07-18",
				"provider":            "openai",
				"latency":             time.Duration(0),
				"input_tokens":        int64(480),
				"output_tokens":       int64(12),
				"cached_input_tokens": int64(256),
				"cache_hit":           true,
				"request_id":          "req_abc",
				"finish_reason":       "stop",
			}),
		},
		{
			name: "stream",
			model: func() llm.Model {
				return llmtest.NewModel(reply.Delay(300*time.Millisecond).StallAfter(4, 200*time.Millisecond))
			},
			call:      telemetryStream,
			wantLevel: zapcore.InfoLevel,
			wantMsg:   "llm call",
			wantFields: loggingRequestFields(map[string]any{
				"response_model": "gpt-4o-mini",
				"provider":       "llmtest",
				"latency":        500 * time.Millisecond,
				"input_tokens":   int64(480),
				"output_tokens":  int64(12),
				"finish_reason":  "stop",
				"stream":         true,
				"ttft":           300 * time.Millisecond,
			}),
		},
		{
			name:      "abandoned stream",
			model:     func() llm.Model { return llmtest.NewModel(reply.Delay(300 * time.Millisecond)) },
			call:      telemetryAbandon,
			wantLevel: zapcore.InfoLevel,
			wantMsg:   "llm call",
			wantFields: loggingRequestFields(map[string]any{
				"response_model": "gpt-4o-mini",
				"provider":       "llmtest",
				"latency":        300 * time.Millisecond,
				"stream":         true,
				"ttft":           300 * time.Millisecond,
				"abandoned":      true,
			}),
		},
		{
			name:      "rate limited",
			model:     func() llm.Model { return llmtest.NewModel(llmtest.RateLimited("X-Request-Id", "req_429")) },
			call:      telemetryGenerate,
			wantLevel: zapcore.WarnLevel,
			wantMsg:   "llm call failed",
			wantFields: loggingRequestFields(map[string]any{
				"provider":   "llmtest",
				"latency":    time.Duration(0),
				"request_id": "req_429",
				"error_kind": "rate_limited",
				"error":      "llm: llmtest gpt-4o-mini: rate_limited (HTTP 429, rate_limit_exceeded): Rate limit reached for requests. Please try again later. [request req_429]",
			}),
		},
		{
			name: "bad key",
			model: func() llm.Model {
				return llmtest.NewModel(llmtest.HTTPFailure(http.StatusUnauthorized, "invalid_api_key",
					"Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz123456."))
			},
			call:      telemetryStream,
			wantLevel: zapcore.ErrorLevel,
			wantMsg:   "llm call failed",
			wantFields: loggingRequestFields(map[string]any{
				"provider":   "llmtest",
				"latency":    time.Duration(0),
				"stream":     true,
				"error_kind": "auth",
				"error":      "llm: llmtest gpt-4o-mini: auth (HTTP 401, invalid_api_key): Incorrect API key provided: sk-[REDACTED].",
			}),
		},
		{
			name:      "quota",
			model:     func() llm.Model { return llmtest.NewModel(llmtest.QuotaExhausted()) },
			call:      telemetryGenerate,
			wantLevel: zapcore.ErrorLevel,
			wantMsg:   "llm call failed",
			wantFields: loggingRequestFields(map[string]any{
				"provider":   "llmtest",
				"latency":    time.Duration(0),
				"error_kind": "quota_exhausted",
				"error":      "llm: llmtest gpt-4o-mini: quota_exhausted (HTTP 429, insufficient_quota): You exceeded your current quota, please check your plan and billing details.",
			}),
		},
		{
			name:  "canceled",
			model: func() llm.Model { return llmtest.NewModel(reply) },
			ctx: func(ctx context.Context) context.Context {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx
			},
			call:      telemetryGenerate,
			wantLevel: zapcore.WarnLevel,
			wantMsg:   "llm call failed",
			wantFields: loggingRequestFields(map[string]any{
				"provider":   "llmtest",
				"latency":    time.Duration(0),
				"error_kind": "canceled",
				"error":      "llm: llmtest gpt-4o-mini: canceled: context canceled",
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				core, logs := observer.New(zapcore.DebugLevel)
				m := llm.Chain(tt.model(), llm.Logging(zap.New(core), llm.LoggingOptions{}))
				ctx := t.Context()
				if tt.ctx != nil {
					ctx = tt.ctx(ctx)
				}
				_ = tt.call(ctx, m, telemetryRequest())
				entries := logs.All()
				if len(entries) != 1 {
					t.Fatalf("%d lines logged, want 1", len(entries))
				}
				e := entries[0]
				if e.Level != tt.wantLevel || e.Message != tt.wantMsg {
					t.Errorf("logged %v %q, want %v %q", e.Level, e.Message, tt.wantLevel, tt.wantMsg)
				}
				if got := e.ContextMap(); !reflect.DeepEqual(got, tt.wantFields) {
					t.Errorf("fields:\n got %v\nwant %v", got, tt.wantFields)
				}
				checkNoContent(t, e)
			})
		})
	}
}

// TestLoggingOptIn checks that LogContent adds the prompt and the answer in
// the GenAI message format, and LogUser the user id.
func TestLoggingOptIn(t *testing.T) {
	for _, call := range []string{"generate", "stream"} {
		t.Run(call, func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			m := llm.Chain(llmtest.NewModel(llmtest.Reply(loggingAnswer)),
				llm.Logging(zap.New(core), llm.LoggingOptions{LogContent: true, LogUser: true}))
			var err error
			if call == "generate" {
				err = telemetryGenerate(t.Context(), m, telemetryRequest())
			} else {
				err = telemetryStream(t.Context(), m, telemetryRequest())
			}
			if err != nil {
				t.Fatal(err)
			}
			fields := logs.All()[0].ContextMap()
			if fields["user"] != "u-42" {
				t.Errorf("user = %v, want u-42", fields["user"])
			}
			in, _ := fields["input_messages"].(json.RawMessage)
			out, _ := fields["output_messages"].(json.RawMessage)
			if !json.Valid(in) || !strings.Contains(string(in), loggingPromptText) {
				t.Errorf("input_messages = %s", in)
			}
			want := `[{"role":"assistant","parts":[{"type":"text","content":"` + loggingAnswer + `"}],"finish_reason":"stop"}]`
			if string(out) != want {
				t.Errorf("output_messages = %s, want %s", out, want)
			}
		})
	}
}

// TestLoggingDisabled checks that nothing is built for a disabled level,
// while failures still reach an enabled one.
func TestLoggingDisabled(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	resp := &llm.Response{Message: llm.AssistantText("ok")}
	var fail error
	inner := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		if fail != nil {
			return nil, fail
		}
		return resp, nil
	}}
	m := llm.Chain(inner, llm.Logging(zap.New(core), llm.LoggingOptions{LogContent: true}))
	req, ctx := telemetryRequest(), t.Context()
	if allocs := testing.AllocsPerRun(100, func() { _, _ = m.Generate(ctx, req) }); allocs != 0 {
		t.Errorf("a success with Info disabled costs %v allocations, want 0", allocs)
	}
	if logs.Len() != 0 {
		t.Errorf("%d lines logged below the level", logs.Len())
	}
	fail = &llm.Error{Kind: llm.KindUnavailable, Provider: "openai", Status: 503}
	_, _ = m.Generate(ctx, req)
	if got := logs.FilterLevelExact(zapcore.WarnLevel).Len(); got != 1 {
		t.Errorf("%d warnings logged for a 503, want 1", got)
	}
}

// TestLoggingNilLogger checks that a nil logger logs nothing and breaks
// nothing.
func TestLoggingNilLogger(t *testing.T) {
	m := llm.Chain(llmtest.NewModel(llmtest.Reply("ok")), llm.Logging(nil, llm.LoggingOptions{}))
	if err := telemetryGenerate(t.Context(), m, telemetryRequest()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLogging measures the middleware alone over a fake Model that
// answers at once, with the realistic 2 KB request: with a no-op logger,
// and with a production JSON core writing to io.Discard.
func BenchmarkLogging(b *testing.B) {
	answer := llm.Response{Message: llm.AssistantText(loggingAnswer), FinishReason: llm.FinishStop,
		Usage: llm.Usage{InputTokens: 480, OutputTokens: 12}, Model: "gpt-4o-mini", Provider: "openai", RequestID: "req_abc",
		Route: "support/stable", Target: "primary", Attempts: 1, Cost: 0.000085}
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		r := answer
		return &r, nil
	}}
	jsonCore := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel)
	loggers := []struct {
		name   string
		logger *zap.Logger
	}{
		{"Nop", zap.NewNop()},
		{"JSON", zap.New(jsonCore)},
	}
	req := realisticRequest()
	ctx := context.Background()
	for _, l := range loggers {
		m := llm.Chain(fake, llm.Logging(l.logger, llm.LoggingOptions{}))
		b.Run(l.name+"/Generate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Generate(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(l.name+"/Stream", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, err := range m.Stream(ctx, req) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestLoggingTraceIDs checks that, inside Telemetry, each line carries the
// ids of the call's span.
func TestLoggingTraceIDs(t *testing.T) {
	mw, spans, _ := telemetryHarness(llm.TelemetryOptions{})
	core, logs := observer.New(zapcore.InfoLevel)
	m := llm.Chain(llmtest.NewModel(llmtest.Reply("ok"), llmtest.Reply("ok")), mw, llm.Logging(zap.New(core), llm.LoggingOptions{}))
	for _, call := range []func(context.Context, llm.Model, *llm.Request) error{telemetryGenerate, telemetryStream} {
		if err := call(t.Context(), m, telemetryRequest()); err != nil {
			t.Fatal(err)
		}
	}
	got, lines := spans.GetSpans(), logs.All()
	if len(got) != 2 || len(lines) != 2 {
		t.Fatalf("%d spans and %d lines, want 2 of each", len(got), len(lines))
	}
	for i, span := range got {
		f := lines[i].ContextMap()
		if f["trace_id"] != span.SpanContext.TraceID().String() || f["span_id"] != span.SpanContext.SpanID().String() {
			t.Errorf("line %d has trace %v span %v, want %v %v", i, f["trace_id"], f["span_id"],
				span.SpanContext.TraceID(), span.SpanContext.SpanID())
		}
	}
}
