package llm

import (
	"encoding/json"
	"strings"
)

// telemetryMessage is a message in the GenAI conventions' JSON format for
// gen_ai.input.messages and gen_ai.output.messages.
type telemetryMessage struct {
	Role         string          `json:"role"`
	Parts        []telemetryPart `json:"parts"`
	FinishReason string          `json:"finish_reason,omitempty"`
}

// telemetryPart is one part of a telemetryMessage: text, reasoning,
// refusal, tool_call, tool_call_response or uri.
type telemetryPart struct {
	Type      string          `json:"type"`
	Content   string          `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Response  *string         `json:"response,omitempty"`
	Modality  string          `json:"modality,omitempty"`
	URI       string          `json:"uri,omitempty"`
}

// telemetryInputMessages returns msgs as gen_ai.input.messages JSON.
func telemetryInputMessages(msgs []Message) []byte {
	out := make([]telemetryMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, telemetryMessageOf(m, ""))
	}
	return telemetryJSON(out)
}

// telemetryOutputMessages returns resp's message as gen_ai.output.messages
// JSON.
func telemetryOutputMessages(resp *Response) []byte {
	return telemetryJSON([]telemetryMessage{telemetryMessageOf(resp.Message, string(resp.FinishReason))})
}

func telemetryJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // not reached: the types marshal without error
		return []byte("[]")
	}
	return b
}

// telemetryMessageOf converts m. Inline image bytes are left out, and image
// URLs lose their query string, which may hold a signature.
func telemetryMessageOf(m Message, finish string) telemetryMessage {
	tm := telemetryMessage{Role: string(m.Role), Parts: []telemetryPart{}, FinishReason: finish}
	if m.Reasoning != "" {
		tm.Parts = append(tm.Parts, telemetryPart{Type: "reasoning", Content: m.Reasoning})
	}
	for _, p := range m.Parts {
		switch p.Kind {
		case PartText:
			if m.Role == RoleTool {
				text := p.Text
				tm.Parts = append(tm.Parts, telemetryPart{Type: "tool_call_response", ID: m.ToolCallID, Response: &text})
			} else {
				tm.Parts = append(tm.Parts, telemetryPart{Type: "text", Content: p.Text})
			}
		case PartImage:
			u := p.ImageURL
			if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
				continue
			}
			if i := strings.IndexAny(u, "?#"); i >= 0 {
				u = u[:i]
			}
			tm.Parts = append(tm.Parts, telemetryPart{Type: "uri", Modality: "image", URI: u})
		}
	}
	if m.Refusal != "" {
		tm.Parts = append(tm.Parts, telemetryPart{Type: "refusal", Content: m.Refusal})
	}
	for _, tc := range m.ToolCalls {
		args := json.RawMessage(tc.Arguments)
		if !json.Valid(args) {
			args, _ = json.Marshal(tc.Arguments)
		}
		tm.Parts = append(tm.Parts, telemetryPart{Type: "tool_call", ID: tc.ID, Name: tc.Name, Arguments: args})
	}
	return tm
}
