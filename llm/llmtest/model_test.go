package llmtest_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func userReq(text string) *llm.Request {
	return &llm.Request{Model: "fake-model", Messages: []llm.Message{llm.UserText(text)}}
}

// streamAll ranges over a stream and returns its events and final error.
func streamAll(s llm.Stream) ([]llm.Event, error) {
	var evs []llm.Event
	for ev, err := range s {
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func TestModelReplies(t *testing.T) {
	echo := func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("echo: " + req.Messages[0].Text())}, nil
	}
	tests := []struct {
		name       string
		step       llmtest.Step
		wantText   string
		wantCalls  []llm.ToolCall
		wantRefuse string
		wantFinish llm.FinishReason
		wantUsage  *llm.Usage // nil: only check that it is non-zero
	}{
		{name: "text", step: llmtest.Reply("Hello, world! How are you today?"),
			wantText: "Hello, world! How are you today?", wantFinish: llm.FinishStop},
		{name: "text with usage", step: llmtest.Reply("hi").WithUsage(10, 2),
			wantText: "hi", wantFinish: llm.FinishStop, wantUsage: &llm.Usage{InputTokens: 10, OutputTokens: 2}},
		{name: "unicode text", step: llmtest.Reply("héllo wörld ✓ 日本語"),
			wantText: "héllo wörld ✓ 日本語", wantFinish: llm.FinishStop},
		{name: "tool call", step: llmtest.ToolCall("get_weather", `{"city":"Paris","unit":"celsius"}`),
			wantCalls:  []llm.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}},
			wantFinish: llm.FinishToolCalls},
		{name: "parallel tool calls",
			step: llmtest.ToolCalls(
				llm.ToolCall{Name: "search", Arguments: `{"q":"refund policy"}`},
				llm.ToolCall{ID: "mine", Name: "lookup_order", Arguments: `{"id":"A-17"}`},
				llm.ToolCall{Name: "now"},
			),
			wantCalls: []llm.ToolCall{
				{ID: "call_1", Name: "search", Arguments: `{"q":"refund policy"}`},
				{ID: "mine", Name: "lookup_order", Arguments: `{"id":"A-17"}`},
				{ID: "call_2", Name: "now"},
			},
			wantFinish: llm.FinishToolCalls},
		{name: "refusal", step: llmtest.Refusal("I can't help with that."),
			wantRefuse: "I can't help with that.", wantFinish: llm.FinishRefusal},
		{name: "response", step: llmtest.Response(&llm.Response{
			Message: llm.Message{Parts: []llm.Part{llm.Text("a"), llm.Text("b")}, Reasoning: "thinking hard"},
			Usage:   llm.Usage{InputTokens: 7, OutputTokens: 3, ReasoningTokens: 1},
		}), wantText: "ab", wantFinish: llm.FinishStop,
			wantUsage: &llm.Usage{InputTokens: 7, OutputTokens: 3, ReasoningTokens: 1}},
		{name: "respond", step: llmtest.Respond(echo), wantText: "echo: question", wantFinish: llm.FinishStop,
			wantUsage: &llm.Usage{}},
		{name: "events", step: llmtest.Events(
			llm.Event{Kind: llm.EventTextDelta, Text: "par"},
			llm.Event{Kind: llm.EventToolCallDelta, ToolCall: llm.ToolCallDelta{ID: "c1", Name: "f", Arguments: `{"a"`}},
			llm.Event{Kind: llm.EventTextDelta, Text: "tial"},
			llm.Event{Kind: llm.EventToolCallDelta, ToolCall: llm.ToolCallDelta{Arguments: `:1}`}},
			llm.Event{Kind: llm.EventUsage, Usage: llm.Usage{InputTokens: 1, OutputTokens: 1}},
			llm.Event{Kind: llm.EventFinish, FinishReason: llm.FinishToolCalls},
		), wantText: "partial", wantCalls: []llm.ToolCall{{ID: "c1", Name: "f", Arguments: `{"a":1}`}},
			wantFinish: llm.FinishToolCalls, wantUsage: &llm.Usage{InputTokens: 1, OutputTokens: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(t *testing.T, resp *llm.Response) {
				t.Helper()
				if got := resp.Text(); got != tt.wantText {
					t.Errorf("text = %q, want %q", got, tt.wantText)
				}
				if !reflect.DeepEqual(resp.Message.ToolCalls, tt.wantCalls) {
					t.Errorf("tool calls = %+v, want %+v", resp.Message.ToolCalls, tt.wantCalls)
				}
				if resp.Message.Refusal != tt.wantRefuse {
					t.Errorf("refusal = %q, want %q", resp.Message.Refusal, tt.wantRefuse)
				}
				if resp.FinishReason != tt.wantFinish {
					t.Errorf("finish = %q, want %q", resp.FinishReason, tt.wantFinish)
				}
				if tt.wantUsage != nil && resp.Usage != *tt.wantUsage {
					t.Errorf("usage = %+v, want %+v", resp.Usage, *tt.wantUsage)
				}
				if tt.wantUsage == nil && (resp.Usage.InputTokens == 0 || resp.Usage.OutputTokens == 0) {
					t.Errorf("usage = %+v, want an estimate", resp.Usage)
				}
				if resp.Message.Role != llm.RoleAssistant {
					t.Errorf("role = %q", resp.Message.Role)
				}
			}
			t.Run("generate", func(t *testing.T) {
				m := llmtest.NewModel(tt.step)
				resp, err := m.Generate(t.Context(), userReq("question"))
				if err != nil {
					t.Fatal(err)
				}
				check(t, resp)
			})
			t.Run("stream", func(t *testing.T) {
				m := llmtest.NewModel(tt.step)
				resp, err := llm.Collect(m.Stream(t.Context(), userReq("question")))
				if err != nil {
					t.Fatal(err)
				}
				check(t, resp)
			})
		})
	}
}

