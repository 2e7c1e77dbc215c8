package guard_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard"
	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm"
)

// redFuzzSeeds are texts that exercise the restore lexer.
var redFuzzSeeds = []string{
	"",
	"Hello <NAME_1>, mail <EMAIL_1>.",
	"<EMAIL_1><NAME_1><CUSTOMER_REFERENCE_1>",
	`{"to":"<EMAIL_1>","n":"\u003cNAME_1\u003e","r":<CUSTOMER_REFERENCE_1>,"q":"\"<NAME_1>\\"}`,
	"<<EMAIL_1>> <EMAIL_ <NAME_1 \\u003",
	"line \"open\n{\"a\":\"<NAME_1>\"}",
	"\xff\xfe<EMAIL_1>\x00",
}

// redChunks cuts s at the offsets cuts gives (each byte a step of 0 to
// 255 bytes), so the fuzzer chooses the chunking too.
func redChunks(s string, cuts []byte) []string {
	var out []string
	for _, c := range cuts {
		n := min(int(c), len(s))
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func redStreamAll(r *guard.StreamRestorer, chunks []string, bound int, t *testing.T) string {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString(r.Write(c))
		if r.Held() > bound {
			t.Fatalf("holds %d bytes, more than %d", r.Held(), bound)
		}
	}
	b.WriteString(r.Flush())
	return b.String()
}

// FuzzRestore checks that restoring arbitrary text never panics, that a
// stream restorer gives exactly what Restore (or RestoreJSON) gives for
// the whole text however the text is cut, within its hold-back bound,
// and that valid JSON stays valid.
func FuzzRestore(f *testing.F) {
	for _, s := range redFuzzSeeds {
		f.Add(s, []byte{1, 5, 3})
		f.Add(s, []byte{})
	}
	f.Fuzz(func(t *testing.T, text string, cuts []byte) {
		v, longest := redStreamVault(t)
		chunks := redChunks(text, cuts)

		want := v.Restore(text)
		if got := redStreamAll(v.NewStreamRestorer(), chunks, longest-1, t); got != want {
			t.Fatalf("stream %q:\n got %q\nwant %q", chunks, got, want)
		}
		wantJSON := v.RestoreJSON(text)
		if got := redStreamAll(v.NewJSONStreamRestorer(), chunks, longest+9, t); got != wantJSON {
			t.Fatalf("JSON stream %q:\n got %q\nwant %q", chunks, got, wantJSON)
		}
		if json.Valid([]byte(text)) && !json.Valid([]byte(wantJSON)) {
			t.Fatalf("valid JSON %q restored to invalid %q", text, wantJSON)
		}
		if !strings.Contains(text, "<") && want != text {
			t.Fatalf("text without a placeholder changed: %q", want)
		}
	})
}

// FuzzRestoreJSON checks that RestoreJSON never panics, keeps valid JSON
// valid, and restores exactly what Restore would in each decoded string
// (for documents without escapes, where the two must agree).
func FuzzRestoreJSON(f *testing.F) {
	for _, s := range redFuzzSeeds {
		f.Add(s)
	}
	f.Add(`{"<NAME_1>":["<EMAIL_1>",1,true,null,{"x":"a <CUSTOMER_REFERENCE_1> b"}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		v, _ := redStreamVault(t)
		got := v.RestoreJSON(doc)
		if !json.Valid([]byte(doc)) {
			return
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("valid JSON %q restored to invalid %q", doc, got)
		}
		if strings.Contains(doc, `\`) {
			return
		}
		// Numbers stay json.Number: a valid document may hold one no
		// float64 can (1E1000).
		var in, out any
		redUnmarshal(t, doc, &in)
		redUnmarshal(t, got, &out)
		if want := redRestoreWith(in, v.Restore); !reflect.DeepEqual(out, want) {
			t.Fatalf("RestoreJSON(%s) = %s\ndecodes to %#v\nwant       %#v", doc, got, out, want)
		}
	})
}

// redRestoreWith applies fn to every string of a decoded JSON value.
func redRestoreWith(v any, fn func(string) string) any {
	switch x := v.(type) {
	case string:
		return fn(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redRestoreWith(e, fn)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fn(k)] = redRestoreWith(e, fn)
		}
		return out
	default:
		return v
	}
}

// FuzzRedact checks that redacting arbitrary text with any term never
// panics, that restoring the result gives the text back exactly, that
// every placeholder-shaped token the model would see was issued by the
// vault, and, for tool-call arguments, that valid JSON stays valid and
// restores to the same document.
func FuzzRedact(f *testing.F) {
	f.Add("mail ann@example.com or <EMAIL_1>", "ann")
	f.Add(`{"to":"ann@example.com","n":4111111111111111,"k":["O\"Brien"]}`, `O"Brien`)
	f.Add(`[1,2,3]`, ",2")
	f.Add("\xff<A_1>\xfe", "\xfe")
	f.Fuzz(func(t *testing.T, text, term string) {
		scan := redScan(redEmail, redTermDetector{terms: map[string]string{term: "TERM"}})
		v := guard.NewVault()
		red := v.Redact(text, scan(text))
		if back := v.Restore(red); back != text {
			t.Fatalf("Restore(Redact(%q)) = %q via %q", text, back, red)
		}
		for _, ph := range redPlaceholderRE.FindAllString(red, -1) {
			if _, ok := v.Lookup(ph); !ok {
				t.Fatalf("%s in %q was not issued by the vault", ph, red)
			}
		}

		msgs := v.RedactMessages([]llm.Message{{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{Arguments: text}}}}, scan)
		args := msgs[0].ToolCalls[0].Arguments
		if !json.Valid([]byte(text)) {
			return
		}
		if !json.Valid([]byte(args)) {
			t.Fatalf("valid arguments %q redacted to invalid %q", text, args)
		}
		var in, out any
		redUnmarshal(t, text, &in)
		redUnmarshal(t, v.RestoreJSON(args), &out)
		if !redSameJSON(in, out) {
			t.Fatalf("arguments %s\nredacted %s\nrestored to %#v, want %#v", text, args, out, in)
		}
	})
}

func redUnmarshal(t *testing.T, s string, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
}

// redSameJSON reports whether restored equals orig, where a number, true,
// false or null that redaction replaced comes back as a string of its
// text.
func redSameJSON(orig, restored any) bool {
	switch o := orig.(type) {
	case []any:
		r, ok := restored.([]any)
		if !ok || len(r) != len(o) {
			return false
		}
		for i := range o {
			if !redSameJSON(o[i], r[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		r, ok := restored.(map[string]any)
		if !ok || len(r) != len(o) {
			return false
		}
		for k, e := range o {
			if !redSameJSON(e, r[k]) {
				return false
			}
		}
		return true
	}
	if reflect.DeepEqual(orig, restored) {
		return true
	}
	s, ok := restored.(string)
	if !ok {
		return false
	}
	switch o := orig.(type) {
	case json.Number:
		return s == o.String()
	case bool:
		return s == map[bool]string{true: "true", false: "false"}[o]
	case nil:
		return s == "null"
	}
	return false
}

// Findings with any spans, however wrong, never panic Redact.
func FuzzRedactSpans(f *testing.F) {
	f.Add("ann@example.com", -1, 5, 3, 200)
	f.Fuzz(func(t *testing.T, text string, s1, e1, s2, e2 int) {
		v := guard.NewVault()
		red := v.Redact(text, []detect.Finding{{Type: "A", Start: s1, End: e1}, {Type: "B", Start: s2, End: e2, Score: 0.5}})
		if back := v.Restore(red); back != text {
			t.Fatalf("Restore(Redact(%q)) = %q", text, back)
		}
	})
}
