package guard_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard"
	"github.com/keel-go/keel/llm"
)

// redCloneMessages copies msgs deeply, to check later that they were not
// modified.
func redCloneMessages(msgs []llm.Message) []llm.Message {
	b, err := json.Marshal(msgs)
	if err != nil {
		panic(err)
	}
	var out []llm.Message
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func TestRedactMessages(t *testing.T) {
	scan := redScan(redEmail, redPhone, redCard, redTermDetector{terms: map[string]string{`Ann "the hammer" O'Brien`: "NAME"}})
	img := llm.ImageBytes([]byte{1, 2, 3}, "image/png")
	msgs := []llm.Message{
		llm.SystemMessage("Support agent for ann@example.com."),
		{Role: llm.RoleUser, Name: "ann", Parts: []llm.Part{
			llm.Text("I am Ann \"the hammer\" O'Brien, call +44 20 7946 0958."),
			img,
			llm.UntrustedText("forwarded from bob@example.org", "mail:inbox#3"),
		}},
		{Role: llm.RoleAssistant, Reasoning: "ann@example.com wants a call", ToolCalls: []llm.ToolCall{
			{ID: "call_1", Name: "send_email", Arguments: `{"to":"ann@example.com","name":"Ann \"the hammer\" O'Brien","card":4111111111111111}`},
			{ID: "call_2", Name: "broken", Arguments: `{to: ann@example.com`},
		}, Extra: map[string]json.RawMessage{"x": json.RawMessage(`"ann@example.com"`)}},
		llm.ToolResult("call_1", `{"sent_to":"ann@example.com","ok":true}`),
		{Role: llm.RoleAssistant, Refusal: "I will not mail bob@example.org"},
	}
	before := redCloneMessages(msgs)

	v := guard.NewVault()
	got := v.RedactMessages(msgs, scan)

	if !reflect.DeepEqual(msgs, before) {
		t.Fatalf("the caller's messages were modified:\n%+v", msgs)
	}
	want := []string{
		"Support agent for <EMAIL_1>.",
		"I am <NAME_1>, call <PHONE_1>.",
		"forwarded from <EMAIL_2>",
		`{"to":"<EMAIL_1>","name":"<NAME_1>","card":"<CREDIT_CARD_1>"}`,
		`{to: "<EMAIL_1>"`,
		"<EMAIL_1> wants a call",
		`{"sent_to":"<EMAIL_1>","ok":true}`,
		"I will not mail <EMAIL_2>",
	}
	have := []string{
		got[0].Text(),
		got[1].Parts[0].Text,
		got[1].Parts[2].Text,
		got[2].ToolCalls[0].Arguments,
		got[2].ToolCalls[1].Arguments,
		got[2].Reasoning,
		got[3].Text(),
		got[4].Refusal,
	}
	for i := range want {
		if have[i] != want[i] {
			t.Errorf("redacted %d = %q, want %q", i, have[i], want[i])
		}
	}
	// Everything that is not text is kept.
	if p := got[1].Parts[2]; p.Provenance != llm.Untrusted || p.Source != "mail:inbox#3" {
		t.Errorf("provenance lost: %+v", p)
	}
	if p := got[0].Parts[0]; p.Provenance != llm.Trusted {
		t.Errorf("system provenance lost: %+v", p)
	}
	if !reflect.DeepEqual(got[1].Parts[1], img) || got[1].Name != "ann" {
		t.Errorf("image or name changed: %+v", got[1])
	}
	if tc := got[2].ToolCalls[0]; tc.ID != "call_1" || tc.Name != "send_email" || got[3].ToolCallID != "call_1" {
		t.Errorf("tool ids changed: %+v", got[2].ToolCalls)
	}
	if string(got[2].Extra["x"]) != `"ann@example.com"` {
		t.Errorf("Extra changed: %s", got[2].Extra["x"])
	}

	// The result has its own slices: changing it leaves msgs alone.
	got[1].Parts[0].Text = "changed"
	got[2].ToolCalls[0].Arguments = "changed"
	if !reflect.DeepEqual(msgs, before) {
		t.Error("the result shares slices with the caller's messages")
	}

	// Restoring the arguments of the redacted call gives back exactly
	// the original values, the quoted name included; the card number
	// comes back as a string.
	var args map[string]any
	if err := json.Unmarshal([]byte(v.RestoreJSON(want[3])), &args); err != nil {
		t.Fatal(err)
	}
	wantArgs := map[string]any{"to": "ann@example.com", "name": `Ann "the hammer" O'Brien`, "card": "4111111111111111"}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("restored args = %v, want %v", args, wantArgs)
	}

	if v.RedactMessages(nil, scan) != nil {
		t.Error("RedactMessages(nil) is not nil")
	}
	if got := v.RedactMessages([]llm.Message{llm.UserText("x <EMAIL_1> y")}, nil); got[0].Text() != "x <EMAIL_3> y" {
		t.Errorf("with a nil scan: %q; want the literal pseudonymized", got[0].Text())
	}
}

