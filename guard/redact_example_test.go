package guard_test

import (
	"fmt"
	"regexp"

	"github.com/keel-go/keel/guard"
	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm"
)

// exampleScan stands in for a set of detectors: it finds e-mail addresses
// and the one name these examples use.
func exampleScan(text string) []detect.Finding {
	var out []detect.Finding
	for _, m := range regexp.MustCompile(`[a-z.]+@[a-z.]+\.[a-z]+`).FindAllStringIndex(text, -1) {
		out = append(out, detect.Finding{Type: "EMAIL", Start: m[0], End: m[1], Score: 0.9})
	}
	for _, m := range regexp.MustCompile(`Ann "Nan" O'Brien`).FindAllStringIndex(text, -1) {
		out = append(out, detect.Finding{Type: "PERSON", Start: m[0], End: m[1], Score: 0.8})
	}
	return out
}

func ExampleVault() {
	v := guard.NewVault() // one per request
	prompt := `Write to ann@example.com and copy bob@example.org; Ann "Nan" O'Brien signs.`
	sent := v.Redact(prompt, exampleScan(prompt))
	fmt.Println(sent)

	// The model answers in placeholders, in any order.
	answer := "Done: sent to <EMAIL_1>, copied <EMAIL_2>, signed <PERSON_1>."
	fmt.Println(v.Restore(answer))
	// Output:
	// Write to <EMAIL_1> and copy <EMAIL_2>; <PERSON_1> signs.
	// Done: sent to ann@example.com, copied bob@example.org, signed Ann "Nan" O'Brien.
}

func ExampleVault_RestoreJSON() {
	v := guard.NewVault()
	prompt := `Make a contact card for Ann "Nan" O'Brien.`
	v.Redact(prompt, exampleScan(prompt))

	// In JSON each value is escaped inside its string, so the quotes in
	// the name neither break the document nor add a field.
	fmt.Println(v.RestoreJSON(`{"name":"<PERSON_1>","vip":false}`))
	// Tool-call arguments too; a placeholder the model left unquoted
	// becomes a string.
	fmt.Println(v.RestoreJSON(`{"greeting":"Dear <PERSON_1>","to":<PERSON_1>}`))
	// Output:
	// {"name":"Ann \"Nan\" O'Brien","vip":false}
	// {"greeting":"Dear Ann \"Nan\" O'Brien","to":"Ann \"Nan\" O'Brien"}
}

func ExampleVault_NewStreamRestorer() {
	v := guard.NewVault()
	v.Redact("ann@example.com", exampleScan("ann@example.com"))

	r := v.NewStreamRestorer()
	for _, delta := range []string{"Mail sent to <EM", "AIL_1", "> just now."} {
		fmt.Printf("%q\n", r.Write(delta))
	}
	fmt.Printf("%q\n", r.Flush())
	// Output:
	// "Mail sent to "
	// ""
	// "ann@example.com just now."
	// ""
}

func ExampleVault_RedactMessages() {
	v := guard.NewVault()
	msgs := []llm.Message{
		llm.SystemMessage("You send e-mails for the user."),
		llm.UserText(`Tell ann@example.com that Ann "Nan" O'Brien is in.`),
	}
	req := &llm.Request{Messages: v.RedactMessages(msgs, exampleScan)}
	fmt.Println(req.Messages[1].Text())

	// What a model might answer: a tool call in placeholders.
	resp := &llm.Response{Message: llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
		{ID: "call_1", Name: "send_email", Arguments: `{"to":"<EMAIL_1>","body":"<PERSON_1> is in."}`},
	}}}
	resp = v.RestoreResponse(resp, req.ResponseFormat)
	fmt.Println(resp.Message.ToolCalls[0].Arguments)
	// Output:
	// Tell <EMAIL_1> that <PERSON_1> is in.
	// {"to":"ann@example.com","body":"Ann \"Nan\" O'Brien is in."}
}

func ExampleNewRedactor() {
	r, err := guard.NewRedactor(guard.RedactConfig{
		Types: map[string]guard.RedactRule{
			"CREDIT_CARD": {Mode: guard.RedactMask, Keep: 4, Label: "CARD"},
			"EMAIL":       {Mode: guard.RedactHash},
		},
		HashKey: []byte("from the service's secret store"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	text := "card 4111111111111111, mail ann@example.com"
	fmt.Println(r.NewVault().Redact(text, []detect.Finding{
		{Type: "CREDIT_CARD", Start: 5, End: 21},
		{Type: "EMAIL", Start: 28, End: 43},
	}))
	// Output:
	// card ****1111, mail <EMAIL:756d6fcf>
}
