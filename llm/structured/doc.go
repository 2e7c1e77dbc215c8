// Package structured asks a Model for a value of a Go type and returns it,
// validated: typed structured output.
//
// A Generator[T] is built once per type (usually at start-up, where a type
// that JSON Schema cannot express fails): it derives the JSON Schema of T
// with github.com/invopop/jsonschema, transforms it into OpenAI's strict
// subset for the provider, keeps the original for validation with
// github.com/santhosh-tekuri/jsonschema/v6, and compiles it once. Each
// call then sends the schema, extracts the JSON from the answer (code
// fences and prose around it are tolerated), validates it, decodes it
// strictly, and, when any of that fails, sends the exact problems back to
// the model and tries again, up to a limit.
//
//	type Ticket struct {
//		Title    string   `json:"title" jsonschema:"description=One-line summary"`
//		Priority string   `json:"priority" jsonschema:"enum=low,enum=normal,enum=urgent"`
//		Tags     []string `json:"tags,omitempty"`
//	}
//
//	gen, err := structured.New[Ticket](structured.Options{})
//	if err != nil {
//		return err // T cannot be expressed as JSON Schema
//	}
//	ticket, err := gen.Generate(ctx, model, &llm.Request{Messages: msgs})
//
// Streaming yields best-effort partial values as tokens arrive, then the
// validated value (Generator.Stream). A refusal is an *llm.Error of kind
// llm.KindRefusal; an answer still invalid after the repairs is an
// *OutputError (kind llm.KindInvalidOutput) that lists what was wrong with
// each attempt and carries the raw text.
//
// A Decoder[T] is the validate-and-decode step on its own, for JSON that
// arrives some other way (a model's tool arguments, a queue message). It
// has a fast path that parses once, checks on the Go side the constraints
// the type can check exactly, leaves the rest (patterns, formats, anything
// unusual) to jsonschema/v6 on a reduced schema, and fills T without
// encoding/json; any document it does not accept outright goes through
// the reference path (the whole schema, then encoding/json), so results
// and error messages are the same either way. BENCHMARKS.md has the
// figures.
//
// CheckStrict checks any schema against OpenAI's strict subset, and
// ExtractJSON and PartialParser are usable on their own for text that
// holds JSON.
package structured
