package prompt

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/structured"
)

// Type is the declared type of a variable.
type Type string

// The variable types. Provenance (Variable.Trusted) matters for the text
// types, string, strings and json: numbers and booleans are checked to be
// numbers and booleans, so they carry no text and are always substituted
// into the template.
const (
	// TypeString is one piece of text: a string, or an llm.Part of kind
	// text whose Source is kept.
	TypeString Type = "string"
	// TypeInt is an integer of any Go integer type (or an integral float,
	// as JSON decoding produces).
	TypeInt Type = "int"
	// TypeNumber is any Go number, or a json.Number.
	TypeNumber Type = "number"
	// TypeBool is a bool.
	TypeBool Type = "bool"
	// TypeStrings is a list of text: []string, []llm.Part or []any of
	// those. A template ranges over it.
	TypeStrings Type = "strings"
	// TypeJSON is any value JSON can encode. A trusted one is seen by the
	// template as decoded JSON (objects as maps keyed by JSON names); an
	// untrusted one becomes its JSON text, as one untrusted part.
	TypeJSON Type = "json"
)

func (t Type) valid() bool {
	switch t {
	case TypeString, TypeInt, TypeNumber, TypeBool, TypeStrings, TypeJSON:
		return true
	}
	return false
}

// text reports whether values of t carry text, and so provenance.
func (t Type) text() bool { return t == TypeString || t == TypeStrings || t == TypeJSON }

// Variable is a variable a template declares.
type Variable struct {
	// Name is how the template refers to it: {{.Name}}.
	Name string
	// Type is the type every value must have.
	Type Type
	// Trusted says the application vouches for the value. An untrusted
	// text value (the default) never becomes part of the template's text:
	// it is rendered as a separate llm.Part marked llm.Untrusted.
	Trusted bool
	// Description says what the variable holds.
	Description string
	// Example is a value for tests and documentation, as JSON; nil when
	// the header gives none.
	Example json.RawMessage
}

// Vars are the values a template is rendered with, by variable name.
type Vars map[string]any

// Template is one version of a prompt: a named, versioned, hashed template
// with declared variables, a default model and parameters, and an optional
// output schema. It is immutable and safe for concurrent use.
type Template struct {
	name, version, hash, file string
	description               string
	model                     string
	temperature, topP         *float64
	maxOutputTokens           int
	reasoningEffort           llm.ReasoningEffort
	output                    *structured.Schema

	vars    []Variable
	sources []string // Source of the untrusted parts of each variable
	index   map[string]int
	secs    []section

	// prefix starts every sentinel; it is random per template, so no text
	// a template or a trusted value contains can be mistaken for one.
	prefix    string
	sentinels []string // the first sentinels, built once
	bufs      sync.Pool
}

// section is the template of one message.
type section struct {
	role llm.Role
	tmpl *template.Template
}

var (
	// namePattern is what a prompt name and a version may contain: no
	// slash or @, which separate them in file names and sources.
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	// varPattern is a template field name.
	varPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	// schemaNameStrip removes what a schema name may not contain.
	schemaNameStrip = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
)

// Name returns the prompt's name.
func (t *Template) Name() string { return t.name }

// Version returns the template's version.
func (t *Template) Version() string { return t.version }

// Hash returns the content hash of the file the template was parsed from,
// "sha256:" and 64 hex digits. Any change to the file changes it.
func (t *Template) Hash() string { return t.hash }

// File returns the path the template was loaded from, "" for Parse.
func (t *Template) File() string { return t.file }

// Description returns the header's description.
func (t *Template) Description() string { return t.description }

// Model returns the default model the header names, "" for none.
func (t *Template) Model() string { return t.model }

// Output returns the schema of the prompt's output, nil for none.
func (t *Template) Output() *structured.Schema { return t.output }

// Ref returns the reference a rendered request carries on Request.Prompt.
func (t *Template) Ref() llm.PromptRef {
	return llm.PromptRef{Name: t.name, Version: t.version, Hash: t.hash}
}

// Variables returns the declared variables, in header order.
func (t *Template) Variables() []Variable {
	out := make([]Variable, len(t.vars))
	for i, v := range t.vars {
		v.Example = append(json.RawMessage(nil), v.Example...)
		out[i] = v
	}
	return out
}

// Examples returns the declared examples as variable values, decoded from
// JSON; variables without an example are absent, so rendering the result
// fails on them.
func (t *Template) Examples() Vars {
	out := make(Vars, len(t.vars))
	for _, v := range t.vars {
		if v.Example == nil {
			continue
		}
		// Checked at parse time: it decodes.
		if x, err := decodeJSONValue(v.Example); err == nil {
			out[v.Name] = x
		}
	}
	return out
}

// Option configures Parse and Load.
type Option func(*options)

type options struct {
	schemas     map[string]*structured.Schema
	rolloutFile string
	rolloutSet  bool
}

