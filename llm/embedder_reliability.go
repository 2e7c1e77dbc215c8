package llm

import (
	"context"
	"time"
)

// The reliability middlewares for Embedders. Each one is the Model
// middleware of the same name with an Embed path: RetryEmbedder runs the
// retry loop of Retry (retrier.retry), TimeoutEmbedder the Total limit of
// Timeout (callWithin), and RateLimitEmbedder the admission, reconciliation
// and 429 handling of RateLimit (rateLimiter). There is no fallback,
// hedging or circuit breaker middleware for embedders; the package
// documentation (Reliability) says why.

// RetryEmbedder returns an EmbedderMiddleware that calls the Embedder again
// after a failure, with the policy of Retry: the same RetryOptions and
// defaults, the same error table (Retryable: never quota exhaustion,
// cancellation or a caller mistake such as an invalid request, and the
// provider's x-should-retry honoured), capped exponential backoff with full
// jitter, never sooner than the error's retry-after, and the same reasons
// to give up at once with the last error (MaxAttempts calls made, a
// retry-after above MaxRetryAfter, a wait that would end past the context's
// deadline, a refusal of Budget). A context that ends during a wait ends
// the call with an *Error of KindCanceled or KindTimeout.
//
// One RetryBudget may be shared by the Retry of a provider's chat models
// and the RetryEmbedder of its embedding models: both count their calls
// and retries in it, so an outage cannot turn into a retry storm from an
// ingestion job any more than from chat traffic.
//
// A batch is retried whole: an embedding call has no side effects, and
// providers accept or reject a batch as one. On failure the error is an
// *Error with Attempts set, as with Retry; EmbedResponse has no attempt
// count, so use OnRetry to observe the retries of calls that succeeded.
//
// It belongs where Retry sits in the canonical stack, outside the rate
// limit and the per-attempt timeout, so that every attempt spends from the
// rate limits and gets its own time limit:
//
//	embedder := llm.ChainEmbedder(provider,
//		llm.RetryEmbedder(llm.RetryOptions{Budget: budget}),
//		llm.RateLimitEmbedder(llm.RateLimitOptions{Name: "openai/text-embedding-3-small",
//			Limits: llm.RateLimits{RequestsPerMinute: 3000, TokensPerMinute: 1_000_000}}),
//		llm.TimeoutEmbedder(30*time.Second))
func RetryEmbedder(opts RetryOptions) EmbedderMiddleware {
	r := newRetrier(opts)
	return func(next Embedder) Embedder {
		return &retryEmbedder{next: next, retrier: r}
	}
}

type retryEmbedder struct {
	next Embedder
	retrier
}

