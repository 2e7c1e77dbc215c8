package structured_test

import (
	"errors"
	"fmt"

	"github.com/keel-go/keel/llm/structured"
)

func ExampleExtractJSON() {
	answer := "Sure! Here is the ticket:\n\n```json\n{\n  'title': 'Login fails',\n  \"tags\": [\"auth\", \"web\",],\n  \"urgent\": True, // it blocks sign-ups\n}\n```\nLet me know if you need more."
	doc, err := structured.ExtractJSON(answer)
	fmt.Println(string(doc), err)

	_, err = structured.ExtractJSON(`{"items": [{"id": 1}, {"id": 2, "id": 3}]}`)
	var xe *structured.ExtractError
	if errors.As(err, &xe) {
		fmt.Println(xe.Path)
		fmt.Println(err) // ready to send back to the model
	}

	_, err = structured.ExtractJSON("```json\n{\"summary\": \"The customer rep")
	if errors.As(err, &xe) && xe.Truncated {
		fmt.Println("truncated:", err)
	}
	// Output:
	// {
	//   "title": "Login fails",
	//   "tags": ["auth", "web"],
	//   "urgent": true
	// } <nil>
	// $.items[1].id
	// the JSON has a duplicate key "id" at $.items[1].id (byte 32)
	// truncated: the JSON is truncated: the text ends inside a string at $.summary (byte 20)
}

func ExamplePartialParser() {
	var p structured.PartialParser
	for _, chunk := range []string{
		"Here you go:\n```json\n{\"ti", "tle\": \"Login f", "ails\", \"votes\": 12",
		", \"tags\": [\"auth\", \"we", "b\"]}\n```",
	} {
		p.Write(chunk)
		if doc, ok := p.Snapshot(); ok {
			fmt.Println(string(doc), p.Done())
		}
	}
	// Output:
	// {} false
	// {"title":"Login f"} false
	// {"title":"Login fails"} false
	// {"title":"Login fails","votes":12,"tags":["auth","we"]} false
	// {"title":"Login fails","votes":12,"tags":["auth","web"]} true
}
