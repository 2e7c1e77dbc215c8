package structured_test

import (
	"context"
	"fmt"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/structured"
)

// A Generator asks for a Go type and returns it validated. Here the first
// answer breaks the schema (an unknown priority), so the problem goes back
// to the model, whose second answer is used.
func ExampleGenerator_Generate() {
	type Ticket struct {
		Title    string   `json:"title" jsonschema:"description=One-line summary"`
		Priority string   `json:"priority" jsonschema:"enum=low,enum=normal,enum=urgent"`
		Tags     []string `json:"tags,omitempty"`
	}
	gen, err := structured.New[Ticket](structured.Options{})
	if err != nil {
		panic(err) // Ticket has no JSON Schema: found at start-up
	}
	model := llmtest.NewModel(
		llmtest.Reply(`{"title":"Parcel lost","priority":"critical","tags":null}`),
		llmtest.Reply("```json\n{\"title\":\"Parcel lost\",\"priority\":\"urgent\",\"tags\":[\"shipping\"]}\n```"),
	)
	req := &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{
		llm.SystemMessage("File a support ticket for the customer's message."),
		llm.UserText("My parcel is lost!!"),
	}}
	res, err := gen.GenerateResult(context.Background(), model, req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v after %d attempts\n", res.Value, res.Attempts)
	repair := model.Requests()[1].Messages
	fmt.Println(repair[len(repair)-1].Parts[1].Text)
	// Output:
	// {Title:Parcel lost Priority:urgent Tags:[shipping]} after 2 attempts
	// - at /priority: value must be one of 'low', 'normal', 'urgent'
}

// The strict form of a schema is what OpenAI's Structured Outputs accept:
// every property required, optional ones nullable, no other properties.
func ExampleSchemaFor() {
	type Answer struct {
		Reasoning string `json:"reasoning"`
		Answer    string `json:"answer" jsonschema:"minLength=1"`
		Sources   []int  `json:"sources,omitempty"`
	}
	s, err := structured.SchemaFor[Answer](structured.SchemaOptions{})
	if err != nil {
		panic(err)
	}
	strict, _ := s.StrictJSON()
	fmt.Println(string(strict))
	fmt.Println(s.Validate([]byte(`{"reasoning":"…","answer":"","sources":null}`)))
	// Output:
	// {"type":"object","properties":{"reasoning":{"type":"string"},"answer":{"type":"string"},"sources":{"items":{"type":"integer"},"type":["array","null"]}},"required":["reasoning","answer","sources"],"additionalProperties":false}
	// structured: the JSON does not match the schema: at /answer: minLength: got 0, want 1
}

// Stream yields best-effort partial values while the JSON arrives (for a
// progressive UI), then the validated value.
func ExampleGenerator_Stream() {
	type Summary struct {
		Headline string   `json:"headline"`
		Points   []string `json:"points"`
	}
	gen := structured.MustNew[Summary](structured.Options{})
	answer := `{"headline":"Parcel delayed","points":["Left Madrid on Monday","Arrives Friday"]}`
	var events []llm.Event
	for i := 0; i < len(answer); i += 12 {
		events = append(events, llm.Event{Kind: llm.EventTextDelta, Text: answer[i:min(i+12, len(answer))]})
	}
	events = append(events, llm.Event{Kind: llm.EventFinish, FinishReason: llm.FinishStop})
	model := llmtest.NewModel(llmtest.Events(events...))
	req := &llm.Request{Messages: []llm.Message{llm.UserText("Summarise the tracking history.")}}
	for p, err := range gen.Stream(context.Background(), model, req) {
		if err != nil {
			panic(err)
		}
		fmt.Printf("final=%v %q %q\n", p.Final, p.Value.Headline, p.Value.Points)
	}
	// Output:
	// final=false "" []
	// final=false "Parcel dela" []
	// final=false "Parcel delayed" []
	// final=false "Parcel delayed" ["Left Mad"]
	// final=false "Parcel delayed" ["Left Madrid on Monda"]
	// final=false "Parcel delayed" ["Left Madrid on Monday" "Arrives "]
	// final=false "Parcel delayed" ["Left Madrid on Monday" "Arrives Friday"]
	// final=true "Parcel delayed" ["Left Madrid on Monday" "Arrives Friday"]
}
