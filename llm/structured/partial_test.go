package structured

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// exPartialCase is streamed text and the exact snapshot expected after it
// ("" when ok must be false).
type exPartialCase struct {
	in   string
	want string
	done bool
}

func exPartialCases() []exPartialCase {
	return []exPartialCase{
		{in: "", want: ""},
		{in: "Sure, here is the JSON you asked for:\n```json\n", want: ""},
		{in: "{", want: ""},
		{in: "[ \n", want: ""},
		{in: `{"`, want: `{}`},
		{in: `[1`, want: `[]`},
		{in: `{"a": "hel`, want: `{"a":"hel"}`},
		{in: `{"a": "`, want: `{"a":""}`},
		{in: `{"a": 12`, want: `{}`},
		{in: `{"a": 12 `, want: `{"a":12}`},
		{in: `{"a": 12,`, want: `{"a":12}`},
		{in: `{"a": [1, 2, `, want: `{"a":[1,2]}`},
		{in: `{"a": [1, 2`, want: `{"a":[1]}`},
		{in: `{"a": tr`, want: `{}`},
		{in: `{"a": true`, want: `{"a":true}`},
		{in: `{"a": nul`, want: `{}`},
		{in: `{"ke`, want: `{}`},
		{in: `{"key"`, want: `{}`},
		{in: `{"key":`, want: `{}`},
		{in: `{"key": `, want: `{}`},
		{in: `{"a": 1, "b`, want: `{"a":1}`},
		{in: `{"a": 1, "b": `, want: `{"a":1}`},
		{in: "Here you go:\n```json\n{\"x\":", want: `{}`},
		{in: `{"a": "x\`, want: `{"a":"x"}`},
		{in: `{"a": "x\u00`, want: `{"a":"x"}`},
		{in: `{"a": "x\u00e9`, want: `{"a":"x\u00e9"}`},
		{in: `{"a": "x\n`, want: `{"a":"x\n"}`},
		{in: "{\"a\": \"caf\xc3", want: `{"a":"caf"}`},
		{in: "{\"a\": \"caf\xc3\xa9", want: "{\"a\":\"café\"}"},
		{in: "{\"a\": \"\xf0\x9f\x8e", want: `{"a":""}`},
		{in: "{\"a\": \"\xf0\x9f\x8e\x89!", want: "{\"a\":\"🎉!\"}"},
		{in: `{"a": "\ud83d`, want: `{"a":""}`},
		{in: `{"a": "\ud83d\ude0`, want: `{"a":""}`},
		{in: `{"a": "\ud83d\ude00`, want: `{"a":"\ud83d\ude00"}`},
		{in: `{"a": {"b": [true, nu`, want: `{"a":{"b":[true]}}`},
		{in: `[{"a": 1}, {"b`, want: `[{"a":1},{}]`},
		{in: `{"a": [`, want: `{"a":[]}`},
		{in: `{"a": {`, want: `{"a":{}}`},
		{in: `{"a": -`, want: `{}`},
		{in: `{"a": -1.5e3,`, want: `{"a":-1.5e3}`},
		{in: `{"a": 1.`, want: `{}`},
		{in: `{"a": 1e`, want: `{}`},
		{in: `{"a": 0}`, want: `{"a":0}`, done: true},
		{in: `{"a": 1,}`, want: `{"a":1}`, done: true},
		{in: `[1, 2,]`, want: `[1,2]`, done: true},
		{in: `[1, [2,], {"b": 3,},]`, want: `[1,[2],{"b":3}]`, done: true},
		{in: `{"a": 1} and then {"b": 2}`, want: `{"a":1}`, done: true},
		{in: "```json\n{\"a\": 1}\n```\nAnything else?", want: `{"a":1}`, done: true},
		{in: `[see below] {"a":`, want: `{}`},
		{in: `[see below] {"a": 1}`, want: `{"a":1}`, done: true},
		{in: `Use {{name}} or {name}: {"a": "b"}`, want: `{"a":"b"}`, done: true},
		{in: "\ufeff{\"a\": 1}", want: `{"a":1}`, done: true},
		{in: "{\"a\": \"x\ny\tz", want: `{"a":"x\ny\tz"}`},
		{in: `{"a": "it\'s`, want: `{"a":"it's"}`},
		{in: `{"a": "C:\dir`, want: `{"a":"C:\\dir"}`},
		{in: `{"a": "\u12x`, want: `{"a":"\\u12x"}`},
		{in: `{"a": "\u00e9\u0`, want: `{"a":"\u00e9"}`},
		{in: `{"s": "{[\"]}"}`, want: `{"s":"{[\"]}"}`, done: true},
		// Syntax errors after the value has shown it is JSON: the last
		// good snapshot stays, later text is ignored.
		{in: `{"a": 1, oops} {"b": 2}`, want: `{"a":1}`},
		{in: `{"a": 01}`, want: `{}`},
		{in: `{"a": NaN}`, want: `{}`},
		{in: `{"a": [1}`, want: `{"a":[1]}`},
		// Not JSON at all: prose.
		{in: `{'a': 1}`, want: ""},
		{in: `[see below]`, want: ""},
	}
}

func TestPartialParserPrefixes(t *testing.T) {
	for _, tc := range exPartialCases() {
		t.Run(tc.in, func(t *testing.T) {
			var p PartialParser
			p.Write(tc.in)
			got, ok := p.Snapshot()
			if tc.want == "" {
				if ok {
					t.Fatalf("Snapshot = %s, true; want ok=false", got)
				}
				return
			}
			if !ok || string(got) != tc.want {
				t.Fatalf("Snapshot = %s, %v; want %s", got, ok, tc.want)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON %q", got)
			}
			if p.Done() != tc.done {
				t.Fatalf("Done() = %v, want %v", p.Done(), tc.done)
			}
			// The same text byte by byte ends in the same snapshot.
			var q PartialParser
			for i := range len(tc.in) {
				q.Write(tc.in[i : i+1])
			}
			if got2, _ := q.Snapshot(); !bytes.Equal(got2, got) || q.Done() != p.Done() {
				t.Fatalf("byte by byte: %s, done %v", got2, q.Done())
			}
		})
	}
}

// exPartialDocs are real answers: the JSON document, and the text the
// model wraps it in.
func exPartialDocs() []string {
	return []string{
		`{"name":"Ada Lovelace","age":36,"admin":true,"manager":null,"tags":["math","poetry"]}`,
		"{\n  \"ticket\": {\n    \"id\": \"SUP-1\",\n    \"priority\": \"urgent\",\n    \"labels\": [\"auth\", \"web\"]\n  },\n  \"steps\": [\n    {\"n\": 1, \"text\": \"Log in\"},\n    {\"n\": 2, \"text\": \"Click \\\"Pay\\\"\"}\n  ],\n  \"done\": false\n}",
		`{"s":"line1\nline2\t\"quoted\" \\ \/ caf\u00e9 \ud83d\ude00","braces":"{[not json]}","fence":"` + "```json\\n{}\\n```" + `","empty":""}`,
		"{\"città\":\"Zürich – 東京 🎉\",\"ελληνικά\":[\"α\",\"β\"],\"emoji\":\"👩‍💻\"}",
		`[0,-0,1,-1.5,3.25e10,1E-7,-0.0e+0,123456789012345678,0.5]`,
		`{"a":[],"b":{},"c":[[],[{}]],"d":[true,false,null],"e":[[[[1]]]]}`,
		`[{"id":1,"items":[{"sku":"A-1","qty":2}]},{"id":2,"items":[]}]`,
		strings.Repeat(`{"a":[`, 30) + `"deep"` + strings.Repeat(`]}`, 30),
		"{\r\n  \"a\" : [ 1 , 2 ] ,\r\n  \"b\" : \"x\" ,\r\n  \"c\" : { }\r\n}",
		exBenchAnswer,
	}
}

// exConsistent checks that snapshot snap approximates final: every key it
// has is a key of final at the same place, arrays are no longer, strings
// are prefixes, and other scalars are equal.
func exConsistent(snap, final any, path string) error {
	switch s := snap.(type) {
	case map[string]any:
		f, ok := final.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: object in the snapshot, %T in the document", path, final)
		}
		for k, v := range s {
			fv, ok := f[k]
			if !ok {
				return fmt.Errorf("%s: key %q is not in the document", path, k)
			}
			if err := exConsistent(v, fv, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		f, ok := final.([]any)
		if !ok || len(s) > len(f) {
			return fmt.Errorf("%s: array of %d in the snapshot, %v in the document", path, len(s), final)
		}
		for i := range s {
			if err := exConsistent(s[i], f[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case string:
		f, ok := final.(string)
		if !ok || !strings.HasPrefix(f, s) {
			return fmt.Errorf("%s: string %q is not a prefix of %v", path, s, final)
		}
	default:
		if !reflect.DeepEqual(snap, final) {
			return fmt.Errorf("%s: %v in the snapshot, %v in the document", path, snap, final)
		}
	}
	return nil
}

func exDecodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// exFeed streams chunks of text into a fresh parser, checking every
// snapshot against the document, and returns the parser.
func exFeed(t *testing.T, chunks []string, doc any, valueEnd int) *PartialParser {
	t.Helper()
	var p PartialParser
	fed, wasOK := 0, false
	for _, c := range chunks {
		p.Write(c)
		fed += len(c)
		snap, ok := p.Snapshot()
		if wasOK && !ok {
			t.Fatalf("after %d bytes: ok went back to false", fed)
		}
		wasOK = ok
		if p.Done() != (fed >= valueEnd) {
			t.Fatalf("after %d bytes (value ends at %d): Done() = %v", fed, valueEnd, p.Done())
		}
		if !ok {
			continue
		}
		if !json.Valid(snap) {
			t.Fatalf("after %d bytes: invalid snapshot %q", fed, snap)
		}
		if err := exConsistent(exDecodeNumbers(t, snap), doc, "$"); err != nil {
			t.Fatalf("after %d bytes: snapshot %s: %v", fed, snap, err)
		}
	}
	final, ok := p.Snapshot()
	if !ok || !p.Done() {
		t.Fatalf("final: ok %v, Done %v", ok, p.Done())
	}
	if got := exDecodeNumbers(t, final); !reflect.DeepEqual(got, doc) {
		t.Fatalf("final snapshot %s differs from the document", final)
	}
	return &p
}

func TestPartialParserStreams(t *testing.T) {
	wrappers := []struct{ before, after string }{
		{"", ""},
		{"Sure! Here is the JSON [as requested]:\n\n```json\n", "\n```\n\nLet me know if you need {anything} else."},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, d := range exPartialDocs() {
		doc := exDecodeNumbers(t, []byte(d))
		for _, w := range wrappers {
			text := w.before + d + w.after
			end := len(w.before) + len(d)
			t.Run(fmt.Sprintf("doc%d/wrapped=%v", i, w.before != ""), func(t *testing.T) {
				for k := 0; k <= len(text); k++ {
					exFeed(t, []string{text[:k], text[k:]}, doc, end)
				}
				for range 20 {
					var chunks []string
					for rest := text; rest != ""; {
						n := min(1+rng.IntN(7), len(rest))
						chunks = append(chunks, rest[:n])
						rest = rest[n:]
					}
					exFeed(t, chunks, doc, end)
				}
			})
		}
	}
}

func TestPartialParserReset(t *testing.T) {
	var p PartialParser
	p.Write(`{"a": 1, oops`)
	p.Write(`, "b": 2}`)
	if snap, _ := p.Snapshot(); string(snap) != `{"a":1}` || p.Done() {
		t.Fatalf("after a syntax error: %s, done %v", snap, p.Done())
	}
	p.Reset()
	if snap, ok := p.Snapshot(); ok || p.Done() {
		t.Fatalf("after Reset: %s, %v, done %v", snap, ok, p.Done())
	}
	p.Write(`[1, 2]`)
	if snap, ok := p.Snapshot(); !ok || string(snap) != `[1,2]` || !p.Done() {
		t.Fatalf("second stream: %s, %v, done %v", snap, ok, p.Done())
	}
}

func TestPartialParserLimits(t *testing.T) {
	t.Run("depth", func(t *testing.T) {
		var p PartialParser
		p.Write(`{"a":` + strings.Repeat("[", MaxExtractDepth+5))
		snap, ok := p.Snapshot()
		if !ok || !json.Valid(snap) {
			t.Fatalf("snapshot %v %q", ok, snap)
		}
		if n := bytes.Count(snap, []byte("[")); n != MaxExtractDepth-1 {
			t.Fatalf("%d arrays in the snapshot, want %d", n, MaxExtractDepth-1)
		}
		p.Write("]")
		if snap2, _ := p.Snapshot(); !bytes.Equal(snap, snap2) {
			t.Fatal("the parser went on after the depth limit")
		}
	})
	t.Run("size", func(t *testing.T) {
		var p PartialParser
		p.Write(`{"a": "`)
		p.Write(strings.Repeat("x", MaxExtractSize))
		p.Write(`"}`)
		snap, ok := p.Snapshot()
		if !ok || p.Done() || string(snap) != `{"a":""}` {
			t.Fatalf("over the limit: %.40s, %v, done %v", snap, ok, p.Done())
		}
	})
	t.Run("prose false starts stay linear", func(t *testing.T) {
		var p PartialParser
		hostile := strings.Repeat(`{"{`, 10000) + strings.Repeat("[", 400) + "x"
		for i := 0; i < len(hostile); i += 3 {
			p.Write(hostile[i:min(i+3, len(hostile))])
		}
		p.Write(` {"ok": true}`)
		if snap, ok := p.Snapshot(); !ok || string(snap) != `{"ok":true}` || !p.Done() {
			t.Fatalf("after false starts: %s, %v", snap, ok)
		}
	})
}

// FuzzPartialParser splits arbitrary text in two: no panic, every
// snapshot valid JSON, and a valid JSON object or array comes out whole,
// its first snapshot consistent with it.
func FuzzPartialParser(f *testing.F) {
	for _, tc := range exPartialCases() {
		f.Add(tc.in, uint(len(tc.in)/2))
	}
	for _, d := range exPartialDocs() {
		f.Add(d, uint(len(d)/3))
	}
	for _, tc := range exExtractCases() {
		if len(tc.in) < 4096 {
			f.Add(tc.in, uint(7))
		}
	}
	f.Fuzz(func(t *testing.T, text string, split uint) {
		k := int(split % uint(len(text)+1))
		var p PartialParser
		var first []byte
		for i, c := range []string{text[:k], text[k:]} {
			p.Write(c)
			snap, ok := p.Snapshot()
			if ok && !json.Valid(snap) {
				t.Fatalf("invalid snapshot %q", snap)
			}
			if i == 0 {
				first = snap
			}
		}
		if !exValidContainer(text) {
			return
		}
		snap, ok := p.Snapshot()
		if !ok || !p.Done() || !exSameValue(snap, []byte(text)) {
			t.Fatalf("valid JSON %q came out as %q (ok %v, done %v)", text, snap, ok, p.Done())
		}
		// Without duplicate keys (which ExtractJSON rejects), the first
		// snapshot approximates the document.
		if _, err := ExtractJSON(text); err == nil && first != nil {
			if err := exConsistent(exDecodeNumbers(t, first), exDecodeNumbers(t, snap), "$"); err != nil {
				t.Fatalf("snapshot %q of %q: %v", first, text, err)
			}
		}
	})
}

// BenchmarkPartialParser streams a 1 KB answer in 4-byte chunks and takes
// a snapshot after each: one iteration is one whole document.
func BenchmarkPartialParser(b *testing.B) {
	text := "```json\n" + exBenchAnswer + "\n```"
	var chunks []string
	for i := 0; i < len(text); i += 4 {
		chunks = append(chunks, text[i:min(i+4, len(text))])
	}
	for _, snapshots := range []bool{true, false} {
		b.Run(fmt.Sprintf("snapshots=%v", snapshots), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			var p PartialParser
			for b.Loop() {
				p.Reset()
				for _, c := range chunks {
					p.Write(c)
					if snapshots {
						if _, ok := p.Snapshot(); !ok && p.Done() {
							b.Fatal("no snapshot")
						}
					}
				}
				if !p.Done() {
					b.Fatal("not done")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(chunks)), "ns/chunk")
		})
	}
}
