package openai

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/keel-go/keel/llm"
)

// throughputCallers is the number of concurrent callers: the 64.
const throughputCallers = 64

// throughputParallelism is the RunParallel factor that gives
// throughputCallers goroutines (RunParallel starts factor × GOMAXPROCS).
func throughputParallelism() int {
	procs := runtime.GOMAXPROCS(0)
	return (throughputCallers + procs - 1) / procs
}

func throughputHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * throughputCallers, MaxIdleConnsPerHost: 2 * throughputCallers}}
}

// BenchmarkStackThroughput compares requests per second through keel's
// full canonical stack (telemetry with the real OpenTelemetry SDK, a cache
// that misses because every call asks a new question, a per-tenant budget,
// router, fallback with breakers, retry, rate limit and timeout) over this
// provider, with bare openai-go, both at 64 concurrent callers against the
// same loopback server. The target is keel ≥ 90% of bare's requests per
// second; compare the req/s metric of the two sub-benchmarks.
func BenchmarkStackThroughput(b *testing.B) {
	b.Run("keel", func(b *testing.B) {
		srv := benchServer(b, "chat_plain.json")
		provider, err := New(WithBaseURL(srv.URL+"/v1"), WithAPIKey(testKey), WithHTTPClient(throughputHTTPClient()))
		if err != nil {
			b.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
		budget := llm.NewRetryBudget(0.1, 10*time.Second, 1)
		attempt := func(name string) llm.Target {
			return llm.Target{Name: name, Model: llm.Chain(provider,
				llm.Retry(llm.RetryOptions{Budget: budget}),
				llm.RateLimit(llm.RateLimitOptions{Name: name,
					Limits:       llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
					TenantLimits: llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15}}),
				llm.Timeout(llm.TimeoutOptions{Total: 30 * time.Second}),
			)}
		}
		router, err := llm.NewRouter(llm.RouterOptions{Default: &llm.RouteRule{
			Model: llm.Fallback(llm.FallbackOptions{}, attempt("primary"), attempt("secondary"))}})
		if err != nil {
			b.Fatal(err)
		}
		stack := llm.Chain(router,
			llm.Telemetry(llm.TelemetryOptions{TracerProvider: tp, MeterProvider: mp}),
			llm.Cache(llm.CacheOptions{Store: llm.NewMemoryCache(64 << 20), AllowNonDeterministic: true}),
			llm.Budget(llm.BudgetOptions{Prices: llm.DefaultPrices(),
				Limits: []llm.BudgetLimit{{Name: "tenant-daily", Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Hard: 1e12}}}),
		)
		base := realisticRequest()
		base.Principal = llm.Principal{Tenant: "acme", User: "u-1"}
		var n atomic.Int64
		ctx := context.Background()
		b.SetParallelism(throughputParallelism()) // × GOMAXPROCS = 64 callers
		b.ReportAllocs()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			req := base.Clone()
			last := len(req.Messages) - 1
			for pb.Next() {
				req.Messages[last] = llm.UserText(benchUserPrompt + " Order " + strconv.FormatInt(n.Add(1), 10) + ".")
				resp, err := stack.Generate(ctx, req)
				if err != nil || resp.CacheHit {
					b.Error(resp, err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
	b.Run("bare", func(b *testing.B) {
		srv := benchServer(b, "chat_plain.json")
		client := oai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(testKey),
			option.WithMaxRetries(0), option.WithHTTPClient(throughputHTTPClient()))
		params := bareParams(b)
		var n atomic.Int64
		ctx := context.Background()
		b.SetParallelism(throughputParallelism())
		b.ReportAllocs()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			p := params
			for pb.Next() {
				p.Messages = []oai.ChatCompletionMessageParamUnion{
					params.Messages[0], oai.UserMessage(benchUserPrompt + " Order " + strconv.FormatInt(n.Add(1), 10) + "."),
				}
				cc, err := client.Chat.Completions.New(ctx, p)
				if err != nil || len(cc.Choices) == 0 {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
}
