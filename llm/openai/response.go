package openai

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/respjson"

	"github.com/keel-go/keel/llm"
)

// Generate sends req to the Chat Completions endpoint and returns the
// assistant's answer.
//
// A refusal is an answer, not an error: the Response carries the text in
// Message.Refusal and FinishReason is llm.FinishRefusal. Turning it into an
// error (llm.KindRefusal) is left to the caller or a guard, which know
// whether a refusal is a failure for them. Answers cut by the provider's
// content filter likewise come back with llm.FinishContentFilter; a request
// the filter blocks outright is an *llm.Error of KindContentFiltered.
//
// Every failure is an *llm.Error; see the package documentation.
func (c *Client) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	p, model, err := c.params(req, false)
	if err != nil {
		return nil, err
	}
	var httpResp *http.Response
	var raw []byte
	start := time.Now()
	_, err = c.chat.New(ctx, p, option.WithResponseInto(&httpResp), option.WithResponseBodyInto(&raw))
	if err != nil {
		return nil, c.mapError(ctx, err, httpResp, model)
	}
	var cc oai.ChatCompletion
	if err := json.Unmarshal(raw, &cc); err != nil {
		return nil, c.badJSON(model, httpResp, err)
	}
	latency := time.Since(start)
	var h http.Header
	if httpResp != nil {
		h = httpResp.Header
	}
	return c.response(&cc, model, h, latency)
}

// response maps a chat completion onto an llm.Response.
func (c *Client) response(cc *oai.ChatCompletion, model string, h http.Header, latency time.Duration) (*llm.Response, error) {
	r := &llm.Response{
		Provider: c.cfg.provider,
		Model:    cc.Model,
		Latency:  latency,
	}
	if r.Model == "" {
		r.Model = model
	}
	if h != nil {
		r.RequestID = llm.RequestIDFrom(h)
	}
	if len(cc.Choices) == 0 {
		return nil, &llm.Error{Kind: llm.KindBadResponse, Provider: c.cfg.provider, Model: r.Model,
			RequestID: r.RequestID, Message: "response has no choices"}
	}
	ch := &cc.Choices[0]
	for i := range cc.Choices {
		if cc.Choices[i].Index == 0 {
			ch = &cc.Choices[i]
			break
		}
	}
	msg := &ch.Message
	r.Message.Role = llm.RoleAssistant
	if msg.Content != "" {
		r.Message.Parts = []llm.Part{llm.Text(msg.Content)}
	}
	r.Message.Refusal = msg.Refusal
	if n := len(msg.ToolCalls); n > 0 {
		r.Message.ToolCalls = make([]llm.ToolCall, 0, n)
		for i := range msg.ToolCalls {
			tc := &msg.ToolCalls[i]
			if tc.Type == "custom" {
				r.Message.ToolCalls = append(r.Message.ToolCalls,
					llm.ToolCall{ID: tc.ID, Name: tc.Custom.Name, Arguments: tc.Custom.Input})
				continue
			}
			r.Message.ToolCalls = append(r.Message.ToolCalls,
				llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	}
	r.Message.Reasoning, r.Message.Extra = messageExtras(msg.JSON.ExtraFields)
	r.FinishReason = finishReason(ch.FinishReason, r.Message.Refusal != "", len(r.Message.ToolCalls) > 0)
	r.Usage = mapUsage(&cc.Usage)
	return r, nil
}

// messageExtras splits the fields of a message (or delta) that openai-go
// does not know into the reasoning text and the rest. Reasoning is read from
// reasoning_content (vLLM, DeepSeek, SGLang), or from reasoning when that is
// a string (newer vLLM, OpenRouter); both are consumed, the replay sends
// reasoning_content. Other non-null fields are kept raw so they round-trip.
func messageExtras(fields map[string]respjson.Field) (string, map[string]json.RawMessage) {
	if len(fields) == 0 {
		return "", nil
	}
	var reasoning string
	var haveRC bool
	var extra map[string]json.RawMessage
	for k, f := range fields {
		raw := f.Raw()
		switch k {
		case "reasoning_content":
			if s, ok := jsonString(raw); ok {
				reasoning, haveRC = s, true
			}
			continue
		case "reasoning":
			if s, ok := jsonString(raw); ok {
				if !haveRC {
					reasoning = s
				}
				continue
			}
		}
		if raw == "" || raw == "null" {
			continue
		}
		if extra == nil {
			extra = make(map[string]json.RawMessage)
		}
		extra[k] = json.RawMessage(raw)
	}
	return reasoning, extra
}

// jsonString decodes raw when it is a JSON string, without allocating when
// it has no escapes.
func jsonString(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	if !strings.ContainsRune(raw, '\\') {
		return raw[1 : len(raw)-1], true
	}
	var s string
	if json.Unmarshal([]byte(raw), &s) != nil {
		return "", false
	}
	return s, true
}

// finishReason maps OpenAI's finish reasons onto keel's. A refusal (the
// model wrote refusal text and stopped) is reported as llm.FinishRefusal.
// "stop" on a message with tool calls is llm.FinishToolCalls: Ollama and
// some vLLM tool parsers say "stop" where OpenAI says "tool_calls", and a
// tool loop keys on the finish reason. Unknown values pass through
// unchanged.
func finishReason(s string, refused, toolCalls bool) llm.FinishReason {
	switch s {
	case "stop", "":
		switch {
		case refused:
			return llm.FinishRefusal
		case toolCalls && s == "stop":
			return llm.FinishToolCalls
		}
		return llm.FinishReason(s)
	case "length":
		return llm.FinishLength
	case "tool_calls", "function_call":
		return llm.FinishToolCalls
	case "content_filter":
		return llm.FinishContentFilter
	}
	return llm.FinishReason(s)
}

func mapUsage(u *oai.CompletionUsage) llm.Usage {
	return llm.Usage{
		InputTokens:       int(u.PromptTokens),
		OutputTokens:      int(u.CompletionTokens),
		CachedInputTokens: int(u.PromptTokensDetails.CachedTokens),
		CacheWriteTokens:  int(u.PromptTokensDetails.CacheWriteTokens),
		ReasoningTokens:   int(u.CompletionTokensDetails.ReasoningTokens),
	}
}
