package openai

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"

	"github.com/keel-go/keel/llm"
)

// SamplingPolicy says what the client does with request parameters the
// target model does not support.
//
// The rule: reasoning models (IsReasoningModel, or the predicate given to
// WithReasoningModels) reject the sampling parameters temperature, top_p
// and stop (Request.Temperature, TopP and Stop), and presence_penalty,
// frequency_penalty, logprobs, top_logprobs and logit_bias (which can only
// arrive through Request.Extra); other models reject reasoning_effort.
// With SamplingDrop (the default) the unsupported parameters are left out
// of the request silently, so one Request can be routed to either kind of
// model. With SamplingReject the call fails before any network traffic
// with an *llm.Error of KindInvalidRequest that names the parameter. With
// SamplingKeep the rule is off and every parameter is sent as given, for
// compatible servers (vLLM, SGLang) whose reasoning models accept both
// temperature and reasoning_effort.
type SamplingPolicy uint8

const (
	// SamplingDrop leaves unsupported parameters out of the request.
	SamplingDrop SamplingPolicy = iota
	// SamplingReject fails the call with KindInvalidRequest.
	SamplingReject
	// SamplingKeep sends every parameter as given.
	SamplingKeep
)

// String returns "drop", "reject" or "keep".
func (p SamplingPolicy) String() string {
	switch p {
	case SamplingDrop:
		return "drop"
	case SamplingReject:
		return "reject"
	case SamplingKeep:
		return "keep"
	}
	return "unknown"
}

// reasoningUnsupportedExtra are the body fields OpenAI's reasoning models
// reject that only Request.Extra can set (temperature, top_p and stop come
// from Request fields and are reserved).
var reasoningUnsupportedExtra = [...]string{
	"presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias",
}

// reservedExtra are the body fields the mapping sets itself, each with
// what sets it. Request.Extra may not contain them: merged last, it would
// silently replace the mapped value (a "model" that bypasses routing, a
// "stream" the response parser does not expect), or bypass the
// SamplingPolicy.
var reservedExtra = [...]struct{ key, from string }{
	{"model", "Request.Model"},
	{"messages", "Request.Messages"},
	{"stream", "the choice of Generate or Stream"},
	{"stream_options", "Stream"},
	{"tools", "Request.Tools"},
	{"tool_choice", "Request.ToolChoice"},
	{"parallel_tool_calls", "Request.ParallelToolCalls"},
	{"response_format", "Request.ResponseFormat"},
	{"temperature", "Request.Temperature"},
	{"top_p", "Request.TopP"},
	{"seed", "Request.Seed"},
	{"stop", "Request.Stop"},
	{"max_completion_tokens", "Request.MaxOutputTokens"},
	{"max_tokens", "Request.MaxOutputTokens and WithLegacyMaxTokens"},
	{"reasoning_effort", "Request.ReasoningEffort"},
	{"safety_identifier", "WithSafetyIdentifier"},
}

// IsReasoningModel is the default rule for which models are reasoning
// models: the o-series ("o1", "o3-mini", "o4-mini-2025-04-16": "o", a digit,
// then the end or "-") and the gpt-5 family ("gpt-5", "gpt-5-mini",
// "gpt-5.1"), except its chat variants ("gpt-5-chat-latest",
// "gpt-5.1-chat-latest"), which are not. A vendor prefix such as "openai/"
// (OpenRouter) is ignored. Anything else, including unknown and
// self-hosted models, is not a reasoning model.
func IsReasoningModel(model string) bool {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	model = strings.ToLower(model)
	if len(model) >= 2 && model[0] == 'o' && model[1] >= '1' && model[1] <= '9' {
		rest := model[2:]
		return rest == "" || rest[0] == '-'
	}
	if rest, ok := strings.CutPrefix(model, "gpt-5"); ok {
		if rest != "" && rest[0] != '-' && rest[0] != '.' {
			return false // gpt-50, hypothetically
		}
		return !strings.Contains(rest, "-chat")
	}
	return false
}

