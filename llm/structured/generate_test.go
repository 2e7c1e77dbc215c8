package structured_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/structured"
)

// Ticket is the value the tests ask for: nested object, list, enum,
// bounds the strict form cannot carry (minLength, maxItems stays), and
// optional fields.
type Ticket struct {
	Title    string   `json:"title" jsonschema:"minLength=5,description=One-line summary"`
	Priority string   `json:"priority" jsonschema:"enum=low,enum=normal,enum=urgent"`
	Tags     []string `json:"tags,omitempty" jsonschema:"maxItems=3"`
	Customer Customer `json:"customer"`
	Note     *string  `json:"note,omitempty"`
}

// Customer is nested in Ticket.
type Customer struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty" jsonschema:"format=email"`
}

const validTicket = `{"title":"Parcel not delivered","priority":"urgent","tags":["shipping"],"customer":{"name":"Ana","email":"ana@example.com"},"note":null}`

func ticketRequest() *llm.Request {
	return &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{
		llm.SystemMessage("You file support tickets."),
		llm.UserText("My parcel never arrived, please help! — Ana, ana@example.com"),
	}}
}

func TestGenerate(t *testing.T) {
	gen := structured.MustNew[Ticket](structured.Options{})
	want := Ticket{Title: "Parcel not delivered", Priority: "urgent", Tags: []string{"shipping"}, Customer: Customer{Name: "Ana", Email: "ana@example.com"}}
	tests := []struct {
		name     string
		steps    []llmtest.Step
		opts     structured.Options
		want     *Ticket
		kind     llm.Kind // expected error kind, when the call fails
		attempts int      // model calls made
		rejected int      // of which the provider refused the response format
	}{
		{name: "valid", steps: []llmtest.Step{llmtest.Reply(validTicket)}, want: &want, attempts: 1},
		{name: "fenced with prose", steps: []llmtest.Step{llmtest.Reply("Here is the ticket:\n```json\n" + validTicket + "\n```\nLet me know!")}, want: &want, attempts: 1},
		{name: "repaired once", steps: []llmtest.Step{
			llmtest.Reply(`{"title":"Help","priority":"high","customer":{"name":"Ana"},"tags":null,"note":null}`),
			llmtest.Reply(validTicket)}, want: &want, attempts: 2},
		{name: "unknown field repaired", steps: []llmtest.Step{
			llmtest.Reply(`{"title":"Parcel not delivered","priority":"urgent","customer":{"name":"Ana"},"sla":"4h"}`),
			llmtest.Reply(validTicket)}, want: &want, attempts: 2},
		{name: "not JSON then valid", steps: []llmtest.Step{llmtest.Reply("Sorry, I can only answer in prose."), llmtest.Reply(validTicket)}, want: &want, attempts: 2},
		{name: "always invalid", steps: []llmtest.Step{llmtest.Reply(`{"title":"x"}`), llmtest.Reply(`{"title":"y"}`), llmtest.Reply(`{"title":"z"}`)},
			kind: llm.KindInvalidOutput, attempts: 3},
		{name: "no repairs", opts: structured.Options{MaxRepairs: -1}, steps: []llmtest.Step{llmtest.Reply(`{"title":"x"}`)},
			kind: llm.KindInvalidOutput, attempts: 1},
		{name: "refusal is not repaired", steps: []llmtest.Step{llmtest.Refusal("I can't help with that.")}, kind: llm.KindRefusal, attempts: 1},
		{name: "content filter", steps: []llmtest.Step{llmtest.Response(&llm.Response{Message: llm.AssistantText(""), FinishReason: llm.FinishContentFilter})},
			kind: llm.KindContentFiltered, attempts: 1},
		{name: "cut off then valid", steps: []llmtest.Step{
			llmtest.Response(&llm.Response{Message: llm.AssistantText(`{"title":"Parcel not del`), FinishReason: llm.FinishLength}),
			llmtest.Reply(validTicket)}, want: &want, attempts: 2},
		{name: "provider error passes through", steps: []llmtest.Step{llmtest.ServerError(503)}, kind: llm.KindUnavailable, attempts: 1},
		{name: "auto falls back to JSON mode", steps: []llmtest.Step{
			llmtest.Fail(&llm.Error{Kind: llm.KindInvalidRequest, Status: 400, Param: "response_format", Message: "response_format json_schema is not supported with this model"}),
			llmtest.Reply(validTicket)}, want: &want, attempts: 2, rejected: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gen
			if tt.opts != (structured.Options{}) {
				g = structured.MustNew[Ticket](tt.opts)
			}
			m := llmtest.NewModel(tt.steps...)
			req := ticketRequest()
			before := len(req.Messages)
			got, err := g.GenerateResult(context.Background(), m, req)
			if m.Calls() != tt.attempts {
				t.Errorf("%d model calls, want %d", m.Calls(), tt.attempts)
			}
			if len(req.Messages) != before || req.ResponseFormat != nil {
				t.Error("the caller's request was modified")
			}
			if tt.want == nil {
				if err == nil {
					t.Fatalf("got %+v, want an error of kind %v", got.Value, tt.kind)
				}
				if k := llm.KindOf(err); k != tt.kind {
					t.Fatalf("error %v of kind %v, want %v", err, k, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ticketsEqual(got.Value, *tt.want) || got.Attempts != tt.attempts-tt.rejected {
				t.Errorf("got %+v after %d attempts, want %+v after %d", got.Value, got.Attempts, *tt.want, tt.attempts-tt.rejected)
			}
		})
	}
}

func ticketsEqual(a, b Ticket) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// The repair message quotes the exact validation problems, and the
// answer it repairs is in the conversation before it.
func TestGenerateRepairMessage(t *testing.T) {
	gen := structured.MustNew[Ticket](structured.Options{})
	bad := `{"title":"Help","priority":"high","customer":{"name":"Ana","email":"not-an-email"},"tags":["a","b","c","d"],"note":null}`
	m := llmtest.NewModel(llmtest.Reply(bad), llmtest.Reply(validTicket))
	if _, err := gen.Generate(context.Background(), m, ticketRequest()); err != nil {
		t.Fatal(err)
	}
	second := m.Requests()[1]
	n := len(second.Messages)
	if second.Messages[n-2].Role != llm.RoleAssistant || second.Messages[n-2].Text() != bad {
		t.Fatalf("the invalid answer is not replayed: %+v", second.Messages[n-2])
	}
	repair := second.Messages[n-1]
	want := "- at /customer/email: 'not-an-email' is not valid email: missing @\n" +
		"- at /priority: value must be one of 'low', 'normal', 'urgent'\n" +
		"- at /tags: maxItems: got 4, want 3\n" +
		"- at /title: minLength: got 4, want 5"
	if len(repair.Parts) != 2 || repair.Parts[1].Text != want {
		t.Errorf("repair problems:\n%s\nwant:\n%s", repair.Text(), want)
	}
	if len(repair.Parts) != 2 || repair.Parts[0].Provenance != llm.Trusted || repair.Parts[1].Provenance != llm.Untrusted {
		t.Errorf("repair message parts %+v: want a trusted instruction and the untrusted problems", repair.Parts)
	}
}

// The final error says what was wrong with each attempt and carries the
// raw text.
func TestGenerateOutputError(t *testing.T) {
	gen := structured.MustNew[Ticket](structured.Options{MaxRepairs: 1})
	m := llmtest.NewModel(llmtest.Reply("no JSON here"), llmtest.Reply(`{"title":"Short"}`))
	_, err := gen.Generate(context.Background(), m, ticketRequest())
	var oe *structured.OutputError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T), want *OutputError", err, err)
	}
	if !errors.Is(err, llm.KindInvalidOutput) {
		t.Error("errors.Is(err, llm.KindInvalidOutput) is false")
	}
	if len(oe.Attempts) != 2 || oe.Attempts[0].Text != "no JSON here" || oe.Last() != `{"title":"Short"}` {
		t.Fatalf("attempts %+v", oe.Attempts)
	}
	var ve *structured.ValidationError
	if !errors.As(oe.Attempts[1].Err, &ve) || len(ve.Problems) == 0 {
		t.Fatalf("second attempt's problem %v, want a *ValidationError", oe.Attempts[1].Err)
	}
	msg := err.Error()
	for _, want := range []string{"attempt 1", "attempt 2", "no JSON here", "Ticket"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

// Each mode asks for JSON its own way.
func TestGenerateModes(t *testing.T) {
	for _, tt := range []struct {
		mode        structured.Mode
		format      llm.FormatType // "" for none
		strict      bool
		instruction bool
	}{
		{structured.ModeAuto, llm.FormatJSONSchema, true, false},
		{structured.ModeSchema, llm.FormatJSONSchema, true, false},
		{structured.ModeJSON, llm.FormatJSONObject, false, true},
		{structured.ModePrompt, "", false, true},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			gen := structured.MustNew[Ticket](structured.Options{Mode: tt.mode})
			m := llmtest.NewModel(llmtest.Reply("```\n" + validTicket + "\n```"))
			if _, err := gen.Generate(context.Background(), m, ticketRequest()); err != nil {
				t.Fatal(err)
			}
			req := m.Requests()[0]
			rf := req.ResponseFormat
			switch {
			case tt.format == "" && rf != nil:
				t.Errorf("response format %+v, want none", rf)
			case tt.format != "" && (rf == nil || rf.Type != tt.format || rf.Strict != tt.strict):
				t.Errorf("response format %+v, want %s strict=%v", rf, tt.format, tt.strict)
			}
			hasSchema := false
			for _, msg := range req.Messages {
				if msg.Role == llm.RoleSystem && strings.Contains(msg.Text(), `"priority"`) {
					hasSchema = true
					if msg.HasUntrusted() {
						t.Error("the schema instruction is not trusted")
					}
				}
			}
			if hasSchema != tt.instruction {
				t.Errorf("schema in the prompt: %v, want %v", hasSchema, tt.instruction)
			}
			if tt.instruction && req.Messages[0].Text() != "You file support tickets." {
				t.Error("the instruction was not placed after the application's system message")
			}
		})
	}
}