// Embed implements Embedder.
func (e *retryEmbedder) Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error) {
	e.opts.Budget.RecordRequest()
	resp, err := e.next.Embed(ctx, req)
	if err != nil {
		_, err = e.retry(ctx, err, func(ctx context.Context, _ int) (int, error) {
			var err error
			resp, err = e.next.Embed(ctx, req)
			return 0, err
		})
		if err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// TimeoutEmbedder returns an EmbedderMiddleware that limits each Embed call
// to total, with the code Timeout uses for TimeoutOptions.Total on
// Generate. It takes a duration rather than TimeoutOptions because an
// embedding call has no stream: FirstToken and Idle would have nothing to
// limit, and a plain duration cannot be misconfigured with them. A total of
// zero or less returns the Embedder unchanged.
//
// When the limit fires, the call fails with an *Error of KindTimeout whose
// message names the limit ("total time limit of 30s exceeded"). The
// Embedder below sees its context's deadline pass (with that error as
// context.Cause), and whatever it returns is replaced by the timeout error,
// which wraps the Embedder's own error when that is a timeout and
// context.DeadlineExceeded otherwise, so errors.Is(err, KindCanceled) is
// false. A cancellation or deadline of the caller's context is passed
// through as the Embedder reported it (KindCanceled for a cancellation).
//
// Inside RetryEmbedder (the canonical position) it limits each attempt,
// and a timed-out attempt is retried; outside, it limits the whole call,
// backoff waits included. The Embedder below must honour its context, as
// providers and llmtest fakes do. A call costs one context.WithDeadline,
// none when the caller's deadline comes first.
func TimeoutEmbedder(total time.Duration) EmbedderMiddleware {
	if total <= 0 {
		return func(next Embedder) Embedder { return next }
	}
	l := newTimeoutLimits(TimeoutOptions{Total: total})
	return func(next Embedder) Embedder {
		return &timeoutEmbedder{next: next, limits: l}
	}
}

type timeoutEmbedder struct {
	next   Embedder
	limits *timeoutLimits
}

// Embed implements Embedder.
func (e *timeoutEmbedder) Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error) {
	return callWithin(ctx, e.limits, req, e.next.Embed)
}

// RateLimitEmbedder returns an EmbedderMiddleware that enforces client-side
// requests-per-minute and tokens-per-minute limits for one embedding model
// (RateLimitOptions.Name, such as "openai/text-embedding-3-small"), overall
// and per tenant (EmbedRequest.Principal.Tenant). It is RateLimit's limiter
// with an Embed path, and takes the same options with the same meaning:
// the LimitStore and its keys, MaxWait, the pause and adaptive slow-down
// after a provider 429 (AdaptiveRate), the SafeMode factor and the store
// error policy.
//
// Before a call it reserves one request and a cheap upper bound of the
// call's tokens: the sum of the inputs' lengths in bytes, since every token
// of OpenAI's encodings covers at least one byte (TokenCounter and
// DefaultMaxOutput do not apply). A reservation larger than a bucket's
// burst is capped at the burst, so a batch bigger than the bucket still
// gets through once the bucket is full. After the call it reconciles the
// reservation with EmbedResponse.Usage.InputTokens: what was not used is
// refunded (about three quarters for English text, at some four bytes a
// token), and a provider that reports more than was reserved is charged
// the difference. A reservation stands when the provider reports no usage,
// and when the call fails, as a failed Model call keeps its prompt
// reservation. A request without inputs is passed through without
// reservation, since providers make no call for it.
//
// Providers limit each embedding model separately from the chat models, so
// give each embedding model its own limiter and Name; limiters with the same
// Name on a shared Store share their limits, as replicas should. The
// returned EmbedderMiddleware keeps its adaptive state for every Embedder
// it wraps; build one per model. It is safe for concurrent use, and on the
// default in-memory store the admission path takes no lock and allocates
// nothing.
func RateLimitEmbedder(opts RateLimitOptions) EmbedderMiddleware {
	l := newRateLimiter(opts)
	return func(next Embedder) Embedder { return &rateLimitedEmbedder{l: l, next: next} }
}

type rateLimitedEmbedder struct {
	l    *rateLimiter
	next Embedder
}

// Embed implements Embedder.
func (e *rateLimitedEmbedder) Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error) {
	if req == nil || len(req.Inputs) == 0 {
		return e.next.Embed(ctx, req)
	}
	var t rlTicket
	if err := e.l.admitEmbed(ctx, req, &t); err != nil {
		return nil, err
	}
	resp, err := e.next.Embed(ctx, req)
	var usage Usage
	if resp != nil {
		usage = resp.Usage
	}
	e.l.done(ctx, &t, err, usage, err != nil)
	return resp, err
}

// admitEmbed admits an Embed call: one request, and the inputs' byte
// length as its tokens when a token limit is set.
func (l *rateLimiter) admitEmbed(ctx context.Context, req *EmbedRequest, t *rlTicket) error {
	in := 0
	if l.tokens {
		for _, s := range req.Inputs {
			in += len(s) // every token covers at least one byte
		}
	}
	return l.admit(ctx, t, req.Model, req.Principal.Tenant, in, 0)
}