// WithSchemas gives the output types that prompt headers may name with
// "output: Name", usually built with structured.SchemaFor from Go types.
// The map is copied.
func WithSchemas(schemas map[string]*structured.Schema) Option {
	return func(o *options) {
		if o.schemas == nil {
			o.schemas = make(map[string]*structured.Schema, len(schemas))
		}
		for k, v := range schemas {
			o.schemas[k] = v
		}
	}
}

// WithRolloutFile names the rollout file inside the file system given to
// Load; the default is "rollout.yaml", which may be absent. A file named
// with this option must exist.
func WithRolloutFile(name string) Option {
	return func(o *options) { o.rolloutFile, o.rolloutSet = name, true }
}

func buildOptions(opts []Option) options {
	o := options{rolloutFile: "rollout.yaml"}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Parse parses one prompt file: a header (YAML front matter or a JSON
// object) and a template body. See the package documentation for the
// format. Errors are *LoadError.
func Parse(data []byte, opts ...Option) (*Template, error) {
	o := buildOptions(opts)
	t, err := parseFile("", data, &o)
	if err != nil {
		return nil, &LoadError{Err: err}
	}
	return t, nil
}

// parseFile parses a prompt file; file is its path, for messages and File.
func parseFile(file string, data []byte, o *options) (*Template, error) {
	h, body, bodyLine, err := splitFile(data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	t := &Template{
		name:            h.Name,
		version:         h.Version,
		hash:            "sha256:" + hex.EncodeToString(sum[:]),
		file:            file,
		description:     h.Description,
		model:           h.Model,
		temperature:     h.Temperature,
		topP:            h.TopP,
		maxOutputTokens: h.MaxOutputTokens,
		reasoningEffort: llm.ReasoningEffort(h.ReasoningEffort),
	}
	if err := t.checkHeader(&h); err != nil {
		return nil, err
	}
	if err := t.setVariables(h.Variables); err != nil {
		return nil, err
	}
	if err := t.setOutput(&h, o); err != nil {
		return nil, err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	t.prefix = "\x00" + hex.EncodeToString(rnd[:]) + "."
	t.sentinels = make([]string, 16)
	for i := range t.sentinels {
		t.sentinels[i] = t.prefix + strconv.Itoa(i) + "\x00"
	}
	t.bufs.New = func() any { return new(bytes.Buffer) }
	if err := t.parseBody(body, bodyLine); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Template) checkHeader(h *header) error {
	switch {
	case h.Name == "":
		return errors.New("header: name is required")
	case !namePattern.MatchString(h.Name):
		return fmt.Errorf("header: name %q: use letters, digits, '.', '_' and '-' (at most 128)", h.Name)
	case h.Version == "":
		return errors.New("header: version is required")
	case !namePattern.MatchString(h.Version):
		return fmt.Errorf("header: version %q: use letters, digits, '.', '_' and '-' (at most 128)", h.Version)
	}
	if p := h.Temperature; p != nil && (math.IsNaN(*p) || *p < 0 || *p > 2) {
		return fmt.Errorf("header: temperature %v is outside [0, 2]", *p)
	}
	if p := h.TopP; p != nil && (math.IsNaN(*p) || *p <= 0 || *p > 1) {
		return fmt.Errorf("header: top_p %v is outside (0, 1]", *p)
	}
	if h.MaxOutputTokens < 0 {
		return fmt.Errorf("header: max_output_tokens %d is negative", h.MaxOutputTokens)
	}
	switch llm.ReasoningEffort(h.ReasoningEffort) {
	case llm.ReasoningDefault, llm.ReasoningMinimal, llm.ReasoningLow, llm.ReasoningMedium, llm.ReasoningHigh:
	default:
		return fmt.Errorf("header: reasoning_effort %q: use minimal, low, medium or high", h.ReasoningEffort)
	}
	return nil
}

func (t *Template) setVariables(list []headerVar) error {
	t.vars = make([]Variable, 0, len(list))
	t.sources = make([]string, 0, len(list))
	t.index = make(map[string]int, len(list))
	for i, hv := range list {
		what := fmt.Sprintf("variable %d (%q)", i+1, hv.Name)
		if !varPattern.MatchString(hv.Name) {
			return fmt.Errorf("header: %s: a name is a letter or _ followed by letters, digits or _", what)
		}
		if _, dup := t.index[hv.Name]; dup {
			return fmt.Errorf("header: %s is declared twice", what)
		}
		typ := Type(hv.Type)
		if typ == "" {
			typ = TypeString
		}
		if !typ.valid() {
			return fmt.Errorf("header: %s: unknown type %q: use string, int, number, bool, strings or json", what, hv.Type)
		}
		v := Variable{Name: hv.Name, Type: typ, Trusted: hv.Trusted, Description: hv.Description}
		if len(hv.Example) > 0 {
			v.Example = json.RawMessage(hv.Example)
			x, err := decodeJSONValue(hv.Example)
			if err != nil {
				return fmt.Errorf("header: %s: example: %w", what, err)
			}
			if err := checkValue(&v, x); err != nil {
				return fmt.Errorf("header: %s: example: %w", what, err)
			}
		}
		t.index[v.Name] = len(t.vars)
		t.vars = append(t.vars, v)
		t.sources = append(t.sources, "prompt:"+t.name+"@"+t.version+":var:"+v.Name)
	}
	return nil
}

func (t *Template) setOutput(h *header, o *options) error {
	switch {
	case len(h.OutputSchema) > 0:
		name := h.Output
		if name == "" {
			name = schemaNameStrip.ReplaceAllString(t.name, "_")
			if len(name) > 64 {
				name = name[:64]
			}
		}
		s, err := structured.CompileSchema(name, json.RawMessage(h.OutputSchema))
		if err != nil {
			return fmt.Errorf("header: output_schema: %w", err)
		}
		t.output = s
	case h.Output != "":
		s := o.schemas[h.Output]
		if s == nil {
			return fmt.Errorf("header: output %q is not among the schemas given with WithSchemas", h.Output)
		}
		t.output = s
	}
	return nil
}

// roleLine returns the role a line starts, if it is a role line.
func roleLine(line []byte) (llm.Role, bool, error) {
	s := string(bytes.TrimRight(line, " \t\r"))
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return "", false, nil
	}
	r := llm.Role(s[1 : len(s)-1])
	switch r {
	case llm.RoleSystem, llm.RoleDeveloper, llm.RoleUser, llm.RoleAssistant:
		return r, true, nil
	case llm.RoleTool:
		return "", false, errors.New("a template cannot write [tool] messages: they answer a tool call")
	}
	switch llm.Role(strings.ToLower(string(r))) {
	case llm.RoleSystem, llm.RoleDeveloper, llm.RoleUser, llm.RoleAssistant, llm.RoleTool:
		return "", false, fmt.Errorf("role line %s: roles are lowercase", s)
	}
	return "", false, nil
}

// parseBody splits the body at its role lines and parses each section.
func (t *Template) parseBody(body []byte, firstLine int) error {
	type rawSection struct {
		role       llm.Role
		line       int // of the role line
		start, end int // byte range of the section's text in body
	}
	var secs []rawSection
	off, line := 0, firstLine
	for off <= len(body) {
		end := bytes.IndexByte(body[off:], '\n')
		next := off + end + 1
		if end < 0 {
			end, next = len(body)-off, len(body)+1
		}
		ln := body[off : off+end]
		role, ok, err := roleLine(ln)
		if err != nil {
			return fmt.Errorf("%s: %w", lineString(line), err)
		}
		if ok {
			if n := len(secs); n > 0 {
				secs[n-1].end = off
			} else if len(bytes.TrimSpace(body[:off])) > 0 {
				return fmt.Errorf("%s: text before the first role line ([system], [developer], [user] or [assistant])", lineString(firstLine))
			}
			secs = append(secs, rawSection{role: role, line: line, start: min(next, len(body))})
		}
		off = next
		line++
	}
	if len(secs) == 0 {
		return errors.New("the body has no role line: start each message with [system], [developer], [user] or [assistant] on a line of its own")
	}
	secs[len(secs)-1].end = len(body)

	c := newChecker(t)
	for _, s := range secs {
		text := body[s.start:s.end]
		trimmed := bytes.TrimLeft(text, " \t\r\n")
		if len(bytes.TrimSpace(trimmed)) == 0 {
			return fmt.Errorf("%s: the [%s] section is empty", lineString(s.line), s.role)
		}
		// A comment holding newlines makes text/template count lines as
		// the file does, so its errors point at the right line.
		skipped := bytes.Count(text[:len(text)-len(trimmed)], []byte("\n"))
		src := "{{/*" + strings.Repeat("\n", s.line+skipped) + "*/}}" + string(bytes.TrimRight(trimmed, " \t\r\n"))
		tname := t.file
		if tname == "" {
			tname = t.name + "@" + t.version
		}
		tm, err := template.New(tname).Option("missingkey=error").Parse(src)
		if err != nil {
			return err
		}
		if len(tm.Templates()) > 1 {
			return fmt.Errorf("%s: [%s] section: {{define}} and {{block}} are not supported: a section is one template", lineString(s.line), s.role)
		}
		if err := c.section(tm.Tree); err != nil {
			return err
		}
		t.secs = append(t.secs, section{role: s.role, tmpl: tm})
	}
	for _, v := range t.vars {
		if !c.used[v.Name] {
			return fmt.Errorf("variable %q is declared but no section uses it", v.Name)
		}
	}
	return nil
}
