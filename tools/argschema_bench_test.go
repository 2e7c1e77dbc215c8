package tools_test

import (
	"bytes"
	"encoding/json"
	"testing"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/keel-go/keel/tools"
)

// benchInvoiceTool is the create_invoice tool of the schema tests, and
// its ~1 KB call checked to decode.
func benchInvoiceTool(b *testing.B) (*tools.Tool, []byte) {
	b.Helper()
	tool := defineArgTool[invoiceArgs](b, "create_invoice", "Create and send an invoice.", tools.RiskExternal)
	args := []byte(invoiceCall)
	if n := len(args); n < 900 || n > 1300 {
		b.Fatalf("the call is %d bytes, want about 1 KB", n)
	}
	if _, _, err := tool.DecodeArgs(args); err != nil {
		b.Fatal(err)
	}
	return tool, args
}

// BenchmarkValidateArgs measures what the Executor's validate stage costs
// a call: schema validation and strict decoding of a ~1 KB create_invoice
// call (nested objects, an array of four objects, enums, bounds, patterns,
// dates and a date-time) into its Go struct, plus the generic form for
// policies. The target is under 50 µs and 400 allocations.
func BenchmarkValidateArgs(b *testing.B) {
	tool, args := benchInvoiceTool(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(args)))
	for b.Loop() {
		if _, _, err := tool.DecodeArgs(args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateArgsNaive is the same work done the obvious way, for
// comparison with BenchmarkValidateArgs: jsonschema/v6 parsing and
// validating against the whole original schema, then encoding/json with
// DisallowUnknownFields. SchemaValidate does the validation through
// tool.Schema().Validate instead (keel's parser, the same compiled
// schema), which is what the reference path of DecodeArgs costs.
func BenchmarkValidateArgsNaive(b *testing.B) {
	tool, args := benchInvoiceTool(b)
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(tool.Schema().JSON()))
	if err != nil {
		b.Fatal(err)
	}
	c := sjs.NewCompiler()
	c.DefaultDraft(sjs.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("mem:///create_invoice.json", doc); err != nil {
		b.Fatal(err)
	}
	compiled, err := c.Compile("mem:///create_invoice.json")
	if err != nil {
		b.Fatal(err)
	}
	decode := func(b *testing.B) {
		var out invoiceArgs
		dec := json.NewDecoder(bytes.NewReader(args))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Jsonschema", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(args)))
		for b.Loop() {
			v, err := sjs.UnmarshalJSON(bytes.NewReader(args))
			if err != nil {
				b.Fatal(err)
			}
			if err := compiled.Validate(v); err != nil {
				b.Fatal(err)
			}
			decode(b)
		}
	})
	b.Run("SchemaValidate", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(args)))
		for b.Loop() {
			if err := tool.Schema().Validate(args); err != nil {
				b.Fatal(err)
			}
			decode(b)
		}
	})
}
