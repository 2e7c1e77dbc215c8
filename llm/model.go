package llm

import (
	"context"
	"iter"
)

// Model is anything that answers a Request: a provider, a fake, or a
// middleware wrapping another Model. Implementations must be safe for
// concurrent use.
//
// Stream returns a lazy iterator: nothing is sent until the caller ranges
// over it, and breaking out of the loop releases the underlying connection.
// Every failure, including one that happens before the first event, is
// yielded as the error of the last pair, so there is one error path to
// handle. Collect turns a stream into the Response Generate would return.
//
// A *Response returned by Generate belongs to the caller: middlewares
// annotate it in place (Route, Target, Attempts), so an implementation that
// keeps responses (a cache, a fake replaying one answer) returns a copy
// each time. Likewise a Model never modifies the *Request it is given.
type Model interface {
	Generate(ctx context.Context, req *Request) (*Response, error)
	Stream(ctx context.Context, req *Request) iter.Seq2[Event, error]
}

// Middleware wraps a Model with behaviour: retries, fallback, caching,
// budgets, guards, telemetry.
type Middleware func(Model) Model

// Chain wraps m in middlewares so that the first one listed is the
// outermost: Chain(p, a, b) serves a call as a → b → p. This matches reading
// the canonical stack top to bottom.
func Chain(m Model, middlewares ...Middleware) Model {
	for i := len(middlewares) - 1; i >= 0; i-- {
		if middlewares[i] != nil {
			m = middlewares[i](m)
		}
	}
	return m
}

// ModelFuncs adapts functions to a Model. A nil GenerateFunc is served by
// collecting StreamFunc; a nil StreamFunc is served by GenerateFunc and
// replayed as a stream with StreamResponse. At least one must be set.
type ModelFuncs struct {
	GenerateFunc func(ctx context.Context, req *Request) (*Response, error)
	StreamFunc   func(ctx context.Context, req *Request) iter.Seq2[Event, error]
}

// Generate implements Model.
func (f ModelFuncs) Generate(ctx context.Context, req *Request) (*Response, error) {
	if f.GenerateFunc != nil {
		return f.GenerateFunc(ctx, req)
	}
	if f.StreamFunc == nil {
		return nil, &Error{Kind: KindInvalidRequest, Message: "llm: ModelFuncs has neither GenerateFunc nor StreamFunc"}
	}
	resp, err := Collect(f.StreamFunc(ctx, req))
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// Stream implements Model.
func (f ModelFuncs) Stream(ctx context.Context, req *Request) iter.Seq2[Event, error] {
	if f.StreamFunc != nil {
		return f.StreamFunc(ctx, req)
	}
	return func(yield func(Event, error) bool) {
		if f.GenerateFunc == nil {
			yield(Event{}, &Error{Kind: KindInvalidRequest, Message: "llm: ModelFuncs has neither GenerateFunc nor StreamFunc"})
			return
		}
		resp, err := f.GenerateFunc(ctx, req)
		if err == nil && resp == nil {
			err = &Error{Kind: KindBadResponse, Message: "llm: GenerateFunc returned neither a response nor an error"}
		}
		if err != nil {
			yield(Event{}, err)
			return
		}
		for ev := range StreamResponse(resp) {
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// EmbedRequest asks for one vector per input text.
type EmbedRequest struct {
	Model  string
	Inputs []string
	// Dimensions asks models that support it for shorter vectors; zero
	// means the model's native size.
	Dimensions int
	// Principal and Feature attribute the call, as on Request.
	Principal Principal
	Feature   string
}

// EmbedResponse holds one vector per input, in input order.
type EmbedResponse struct {
	Vectors  [][]float32
	Usage    Usage
	Model    string
	Provider string
}

// Embedder turns texts into vectors. Implementations must be safe for
// concurrent use and return vectors in input order.
type Embedder interface {
	Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error)
}

// EmbedderFunc adapts a function to an Embedder.
type EmbedderFunc func(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error)

// Embed implements Embedder.
func (f EmbedderFunc) Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error) {
	return f(ctx, req)
}

// EmbedderMiddleware wraps an Embedder, as Middleware wraps a Model.
type EmbedderMiddleware func(Embedder) Embedder

// ChainEmbedder wraps e so that the first middleware listed is outermost.
// The reliability middlewares for embedders are RetryEmbedder,
// RateLimitEmbedder and TimeoutEmbedder; there is no fallback or circuit
// breaker, because vectors from different embedding models live in
// different spaces and must not be mixed in one index (see the package
// documentation, Reliability).
func ChainEmbedder(e Embedder, middlewares ...EmbedderMiddleware) Embedder {
	for i := len(middlewares) - 1; i >= 0; i-- {
		if middlewares[i] != nil {
			e = middlewares[i](e)
		}
	}
	return e
}

// ModerationRequest asks for a moderation verdict per input text.
type ModerationRequest struct {
	Model     string
	Inputs    []string
	Principal Principal
}

// ModerationResult is the verdict for one input.
type ModerationResult struct {
	Flagged bool
	// Categories says which categories were flagged; Scores gives each
	// category's score in [0,1]. Names are the provider's
	// (for example "harassment/threatening").
	Categories map[string]bool
	Scores     map[string]float64
}

// ModerationResponse holds one result per input, in input order.
type ModerationResponse struct {
	Results  []ModerationResult
	Model    string
	Provider string
}

// Moderator classifies text against content-safety categories.
type Moderator interface {
	Moderate(ctx context.Context, req *ModerationRequest) (*ModerationResponse, error)
}
