package openai

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
)

// jsonEq fails unless got (a decoded JSON value) equals the JSON text want.
func jsonEq(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want JSON: %v", what, err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("%s:\n got %s\nwant %s", what, g, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestRequestMapping(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a}
	tests := []struct {
		name string
		opts []Option
		req  *llm.Request
		// want maps body fields to their expected JSON; a value of "-"
		// means the field must be absent.
		want        map[string]string
		nonStandard bool
	}{
		{
			name: "roles and content parts",
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{
				llm.SystemMessage("sys"),
				llm.DeveloperMessage("dev"),
				{Role: llm.RoleUser, Name: "jane", Parts: []llm.Part{
					llm.Text("what is this?"),
					{Kind: llm.PartImage, ImageURL: "https://example.com/a.png", ImageDetail: "low"},
					llm.ImageBytes(png, "image/png"),
				}},
				{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("Checking.")}, ToolCalls: []llm.ToolCall{
					{ID: "call_1", Name: "search_tickets", Arguments: `{"query":"vpn"}`},
				}},
				llm.ToolResult("call_1", `[{"id":4821}]`),
				{Role: llm.RoleAssistant, Refusal: "I can't do that."},
				{Role: llm.RoleSystem, Parts: []llm.Part{llm.Text("a"), llm.Text("b")}},
			}},
			want: map[string]string{
				"model": `"gpt-4o"`,
				"messages": `[
					{"role":"system","content":"sys"},
					{"role":"developer","content":"dev"},
					{"role":"user","name":"jane","content":[
						{"type":"text","text":"what is this?"},
						{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}},
						{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0K"}}
					]},
					{"role":"assistant","content":"Checking.","tool_calls":[
						{"id":"call_1","type":"function","function":{"name":"search_tickets","arguments":"{\"query\":\"vpn\"}"}}
					]},
					{"role":"tool","tool_call_id":"call_1","content":"[{\"id\":4821}]"},
					{"role":"assistant","content":"","refusal":"I can't do that."},
					{"role":"system","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}
				]`,
				"tools": "-", "tool_choice": "-", "parallel_tool_calls": "-", "user": "-", "stream": "-",
			},
		},
		{
			name: "assistant with only tool calls has no content",
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{
				llm.UserText("hi"),
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Name: "f", Arguments: "{}"}}},
				llm.ToolResult("c1", "ok"),
			}},
			want: map[string]string{"messages": `[
				{"role":"user","content":"hi"},
				{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"c1","content":"ok"}
			]`},
		},
		{
			name: "tools, tool choice, parallel calls, sampling",
			req: func() *llm.Request {
				r := realisticRequest()
				r.Seed = ptr(int64(7))
				r.TopP = ptr(0.9)
				r.Stop = []string{"\n\n", "END"}
				return r
			}(),
			want: map[string]string{
				"tool_choice":           `"auto"`,
				"parallel_tool_calls":   `true`,
				"temperature":           `0.2`,
				"top_p":                 `0.9`,
				"seed":                  `7`,
				"stop":                  `["\n\n","END"]`,
				"max_completion_tokens": `512`,
				"max_tokens":            "-",
				"reasoning_effort":      "-",
				"safety_identifier":     "-",
				"user":                  "-",
				"metadata":              "-",
			},
		},
		{
			name: "forced function",
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")},
				Tools:      []llm.ToolDef{{Name: "f", Parameters: json.RawMessage(`{"type":"object","properties":{}}`)}},
				ToolChoice: llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "f"}},
			want: map[string]string{
				"tool_choice": `{"type":"function","function":{"name":"f"}}`,
				"tools":       `[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]`,
			},
		},
		{
			name: "tool choice none and required",
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")},
				Tools:      []llm.ToolDef{{Name: "noargs", Description: "takes \"nothing\"\n"}},
				ToolChoice: llm.ToolChoice{Mode: llm.ToolChoiceRequired}, ParallelToolCalls: ptr(false)},
			want: map[string]string{
				"tool_choice":         `"required"`,
				"parallel_tool_calls": `false`,
				"tools":               `[{"type":"function","function":{"name":"noargs","description":"takes \"nothing\"\n"}}]`,
			},
		},
		{
			name: "tool choice without tools is not sent",
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")},
				ToolChoice: llm.ToolChoice{Mode: llm.ToolChoiceNone}, ParallelToolCalls: ptr(true)},
			want: map[string]string{"tool_choice": "-", "parallel_tool_calls": "-", "tools": "-"},
		},
		{
			name: "json_schema response format",
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")},
				ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "answer", Description: "The answer.",
					Strict: true, Schema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`)}},
			want: map[string]string{"response_format": `{"type":"json_schema","json_schema":{"name":"answer","description":"The answer.","strict":true,
				"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}`},
		},
		{
			name: "json_object and text formats",
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")},
				ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONObject}},
			want: map[string]string{"response_format": `{"type":"json_object"}`},
		},
		{
			name: "text format",
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")},
				ResponseFormat: &llm.ResponseFormat{Type: llm.FormatText}},
			want: map[string]string{"response_format": `{"type":"text"}`},
		},
		{
			name: "legacy max_tokens",
			opts: []Option{WithLegacyMaxTokens()},
			req:  &llm.Request{Model: "llama3", Messages: []llm.Message{llm.UserText("x")}, MaxOutputTokens: 64},
			want: map[string]string{"max_tokens": `64`, "max_completion_tokens": "-"},
		},
		{
			name: "default model",
			opts: []Option{WithDefaultModel("gpt-4.1-mini")},
			req:  &llm.Request{Messages: []llm.Message{llm.UserText("x")}},
			want: map[string]string{"model": `"gpt-4.1-mini"`},
		},
		{
			name: "safety identifier opt-in",
			opts: []Option{WithSafetyIdentifier(func(p llm.Principal) string { return "h:" + p.Tenant + "/" + p.User })},
			req: &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")},
				Principal: llm.Principal{Tenant: "acme", User: "u-42"}},
			want: map[string]string{"safety_identifier": `"h:acme/u-42"`, "user": "-"},
		},
		{
			name: "request extra merged, message extra and reasoning sent back",
			req: &llm.Request{Model: "Qwen/Qwen3-8B", Messages: []llm.Message{
				llm.UserText("q1"),
				{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("a1")}, Reasoning: "thinking...",
					Extra: map[string]json.RawMessage{"provider_specific_fields": json.RawMessage(`{"x":1}`)}},
				llm.UserText("q2"),
			}, Temperature: ptr(0.6), Extra: map[string]any{"top_k": 20, "chat_template_kwargs": map[string]any{"enable_thinking": true}}},
			want: map[string]string{
				"top_k":                `20`,
				"chat_template_kwargs": `{"enable_thinking":true}`,
				"temperature":          `0.6`,
				"messages": `[
					{"role":"user","content":"q1"},
					{"role":"assistant","content":"a1","reasoning_content":"thinking...","provider_specific_fields":{"x":1}},
					{"role":"user","content":"q2"}
				]`,
			},
			nonStandard: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []serverOption
			if tt.nonStandard {
				opts = append(opts, nonStandard())
			}
			srv := newServer(t, jsonHandler(200, fixture(t, "chat_plain.json")), opts...)
			c := newTestClient(t, srv, tt.opts...)
			if _, err := c.Generate(bg, tt.req); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			body := srv.LastBody(t)
			for field, want := range tt.want {
				got, ok := body[field]
				if want == "-" {
					if ok {
						t.Errorf("field %s = %v, want absent", field, got)
					}
					continue
				}
				if !ok {
					t.Errorf("field %s absent, want %s", field, want)
					continue
				}
				jsonEq(t, field, got, want)
			}
		})
	}
}

