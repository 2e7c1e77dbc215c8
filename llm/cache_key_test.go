package llm_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/keel-go/keel/llm"
)

// cachePtr returns a pointer to v.
func cachePtr[T any](v T) *T { return &v }

// cacheKeyBase returns a request that sets every field the cache key covers.
func cacheKeyBase() *llm.Request {
	return &llm.Request{
		Model:  "gpt-4o-mini",
		Prompt: &llm.PromptRef{Name: "support-answer", Version: "v3", Hash: "sha256:abc"},
		Messages: []llm.Message{
			llm.SystemMessage("You are a support assistant."),
			{Role: llm.RoleUser, Name: "alice", Parts: []llm.Part{
				llm.Text("Where is my parcel?"),
				{Kind: llm.PartImage, ImageURL: "https://example.com/label.png", ImageDetail: "low"},
				{Kind: llm.PartImage, ImageData: []byte{1, 2, 3}, MIMEType: "image/png"},
			}},
			{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("Let me check.")},
				ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "track", Arguments: `{"id":"A-1"}`}},
				Refusal:   "", Reasoning: "look it up",
				Extra: map[string]json.RawMessage{"audio": json.RawMessage(`{"id":"au_1"}`)}},
			llm.ToolResult("call_1", `{"status":"in transit"}`),
		},
		Tools: []llm.ToolDef{
			{Name: "track", Description: "Tracks a parcel.", Parameters: json.RawMessage(`{"type":"object"}`)},
			{Name: "refund", Description: "Refunds an order.", Parameters: json.RawMessage(`{"type":"object"}`), Strict: true},
			{Name: "escalate", Description: "Hands over to a human.", Parameters: json.RawMessage(`{}`)},
		},
		ToolChoice:        llm.ToolChoice{Mode: llm.ToolChoiceAuto},
		ParallelToolCalls: cachePtr(true),
		ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "answer", Description: "The answer",
			Schema: json.RawMessage(`{"type":"object"}`), Strict: true},
		Temperature:     cachePtr(0.0),
		TopP:            cachePtr(1.0),
		Seed:            cachePtr(int64(7)),
		Stop:            []string{"END", "STOP"},
		MaxOutputTokens: 512,
		ReasoningEffort: llm.ReasoningLow,
		Principal:       llm.Principal{Tenant: "acme", User: "u-1", Roles: []string{"agent"}, Groups: []string{"emea"}},
		Feature:         "support-answer",
		Risk:            "low",
		Extra:           map[string]any{"top_k": 40, "safe_prompt": true, "logit_bias": map[string]int{"50256": -100}},
	}
}

