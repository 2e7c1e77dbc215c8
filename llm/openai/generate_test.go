package openai

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/keel-go/keel/internal/openapispec"
	"github.com/keel-go/keel/llm"
)

func TestGeneratePlain(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "chat_plain.json")))
	c := newTestClient(t, srv, WithOrganization("org-1"), WithProject("proj-1"), WithHeader("X-Gateway-Route", "blue"))
	resp, err := c.Generate(bg, realisticRequest())
	if err != nil {
		t.Fatal(err)
	}
	want := llm.Response{
		Message: llm.Message{Role: llm.RoleAssistant,
			Parts: []llm.Part{llm.Text("Your ticket #4821 has been escalated to the billing team.")}},
		FinishReason: llm.FinishStop,
		Usage:        llm.Usage{InputTokens: 1432, OutputTokens: 17, CachedInputTokens: 1024},
		Model:        "gpt-4o-mini-2024-07-18",
		Provider:     "openai",
		RequestID:    "req_test_123",
	}
	if resp.Latency <= 0 {
		t.Errorf("latency = %v", resp.Latency)
	}
	got := *resp
	got.Latency = 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("response:\n got %+v\nwant %+v", got, want)
	}

	r := srv.Requests()[0]
	if r.Method != "POST" || r.Path != "/v1/chat/completions" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	for h, v := range map[string]string{
		"Authorization":       "Bearer " + testKey,
		"Openai-Organization": "org-1",
		"Openai-Project":      "proj-1",
		"X-Gateway-Route":     "blue",
		"Content-Type":        "application/json",
	} {
		if got := r.Header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	if got := r.Header.Get("X-Stainless-Retry-Count"); got != "0" {
		t.Errorf("retry count header = %q", got)
	}
}

func TestGenerateUsageDetails(t *testing.T) {
	srv := newServer(t, jsonHandler(200, fixture(t, "chat_reasoning_model.json")))
	c := newTestClient(t, srv)
	resp, err := c.Generate(bg, &llm.Request{Model: "o3-mini", Messages: []llm.Message{llm.UserText("6*7?")},
		ReasoningEffort: llm.ReasoningLow})
	if err != nil {
		t.Fatal(err)
	}
	if want := (llm.Usage{InputTokens: 20, OutputTokens: 530, ReasoningTokens: 512}); resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}
	if resp.Text() != "42" || resp.Model != "o3-mini-2025-01-31" {
		t.Errorf("resp = %+v", resp)
	}
}