func TestModelStreamSplitsDeltas(t *testing.T) {
	tests := []struct {
		name      string
		step      llmtest.Step
		minText   int // minimum number of text deltas
		minArgs   int // minimum number of argument fragments per call
		wantCalls int
	}{
		{name: "short text", step: llmtest.Reply("hi"), minText: 2},
		{name: "long text", step: llmtest.Reply(strings.Repeat("lorem ipsum ", 20)), minText: 20},
		{name: "one tool call", step: llmtest.ToolCall("f", `{"query":"refund policy"}`), minArgs: 3, wantCalls: 1},
		{name: "two tool calls", step: llmtest.ToolCalls(
			llm.ToolCall{Name: "f", Arguments: `{"a":"bcdefgh"}`},
			llm.ToolCall{Name: "g", Arguments: `{"x":[1,2,3,4]}`}), minArgs: 3, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := llmtest.NewModel(tt.step)
			evs, err := streamAll(m.Stream(t.Context(), userReq("q")))
			if err != nil {
				t.Fatal(err)
			}
			if evs[0].Kind != llm.EventStart || evs[0].Provider != llmtest.Provider || evs[0].Model != "fake-model" {
				t.Errorf("first event = %+v, want start with provider and model", evs[0])
			}
			n := len(evs)
			if evs[n-2].Kind != llm.EventFinish || evs[n-1].Kind != llm.EventUsage {
				t.Errorf("stream ends with %v, %v; want finish, usage", evs[n-2].Kind, evs[n-1].Kind)
			}
			text := 0
			frags := map[int]int{}
			for _, ev := range evs {
				switch ev.Kind {
				case llm.EventTextDelta:
					text++
					if len([]rune(ev.Text)) > 4 {
						t.Errorf("text delta %q longer than 4 runes", ev.Text)
					}
				case llm.EventToolCallDelta:
					if frags[ev.ToolCall.Index] == 0 && (ev.ToolCall.ID == "" || ev.ToolCall.Name == "") {
						t.Errorf("first fragment of call %d lacks ID or name: %+v", ev.ToolCall.Index, ev.ToolCall)
					}
					if frags[ev.ToolCall.Index] > 0 && (ev.ToolCall.ID != "" || ev.ToolCall.Name != "") {
						t.Errorf("later fragment repeats ID or name: %+v", ev.ToolCall)
					}
					frags[ev.ToolCall.Index]++
				}
			}
			if text < tt.minText {
				t.Errorf("%d text deltas, want at least %d", text, tt.minText)
			}
			if len(frags) != tt.wantCalls {
				t.Errorf("%d tool calls streamed, want %d", len(frags), tt.wantCalls)
			}
			for i, n := range frags {
				if n < tt.minArgs {
					t.Errorf("call %d: %d fragments, want at least %d", i, n, tt.minArgs)
				}
			}
		})
	}
}

