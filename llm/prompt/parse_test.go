package prompt_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/prompt"
)

// TestParseRejectsLaundering lists the ways a template could compute on an
// untrusted value, each of which must be refused at parse time, and shows
// that the same construct is accepted on a trusted variable.
func TestParseRejectsLaundering(t *testing.T) {
	const vars = `variables:
  - {name: q}
  - {name: docs, type: strings}
  - {name: j, type: json}
  - {name: t, trusted: true}
  - {name: tl, type: strings, trusted: true}
`
	// uses makes every variable used, so only the construct under test fails.
	const uses = "{{.q}}{{range .docs}}{{.}}{{end}}{{.j}}{{.t}}{{range .tl}}{{.}}{{end}}"
	tests := []struct {
		name, body, trusted string
	}{
		{"printf", `{{printf "%s" .q}}`, `{{printf "%s" .t}}`},
		{"pipe", `{{.q | printf "%.3s"}}`, `{{.t | printf "%.3s"}}`},
		{"slice", `{{slice .q 0 3}}`, `{{slice .t 0 3}}`},
		{"len", `{{len .q}}`, `{{len .t}}`},
		{"compare", `{{if eq .q "refund"}}x{{end}}`, `{{if eq .t "refund"}}x{{end}}`},
		{"and", `{{if and .q .t}}x{{end}}`, `{{if and .t .t}}x{{end}}`},
		{"html", `{{html .q}}`, `{{html .t}}`},
		{"parenthesised", `{{(.q)}}`, `{{(.t)}}`},
		{"declare", `{{$x := .q}}{{$x}}`, `{{$x := .t}}{{$x}}`},
		{"with then len", `{{with .q}}{{len .}}{{end}}`, `{{with .t}}{{len .}}{{end}}`},
		{"print a list whole", `{{.docs}}`, `{{.tl}}`},
		{"index a list", `{{index .docs 0}}`, `{{index .tl 0}}`},
		{"len of a list", `{{len .docs}}`, `{{len .tl}}`},
		{"range item piped", `{{range .docs}}{{printf "%s" .}}{{end}}`, `{{range .tl}}{{printf "%s" .}}{{end}}`},
		{"range var piped", `{{range $d := .docs}}{{$d | html}}{{end}}`, `{{range $d := .tl}}{{$d | html}}{{end}}`},
		{"range index var piped", `{{range $i, $d := .docs}}{{slice $d 1}}{{end}}`, `{{range $i, $d := .tl}}{{slice $d 1}}{{end}}`},
		{"range over text", `{{range .q}}{{.}}{{end}}`, ``},
		{"field of text", `{{.q.x}}`, ``},
		{"field of json", `{{.j.id}}`, ``},
		{"root field", `{{$.q | len}}`, `{{$.t | len}}`},
		{"assign over", `{{range $d := .docs}}{{$d = "x"}}{{end}}`, ``},
		{"whole set dot", `{{.}}`, ``},
		{"whole set dollar", `{{$}}`, ``},
		{"index the set", `{{index . "q"}}`, ``},
		{"template", `{{template "x"}}`, ``},
		{"define", `{{define "x"}}hi{{end}}`, ``},
		{"block", `{{block "x" .t}}hi{{end}}`, ``},
		{"call", `{{call .q}}`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := prompt.Parse([]byte(file(vars, "[user]\n"+uses+tt.body)))
			if err == nil {
				t.Fatalf("Parse accepted %s", tt.body)
			}
			if tt.trusted == "" {
				return
			}
			if _, err := prompt.Parse([]byte(file(vars, "[user]\n"+uses+tt.trusted))); err != nil {
				t.Errorf("Parse refused %s on a trusted variable: %v", tt.trusted, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const ok = "[user]\n{{.q}}\n"
	const qv = "variables: [{name: q}]\n"
	hdr := func(fields string) string { return "---\n" + fields + "---\n" + ok }
	tests := []struct {
		name, file, want string
	}{
		{"no header", "[user]\nhi\n", "starts with a header"},
		{"unclosed YAML", "---\nname: p\nversion: v1\n" + qv + ok, "no closing ---"},
		{"empty header", "---\n---\n" + ok, "header is empty"},
		{"bad YAML", hdr("name: p\nversion: @v1\n"), "line 3"},
		{"unknown field", hdr("name: p\nversion: v1\nmodle: x\n" + qv), "modle"},
		{"unknown variable field", hdr("name: p\nversion: v1\nvariables: [{name: q, exmaple: x}]\n"), "exmaple"},
		{"repeated field", hdr("name: p\nname: p\nversion: v1\n" + qv), "name"},
		{"no name", hdr("version: v1\n" + qv), "name is required"},
		{"no version", hdr("name: p\n" + qv), "version is required"},
		{"name with slash", hdr("name: a/b\nversion: v1\n" + qv), "name \"a/b\""},
		{"version with @", hdr("name: p\nversion: v@1\n" + qv), "version \"v@1\""},
		{"bad type", hdr("name: p\nversion: v1\nvariables: [{name: q, type: sting}]\n"), "unknown type \"sting\""},
		{"bad variable name", hdr("name: p\nversion: v1\nvariables: [{name: 1q}]\n"), "1q"},
		{"variable twice", hdr("name: p\nversion: v1\nvariables: [{name: q}, {name: q}]\n"), "declared twice"},
		{"example of the wrong type", hdr("name: p\nversion: v1\nvariables: [{name: q, type: int, example: x}]\n"), "example"},
		{"example alias", hdr("name: p\nversion: v1\nvariables: [{name: q, type: strings, example: [&a y, *a]}]\n"), "aliases are not supported"},
		{"temperature", hdr("name: p\nversion: v1\ntemperature: 3\n" + qv), "temperature"},
		{"top_p", hdr("name: p\nversion: v1\ntop_p: 0\n" + qv), "top_p"},
		{"max tokens", hdr("name: p\nversion: v1\nmax_output_tokens: -1\n" + qv), "max_output_tokens"},
		{"reasoning effort", hdr("name: p\nversion: v1\nreasoning_effort: extreme\n" + qv), "reasoning_effort"},
		{"unknown output", hdr("name: p\nversion: v1\noutput: Ticket\n" + qv), "Ticket"},
		{"output schema not JSON", hdr("name: p\nversion: v1\noutput_schema: \"{nope\"\n" + qv), "not valid JSON"},
		{"JSON unknown field", `{"name": "p", "version": "v1", "modle": "x", "variables": [{"name": "q"}]}` + "\n" + ok, "modle"},
		{"JSON other case", `{"Name": "p", "version": "v1", "variables": [{"name": "q"}]}` + "\n" + ok, "Name"},
		{"JSON repeated field", `{"name": "p", "name": "p", "version": "v1", "variables": [{"name": "q"}]}` + "\n" + ok, "repeated"},
		{"JSON unknown variable field", `{"name": "p", "version": "v1", "variables": [{"name": "q", "trusted ": true}]}` + "\n" + ok, "trusted "},
		{"JSON syntax", `{"name": "p",` + "\n" + ok, "JSON header"},
		{"JSON text after header", `{"name": "p", "version": "v1", "variables": [{"name": "q"}]} [user]` + "\n" + ok, "after the JSON header"},
		{"JSON not an object", `{"name": "p", "version": 1}` + "\n" + ok, "JSON header"},
		{"no role line", "---\nname: p\nversion: v1\n---\nhello\n", "no role line"},
		{"text before first role", "---\nname: p\nversion: v1\n" + qv + "---\nhello\n" + ok, "before the first role line"},
		{"tool role", "---\nname: p\nversion: v1\n" + qv + "---\n[tool]\nx\n" + ok, "[tool]"},
		{"capitalised role", "---\nname: p\nversion: v1\n" + qv + "---\n[User]\n{{.q}}\n", "lowercase"},
		{"empty section", "---\nname: p\nversion: v1\n" + qv + "---\n[system]\n\n[user]\n{{.q}}\n", "[system] section is empty"},
		{"undeclared variable", hdr("name: p\nversion: v1\nvariables: [{name: r}]\n"), `"q" is not declared`},
		{"unused variable", hdr("name: p\nversion: v1\nvariables: [{name: q}, {name: context}]\n"), `"context" is declared but no section uses it`},
		{"if across sections", "---\nname: p\nversion: v1\n" + qv + "---\n[system]\n{{if .q}}\n[user]\n{{end}}\n", "p@v1:7: unexpected EOF"},
		{"invalid UTF-8", hdr("name: p\xff\nversion: v1\n" + qv), "UTF-8"},
		{"too large", hdr("name: p\nversion: v1\ndescription: " + strings.Repeat("x", 1<<20) + "\n" + qv), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := prompt.Parse([]byte(tt.file))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\n(%v)", tt.file, tm.Variables())
			}
			var le *prompt.LoadError
			if !errors.As(err, &le) {
				t.Errorf("error %T is not a *LoadError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestParseLineNumbers(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{{
		name: "template syntax",
		file: "---\nname: p\nversion: v1\nvariables: [{name: q}]\n---\n[system]\nHi.\n\n[user]\n\n{{.q}}\n{{if}}\n",
		want: ":12:",
	}, {
		name: "untrusted use",
		file: "---\nname: p\nversion: v1\nvariables: [{name: q}]\n---\n[system]\nHi.\n[user]\nline 9\n{{len .q}}\n",
		want: ":10:",
	}, {
		name: "yaml error",
		file: "\n\n---\nname: p\nversion: @v1\nvariables: [{name: q}]\n---\n[user]\n{{.q}}\n",
		want: "line 5",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := prompt.Parse([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v: want line %q", err, tt.want)
			}
		})
	}
}

func TestParseJSONHeader(t *testing.T) {
	data := []byte(`  {
  "name": "triage", "version": "2024-06-01", "model": "m", "temperature": 0,
  "variables": [{"name": "msg", "trusted": false, "example": {"nested": [1]} , "type": "json"}]
}
[user]
{{.msg}}
`)
	tm, err := prompt.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if tm.Name() != "triage" || tm.Version() != "2024-06-01" || tm.Model() != "m" || tm.File() != "" {
		t.Errorf("header: %s@%s %s", tm.Name(), tm.Version(), tm.Model())
	}
	req, err := tm.Render(tm.Examples())
	if err != nil {
		t.Fatal(err)
	}
	if *req.Temperature != 0 || len(req.Messages) != 1 || req.Messages[0].Parts[0].Text != `{"nested":[1]}` ||
		req.Messages[0].Parts[0].Provenance != llm.Untrusted {
		t.Errorf("request: %+v", req)
	}
}

func TestHash(t *testing.T) {
	data := []byte(file("variables: [{name: q}]\n", "[user]\n{{.q}}\n"))
	a := mustParse(t, string(data))
	sum := sha256.Sum256(data)
	if want := "sha256:" + hex.EncodeToString(sum[:]); a.Hash() != want {
		t.Errorf("Hash = %s, want %s", a.Hash(), want)
	}
	// A change anywhere, a comment in the header included, changes it.
	b := mustParse(t, strings.Replace(string(data), "model: m\n", "model: m # same\n", 1))
	if a.Hash() == b.Hash() {
		t.Error("the hash did not change with the file")
	}
}

func TestParseBOMAndCRLF(t *testing.T) {
	data := "\ufeff---\r\nname: p\r\nversion: v1\r\nvariables: [{name: q}]\r\n---\r\n[system]\r\nHi.\r\n[user]\r\n{{.q}}\r\n"
	req, err := mustParse(t, data).Render(prompt.Vars{"q": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Messages) != 2 || req.Messages[0].Parts[0].Text != "Hi." {
		t.Errorf("messages: %+v", req.Messages)
	}
}
