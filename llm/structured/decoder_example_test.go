package structured_test

import (
	"errors"
	"fmt"

	"github.com/keel-go/keel/llm/structured"
)

// A Decoder validates and strictly decodes JSON that did not come from a
// Generator, such as a model's tool arguments.
func ExampleDecoder_Decode() {
	type Refund struct {
		Order  string  `json:"order" jsonschema:"pattern=^ORD-[0-9]+$"`
		Amount float64 `json:"amount" jsonschema:"minimum=0.01,maximum=500"`
		Reason string  `json:"reason" jsonschema:"enum=damaged,enum=lost,enum=late"`
	}
	dec, err := structured.NewDecoder[Refund](structured.SchemaOptions{})
	if err != nil {
		panic(err)
	}
	r, err := dec.Decode([]byte(`{"order":"ORD-7","amount":25.5,"reason":"lost"}`))
	fmt.Println(r, err)

	_, err = dec.Decode([]byte(`{"order":"7","amount":900,"reason":"lost","note":"x"}`))
	var ve *structured.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// {ORD-7 25.5 lost} <nil>
	// at /: additional properties 'note' not allowed
	// at /amount: maximum: got 900, want 500
	// at /order: '7' does not match pattern '^ORD-[0-9]+$'
}