// params maps req onto the Chat Completions body. It never touches the
// network; every failure is an *llm.Error of KindInvalidRequest.
func (c *Client) params(req *llm.Request, stream bool) (oai.ChatCompletionNewParams, string, error) {
	var p oai.ChatCompletionNewParams
	if req == nil {
		return p, "", c.invalid("", "nil request")
	}
	model := req.Model
	if model == "" {
		model = c.cfg.defaultModel
	}
	if model == "" {
		return p, "", c.invalid("", errNoModel.Error())
	}
	p.Model = model
	if len(req.Messages) == 0 {
		return p, model, c.invalid(model, "no messages")
	}

	p.Messages = make([]oai.ChatCompletionMessageParamUnion, len(req.Messages))
	for i := range req.Messages {
		if err := c.message(&p.Messages[i], &req.Messages[i], model, i); err != nil {
			return p, model, err
		}
	}

	if len(req.Tools) > 0 {
		p.Tools = make([]oai.ChatCompletionToolUnionParam, len(req.Tools))
		for i := range req.Tools {
			tp, err := c.tools.get(&req.Tools[i])
			if err != nil {
				return p, model, c.invalid(model, err.Error())
			}
			p.Tools[i] = tp
		}
		// tool_choice and parallel_tool_calls are only valid with tools;
		// OpenAI rejects them otherwise.
		switch req.ToolChoice.Mode {
		case llm.ToolChoiceDefault:
		case llm.ToolChoiceAuto, llm.ToolChoiceNone, llm.ToolChoiceRequired:
			p.ToolChoice.OfAuto = param.NewOpt(string(req.ToolChoice.Mode))
		case llm.ToolChoiceFunction:
			if req.ToolChoice.Name == "" {
				return p, model, c.invalid(model, "tool choice \"function\" without a tool name")
			}
			p.ToolChoice.OfFunctionToolChoice = &oai.ChatCompletionNamedToolChoiceParam{
				Function: oai.ChatCompletionNamedToolChoiceFunctionParam{Name: req.ToolChoice.Name},
			}
		default:
			return p, model, c.invalid(model, "unknown tool choice mode "+string(req.ToolChoice.Mode))
		}
		if req.ParallelToolCalls != nil {
			p.ParallelToolCalls = param.NewOpt(*req.ParallelToolCalls)
		}
	}

	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", llm.FormatText:
			p.ResponseFormat.OfText = &shared.ResponseFormatTextParam{}
		case llm.FormatJSONObject:
			p.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
		case llm.FormatJSONSchema:
			if !isJSONObject(rf.Schema) {
				return p, model, c.invalid(model, "response format json_schema needs a JSON object schema")
			}
			name := rf.Name
			if name == "" {
				name = "response"
			}
			js := shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: name, Schema: rf.Schema}
			if rf.Strict {
				js.Strict = param.NewOpt(true)
			}
			if rf.Description != "" {
				js.Description = param.NewOpt(rf.Description)
			}
			p.ResponseFormat.OfJSONSchema = &shared.ResponseFormatJSONSchemaParam{JSONSchema: js}
		default:
			return p, model, c.invalid(model, "unknown response format "+string(rf.Type))
		}
	}

	keep := c.cfg.sampling == SamplingKeep
	reasoning := !keep && c.cfg.isReasoning(model)
	reject := c.cfg.sampling == SamplingReject
	if req.Temperature != nil {
		if !reasoning {
			p.Temperature = param.NewOpt(*req.Temperature)
		} else if reject {
			return p, model, c.unsupported(model, "temperature", true)
		}
	}
	if req.TopP != nil {
		if !reasoning {
			p.TopP = param.NewOpt(*req.TopP)
		} else if reject {
			return p, model, c.unsupported(model, "top_p", true)
		}
	}
	if req.ReasoningEffort != llm.ReasoningDefault {
		if reasoning || keep {
			p.ReasoningEffort = shared.ReasoningEffort(req.ReasoningEffort)
		} else if reject {
			return p, model, c.unsupported(model, "reasoning_effort", false)
		}
	}
	if len(req.Stop) > 0 {
		if !reasoning {
			p.Stop.OfStringArray = req.Stop
		} else if reject {
			return p, model, c.unsupported(model, "stop", true)
		}
	}
	if req.Seed != nil {
		p.Seed = param.NewOpt(*req.Seed)
	}
	if req.MaxOutputTokens > 0 {
		if c.cfg.legacyMaxTokens {
			p.MaxTokens = param.NewOpt(int64(req.MaxOutputTokens))
		} else {
			p.MaxCompletionTokens = param.NewOpt(int64(req.MaxOutputTokens))
		}
	} else if req.MaxOutputTokens < 0 {
		return p, model, c.invalid(model, "negative MaxOutputTokens")
	}
	if c.cfg.safetyID != nil {
		if id := c.cfg.safetyID(req.Principal); id != "" {
			p.SafetyIdentifier = param.NewOpt(id)
		}
	}
	if stream {
		p.StreamOptions.IncludeUsage = param.NewOpt(true)
	}

	if len(req.Extra) > 0 {
		for _, r := range reservedExtra {
			if _, ok := req.Extra[r.key]; ok {
				return p, model, c.invalid(model, "Request.Extra sets \""+r.key+
					"\", which the client sets from "+r.from)
			}
		}
		extra := req.Extra
		if reasoning {
			cloned := false
			for _, k := range reasoningUnsupportedExtra {
				if _, ok := extra[k]; !ok {
					continue
				}
				if reject {
					return p, model, c.unsupported(model, k, true)
				}
				if !cloned {
					extra, cloned = cloneMap(req.Extra), true
				}
				delete(extra, k)
			}
		}
		if len(extra) > 0 {
			p.SetExtraFields(extra)
		}
	}
	return p, model, nil
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// message maps one llm.Message onto dst.
func (c *Client) message(dst *oai.ChatCompletionMessageParamUnion, m *llm.Message, model string, i int) error {
	switch m.Role {
	case llm.RoleSystem:
		sp := &oai.ChatCompletionSystemMessageParam{}
		if err := c.textContent(&sp.Content.OfString, &sp.Content.OfArrayOfContentParts, m, model, i); err != nil {
			return err
		}
		if m.Name != "" {
			sp.Name = param.NewOpt(m.Name)
		}
		if len(m.Extra) > 0 && c.cfg.replay {
			sp.SetExtraFields(rawExtra(m.Extra))
		}
		dst.OfSystem = sp
	case llm.RoleDeveloper:
		dp := &oai.ChatCompletionDeveloperMessageParam{}
		if err := c.textContent(&dp.Content.OfString, &dp.Content.OfArrayOfContentParts, m, model, i); err != nil {
			return err
		}
		if m.Name != "" {
			dp.Name = param.NewOpt(m.Name)
		}
		if len(m.Extra) > 0 && c.cfg.replay {
			dp.SetExtraFields(rawExtra(m.Extra))
		}
		dst.OfDeveloper = dp
	case llm.RoleUser:
		up := &oai.ChatCompletionUserMessageParam{}
		if len(m.Parts) == 1 && m.Parts[0].Kind == llm.PartText {
			up.Content.OfString = param.NewOpt(m.Parts[0].Text)
		} else if len(m.Parts) == 0 {
			return c.invalid(model, msgErr(i, "user message without content"))
		} else {
			parts := make([]oai.ChatCompletionContentPartUnionParam, len(m.Parts))
			for j := range m.Parts {
				pt := &m.Parts[j]
				switch pt.Kind {
				case llm.PartText:
					parts[j].OfText = &oai.ChatCompletionContentPartTextParam{Text: pt.Text}
				case llm.PartImage:
					u, err := imageURL(pt)
					if err != nil {
						return c.invalid(model, msgErr(i, err.Error()))
					}
					parts[j].OfImageURL = &oai.ChatCompletionContentPartImageParam{
						ImageURL: oai.ChatCompletionContentPartImageImageURLParam{URL: u, Detail: pt.ImageDetail},
					}
				default:
					return c.invalid(model, msgErr(i, "unknown part kind"))
				}
			}
			up.Content.OfArrayOfContentParts = parts
		}
		if m.Name != "" {
			up.Name = param.NewOpt(m.Name)
		}
		if len(m.Extra) > 0 && c.cfg.replay {
			up.SetExtraFields(rawExtra(m.Extra))
		}
		dst.OfUser = up
	case llm.RoleAssistant:
		ap := &oai.ChatCompletionAssistantMessageParam{}
		switch {
		case len(m.Parts) == 1 && m.Parts[0].Kind == llm.PartText:
			ap.Content.OfString = param.NewOpt(m.Parts[0].Text)
		case len(m.Parts) > 1:
			parts := make([]oai.ChatCompletionAssistantMessageParamContentArrayOfContentPartUnion, len(m.Parts))
			for j := range m.Parts {
				if m.Parts[j].Kind != llm.PartText {
					return c.invalid(model, msgErr(i, "assistant messages carry text only"))
				}
				parts[j].OfText = &oai.ChatCompletionContentPartTextParam{Text: m.Parts[j].Text}
			}
			ap.Content.OfArrayOfContentParts = parts
		case len(m.Parts) == 1:
			return c.invalid(model, msgErr(i, "assistant messages carry text only"))
		case len(m.ToolCalls) == 0:
			// Content is required unless the message has tool calls.
			ap.Content.OfString = param.NewOpt("")
		}
		if m.Refusal != "" {
			ap.Refusal = param.NewOpt(m.Refusal)
		}
		if m.Name != "" {
			ap.Name = param.NewOpt(m.Name)
		}
		if len(m.ToolCalls) > 0 {
			ap.ToolCalls = make([]oai.ChatCompletionMessageToolCallUnionParam, len(m.ToolCalls))
			fcs := make([]oai.ChatCompletionMessageFunctionToolCallParam, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				if tc.ID == "" || tc.Name == "" {
					return c.invalid(model, msgErr(i, "tool call without id or name"))
				}
				fcs[j].ID = tc.ID
				fcs[j].Function.Name = tc.Name
				fcs[j].Function.Arguments = tc.Arguments
				ap.ToolCalls[j].OfFunction = &fcs[j]
			}
		}
		if c.cfg.replay && (m.Reasoning != "" || len(m.Extra) > 0) {
			// See WithReasoningReplay: OpenAI and Azure reject both.
			extra := rawExtra(m.Extra)
			if m.Reasoning != "" {
				// vLLM, DeepSeek and similar servers read the previous
				// turn's reasoning back from this field.
				extra["reasoning_content"] = m.Reasoning
			}
			ap.SetExtraFields(extra)
		}
		dst.OfAssistant = ap
	case llm.RoleTool:
		if m.ToolCallID == "" {
			return c.invalid(model, msgErr(i, "tool message without ToolCallID"))
		}
		tp := &oai.ChatCompletionToolMessageParam{ToolCallID: m.ToolCallID}
		if err := c.textContent(&tp.Content.OfString, &tp.Content.OfArrayOfContentParts, m, model, i); err != nil {
			return err
		}
		if len(m.Extra) > 0 && c.cfg.replay {
			tp.SetExtraFields(rawExtra(m.Extra))
		}
		dst.OfTool = tp
	default:
		return c.invalid(model, msgErr(i, "unknown role "+string(m.Role)))
	}
	return nil
}

