package openai

import (
	"encoding/json"

	"github.com/keel-go/keel/llm"
)

// The three tool schemas of the realistic request: nested objects, arrays,
// enums and required lists, as a support-desk agent would declare them.
const (
	searchTicketsSchema = `{
  "type": "object",
  "properties": {
    "query": {"type": "string", "description": "Full-text query over ticket subject and body."},
    "status": {"type": "string", "enum": ["open", "pending", "resolved", "closed"]},
    "filters": {
      "type": "object",
      "properties": {
        "assignee": {"type": "string", "description": "Agent email address."},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "created_after": {"type": "string", "format": "date-time"},
        "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]}
      },
      "required": ["assignee", "tags", "created_after", "priority"],
      "additionalProperties": false
    },
    "limit": {"type": "integer", "minimum": 1, "maximum": 50}
  },
  "required": ["query", "status", "filters", "limit"],
  "additionalProperties": false
}`
	updateTicketSchema = `{
  "type": "object",
  "properties": {
    "ticket_id": {"type": "integer", "description": "Numeric ticket id."},
    "changes": {
      "type": "object",
      "properties": {
        "status": {"type": "string", "enum": ["open", "pending", "resolved", "closed"]},
        "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
        "assignee": {"type": "string"},
        "add_tags": {"type": "array", "items": {"type": "string"}}
      },
      "required": ["status", "priority", "assignee", "add_tags"],
      "additionalProperties": false
    },
    "internal_note": {"type": "string", "description": "Note visible to agents only."}
  },
  "required": ["ticket_id", "changes", "internal_note"],
  "additionalProperties": false
}`
	sendEmailSchema = `{
  "type": "object",
  "properties": {
    "to": {"type": "array", "items": {"type": "string", "format": "email"}, "minItems": 1},
    "subject": {"type": "string", "maxLength": 200},
    "body": {"type": "string", "description": "Plain-text body; no HTML."},
    "reply_to_ticket": {"type": "integer"}
  },
  "required": ["to", "subject", "body", "reply_to_ticket"],
  "additionalProperties": false
}`
	benchSystemPrompt = "You are the support assistant of Acme Cloud. Answer in the customer's language, " +
		"cite ticket numbers, never promise refunds above 100 EUR without a human agent, and use the " +
		"tools to search, update and email about tickets. Escalate security incidents immediately."
	benchUserPrompt = "Hi, my VPN ticket from last week is still open and nobody answered. " +
		"Can you bump its priority and email me a status update at jane@example.com?"
)

// realisticRequest is the ~2 KB request of the benchmarks and the contract
// test: a system and a user message and three tool definitions.
func realisticRequest() *llm.Request {
	temp := 0.2
	par := true
	return &llm.Request{
		Model:    "gpt-4o-mini",
		Messages: []llm.Message{llm.SystemMessage(benchSystemPrompt), llm.UserText(benchUserPrompt)},
		Tools: []llm.ToolDef{
			{Name: "search_tickets", Description: "Search support tickets by text, status and filters.",
				Parameters: json.RawMessage(searchTicketsSchema), Strict: true},
			{Name: "update_ticket", Description: "Change the status, priority, assignee or tags of a ticket.",
				Parameters: json.RawMessage(updateTicketSchema), Strict: true},
			{Name: "send_email", Description: "Send an email to a customer about a ticket.",
				Parameters: json.RawMessage(sendEmailSchema), Strict: true},
		},
		ToolChoice:        llm.ToolChoice{Mode: llm.ToolChoiceAuto},
		ParallelToolCalls: &par,
		Temperature:       &temp,
		MaxOutputTokens:   512,
		Principal:         llm.Principal{Tenant: "acme", User: "u-42"},
		Feature:           "support-agent",
	}
}

// equivalentFixtures pairs a Chat Completions response with the stream of
// the same answer; Generate and Collect(Stream) must agree on each pair.
var equivalentFixtures = []struct{ json, sse string }{
	{"chat_plain.json", "stream_text.sse"},
	{"chat_tool_calls.json", "stream_tool_calls.sse"},
	{"chat_refusal.json", "stream_refusal.sse"},
	{"chat_content_filter.json", "stream_content_filter.sse"},
	{"compat_vllm_reasoning.json", "compat_vllm_reasoning.sse"},
	// Azure: the first chunk has "model":"" and only prompt_filter_results;
	// choices carry content_filter_results.
	{"compat_azure_chat.json", "compat_azure_stream.sse"},
	// Ollama: a tool call with finish_reason "stop".
	{"compat_ollama_tool_stop.json", "compat_ollama_tool_stop.sse"},
}