func TestModelScript(t *testing.T) {
	echo := func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("echo " + req.Messages[0].Text())}, nil
	}
	boom := errors.New("boom")
	tests := []struct {
		name  string
		model func() *llmtest.Model
		want  []string // reply text, or "error: <substring>"
	}{
		{name: "queue in order", model: func() *llmtest.Model {
			return llmtest.NewModel(llmtest.Reply("one"), llmtest.Reply("two"))
		}, want: []string{"one", "two", "error: no scripted reply"}},
		{name: "times", model: func() *llmtest.Model {
			return llmtest.NewModel(llmtest.Reply("a").Times(3), llmtest.Reply("b"))
		}, want: []string{"a", "a", "a", "b", "error: no scripted reply"}},
		{name: "empty model", model: func() *llmtest.Model { return llmtest.NewModel() },
			want: []string{"error: call 1 has no scripted reply"}},
		{name: "zero value model", model: func() *llmtest.Model { return new(llmtest.Model) },
			want: []string{"error: no scripted reply"}},
		{name: "func", model: func() *llmtest.Model { return llmtest.NewModelFunc(echo) },
			want: []string{"echo x", "echo x", "echo x"}},
		{name: "queue before func", model: func() *llmtest.Model {
			return llmtest.NewModelFunc(echo).Enqueue(llmtest.Reply("first"))
		}, want: []string{"first", "echo x", "echo x"}},
		{name: "enqueue later", model: func() *llmtest.Model {
			return llmtest.NewModel(llmtest.Reply("1")).Enqueue(llmtest.Reply("2"))
		}, want: []string{"1", "2", "error: no scripted reply"}},
		{name: "fail", model: func() *llmtest.Model {
			return llmtest.NewModel(llmtest.Fail(boom), llmtest.Reply("after"))
		}, want: []string{"error: boom", "after"}},
		{name: "func error", model: func() *llmtest.Model {
			return llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) { return nil, boom })
		}, want: []string{"error: boom"}},
		{name: "func nil response", model: func() *llmtest.Model {
			return llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) { return nil, nil })
		}, want: []string{"error: nil response"}},
	}
	for _, tt := range tests {
		for _, mode := range []string{"generate", "stream"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				m := tt.model()
				for i, want := range tt.want {
					var resp *llm.Response
					var err error
					if mode == "generate" {
						resp, err = m.Generate(t.Context(), userReq("x"))
					} else {
						resp, err = llm.Collect(m.Stream(t.Context(), userReq("x")))
					}
					if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
						if err == nil || !strings.Contains(err.Error(), wantErr) {
							t.Fatalf("call %d: err = %v, want one containing %q", i+1, err, wantErr)
						}
						if strings.Contains(wantErr, "no scripted reply") {
							if !errors.Is(err, llmtest.ErrNoMoreSteps) || !errors.Is(err, llm.KindInvalidRequest) {
								t.Errorf("call %d: err = %v, want ErrNoMoreSteps of kind invalid_request", i+1, err)
							}
						}
						continue
					}
					if err != nil {
						t.Fatalf("call %d: %v", i+1, err)
					}
					if resp.Text() != want {
						t.Errorf("call %d: text = %q, want %q", i+1, resp.Text(), want)
					}
				}
				if m.Calls() != len(tt.want) || len(m.Requests()) != len(tt.want) {
					t.Errorf("Calls() = %d, len(Requests()) = %d, want %d", m.Calls(), len(m.Requests()), len(tt.want))
				}
			})
		}
	}
}

func TestModelPending(t *testing.T) {
	m := llmtest.NewModel(llmtest.Reply("a").Times(3), llmtest.Reply("b"))
	if got := m.Pending(); got != 4 {
		t.Fatalf("Pending() = %d, want 4", got)
	}
	for want := 3; want >= 0; want-- {
		if _, err := m.Generate(t.Context(), userReq("x")); err != nil {
			t.Fatal(err)
		}
		if got := m.Pending(); got != want {
			t.Fatalf("Pending() = %d, want %d", got, want)
		}
	}
}

func TestModelStreamIsLazy(t *testing.T) {
	m := llmtest.NewModel(llmtest.Reply("hello there"))
	s := m.Stream(t.Context(), userReq("x"))
	if m.Calls() != 0 {
		t.Fatalf("Calls() = %d before ranging, want 0", m.Calls())
	}
	for range s {
		break // a caller that stops early
	}
	if m.Calls() != 1 || m.Pending() != 0 {
		t.Fatalf("Calls() = %d, Pending() = %d after ranging; want 1, 0", m.Calls(), m.Pending())
	}
}