// A type that is not an object travels wrapped in the strict form and is
// unwrapped on the way back; in JSON mode it travels as is.
func TestGenerateNonObject(t *testing.T) {
	gen := structured.MustNew[[]Customer](structured.Options{})
	m := llmtest.NewModel(llmtest.Reply(`{"value":[{"name":"Ana"},{"name":"Bo","email":"bo@example.com"}]}`))
	got, err := gen.Generate(context.Background(), m, ticketRequest())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Email != "bo@example.com" {
		t.Fatalf("got %+v", got)
	}
	js := structured.MustNew[[]Customer](structured.Options{Mode: structured.ModeJSON})
	m = llmtest.NewModel(llmtest.Reply(`[{"name":"Ana"}]`))
	if got, err = js.Generate(context.Background(), m, ticketRequest()); err != nil || len(got) != 1 {
		t.Fatalf("JSON mode: %+v, %v", got, err)
	}
}

func TestGenerateNilRequest(t *testing.T) {
	gen := structured.MustNew[Ticket](structured.Options{})
	if _, err := gen.Generate(context.Background(), llmtest.NewModel(), nil); llm.KindOf(err) != llm.KindInvalidRequest {
		t.Fatalf("nil request: %v", err)
	}
	for _, err := range gen.Stream(context.Background(), llmtest.NewModel(), nil) {
		if llm.KindOf(err) != llm.KindInvalidRequest {
			t.Fatalf("nil request streamed: %v", err)
		}
	}
}