// TestCacheKeyTable checks pairs of requests that must and must not share
// a cache key: each case changes one thing in cacheKeyBase.
func TestCacheKeyTable(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *llm.Request)
		same   bool // the change must not change the key
	}{
		// What the issue names.
		{"tenant differs", func(r *llm.Request) { r.Principal.Tenant = "globex" }, false},
		{"no tenant", func(r *llm.Request) { r.Principal.Tenant = "" }, false},
		{"tool list order", func(r *llm.Request) { r.Tools[0], r.Tools[1] = r.Tools[1], r.Tools[0] }, false},
		{"temperature 0.7", func(r *llm.Request) { r.Temperature = cachePtr(0.7) }, false},
		{"temperature unset", func(r *llm.Request) { r.Temperature = nil }, false},
		{"response format unset", func(r *llm.Request) { r.ResponseFormat = nil }, false},
		{"response format json_object", func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject} }, false},
		{"response format schema", func(r *llm.Request) { r.ResponseFormat.Schema = json.RawMessage(`{"type":"array"}`) }, false},
		{"response format name", func(r *llm.Request) { r.ResponseFormat.Name = "answer2" }, false},
		{"response format description", func(r *llm.Request) { r.ResponseFormat.Description = "" }, false},
		{"response format strict", func(r *llm.Request) { r.ResponseFormat.Strict = false }, false},
		{"prompt version", func(r *llm.Request) {
			r.Prompt = &llm.PromptRef{Name: "support-answer", Version: "v4", Hash: "sha256:abc"}
		}, false},
		{"prompt name", func(r *llm.Request) { r.Prompt = &llm.PromptRef{Name: "other", Version: "v3", Hash: "sha256:abc"} }, false},
		{"prompt hash", func(r *llm.Request) {
			r.Prompt = &llm.PromptRef{Name: "support-answer", Version: "v3", Hash: "sha256:abd"}
		}, false},
		{"prompt unset", func(r *llm.Request) { r.Prompt = nil }, false},

		// Every other field of the key.
		{"model", func(r *llm.Request) { r.Model = "gpt-4o" }, false},
		{"message role", func(r *llm.Request) { r.Messages[0].Role = llm.RoleDeveloper }, false},
		{"message name", func(r *llm.Request) { r.Messages[1].Name = "bob" }, false},
		{"message text", func(r *llm.Request) { r.Messages[1].Parts[0].Text = "Where is my parcel!" }, false},
		{"part kind", func(r *llm.Request) { r.Messages[1].Parts[1].Kind = llm.PartText }, false},
		{"image url", func(r *llm.Request) { r.Messages[1].Parts[1].ImageURL = "https://example.com/other.png" }, false},
		{"image bytes", func(r *llm.Request) { r.Messages[1].Parts[2].ImageData = []byte{1, 2, 4} }, false},
		{"image mime type", func(r *llm.Request) { r.Messages[1].Parts[2].MIMEType = "image/jpeg" }, false},
		{"image detail", func(r *llm.Request) { r.Messages[1].Parts[1].ImageDetail = "high" }, false},
		{"part removed", func(r *llm.Request) { r.Messages[1].Parts = r.Messages[1].Parts[:2] }, false},
		{"tool call id", func(r *llm.Request) { r.Messages[2].ToolCalls[0].ID = "call_2" }, false},
		{"tool call name", func(r *llm.Request) { r.Messages[2].ToolCalls[0].Name = "trace" }, false},
		{"tool call arguments", func(r *llm.Request) { r.Messages[2].ToolCalls[0].Arguments = `{"id":"A-2"}` }, false},
		{"tool call id of result", func(r *llm.Request) { r.Messages[3].ToolCallID = "call_9" }, false},
		{"refusal", func(r *llm.Request) { r.Messages[2].Refusal = "no" }, false},
		{"reasoning", func(r *llm.Request) { r.Messages[2].Reasoning = "look it up now" }, false},
		{"message extra value", func(r *llm.Request) { r.Messages[2].Extra["audio"] = json.RawMessage(`{"id":"au_2"}`) }, false},
		{"message extra key", func(r *llm.Request) {
			r.Messages[2].Extra = map[string]json.RawMessage{"audio2": json.RawMessage(`{"id":"au_1"}`)}
		}, false},
		{"message order", func(r *llm.Request) { r.Messages[2], r.Messages[3] = r.Messages[3], r.Messages[2] }, false},
		{"message removed", func(r *llm.Request) { r.Messages = r.Messages[:3] }, false},
		{"tool name", func(r *llm.Request) { r.Tools[2].Name = "escalate2" }, false},
		{"tool description", func(r *llm.Request) { r.Tools[2].Description = "Hands over." }, false},
		{"tool parameters", func(r *llm.Request) { r.Tools[2].Parameters = json.RawMessage(`{"type":"object"}`) }, false},
		{"tool strict", func(r *llm.Request) { r.Tools[2].Strict = true }, false},
		{"tool removed", func(r *llm.Request) { r.Tools = r.Tools[:2] }, false},
		{"no tools", func(r *llm.Request) { r.Tools = nil }, false},
		{"tool choice mode", func(r *llm.Request) { r.ToolChoice.Mode = llm.ToolChoiceRequired }, false},
		{"tool choice name", func(r *llm.Request) { r.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "track"} }, false},
		{"parallel tool calls false", func(r *llm.Request) { r.ParallelToolCalls = cachePtr(false) }, false},
		{"parallel tool calls unset", func(r *llm.Request) { r.ParallelToolCalls = nil }, false},
		{"top_p", func(r *llm.Request) { r.TopP = cachePtr(0.9) }, false},
		{"top_p unset", func(r *llm.Request) { r.TopP = nil }, false},
		{"seed", func(r *llm.Request) { r.Seed = cachePtr(int64(8)) }, false},
		{"seed unset", func(r *llm.Request) { r.Seed = nil }, false},
		{"stop", func(r *llm.Request) { r.Stop = []string{"END"} }, false},
		{"stop order", func(r *llm.Request) { r.Stop = []string{"STOP", "END"} }, false},
		{"max output tokens", func(r *llm.Request) { r.MaxOutputTokens = 513 }, false},
		{"reasoning effort", func(r *llm.Request) { r.ReasoningEffort = llm.ReasoningHigh }, false},
		{"extra value", func(r *llm.Request) { r.Extra["top_k"] = 41 }, false},
		{"extra value type", func(r *llm.Request) { r.Extra["top_k"] = "40" }, false},
		{"extra nested value", func(r *llm.Request) { r.Extra["logit_bias"] = map[string]int{"50256": -99} }, false},
		{"extra key", func(r *llm.Request) { delete(r.Extra, "safe_prompt"); r.Extra["safe_prompt2"] = true }, false},
		{"extra removed", func(r *llm.Request) { r.Extra = nil }, false},

		// Near-collisions: the same bytes split differently.
		{"split texts ab|c vs a|bc", func(r *llm.Request) {
			r.Messages[0].Parts = []llm.Part{llm.Text("You are a support assistant"), llm.Text(".")}
		}, false},
		{"stop ab|c vs a|bc", func(r *llm.Request) { r.Stop = []string{"ENDS", "TOP"} }, false},
		{"text moved into name", func(r *llm.Request) {
			r.Messages[1].Name = "aliceWhere is my parcel?"
			r.Messages[1].Parts[0].Text = ""
		}, false},
		{"tool name into description", func(r *llm.Request) {
			r.Tools[0].Name, r.Tools[0].Description = "trackT", "racks a parcel."
		}, false},

		// Not part of the key: nothing a provider sees.
		{"user differs", func(r *llm.Request) { r.Principal.User = "u-2" }, true},
		{"roles and groups", func(r *llm.Request) { r.Principal.Roles, r.Principal.Groups = nil, []string{"apac"} }, true},
		{"feature", func(r *llm.Request) { r.Feature = "other-feature" }, true},
		{"risk", func(r *llm.Request) { r.Risk = "high" }, true},
		{"allow approximate", func(r *llm.Request) { r.AllowApproximate = true }, true},
		{"provenance and source", func(r *llm.Request) {
			r.Messages[1].Parts[0] = llm.UntrustedText("Where is my parcel?", "web:form")
			r.Messages[0].Parts[0].Provenance = llm.ProvenanceDefault
		}, true},
		{"negative zero temperature", func(r *llm.Request) { r.Temperature = cachePtr(math.Copysign(0, -1)) }, true},
		{"extra rebuilt", func(r *llm.Request) {
			r.Extra = map[string]any{"logit_bias": map[string]int{"50256": -100}, "safe_prompt": true, "top_k": 40}
		}, true},
		{"copied request", func(r *llm.Request) { *r = *cacheKeyBase() }, true},
	}

	opts := llm.CacheOptions{}
	base := opts.Key(cacheKeyBase())
	if len(base) != 64 {
		t.Fatalf("key %q is not a hex SHA-256", base)
	}
	seen := map[string]string{base: "base"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cacheKeyBase()
			tc.change(r)
			got := opts.Key(r)
			if tc.same {
				if got != base {
					t.Fatalf("key changed; %s must not change it", tc.name)
				}
				return
			}
			if got == base {
				t.Fatalf("key unchanged; %s must change it", tc.name)
			}
			if other, dup := seen[got]; dup {
				t.Fatalf("same key as %q", other)
			}
			seen[got] = tc.name
		})
	}
}