func TestModelRecordsDeepCopies(t *testing.T) {
	temp := 0.2
	req := &llm.Request{
		Model: "m",
		Messages: []llm.Message{
			llm.SystemMessage("be brief"),
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "1", Name: "f", Arguments: "{}"}}},
			llm.UserMessage(llm.Text("look"), llm.ImageBytes([]byte{1, 2, 3}, "image/png")),
		},
		Tools:       []llm.ToolDef{{Name: "f", Parameters: []byte(`{"type":"object"}`)}},
		Temperature: &temp,
		Stop:        []string{"END"},
		Principal:   llm.Principal{Tenant: "acme", Roles: []string{"agent"}},
		Extra:       map[string]any{"top_k": 5},
	}
	m := llmtest.NewModel(llmtest.Reply("a"), llmtest.Reply("b"))
	if _, err := m.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	want := m.Requests()[0]

	// The caller reuses and mutates its request.
	req.Messages[0].Parts[0].Text = "CHANGED"
	req.Messages[1].ToolCalls[0].Arguments = "CHANGED"
	req.Messages[2].Parts[1].ImageData[0] = 99
	req.Messages = append(req.Messages, llm.UserText("more"))
	req.Tools[0].Parameters[0] = 'X'
	temp = 1.5
	req.Stop[0] = "CHANGED"
	req.Principal.Roles[0] = "admin"
	req.Extra["top_k"] = 50
	if _, err := llm.Collect(m.Stream(t.Context(), req)); err != nil {
		t.Fatal(err)
	}

	got := m.Requests()
	if len(got) != 2 {
		t.Fatalf("%d requests recorded, want 2", len(got))
	}
	first := got[0]
	if !reflect.DeepEqual(first, want) {
		t.Errorf("recorded request changed after the caller mutated its own")
	}
	if first.Messages[0].Text() != "be brief" || len(first.Messages) != 3 ||
		first.Messages[1].ToolCalls[0].Arguments != "{}" || first.Messages[2].Parts[1].ImageData[0] != 1 ||
		string(first.Tools[0].Parameters) != `{"type":"object"}` || *first.Temperature != 0.2 ||
		first.Stop[0] != "END" || first.Principal.Roles[0] != "agent" || first.Extra["top_k"] != 5 {
		t.Errorf("recorded request = %+v, want the original values", first)
	}
	if len(got[1].Messages) != 4 || got[1].Messages[0].Text() != "CHANGED" {
		t.Errorf("second request not recorded as sent: %+v", got[1])
	}
	// Mutating what Requests returned does not change the record either.
	got[0].Messages[0].Parts[0].Text = "mutated"
	if m.Requests()[0].Messages[0].Text() != "be brief" {
		t.Errorf("Requests() returned the record itself, not a copy")
	}
}

func TestModelConcurrent(t *testing.T) {
	const n = 64
	m := llmtest.NewModel(llmtest.Reply("shared reply").Times(n))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			req := userReq("q")
			var resp *llm.Response
			var err error
			if i%2 == 0 {
				resp, err = m.Generate(context.Background(), req)
			} else {
				resp, err = llm.Collect(m.Stream(context.Background(), req))
			}
			if err == nil && resp.Text() != "shared reply" {
				err = errors.New("wrong text " + resp.Text())
			}
			if err == nil {
				resp.Message.Parts[0].Text = "mutated by caller" // must not leak into other calls
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if m.Calls() != n || m.Pending() != 0 {
		t.Errorf("Calls() = %d, Pending() = %d; want %d, 0", m.Calls(), m.Pending(), n)
	}
	if _, err := m.Generate(context.Background(), userReq("q")); !errors.Is(err, llmtest.ErrNoMoreSteps) {
		t.Errorf("call after the script: err = %v, want ErrNoMoreSteps", err)
	}
}

func TestModelCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m := llmtest.NewModel(llmtest.Reply("a"), llmtest.Reply("b"))
	if _, err := m.Generate(ctx, userReq("x")); !errors.Is(err, llm.KindCanceled) || !errors.Is(err, context.Canceled) {
		t.Errorf("Generate: err = %v, want kind canceled wrapping context.Canceled", err)
	}
	if _, err := llm.Collect(m.Stream(ctx, userReq("x"))); !errors.Is(err, llm.KindCanceled) {
		t.Errorf("Stream: err = %v, want kind canceled", err)
	}
}

func TestModelNilRequest(t *testing.T) {
	m := llmtest.NewModel(llmtest.Reply("a"))
	if _, err := m.Generate(t.Context(), nil); !errors.Is(err, llm.KindInvalidRequest) {
		t.Errorf("err = %v, want invalid_request", err)
	}
	if m.Pending() != 1 {
		t.Errorf("a nil request consumed a step")
	}
}