// textContent fills the content of a text-only message: one part becomes a
// string, several become text parts. An empty message sends "".
func (c *Client) textContent(s *param.Opt[string], arr *[]oai.ChatCompletionContentPartTextParam, m *llm.Message, model string, i int) error {
	switch len(m.Parts) {
	case 0:
		*s = param.NewOpt("")
		return nil
	case 1:
		if m.Parts[0].Kind != llm.PartText {
			return c.invalid(model, msgErr(i, string(m.Role)+" messages carry text only"))
		}
		*s = param.NewOpt(m.Parts[0].Text)
		return nil
	}
	parts := make([]oai.ChatCompletionContentPartTextParam, len(m.Parts))
	for j := range m.Parts {
		if m.Parts[j].Kind != llm.PartText {
			return c.invalid(model, msgErr(i, string(m.Role)+" messages carry text only"))
		}
		parts[j].Text = m.Parts[j].Text
	}
	*arr = parts
	return nil
}

// reservedMessageFields are the message fields the mapping sets itself;
// Message.Extra cannot override them (they are dropped from it), so a
// replayed provider field can never change a message's role or content.
var reservedMessageFields = [...]string{"role", "content", "name", "tool_calls", "tool_call_id", "refusal", "function_call"}

// rawExtra returns m as extra body fields, without the reserved ones.
func rawExtra(m map[string]json.RawMessage) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	for _, k := range reservedMessageFields {
		delete(out, k)
	}
	return out
}

