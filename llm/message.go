package llm

import (
	"encoding/json"
	"strings"
)

// Role is the author of a message.
type Role string

// The roles a conversation may contain.
const (
	RoleSystem    Role = "system"
	RoleDeveloper Role = "developer"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Provenance says whether content was written by the application (trusted)
// or came from outside it: user input, retrieved documents, tool output,
// template variables filled from user data (untrusted). Policies use it to
// refuse high-risk tools once untrusted content is in the context, and guards
// apply stricter checks to it.
type Provenance uint8

const (
	// ProvenanceDefault means "derive from the role": system and developer
	// messages are trusted, everything else (user, assistant, tool) is
	// untrusted. It is the zero value so that content nobody marked is never
	// silently promoted to trusted.
	ProvenanceDefault Provenance = iota
	// Trusted content was written by the application itself.
	Trusted
	// Untrusted content came from a user, a document, a tool or another
	// outside source.
	Untrusted
)

// String returns "default", "trusted" or "untrusted".
func (p Provenance) String() string {
	switch p {
	case Trusted:
		return "trusted"
	case Untrusted:
		return "untrusted"
	default:
		return "default"
	}
}

// Resolve returns Trusted or Untrusted: p itself when set, otherwise the
// default for role.
func (p Provenance) Resolve(role Role) Provenance {
	if p != ProvenanceDefault {
		return p
	}
	if role == RoleSystem || role == RoleDeveloper {
		return Trusted
	}
	return Untrusted
}

// PartKind is the kind of a content part.
type PartKind uint8

// The kinds of content part.
const (
	PartText PartKind = iota
	PartImage
)

// Part is one piece of message content: text, or an image given by URL or by
// bytes. Every part carries its provenance.
type Part struct {
	Kind PartKind
	// Text is the content of a PartText.
	Text string
	// ImageURL is an http(s) or data: URL of a PartImage.
	ImageURL string
	// ImageData holds the bytes of a PartImage sent inline; MIMEType names
	// their type (for example "image/png").
	ImageData []byte
	MIMEType  string
	// ImageDetail is the provider's detail hint ("low", "high", "auto").
	ImageDetail string
	// Provenance marks the part as trusted or untrusted; see Provenance.
	Provenance Provenance
	// Source optionally names where untrusted content came from, such as
	// "doc:handbook#4" or "tool:search_tickets", for audit and guards.
	Source string
}

// Text returns a text part with default provenance.
func Text(s string) Part { return Part{Kind: PartText, Text: s} }

// UntrustedText returns a text part explicitly marked untrusted, with the
// source it came from.
func UntrustedText(s, source string) Part {
	return Part{Kind: PartText, Text: s, Provenance: Untrusted, Source: source}
}

// ImageURL returns an image part referring to url.
func ImageURL(url string) Part { return Part{Kind: PartImage, ImageURL: url} }

// ImageBytes returns an image part carrying data of the given MIME type.
func ImageBytes(data []byte, mimeType string) Part {
	return Part{Kind: PartImage, ImageData: data, MIMEType: mimeType}
}

// ToolCall is a call the assistant asks the application to make. Arguments
// is the raw JSON text the model produced; it is not guaranteed to be valid
// JSON and must be validated before use.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string
}

// Message is one turn of a conversation.
//
// Assistant messages may carry ToolCalls, a Refusal and Reasoning content;
// tool messages carry the ToolCallID of the call they answer. Extra holds
// provider-specific fields that must round-trip (a provider reads them from a
// response and sends them back when the message is replayed).
type Message struct {
	Role Role
	// Name optionally distinguishes participants with the same role.
	Name  string
	Parts []Part
	// ToolCalls are the calls an assistant message requests.
	ToolCalls []ToolCall
	// ToolCallID ties a tool message to the call it answers.
	ToolCallID string
	// Refusal is the model's refusal text, when it declined to answer.
	Refusal string
	// Reasoning is reasoning content returned by models that expose it
	// (for example reasoning_content from vLLM or DeepSeek-style servers).
	Reasoning string
	// Extra holds provider-specific message fields, keyed by their JSON name.
	Extra map[string]json.RawMessage
}

// Text returns the concatenated text parts of m.
func (m Message) Text() string {
	switch len(m.Parts) {
	case 0:
		return ""
	case 1:
		if m.Parts[0].Kind == PartText {
			return m.Parts[0].Text
		}
		return ""
	}
	var b strings.Builder
	for _, p := range m.Parts {
		if p.Kind == PartText {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// HasUntrusted reports whether any part of m resolves to Untrusted.
func (m Message) HasUntrusted() bool {
	for _, p := range m.Parts {
		if p.Provenance.Resolve(m.Role) == Untrusted {
			return true
		}
	}
	// Tool calls and results are model/tool output: untrusted by nature.
	return m.Role == RoleTool || len(m.ToolCalls) > 0
}

// SystemMessage returns a trusted system message.
func SystemMessage(text string) Message {
	return Message{Role: RoleSystem, Parts: []Part{{Kind: PartText, Text: text, Provenance: Trusted}}}
}

// DeveloperMessage returns a trusted developer message.
func DeveloperMessage(text string) Message {
	return Message{Role: RoleDeveloper, Parts: []Part{{Kind: PartText, Text: text, Provenance: Trusted}}}
}

// UserMessage returns a user message made of parts; a plain string becomes
// one untrusted text part via UserText.
func UserMessage(parts ...Part) Message { return Message{Role: RoleUser, Parts: parts} }

// UserText returns a user message with one text part (untrusted by default).
func UserText(text string) Message { return UserMessage(Text(text)) }

// AssistantText returns an assistant message with one text part.
func AssistantText(text string) Message {
	return Message{Role: RoleAssistant, Parts: []Part{Text(text)}}
}

// ToolResult returns the tool message answering the call with id callID.
// Tool output is untrusted.
func ToolResult(callID, content string) Message {
	return Message{Role: RoleTool, ToolCallID: callID,
		Parts: []Part{{Kind: PartText, Text: content, Provenance: Untrusted}}}
}
