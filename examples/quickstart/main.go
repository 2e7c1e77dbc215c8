// Command quickstart sends one request through a middleware chain, then
// streams a second answer, and prints the tokens each used.
//
// It runs offline by default, against a local scripted model from
// llm/llmtest. With OPENAI_API_KEY or OPENAI_BASE_URL set (any
// OpenAI-compatible server: OpenAI, vLLM, Ollama, OpenRouter) it uses the
// real provider instead, and OPENAI_MODEL picks the model
// (default gpt-4o-mini).
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/openai"
	"github.com/tiktoken-go/tokenizer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, getenv func(string) string) error {
	provider, modelName, desc, err := chooseProvider(getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "provider: %s\n\n", desc)

	// The stack reads top to bottom, outermost first, like net/http
	// handlers. Fallback, routing, rate limits, cache, budgets and guards
	// compose the same way (see the llm package documentation).
	model := llm.Chain(provider,
		logCalls(w),   // outermost: sees every call and its cost in tokens
		requireTenant, // refuses calls made for nobody, before any cost
		llm.Retry(llm.RetryOptions{ // retries what the error table says is transient
			BaseDelay: 100 * time.Millisecond,
			OnRetry: func(_ context.Context, attempt int, err error, wait time.Duration) {
				fmt.Fprintf(w, "  [retry] attempt %d failed (%s), retrying in %s\n", attempt, llm.KindOf(err), wait.Round(time.Millisecond))
			},
		}),
		llm.Timeout(llm.TimeoutOptions{Total: 30 * time.Second, FirstToken: 10 * time.Second}), // per attempt
	)

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	who := llm.Principal{Tenant: "acme", User: "u-42"}
	system := llm.SystemMessage("You are a concise support assistant for Acme's billing product.")

	// 1. One request through the chain.
	resp, err := model.Generate(ctx, &llm.Request{
		Model:           modelName,
		Messages:        []llm.Message{system, llm.UserText("How long does a refund take?")},
		Principal:       who,
		Feature:         "quickstart",
		MaxOutputTokens: 200,
	})
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	fmt.Fprintf(w, "answer: %s\n", resp.Text())
	fmt.Fprintf(w, "tokens: %d in, %d out (model %s, %d attempt(s))\n\n", resp.Usage.InputTokens, resp.Usage.OutputTokens, resp.Model, max(resp.Attempts, 1))

	// 2. A streamed answer: text is printed as it arrives; the usage
	// event at the end says what the call cost.
	fmt.Fprint(w, "streamed: ")
	var acc llm.Accumulator
	for ev, err := range model.Stream(ctx, &llm.Request{
		Model:           modelName,
		Messages:        []llm.Message{system, llm.UserText("Give me three tips for reading my invoice.")},
		Principal:       who,
		Feature:         "quickstart",
		MaxOutputTokens: 300,
	}) {
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		acc.Add(ev)
		if ev.Kind == llm.EventTextDelta {
			fmt.Fprint(w, ev.Text)
		}
	}
	streamed := acc.Response()
	fmt.Fprintf(w, "\ntokens: %d in, %d out (finish: %s)\n\n", streamed.Usage.InputTokens, streamed.Usage.OutputTokens, streamed.FinishReason)

	// 3. Middlewares act before the provider: no tenant, no call.
	_, err = model.Generate(ctx, &llm.Request{Model: modelName, Messages: []llm.Message{llm.UserText("hi")}})
	fmt.Fprintf(w, "without a tenant: %v (policy denied: %t)\n", err, llm.KindOf(err) == llm.KindPolicyDenied)
	return nil
}