// imageURL returns the URL of an image part: its ImageURL, or its bytes as
// a data: URL.
func imageURL(p *llm.Part) (string, error) {
	if p.ImageURL != "" {
		return p.ImageURL, nil
	}
	if len(p.ImageData) == 0 {
		return "", errString("image part without URL or data")
	}
	mt := p.MIMEType
	if mt == "" {
		return "", errString("image bytes without a MIME type")
	}
	const prefix = "data:"
	const mid = ";base64,"
	var b strings.Builder
	b.Grow(len(prefix) + len(mt) + len(mid) + base64.StdEncoding.EncodedLen(len(p.ImageData)))
	b.WriteString(prefix)
	b.WriteString(mt)
	b.WriteString(mid)
	enc := base64.NewEncoder(base64.StdEncoding, &b)
	_, _ = enc.Write(p.ImageData)
	_ = enc.Close()
	return b.String(), nil
}

type errString string

func (e errString) Error() string { return string(e) }

func msgErr(i int, s string) string {
	return "message " + strconv.Itoa(i) + ": " + s
}

// maxCachedTools bounds the tool cache of a Client. Applications declare a
// fixed set of tools, so the bound is only reached by one that generates
// schemas per request; past it, tools are rendered on every call.
const maxCachedTools = 256

// toolCache keeps the rendered form of each tool definition, keyed by the
// whole definition (name, description, strictness and parameters schema),
// so that a tool used on every call is validated and rendered once, not on
// every call, and tools that share a schema (such as the common
// {"type":"object","properties":{}}) each keep their entry.
type toolCache struct {
	mu sync.RWMutex
	m  map[toolKey]oai.ChatCompletionToolUnionParam
}

