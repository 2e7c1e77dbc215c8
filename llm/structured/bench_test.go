package structured_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/structured"
)

// benchOrder is the typed answer of BenchmarkGenerateTyped: nested
// objects, arrays and enums.
type benchOrder struct {
	OrderID  string        `json:"order_id" jsonschema:"pattern=^ORD-[0-9]+$"`
	Status   string        `json:"status" jsonschema:"enum=pending,enum=shipped,enum=delivered,enum=lost"`
	Customer benchCustomer `json:"customer"`
	Items    []benchItem   `json:"items" jsonschema:"minItems=1"`
	Events   []benchEvent  `json:"events"`
	Summary  string        `json:"summary"`
	Refund   *benchRefund  `json:"refund,omitempty"`
}

type benchCustomer struct {
	Name    string       `json:"name"`
	Email   string       `json:"email" jsonschema:"format=email"`
	Tier    string       `json:"tier" jsonschema:"enum=basic,enum=plus,enum=business"`
	Address benchAddress `json:"address"`
}

type benchAddress struct {
	Street  string `json:"street"`
	City    string `json:"city"`
	Country string `json:"country" jsonschema:"minLength=2,maxLength=2"`
}

type benchItem struct {
	SKU      string  `json:"sku"`
	Name     string  `json:"name"`
	Qty      int     `json:"qty" jsonschema:"minimum=1"`
	Price    float64 `json:"price" jsonschema:"minimum=0"`
	Category string  `json:"category" jsonschema:"enum=books,enum=electronics,enum=home,enum=toys"`
}

type benchEvent struct {
	At    string `json:"at" jsonschema:"format=date-time"`
	Where string `json:"where"`
	What  string `json:"what"`
}

type benchRefund struct {
	Amount float64 `json:"amount"`
	Reason string  `json:"reason"`
}

// benchAnswer is a 1 KB answer, as a strict-mode model returns it.
const benchAnswer = `{"order_id":"ORD-104233","status":"lost","customer":{"name":"Ana Silva","email":"ana.silva@example.com","tier":"plus",` +
	`"address":{"street":"Rua das Flores 12","city":"Lisboa","country":"PT"}},"items":[` +
	`{"sku":"BK-2231","name":"The Pragmatic Programmer","qty":1,"price":39.9,"category":"books"},` +
	`{"sku":"EL-0912","name":"USB-C charger 65W","qty":2,"price":24.5,"category":"electronics"},` +
	`{"sku":"HM-3310","name":"Ceramic mug, blue","qty":4,"price":8.25,"category":"home"}],"events":[` +
	`{"at":"2026-11-20T09:14:00Z","where":"Madrid hub","what":"Left the sorting centre"},` +
	`{"at":"2026-11-21T17:40:00Z","where":"Lisboa depot","what":"Arrived at the local depot"},` +
	`{"at":"2026-11-22T08:05:00Z","where":"Lisboa depot","what":"Out for delivery"},` +
	`{"at":"2026-11-22T19:30:00Z","where":"Lisboa depot","what":"Returned to depot: address not found"}],` +
	`"summary":"The parcel was returned to the Lisboa depot after a failed delivery and has not moved since; it is treated as lost and a refund is proposed.",` +
	`"refund":{"amount":121.3,"reason":"Parcel lost in transit"}}`

// BenchmarkGenerateTyped measures a typed call over a fake Model that
// answers at once with benchAnswer (1 KB), the schema built once:
// Generate is the whole call and Baseline the fake alone: the difference
// is what structured output adds (the target is under 60 µs). Extract is
// the extra cost of an answer wrapped in a code fence.
func BenchmarkGenerateTyped(b *testing.B) {
	gen := structured.MustNew[benchOrder](structured.Options{})
	resp := llm.Response{Message: llm.AssistantText(benchAnswer), FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 900, OutputTokens: 300}}
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		r := resp
		return &r, nil
	}}
	req := &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{llm.SystemMessage("Summarise the order."), llm.UserText("Where is ORD-104233?")}}
	ctx := context.Background()
	if len(benchAnswer) < 1000 {
		b.Fatalf("answer is %d bytes, want about 1 KB", len(benchAnswer))
	}
	if _, err := gen.Generate(ctx, fake, req); err != nil {
		b.Fatal(err)
	}
	b.Run("Generate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gen.Generate(ctx, fake, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = fake.Generate(ctx, req.Clone())
		}
	})
	text := "```json\n" + benchAnswer + "\n```"
	b.Run("Extract", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := structured.ExtractJSON(text); err != nil {
				b.Fatal(err)
			}
		}
	})
	dec, err := structured.NewDecoder[benchOrder](structured.SchemaOptions{})
	if err != nil {
		b.Fatal(err)
	}
	// Decode is what Generate adds for an answer that is exactly the
	// JSON: the Decoder's fast path (parse, checks, residual schema,
	// fill).
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dec.Decode([]byte(benchAnswer)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// ReferenceValidate and ReferenceDecode are the reference path, which
	// decides documents the fast path leaves alone (and words their
	// errors): jsonschema/v6 on the whole schema, then encoding/json.
	b.Run("ReferenceValidate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := gen.Schema().Validate([]byte(benchAnswer)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReferenceDecode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var o benchOrder
			d := json.NewDecoder(bytes.NewReader([]byte(benchAnswer)))
			d.DisallowUnknownFields()
			if err := d.Decode(&o); err != nil {
				b.Fatal(err)
			}
		}
	})
}