// chooseProvider returns the real OpenAI-compatible provider when the
// environment names one, and the offline scripted model otherwise.
func chooseProvider(getenv func(string) string) (llm.Model, string, string, error) {
	modelName := getenv("OPENAI_MODEL")
	if modelName == "" {
		modelName = "gpt-4o-mini"
	}
	if key, base := getenv("OPENAI_API_KEY"), getenv("OPENAI_BASE_URL"); key != "" || base != "" {
		var opts []openai.Option
		if key != "" {
			opts = append(opts, openai.WithAPIKey(key))
		}
		if base != "" {
			opts = append(opts, openai.WithBaseURL(base))
		}
		p, err := openai.New(opts...)
		if err != nil {
			return nil, "", "", err
		}
		where := "api.openai.com"
		if base != "" {
			where = base
			if u, err := url.Parse(base); err == nil {
				where = u.Redacted() // never print a password in the URL
			}
		}
		return p, modelName, fmt.Sprintf("OpenAI-compatible API at %s, model %s", where, modelName), nil
	}
	m, err := scriptedModel()
	return m, modelName, "offline scripted model (set OPENAI_API_KEY or OPENAI_BASE_URL to use a real one)", err
}

// scriptedModel answers from a small table, the way a test fake would, so
// the example runs with no network and no key. Its first call fails with a
// 503, as a provider's sometimes do, to show the retry. It counts tokens exactly, with
// the o200k_base encoding that gpt-4o models use (the vocabulary is compiled
// in, so no download), the way a real provider would report them.
func scriptedModel() (llm.Model, error) {
	enc, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		return nil, fmt.Errorf("loading tokenizer: %w", err)
	}
	count := func(s string) int {
		n, _ := enc.Count(s)
		return n
	}
	m := llmtest.NewModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		q := strings.ToLower(req.Messages[len(req.Messages)-1].Text())
		answer := "I can help with billing questions."
		switch {
		case strings.Contains(q, "refund"):
			answer = "Refunds reach your card within 5 business days of approval."
		case strings.Contains(q, "invoice"):
			answer = "1. Check the billing period at the top. 2. Usage charges are itemised by day. 3. Taxes are listed last, per region."
		}
		// Chat formatting adds about 3 tokens per message and 3 to prime
		// the answer, as OpenAI's token-counting guide describes.
		in := 3
		for _, m := range req.Messages {
			in += 3 + count(m.Text())
		}
		return &llm.Response{
			Message:      llm.AssistantText(answer),
			FinishReason: llm.FinishStop,
			Model:        "scripted-" + req.Model,
			Usage:        llm.Usage{InputTokens: in, OutputTokens: count(answer)},
		}, nil
	})
	return m.Enqueue(llmtest.ServerError(503)), nil
}

// logCalls is a middleware that reports every call's latency and tokens.
func logCalls(w io.Writer) llm.Middleware {
	return func(next llm.Model) llm.Model {
		return llm.ModelFuncs{
			GenerateFunc: func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
				start := time.Now()
				resp, err := next.Generate(ctx, req)
				if err != nil {
					fmt.Fprintf(w, "  [log] generate failed after %s: kind=%s\n", time.Since(start).Round(time.Microsecond), llm.KindOf(err))
					return nil, err
				}
				fmt.Fprintf(w, "  [log] generate %s: %d tokens in %s\n", resp.Model, resp.Usage.TotalTokens(), time.Since(start).Round(time.Microsecond))
				return resp, nil
			},
			StreamFunc: func(ctx context.Context, req *llm.Request) llm.Stream {
				return func(yield func(llm.Event, error) bool) {
					start := time.Now()
					var usage llm.Usage
					defer func() {
						fmt.Fprintf(w, "\n  [log] stream: %d tokens in %s", usage.TotalTokens(), time.Since(start).Round(time.Microsecond))
					}()
					for ev, err := range next.Stream(ctx, req) {
						if ev.Kind == llm.EventUsage {
							usage = ev.Usage
						}
						if !yield(ev, err) || err != nil {
							return
						}
					}
				}
			},
		}
	}
}

// requireTenant is a middleware that refuses requests without a tenant
// before they reach the provider.
var requireTenant = llm.Check(func(_ context.Context, req *llm.Request) error {
	if req.Principal.Tenant == "" {
		return &llm.Error{Kind: llm.KindPolicyDenied, Message: "request has no tenant"}
	}
	return nil
})