// With PerUser the user is part of the key; the tenant always is.
func TestCacheKeyPerUser(t *testing.T) {
	a, b := cacheKeyBase(), cacheKeyBase()
	b.Principal.User = "u-2"
	perUser := llm.CacheOptions{PerUser: true}
	if perUser.Key(a) == perUser.Key(b) {
		t.Fatal("PerUser: two users share a key")
	}
	c := cacheKeyBase()
	c.Principal.Tenant, c.Principal.User = "acm", "eu-1" // the same bytes split differently
	if perUser.Key(a) == perUser.Key(c) {
		t.Fatal("PerUser: tenant/user boundary is ambiguous")
	}
	if (llm.CacheOptions{}).Key(a) == perUser.Key(a) {
		t.Fatal("PerUser and shared keys coincide")
	}
}

// FuzzCacheKeyFields checks that the key tells apart any two ways of
// filling adjacent fields: message texts, name and text, stop sequences,
// tool name and description, tenant and model.
func FuzzCacheKeyFields(f *testing.F) {
	f.Add("ab", "c", "a", "bc")
	f.Add("", "x", "x", "")
	f.Add("a\x00", "b", "a", "\x00b")
	f.Fuzz(func(t *testing.T, a1, a2, b1, b2 string) {
		build := func(x, y string) []*llm.Request {
			return []*llm.Request{
				{Messages: []llm.Message{llm.UserMessage(llm.Text(x), llm.Text(y))}},
				{Messages: []llm.Message{{Role: llm.RoleUser, Name: x, Parts: []llm.Part{llm.Text(y)}}}},
				{Stop: []string{x, y}},
				{Tools: []llm.ToolDef{{Name: x, Description: y}}},
				{Principal: llm.Principal{Tenant: x}, Model: y},
				{Prompt: &llm.PromptRef{Name: x, Version: y}},
			}
		}
		same := a1 == b1 && a2 == b2
		ra, rb := build(a1, a2), build(b1, b2)
		for i := range ra {
			if got := (llm.CacheOptions{}).Key(ra[i]) == (llm.CacheOptions{}).Key(rb[i]); got != same {
				t.Fatalf("layout %d: (%q,%q) and (%q,%q) share a key: %v, want %v", i, a1, a2, b1, b2, got, same)
			}
		}
	})
}
