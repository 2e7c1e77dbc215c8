package structured_test

import (
	"errors"
	"fmt"

	"github.com/keel-go/keel/llm/structured"
)

func ExampleCheckStrict() {
	ok := []byte(`{
		"type": "object",
		"properties": {
			"title": {"type": "string"},
			"due": {"type": ["string", "null"], "format": "date"}
		},
		"required": ["title", "due"],
		"additionalProperties": false
	}`)
	fmt.Println(structured.CheckStrict(ok))

	// An optional field left out of required, a oneOf, and an object that
	// allows extra keys: three problems, all reported.
	bad := []byte(`{
		"type": "object",
		"properties": {
			"title": {"type": "string"},
			"tags": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}
		},
		"required": ["title"]
	}`)
	var se *structured.StrictError
	if errors.As(structured.CheckStrict(bad), &se) {
		for _, p := range se.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// <nil>
	// (root): an object schema needs "additionalProperties": false (additional-properties)
	// /required: every property must be required; missing "tags" (make a property optional with [T, "null"]) (required)
	// /properties/tags/items: the schema has no type (nor enum, const, anyOf or $ref) (missing-type)
	// /properties/tags/items/oneOf: "oneOf" is not supported in strict mode; use anyOf (unsupported-keyword)
}