func TestToolSchemaSentVerbatim(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "chat_plain.json")))
	c := newTestClient(t, srv)
	req := realisticRequest()
	if _, err := c.Generate(bg, req); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name        string          `json:"name"`
				Description string          `json:"description"`
				Parameters  json.RawMessage `json:"parameters"`
				Strict      bool            `json:"strict"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(srv.Bodies()[0], &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Tools) != 3 {
		t.Fatalf("got %d tools", len(body.Tools))
	}
	for i, tool := range body.Tools {
		def := req.Tools[i]
		if tool.Type != "function" || tool.Function.Name != def.Name || tool.Function.Description != def.Description || !tool.Function.Strict {
			t.Errorf("tool %d = %+v", i, tool)
		}
		var got, want any
		_ = json.Unmarshal(tool.Function.Parameters, &got)
		_ = json.Unmarshal(def.Parameters, &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("tool %s parameters changed:\n got %s\nwant %s", def.Name, tool.Function.Parameters, def.Parameters)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\t\r\n", "utf8 é 漢字 \u2028", "bad \xff\xfe utf8", "<html>&"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> invalid JSON %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q round-trips to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func TestRequestValidation(t *testing.T) {
	user := []llm.Message{llm.UserText("x")}
	tests := []struct {
		name string
		req  *llm.Request
		opts []Option
		msg  string
	}{
		{"nil request", nil, nil, "nil request"},
		{"no model", &llm.Request{Messages: user}, nil, "no model"},
		{"no messages", &llm.Request{Model: "gpt-4o"}, nil, "no messages"},
		{"unknown role", &llm.Request{Model: "gpt-4o", Messages: []llm.Message{{Role: "wizard", Parts: []llm.Part{llm.Text("x")}}}}, nil, "unknown role"},
		{"tool result without id", &llm.Request{Model: "gpt-4o", Messages: []llm.Message{{Role: llm.RoleTool, Parts: []llm.Part{llm.Text("x")}}}}, nil, "ToolCallID"},
		{"image in system", &llm.Request{Model: "gpt-4o", Messages: []llm.Message{{Role: llm.RoleSystem, Parts: []llm.Part{llm.ImageURL("https://x/y.png")}}}}, nil, "text only"},
		{"image bytes without type", &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserMessage(llm.Text("a"), llm.ImageBytes([]byte{1}, ""))}}, nil, "MIME"},
		{"empty image", &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserMessage(llm.Text("a"), llm.Part{Kind: llm.PartImage})}}, nil, "without URL"},
		{"tool schema not JSON", &llm.Request{Model: "gpt-4o", Messages: user, Tools: []llm.ToolDef{{Name: "f", Parameters: json.RawMessage(`{"type":`)}}}, nil, "parameters"},
		{"tool schema not an object", &llm.Request{Model: "gpt-4o", Messages: user, Tools: []llm.ToolDef{{Name: "f", Parameters: json.RawMessage(`[1]`)}}}, nil, "parameters"},
		{"tool without name", &llm.Request{Model: "gpt-4o", Messages: user, Tools: []llm.ToolDef{{}}}, nil, "name"},
		{"forced tool without name", &llm.Request{Model: "gpt-4o", Messages: user, Tools: []llm.ToolDef{{Name: "f"}}, ToolChoice: llm.ToolChoice{Mode: llm.ToolChoiceFunction}}, nil, "tool name"},
		{"bad response schema", &llm.Request{Model: "gpt-4o", Messages: user, ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Schema: json.RawMessage(`nope`)}}, nil, "json_schema"},
		{"unknown response format", &llm.Request{Model: "gpt-4o", Messages: user, ResponseFormat: &llm.ResponseFormat{Type: "yaml"}}, nil, "response format"},
		{"tool call without id", &llm.Request{Model: "gpt-4o", Messages: []llm.Message{{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{Name: "f"}}}}}, nil, "tool call"},
		{"negative max tokens", &llm.Request{Model: "gpt-4o", Messages: user, MaxOutputTokens: -1}, nil, "MaxOutputTokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, jsonHandler(200, fixture(t, "chat_plain.json")))
			c := newTestClient(t, srv, tt.opts...)
			_, err := c.Generate(bg, tt.req)
			e := asLLMError(t, err)
			if e.Kind != llm.KindInvalidRequest || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got %v (kind %v), want invalid_request mentioning %q", e, e.Kind, tt.msg)
			}
			if e.Provider != "openai" {
				t.Errorf("provider = %q", e.Provider)
			}
			// The stream reports the same error as its only pair.
			evs, serr := collectEvents(t, c.Stream(bg, tt.req))
			if len(evs) != 0 || llm.KindOf(serr) != llm.KindInvalidRequest {
				t.Errorf("stream: %d events, err %v", len(evs), serr)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("server received %d requests, want none", n)
			}
		})
	}
}

func TestIsReasoningModel(t *testing.T) {
	for model, want := range map[string]bool{
		"o1": true, "o1-mini": true, "o1-2024-12-17": true, "o3": true, "o3-mini": true, "o4-mini": true,
		"o4-mini-2025-04-16": true, "openai/o3-mini": true, "O3": true,
		"gpt-5": true, "gpt-5-mini": true, "gpt-5-nano": true, "gpt-5.1": true, "gpt-5.2-2025-12-11": true, "gpt-5-codex": true,
		"gpt-5-chat-latest": false, "gpt-5.1-chat-latest": false, "gpt-5.3-chat-latest": false,
		"gpt-4o": false, "gpt-4o-mini": false, "gpt-4.1": false, "gpt-50": false, "omni-moderation-latest": false,
		"o": false, "ollama": false, "llama3.1:8b": false, "deepseek-r1": false, "": false,
	} {
		if got := IsReasoningModel(model); got != want {
			t.Errorf("IsReasoningModel(%q) = %v, want %v", model, got, want)
		}
	}
}

func TestSamplingPolicy(t *testing.T) {
	temp, topP := 0.3, 0.8
	base := func(model string) *llm.Request {
		return &llm.Request{Model: model, Messages: []llm.Message{llm.UserText("x")},
			Temperature: &temp, TopP: &topP, ReasoningEffort: llm.ReasoningHigh}
	}
	tests := []struct {
		name    string
		opts    []Option
		req     *llm.Request
		present []string
		absent  []string
		errMsg  string
	}{
		{name: "drop sampling for o3", req: base("o3-mini"),
			present: []string{"reasoning_effort"}, absent: []string{"temperature", "top_p"}},
		{name: "drop sampling for gpt-5", req: base("gpt-5-mini"),
			present: []string{"reasoning_effort"}, absent: []string{"temperature", "top_p"}},
		{name: "drop effort for gpt-4o", req: base("gpt-4o"),
			present: []string{"temperature", "top_p"}, absent: []string{"reasoning_effort"}},
		{name: "gpt-5 chat is not a reasoning model", req: base("gpt-5-chat-latest"),
			present: []string{"temperature", "top_p"}, absent: []string{"reasoning_effort"}},
		{name: "drop extra sampling fields for reasoning models", req: func() *llm.Request {
			r := base("o4-mini")
			r.Extra = map[string]any{"logprobs": true, "top_logprobs": 2, "presence_penalty": 0.1, "service_tier": "flex"}
			return r
		}(), present: []string{"service_tier", "reasoning_effort"}, absent: []string{"logprobs", "top_logprobs", "presence_penalty"}},
		{name: "reject temperature", opts: []Option{WithSamplingPolicy(SamplingReject)}, req: base("o3"), errMsg: "temperature"},
		{name: "reject top_p", opts: []Option{WithSamplingPolicy(SamplingReject)}, req: func() *llm.Request {
			r := base("o3")
			r.Temperature = nil
			return r
		}(), errMsg: "top_p"},
		{name: "reject logprobs from extra", opts: []Option{WithSamplingPolicy(SamplingReject)}, req: func() *llm.Request {
			r := base("o3")
			r.Temperature, r.TopP = nil, nil
			r.Extra = map[string]any{"logprobs": true}
			return r
		}(), errMsg: "logprobs"},
		{name: "reject effort for non-reasoning", opts: []Option{WithSamplingPolicy(SamplingReject)}, req: base("gpt-4o"), errMsg: "reasoning_effort"},
		{name: "reject passes a clean request", opts: []Option{WithSamplingPolicy(SamplingReject)}, req: func() *llm.Request {
			r := base("o3")
			r.Temperature, r.TopP = nil, nil
			return r
		}(), present: []string{"reasoning_effort"}},
		{name: "keep sends everything", opts: []Option{WithSamplingPolicy(SamplingKeep)}, req: func() *llm.Request {
			r := base("o3")
			r.Extra = map[string]any{"logprobs": true}
			return r
		}(), present: []string{"temperature", "top_p", "reasoning_effort", "logprobs"}},
		{name: "keep sends effort to any model", opts: []Option{WithSamplingPolicy(SamplingKeep)}, req: base("Qwen/Qwen3-8B"),
			present: []string{"temperature", "top_p", "reasoning_effort"}},
		{name: "drop stop for o3", req: func() *llm.Request {
			r := base("o3")
			r.Stop = []string{"END"}
			return r
		}(), present: []string{"reasoning_effort"}, absent: []string{"stop", "temperature", "top_p"}},
		{name: "drop stop for gpt-5", req: func() *llm.Request {
			r := base("gpt-5")
			r.Stop = []string{"END"}
			return r
		}(), absent: []string{"stop"}},
		{name: "stop kept for gpt-4o", req: func() *llm.Request {
			r := base("gpt-4o")
			r.Stop = []string{"END"}
			return r
		}(), present: []string{"stop"}},
		{name: "reject stop", opts: []Option{WithSamplingPolicy(SamplingReject)}, req: func() *llm.Request {
			r := base("o4-mini")
			r.Temperature, r.TopP = nil, nil
			r.Stop = []string{"END"}
			return r
		}(), errMsg: "stop"},
		{name: "keep sends stop", opts: []Option{WithSamplingPolicy(SamplingKeep)}, req: func() *llm.Request {
			r := base("o3")
			r.Stop = []string{"END"}
			return r
		}(), present: []string{"stop", "temperature", "reasoning_effort"}},
		{name: "custom predicate", opts: []Option{WithReasoningModels(func(m string) bool { return m == "my-azure-deployment" })},
			req: base("my-azure-deployment"), present: []string{"reasoning_effort"}, absent: []string{"temperature", "top_p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, jsonHandler(200, fixture(t, "chat_reasoning_model.json")), nonStandard())
			c := newTestClient(t, srv, tt.opts...)
			extraBefore := len(tt.req.Extra)
			_, err := c.Generate(bg, tt.req)
			if len(tt.req.Extra) != extraBefore {
				t.Errorf("request Extra was modified")
			}
			if tt.errMsg != "" {
				e := asLLMError(t, err)
				if e.Kind != llm.KindInvalidRequest || !strings.Contains(e.Message, tt.errMsg) {
					t.Errorf("got %v, want invalid_request about %s", e, tt.errMsg)
				}
				if len(srv.Requests()) != 0 {
					t.Errorf("a rejected request reached the server")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body := srv.LastBody(t)
			for _, f := range tt.present {
				if _, ok := body[f]; !ok {
					t.Errorf("%s absent", f)
				}
			}
			for _, f := range tt.absent {
				if v, ok := body[f]; ok {
					t.Errorf("%s = %v, want absent", f, v)
				}
			}
		})
	}
}

// TestToolCache: tools that share a schema, or change name, description or
// strictness between calls, are each rendered with their own fields.
func TestToolCache(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "chat_plain.json")))
	c := newTestClient(t, srv)
	schema := json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"}}}`)
	for i, tools := range [][]llm.ToolDef{
		{{Name: "a", Parameters: schema}, {Name: "b", Description: "second", Parameters: schema, Strict: true}},
		{{Name: "a", Description: "changed", Parameters: schema}},
		{{Name: "a", Parameters: schema}},
	} {
		req := &llm.Request{Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")}, Tools: tools}
		if _, err := c.Generate(bg, req); err != nil {
			t.Fatal(err)
		}
		got := srv.LastBody(t)["tools"].([]any)
		if len(got) != len(tools) {
			t.Fatalf("call %d: %d tools", i, len(got))
		}
		for j, tool := range tools {
			fn := got[j].(map[string]any)["function"].(map[string]any)
			desc, _ := fn["description"].(string)
			strict, _ := fn["strict"].(bool)
			if fn["name"] != tool.Name || desc != tool.Description || strict != tool.Strict {
				t.Errorf("call %d tool %d = %v, want %+v", i, j, fn, tool)
			}
		}
	}
}