func TestGenerateResponses(t *testing.T) {
	tests := []struct {
		fixture string
		check   func(t *testing.T, r *llm.Response)
	}{
		{"chat_tool_calls.json", func(t *testing.T, r *llm.Response) {
			want := []llm.ToolCall{
				{ID: "call_search_1", Name: "search_tickets", Arguments: `{"query":"refund","status":"open"}`},
				{ID: "call_email_2", Name: "send_email", Arguments: `{"to":"ops@example.com","subject":"Refund queue"}`},
			}
			if !reflect.DeepEqual(r.Message.ToolCalls, want) || r.FinishReason != llm.FinishToolCalls || r.Text() != "Let me look that up." {
				t.Errorf("got %+v", r)
			}
		}},
		{"chat_refusal.json", func(t *testing.T, r *llm.Response) {
			if r.Message.Refusal != "I'm sorry, I can't help with that request." || r.FinishReason != llm.FinishRefusal || len(r.Message.Parts) != 0 {
				t.Errorf("got %+v", r)
			}
		}},
		{"chat_content_filter.json", func(t *testing.T, r *llm.Response) {
			if r.FinishReason != llm.FinishContentFilter || r.Text() != "Here is the first part of" {
				t.Errorf("got %+v", r)
			}
		}},
		{"compat_ollama_tool_stop.json", func(t *testing.T, r *llm.Response) {
			// Ollama says "stop" with tool calls; a tool loop needs tool_calls.
			want := []llm.ToolCall{{ID: "call_k3f9x2ab", Name: "search_tickets", Arguments: `{"query":"vpn","status":"open"}`}}
			if !reflect.DeepEqual(r.Message.ToolCalls, want) || r.FinishReason != llm.FinishToolCalls {
				t.Errorf("got %+v", r)
			}
		}},
		{"compat_azure_chat.json", func(t *testing.T, r *llm.Response) {
			if r.Model != "gpt-4o-2024-11-20" || r.Text() != "Your ticket #4821 has been escalated." || r.FinishReason != llm.FinishStop {
				t.Errorf("got %+v", r)
			}
		}},
		{"compat_vllm_reasoning.json", func(t *testing.T, r *llm.Response) {
			if r.Message.Reasoning != "The user asks for 9.11 vs 9.9. Compare decimals: 9.90 > 9.11." || r.Text() != "9.9 is larger." {
				t.Errorf("got %+v", r)
			}
			if len(r.Message.Extra) != 1 {
				t.Fatalf("extra = %v", r.Message.Extra)
			}
			var pf map[string]any
			if err := json.Unmarshal(r.Message.Extra["provider_specific_fields"], &pf); err != nil || pf["cache_hit"] != true {
				t.Errorf("provider_specific_fields = %s", r.Message.Extra["provider_specific_fields"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			srv := newServer(t, jsonHandler(200, fixture(t, tt.fixture)))
			c := newTestClient(t, srv)
			resp, err := c.Generate(bg, simpleRequest())
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, resp)
		})
	}
}

// TestReasoningRoundTrip replays a vLLM answer with reasoning as the next
// turn's history: the assistant message must carry reasoning_content (and
// the unknown fields) back to the server.
func TestReasoningRoundTrip(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		name := "generate"
		if streaming {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				var body struct{ Stream bool }
				_ = json.NewDecoder(r.Body).Decode(&body)
				if body.Stream {
					sseHandler(fixture(t, "compat_vllm_reasoning.sse"))(w, r)
					return
				}
				jsonHandler(200, fixture(t, "compat_vllm_reasoning.json"))(w, r)
			}, nonStandard())
			c := newTestClient(t, srv, WithProviderName("vllm"))
			req := &llm.Request{Model: "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", Messages: []llm.Message{llm.UserText("9.11 or 9.9?")}}
			var first *llm.Response
			var err error
			if streaming {
				first, err = llm.Collect(c.Stream(bg, req))
			} else {
				first, err = c.Generate(bg, req)
			}
			if err != nil {
				t.Fatal(err)
			}
			if first.Provider != "vllm" {
				t.Errorf("provider = %q", first.Provider)
			}
			next := req.Clone()
			next.Messages = append(next.Messages, first.Message, llm.UserText("Why?"))
			if _, err := c.Generate(bg, next); err != nil {
				t.Fatal(err)
			}
			msgs := srv.LastBody(t)["messages"].([]any)
			asst := msgs[1].(map[string]any)
			if asst["role"] != "assistant" || asst["content"] != "9.9 is larger." ||
				asst["reasoning_content"] != "The user asks for 9.11 vs 9.9. Compare decimals: 9.90 > 9.11." {
				t.Errorf("assistant message sent back: %v", asst)
			}
			if _, ok := asst["provider_specific_fields"]; ok == streaming {
				t.Errorf("provider_specific_fields present = %v (extra fields come from Generate only)", ok)
			}
		})
	}
}

// TestGenerateStreamEquivalence: for the same answer, Generate and
// Collect(Stream) return the same Response (but Latency and Message.Extra).
func TestGenerateStreamEquivalence(t *testing.T) {
	for _, f := range equivalentFixtures {
		t.Run(f.json, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				var body struct{ Stream bool }
				_ = json.NewDecoder(r.Body).Decode(&body)
				if body.Stream {
					sseHandler(fixture(t, f.sse))(w, r)
				} else {
					jsonHandler(200, fixture(t, f.json))(w, r)
				}
			})
			c := newTestClient(t, srv)
			g, err := c.Generate(bg, simpleRequest())
			if err != nil {
				t.Fatal(err)
			}
			s, err := llm.Collect(c.Stream(bg, simpleRequest()))
			if err != nil {
				t.Fatal(err)
			}
			g.Latency, s.Latency = 0, 0
			g.Message.Extra = nil
			g.RequestID, s.RequestID = "", "" // the two handlers send different ids
			if !reflect.DeepEqual(g, s) {
				t.Errorf("Generate and Collect(Stream) differ:\ngenerate %+v\n  stream %+v", g, s)
			}
		})
	}
}

// replayHistory is a conversation first held with vLLM: the assistant turn
// carries reasoning and a provider-specific field, and a user turn carries
// one too.
func replayHistory(model string) *llm.Request {
	return &llm.Request{Model: model, Messages: []llm.Message{
		llm.UserText("9.11 or 9.9?"),
		{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("9.9 is larger.")}, Reasoning: "Compare decimals: 9.90 > 9.11.",
			Extra: map[string]json.RawMessage{"provider_specific_fields": json.RawMessage(`{"cache_hit":true}`)}},
		{Role: llm.RoleUser, Parts: []llm.Part{llm.Text("Why?")}, Extra: map[string]json.RawMessage{"x_trace": json.RawMessage(`"t1"`)}},
	}}
}