func TestRedactMessagesJSONStrings(t *testing.T) {
	// Inside a JSON string the detectors see the decoded text, so an
	// escaped value is found and the vault keeps the real one.
	scan := redScan(redTermDetector{terms: map[string]string{`Zoë "Z" Ñ`: "NAME"}})
	v := guard.NewVault()
	got := v.RedactMessages([]llm.Message{llm.ToolResult("c", `{"name":"Zo\u00eb \"Z\" \u00d1","note":"\ud83e\udd8a"}`)}, scan)
	if got[0].Text() != `{"name":"<NAME_1>","note":"\ud83e\udd8a"}` {
		t.Errorf("redacted = %s", got[0].Text())
	}
	if val, _ := v.Lookup("<NAME_1>"); val != `Zoë "Z" Ñ` {
		t.Errorf("vault holds %q", val)
	}
}

func TestRestoreResponse(t *testing.T) {
	v := guard.NewVault()
	v.RedactMessages([]llm.Message{llm.UserText("ann@example.com")}, redScan(redEmail))
	v.RedactMessages([]llm.Message{llm.UserText(`say "hi"`)}, redScan(redTermDetector{terms: map[string]string{`"hi"`: "GREETING"}}))

	resp := &llm.Response{
		Message: llm.Message{
			Role:      llm.RoleAssistant,
			Parts:     []llm.Part{llm.Text(`{"to":"<EMAIL_1>","say":"<GREETING_1>"}`), llm.ImageURL("https://x/<EMAIL_1>")},
			ToolCalls: []llm.ToolCall{{ID: "c1", Name: "send", Arguments: `{"body":"<GREETING_1>"}`}},
			Refusal:   "not <EMAIL_1>",
			Reasoning: "<GREETING_1> to <EMAIL_1>",
		},
		Model: "m", FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 5},
	}
	// A cache would share these slices with the stored answer.
	parts, calls := resp.Message.Parts, resp.Message.ToolCalls

	got := v.RestoreResponse(resp, nil)
	if got.Text() != `{"to":"ann@example.com","say":""hi""}` {
		t.Errorf("text as text = %s", got.Text())
	}
	got = v.RestoreResponse(resp, &llm.ResponseFormat{Type: llm.FormatJSONSchema})
	if got.Text() != `{"to":"ann@example.com","say":"\"hi\""}` {
		t.Errorf("text as JSON = %s", got.Text())
	}
	if got.Message.ToolCalls[0].Arguments != `{"body":"\"hi\""}` || got.Message.ToolCalls[0].ID != "c1" {
		t.Errorf("tool call = %+v", got.Message.ToolCalls[0])
	}
	if got.Message.Refusal != "not ann@example.com" || got.Message.Reasoning != `"hi" to ann@example.com` {
		t.Errorf("refusal %q, reasoning %q", got.Message.Refusal, got.Message.Reasoning)
	}
	if got.Message.Parts[1].ImageURL != "https://x/<EMAIL_1>" {
		t.Errorf("image part changed: %+v", got.Message.Parts[1])
	}
	if got.Model != "m" || got.Usage.InputTokens != 5 || got.FinishReason != llm.FinishStop {
		t.Errorf("metadata lost: %+v", got)
	}
	if !strings.Contains(parts[0].Text, "<EMAIL_1>") || !strings.Contains(calls[0].Arguments, "<GREETING_1>") ||
		resp.Message.Refusal != "not <EMAIL_1>" {
		t.Error("RestoreResponse modified its argument or the slices it shares")
	}
	if v.RestoreResponse(nil, nil) != nil {
		t.Error("RestoreResponse(nil) is not nil")
	}
}