// TestExtraReservedKeys: Request.Extra may not set a field the mapping sets
// itself (merged last, it would silently win); the call fails before
// anything is sent, naming the key. Other keys pass through.
func TestExtraReservedKeys(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "chat_plain.json")))
	c := newTestClient(t, srv)
	for _, r := range reservedExtra {
		for _, streaming := range []bool{false, true} {
			req := simpleRequest()
			req.Extra = map[string]any{"top_k": 20, r.key: "x"}
			var err error
			if streaming {
				_, err = collectEvents(t, c.Stream(bg, req))
			} else {
				_, err = c.Generate(bg, req)
			}
			e := asLLMError(t, err)
			if e.Kind != llm.KindInvalidRequest || !strings.Contains(e.Message, `"`+r.key+`"`) {
				t.Errorf("Extra[%q] (stream %v): got %v, want invalid_request naming the key", r.key, streaming, e)
			}
		}
	}
	for _, key := range []string{"model", "messages", "stream", "stream_options", "tools", "tool_choice",
		"temperature", "top_p", "stop", "max_tokens", "max_completion_tokens", "response_format"} {
		found := false
		for _, r := range reservedExtra {
			found = found || r.key == key
		}
		if !found {
			t.Errorf("%s is not reserved", key)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("server received %d requests", n)
	}
}

// TestToolCacheSharedSchema: tools that share a parameters schema (the
// empty-object schema of argument-less tools is the usual case) each keep
// their cache entry, instead of evicting each other on every call.
func TestToolCacheSharedSchema(t *testing.T) {
	var tc toolCache
	empty := json.RawMessage(`{"type":"object","properties":{}}`)
	tools := []llm.ToolDef{
		{Name: "list_open_tickets", Parameters: empty},
		{Name: "whoami", Description: "The current agent.", Parameters: empty},
		{Name: "ping", Parameters: empty, Strict: true},
		{Name: "ping", Parameters: empty},
	}
	for round := 0; round < 2; round++ {
		for i := range tools {
			if _, err := tc.get(&tools[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range tools {
		if _, ok := tc.lookup(&tools[i]); !ok {
			t.Errorf("tool %d (%s) is not cached", i, tools[i].Name)
		}
	}
	if n := len(tc.m); n != len(tools) {
		t.Errorf("%d cache entries, want %d", n, len(tools))
	}
	// A cache hit costs no allocation: the key is built without copying
	// the schema.
	if n := testing.AllocsPerRun(100, func() { _, _ = tc.lookup(&tools[1]) }); n != 0 {
		t.Errorf("lookup allocates %v times", n)
	}
}