// toolKey identifies a tool definition. The lookups build it with
// string(t.Parameters) directly in the index expression, which the compiler
// does without copying the schema.
type toolKey struct {
	name, desc string
	strict     bool
	params     string
}

// lookup returns the cached parameter for t, if any.
func (tc *toolCache) lookup(t *llm.ToolDef) (oai.ChatCompletionToolUnionParam, bool) {
	tc.mu.RLock()
	tp, ok := tc.m[toolKey{t.Name, t.Description, t.Strict, string(t.Parameters)}]
	tc.mu.RUnlock()
	return tp, ok
}

// get returns the request parameter for t.
func (tc *toolCache) get(t *llm.ToolDef) (oai.ChatCompletionToolUnionParam, error) {
	if tp, ok := tc.lookup(t); ok {
		return tp, nil
	}
	raw, err := toolJSON(t)
	if err != nil {
		return oai.ChatCompletionToolUnionParam{}, err
	}
	tp := param.Override[oai.ChatCompletionToolUnionParam](raw)
	tc.mu.Lock()
	if tc.m == nil {
		tc.m = make(map[toolKey]oai.ChatCompletionToolUnionParam)
	}
	if len(tc.m) < maxCachedTools {
		tc.m[toolKey{t.Name, t.Description, t.Strict, string(t.Parameters)}] = tp
	}
	tc.mu.Unlock()
	return tp, nil
}

// toolJSON renders a tool definition as the raw JSON of one entry of
// "tools". The parameters schema is copied verbatim instead of being decoded
// into a map[string]any (the type openai-go's FunctionParameters has) and
// re-encoded with sorted keys on every call, but it is validated.
func toolJSON(t *llm.ToolDef) (json.RawMessage, error) {
	if t.Name == "" {
		return nil, errString("tool without a name")
	}
	params := trimSpace(t.Parameters)
	if len(params) > 0 && string(params) != "null" && !isJSONObject(params) {
		return nil, errString("tool " + t.Name + ": parameters must be a JSON Schema object")
	}
	if string(params) == "null" {
		params = nil
	}
	b := make([]byte, 0, 64+len(t.Name)+len(t.Description)+len(params)+len(t.Description)/8)
	b = append(b, `{"type":"function","function":{"name":`...)
	b = appendJSONString(b, t.Name)
	if t.Description != "" {
		b = append(b, `,"description":`...)
		b = appendJSONString(b, t.Description)
	}
	if len(params) > 0 {
		b = append(b, `,"parameters":`...)
		b = append(b, params...)
	}
	if t.Strict {
		b = append(b, `,"strict":true`...)
	}
	b = append(b, '}', '}')
	return b, nil
}

// isJSONObject reports whether raw is a valid JSON document whose top level
// is an object.
func isJSONObject(raw json.RawMessage) bool {
	raw = trimSpace(raw)
	return len(raw) > 1 && raw[0] == '{' && json.Valid(raw)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (c *Client) invalid(model, msg string) error {
	return &llm.Error{Kind: llm.KindInvalidRequest, Provider: c.cfg.provider, Model: model, Message: msg}
}

func (c *Client) unsupported(model, field string, reasoning bool) error {
	if reasoning {
		return c.invalid(model, field+" is not supported by reasoning models (SamplingReject)")
	}
	return c.invalid(model, field+" is only supported by reasoning models (SamplingReject)")
}
