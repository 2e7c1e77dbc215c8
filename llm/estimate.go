package llm

// Per-item overheads for EstimateInputTokens. Chat formatting costs about 3
// tokens per message and 3 to prime the answer; tool definitions add a few
// tokens of framing each. The values round up.
const (
	estimateMessageOverhead = 4
	estimateReplyPriming    = 3
	estimateToolOverhead    = 8
	// estimateImageTokens is what one image costs on gpt-4o and gpt-4.1 at
	// most (85 + 170 per 512 px tile, after scaling to fit 2048×768). It is
	// not a bound for every model: gpt-4o-mini bills up to about 48,000
	// tokens for one high-detail image, and patch-based models apply
	// multipliers; see EstimateInputTokens.
	estimateImageTokens = 1600
)

// EstimateInputTokens returns a cheap upper bound on the prompt tokens of
// req, computed from its sizes alone, with no tokenizer and no allocation,
// so rate limits and budgets can reserve before a call on the hot path and
// reconcile with the provider's usage after it.
//
// The estimate is the byte length of every text the request sends (message
// text, tool calls, tool definitions, response schema) plus fixed
// overheads per message and tool, plus 1,600 tokens per image. For the
// byte-level BPE encodings OpenAI's models use (cl100k_base, o200k_base),
// every token covers at least one byte, so the text part never
// under-counts; for typical English it over-counts about fourfold, which is
// why callers reconcile with the provider's usage afterwards. Images are
// the exception: 1,600 tokens bounds gpt-4o and gpt-4.1, but gpt-4o-mini
// bills up to about 48,000 tokens for one high-detail image and patch-based
// models apply multipliers, so callers that limit image-heavy traffic on
// such models should pass their own counter (RateLimitOptions.TokenCounter).
// Exact text counting is available through github.com/tiktoken-go/tokenizer.
func EstimateInputTokens(req *Request) int {
	if req == nil {
		return 0
	}
	n := estimateReplyPriming
	for i := range req.Messages {
		m := &req.Messages[i]
		n += estimateMessageOverhead + len(m.Name) + len(m.Refusal) + len(m.Reasoning) + len(m.ToolCallID)
		for j := range m.Parts {
			p := &m.Parts[j]
			if p.Kind == PartImage {
				n += estimateImageTokens
				continue
			}
			n += len(p.Text)
		}
		for j := range m.ToolCalls {
			tc := &m.ToolCalls[j]
			n += estimateToolOverhead + len(tc.ID) + len(tc.Name) + len(tc.Arguments)
		}
		if len(m.Extra) > 0 { // ranging a nil map still costs an iterator set-up
			for k, v := range m.Extra {
				n += len(k) + len(v)
			}
		}
	}
	for i := range req.Tools {
		t := &req.Tools[i]
		n += estimateToolOverhead + len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	if rf := req.ResponseFormat; rf != nil {
		n += len(rf.Name) + len(rf.Description) + len(rf.Schema)
	}
	return n
}

// EstimateTokens returns EstimateInputTokens plus the most the call may
// generate: MaxOutputTokens when set, otherwise defaultMaxOutput. It is
// the reservation a tokens-per-minute limit or a budget makes before a call.
func EstimateTokens(req *Request, defaultMaxOutput int) int {
	out := defaultMaxOutput
	if req != nil && req.MaxOutputTokens > 0 {
		out = req.MaxOutputTokens
	}
	return EstimateInputTokens(req) + out
}
