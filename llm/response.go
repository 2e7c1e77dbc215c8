package llm

import "time"

// FinishReason says why the model stopped.
type FinishReason string

// The finish reasons. Providers map their own values onto these; an
// unrecognised value is passed through unchanged.
const (
	FinishStop          FinishReason = "stop"
	FinishLength        FinishReason = "length"
	FinishToolCalls     FinishReason = "tool_calls"
	FinishContentFilter FinishReason = "content_filter"
	FinishRefusal       FinishReason = "refusal"
)

// Usage counts the tokens of one call.
type Usage struct {
	// InputTokens counts every prompt token, cached ones included.
	InputTokens int
	// OutputTokens counts every generated token, reasoning included.
	OutputTokens int
	// CachedInputTokens is the part of InputTokens served from the
	// provider's prompt cache (billed at a discount).
	CachedInputTokens int
	// CacheWriteTokens is the part of InputTokens written to the
	// provider's prompt cache (billed at a premium by some providers).
	CacheWriteTokens int
	// ReasoningTokens is the part of OutputTokens spent on reasoning.
	ReasoningTokens int
}

// TotalTokens returns InputTokens + OutputTokens.
func (u Usage) TotalTokens() int { return u.InputTokens + u.OutputTokens }

// Add returns the sum of u and v, field by field.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		InputTokens:       u.InputTokens + v.InputTokens,
		OutputTokens:      u.OutputTokens + v.OutputTokens,
		CachedInputTokens: u.CachedInputTokens + v.CachedInputTokens,
		CacheWriteTokens:  u.CacheWriteTokens + v.CacheWriteTokens,
		ReasoningTokens:   u.ReasoningTokens + v.ReasoningTokens,
	}
}

// Response is the answer to a Request.
type Response struct {
	// Message is the assistant message: text, tool calls, refusal,
	// reasoning.
	Message      Message
	FinishReason FinishReason
	Usage        Usage
	// Model is the model that actually answered (which may differ from
	// the requested alias); Provider names the provider that served it.
	Model    string
	Provider string
	// RequestID is the provider's request id, for support tickets.
	RequestID string
	// Latency is the wall time of the call, from send to last byte.
	Latency time.Duration

	// Route is the routing rule that chose the Model, set by a router.
	Route string
	// Target names the Model of a fallback list that answered, set by
	// fallback and hedging middlewares.
	Target string
	// Attempts counts the upstream calls this answer cost, failed ones
	// included (retries, fallbacks, hedges); 0 means the stack did not
	// count (a bare provider call is one attempt).
	Attempts int
	// CacheHit reports that a cache served the answer without an upstream
	// call.
	CacheHit bool
	// Cost is what the call cost in US dollars, failed attempts included,
	// as computed by a cost-accounting middleware from its price table;
	// CostEstimated says part of it was estimated because the provider
	// reported no usage (a stream cut off before its usage chunk).
	Cost          float64
	CostEstimated bool
}

// Text returns the concatenated text of the answer.
func (r *Response) Text() string { return r.Message.Text() }
