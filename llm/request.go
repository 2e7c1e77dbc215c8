package llm

import (
	"encoding/json"
	"maps"
)

// Request is a provider-neutral chat request.
//
// Pointer fields distinguish "not set" (the provider's default) from a zero
// value. A Request is read, never modified, by Models and middlewares: a
// middleware that needs to change it works on a copy (see Request.Clone), so
// callers may reuse one Request across calls and goroutines.
type Request struct {
	// Model names the model to call. Providers may fall back to a default.
	Model    string
	Messages []Message

	// Tools the model may call, and how it should choose among them.
	Tools             []ToolDef
	ToolChoice        ToolChoice
	ParallelToolCalls *bool

	// ResponseFormat constrains the answer (text, JSON object, JSON Schema).
	ResponseFormat *ResponseFormat

	// Sampling. Reasoning models reject some of these; each provider
	// documents whether it drops or rejects them.
	Temperature *float64
	TopP        *float64
	Seed        *int64
	Stop        []string
	// MaxOutputTokens caps the generated tokens (max_completion_tokens).
	MaxOutputTokens int
	// ReasoningEffort is the effort hint for reasoning models.
	ReasoningEffort ReasoningEffort

	// Principal is who the call is made for: tenant, user, roles.
	Principal Principal
	// Feature names the product feature, for cost and telemetry attribution.
	Feature string
	// Prompt identifies the prompt version that produced Messages.
	Prompt *PromptRef
	// Risk is a free-form risk tag that routing rules and guards may read
	// (for example "high" for requests that may trigger external effects).
	Risk string
	// AllowApproximate says that a semantically similar cached answer is
	// acceptable for this request.
	AllowApproximate bool

	// Extra holds provider-specific request fields, merged into the body
	// by providers that understand them (for example "top_k" for vLLM).
	Extra map[string]any
}

// Clone returns a shallow copy of r whose slices and maps may be appended
// to or replaced without affecting r. Message contents are shared.
func (r *Request) Clone() *Request {
	c := *r
	c.Messages = append([]Message(nil), r.Messages...)
	c.Tools = append([]ToolDef(nil), r.Tools...)
	c.Stop = append([]string(nil), r.Stop...)
	c.Extra = maps.Clone(r.Extra)
	return &c
}

// HasUntrusted reports whether any message of r carries untrusted content.
func (r *Request) HasUntrusted() bool {
	for _, m := range r.Messages {
		if m.HasUntrusted() {
			return true
		}
	}
	return false
}

// ToolDef describes a tool the model may call.
type ToolDef struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object.
	Parameters json.RawMessage
	// Strict asks the provider to guarantee arguments that match the
	// schema (OpenAI's strict mode; the schema must be in its subset).
	Strict bool
}

// ToolChoiceMode says how the model may choose tools.
type ToolChoiceMode string

// The tool choice modes. The zero value leaves the choice to the provider.
const (
	ToolChoiceDefault  ToolChoiceMode = ""
	ToolChoiceAuto     ToolChoiceMode = "auto"
	ToolChoiceNone     ToolChoiceMode = "none"
	ToolChoiceRequired ToolChoiceMode = "required"
	// ToolChoiceFunction forces the tool named in ToolChoice.Name.
	ToolChoiceFunction ToolChoiceMode = "function"
)

// ToolChoice controls tool selection.
type ToolChoice struct {
	Mode ToolChoiceMode
	// Name is the forced tool when Mode is ToolChoiceFunction.
	Name string
}

// FormatType is the kind of response format.
type FormatType string

// The response formats.
const (
	FormatText       FormatType = "text"
	FormatJSONObject FormatType = "json_object"
	FormatJSONSchema FormatType = "json_schema"
)

// ResponseFormat constrains the shape of the answer.
type ResponseFormat struct {
	Type FormatType
	// Name and Description identify a JSON Schema format.
	Name        string
	Description string
	// Schema is the JSON Schema of the answer for FormatJSONSchema.
	Schema json.RawMessage
	// Strict asks the provider to guarantee schema conformance.
	Strict bool
}

// ReasoningEffort is the effort hint for reasoning models.
type ReasoningEffort string

// The reasoning efforts OpenAI defines; providers map them to their own.
const (
	ReasoningDefault ReasoningEffort = ""
	ReasoningMinimal ReasoningEffort = "minimal"
	ReasoningLow     ReasoningEffort = "low"
	ReasoningMedium  ReasoningEffort = "medium"
	ReasoningHigh    ReasoningEffort = "high"
)

// PromptRef identifies the prompt version a request was rendered from, so a
// regression can be traced to a prompt change through telemetry, cache keys
// and evaluation reports.
type PromptRef struct {
	Name    string
	Version string
	// Hash is the content hash of the template.
	Hash string
}
