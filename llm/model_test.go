package llm

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
)

func TestChainOrder(t *testing.T) {
	var order []string
	tag := func(name string) Middleware {
		return func(next Model) Model {
			return ModelFuncs{GenerateFunc: func(ctx context.Context, req *Request) (*Response, error) {
				order = append(order, name)
				return next.Generate(ctx, req)
			}}
		}
	}
	base := ModelFuncs{GenerateFunc: func(context.Context, *Request) (*Response, error) {
		order = append(order, "provider")
		return &Response{}, nil
	}}
	m := Chain(base, tag("outer"), nil, tag("middle"), tag("inner"))
	if _, err := m.Generate(context.Background(), &Request{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"outer", "middle", "inner", "provider"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order = %v, want %v", order, want)
	}
}

func TestModelFuncsDerivesMissingHalf(t *testing.T) {
	resp := &Response{Message: AssistantText("hi"), FinishReason: FinishStop, Usage: Usage{InputTokens: 1, OutputTokens: 1}}
	gen := ModelFuncs{GenerateFunc: func(context.Context, *Request) (*Response, error) { return resp, nil }}
	got, err := Collect(gen.Stream(context.Background(), &Request{}))
	if err != nil || got.Text() != "hi" || got.Usage != resp.Usage {
		t.Errorf("stream from generate: %+v, %v", got, err)
	}
	str := ModelFuncs{StreamFunc: func(context.Context, *Request) Stream { return StreamResponse(resp) }}
	got, err = str.Generate(context.Background(), &Request{})
	if err != nil || got.Text() != "hi" {
		t.Errorf("generate from stream: %+v, %v", got, err)
	}
	var empty ModelFuncs
	if _, err := empty.Generate(context.Background(), &Request{}); !errors.Is(err, KindInvalidRequest) {
		t.Errorf("empty ModelFuncs: %v", err)
	}
	for _, err := range empty.Stream(context.Background(), &Request{}) {
		if !errors.Is(err, KindInvalidRequest) {
			t.Errorf("empty ModelFuncs stream: %v", err)
		}
	}
}

func TestProvenance(t *testing.T) {
	tests := []struct {
		msg  Message
		want bool
	}{
		{SystemMessage("rules"), false},
		{DeveloperMessage("rules"), false},
		{UserText("hello"), true},
		{Message{Role: RoleUser, Parts: []Part{{Kind: PartText, Text: "x", Provenance: Trusted}}}, false},
		{Message{Role: RoleSystem, Parts: []Part{UntrustedText("doc", "doc:1")}}, true},
		{ToolResult("c1", "output"), true},
		{Message{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "c"}}}, true},
	}
	for i, tt := range tests {
		if got := tt.msg.HasUntrusted(); got != tt.want {
			t.Errorf("%d (%s): HasUntrusted = %v, want %v", i, tt.msg.Role, got, tt.want)
		}
	}
	req := &Request{Messages: []Message{SystemMessage("a")}}
	if req.HasUntrusted() {
		t.Error("system-only request reported untrusted")
	}
	req.Messages = append(req.Messages, UserText("b"))
	if !req.HasUntrusted() {
		t.Error("user text not untrusted")
	}
}

func TestRequestClone(t *testing.T) {
	orig := &Request{Messages: []Message{UserText("a")}, Extra: map[string]any{"k": 1}}
	c := orig.Clone()
	c.Messages = append(c.Messages, UserText("b"))
	c.Messages[0] = UserText("changed")
	c.Extra["k"] = 2
	if len(orig.Messages) != 1 || orig.Messages[0].Text() != "a" || orig.Extra["k"] != 1 {
		t.Errorf("clone aliased the original: %+v", orig)
	}
}

func TestSafeMode(t *testing.T) {
	var nilMode *SafeMode
	if nilMode.Active() || nilMode.State().Active {
		t.Error("nil SafeMode active")
	}
	s := NewSafeMode()
	if s.Active() {
		t.Error("new SafeMode active")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				s.Enable("incident 42")
			} else {
				_ = s.Active()
			}
		}()
	}
	wg.Wait()
	if st := s.State(); !st.Active || st.Reason != "incident 42" || st.Since.IsZero() {
		t.Errorf("state = %+v", st)
	}
	s.Disable()
	if s.Active() {
		t.Error("still active after Disable")
	}
}

func TestPrincipal(t *testing.T) {
	p := Principal{Tenant: "acme", User: "u1", Roles: []string{"agent"}, Groups: []string{"support"}}
	if p.IsZero() || !p.HasRole("agent") || p.HasRole("admin") || !p.InGroup("support") || p.InGroup("eng") {
		t.Errorf("principal checks wrong for %+v", p)
	}
	if !(Principal{}).IsZero() {
		t.Error("zero principal not zero")
	}
}

func TestCheck(t *testing.T) {
	calls := 0
	inner := ModelFuncs{GenerateFunc: func(context.Context, *Request) (*Response, error) {
		calls++
		return &Response{Message: AssistantText("ok")}, nil
	}}
	m := Chain(inner, Check(func(_ context.Context, req *Request) error {
		if req.Feature == "off" {
			return &Error{Kind: KindPolicyDenied, Message: "feature off"}
		}
		return nil
	}))
	ctx := context.Background()
	if _, err := m.Generate(ctx, &Request{Feature: "off"}); !errors.Is(err, KindPolicyDenied) {
		t.Errorf("Generate: %v", err)
	}
	s := m.Stream(ctx, &Request{Feature: "off"})
	if calls != 0 {
		t.Fatal("refused call reached the model")
	}
	if _, err := Collect(s); !errors.Is(err, KindPolicyDenied) {
		t.Errorf("Stream: %v", err)
	}
	if r, err := m.Generate(ctx, &Request{Feature: "on"}); err != nil || r.Text() != "ok" || calls != 1 {
		t.Errorf("allowed call: %v, %v, calls=%d", r, err, calls)
	}
	if r, err := Collect(m.Stream(ctx, &Request{Feature: "on"})); err != nil || r.Text() != "ok" || calls != 2 {
		t.Errorf("allowed stream: %v, %v, calls=%d", r, err, calls)
	}
}