// TestReasoningReplay: Reasoning and Message.Extra are sent back to
// OpenAI-compatible servers, but not to api.openai.com or Azure OpenAI,
// whose closed message schema rejects them (a history from vLLM must be
// able to fall back to OpenAI); WithReasoningReplay overrides the default.
func TestReasoningReplay(t *testing.T) {
	t.Setenv("OPENAI_BASE_URL", "")
	h := chatHandler(t, "chat_plain.json", "stream_text.sse")
	std := newServer(t, h)
	compat := newServer(t, h, nonStandard())
	azure := newServer(t, h, withTLS())
	tests := []struct {
		name   string
		srv    *testServer
		opts   []Option
		replay bool
	}{
		{"compatible server: on", compat, []Option{WithBaseURL(compat.URL + "/v1")}, true},
		{"api.openai.com: off", std, []Option{WithBaseURL("https://api.openai.com/v1"), WithHTTPClient(redirectClient(std))}, false},
		{"default base URL: off", std, []Option{WithHTTPClient(redirectClient(std))}, false},
		{"Azure: off", azure, []Option{WithAzure(azure.URL, "2024-10-21"), WithHTTPClient(azure.Client())}, false},
		{"Azure host as base URL: off", std, []Option{WithBaseURL("https://acme.openai.azure.com/openai/v1"), WithHTTPClient(redirectClient(std))}, false},
		{"api.openai.com, WithReasoningReplay(true): on", compat, []Option{WithBaseURL("https://api.openai.com/v1"),
			WithHTTPClient(redirectClient(compat)), WithReasoningReplay(true)}, true},
		{"compatible server, WithReasoningReplay(false): off", std, []Option{WithBaseURL(std.URL + "/v1"), WithReasoningReplay(false)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(append([]Option{WithAPIKey(testKey)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			req := replayHistory("gpt-4o")
			if _, err := c.Generate(bg, req); err != nil {
				t.Fatal(err)
			}
			if _, err := llm.Collect(c.Stream(bg, req)); err != nil {
				t.Fatal(err)
			}
			for _, body := range tt.srv.Bodies()[len(tt.srv.Bodies())-2:] {
				var m struct{ Messages []map[string]json.RawMessage }
				if err := json.Unmarshal(body, &m); err != nil {
					t.Fatal(err)
				}
				asst, user := m.Messages[1], m.Messages[2]
				_, rc := asst["reasoning_content"]
				_, psf := asst["provider_specific_fields"]
				_, xt := user["x_trace"]
				if rc != tt.replay || psf != tt.replay || xt != tt.replay {
					t.Errorf("reasoning_content %v, provider_specific_fields %v, x_trace %v; want all %v\n%s", rc, psf, xt, tt.replay, body)
				}
				if string(asst["content"]) != `"9.9 is larger."` {
					t.Errorf("assistant content %s", asst["content"])
				}
			}
		})
	}
	// What went to OpenAI and Azure matches OpenAI's request schema
	// strictly (TestMain checks it again with every recorded request).
	spec := openapispec.LoadForTest(t)
	reqs := append(std.Requests(), azure.Requests()...)
	checked, failures := validateRequests(spec, reqs)
	for _, f := range failures {
		t.Error(f)
	}
	if checked != len(reqs) || checked == 0 {
		t.Errorf("validated %d of %d requests", checked, len(reqs))
	}
}

// TestReplayCannotOverrideMessageFields: a replayed Message.Extra field
// never replaces what the mapping sets (role, content, tool calls...).
func TestReplayCannotOverrideMessageFields(t *testing.T) {
	srv := newServer(t, chatHandler(t, "chat_plain.json", "stream_text.sse"), nonStandard())
	c, err := New(WithAPIKey(testKey), WithBaseURL(srv.URL+"/v1"), WithReasoningReplay(true))
	if err != nil {
		t.Fatal(err)
	}
	req := &llm.Request{Model: "local", Messages: []llm.Message{
		{Role: llm.RoleUser, Parts: []llm.Part{llm.Text("hi")}, Extra: map[string]json.RawMessage{
			"role": json.RawMessage(`"system"`), "content": json.RawMessage(`"injected"`), "x_ok": json.RawMessage(`1`)}},
		{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("hello")}, Reasoning: "r", Extra: map[string]json.RawMessage{
			"tool_calls": json.RawMessage(`[{"id":"x","type":"function","function":{"name":"send_email","arguments":"{}"}}]`)}},
		llm.UserText("next"),
	}}
	if _, err := c.Generate(bg, req); err != nil {
		t.Fatal(err)
	}
	var m struct{ Messages []map[string]json.RawMessage }
	bodies := srv.Bodies()
	if err := json.Unmarshal(bodies[len(bodies)-1], &m); err != nil {
		t.Fatal(err)
	}
	user, asst := m.Messages[0], m.Messages[1]
	if string(user["role"]) != `"user"` || string(user["content"]) == `"injected"` || string(user["x_ok"]) != "1" {
		t.Errorf("user message overridden: %v", user)
	}
	if _, ok := asst["tool_calls"]; ok {
		t.Errorf("assistant message gained tool calls from Extra: %s", asst["tool_calls"])
	}
	if string(asst["reasoning_content"]) != `"r"` {
		t.Errorf("reasoning not replayed: %v", asst)
	}
}
