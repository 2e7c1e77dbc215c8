package openapispec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
)

// relPath is where the OpenAPI description lives, relative to the directory
// holding go.mod.
const relPath = "../shared/data/openai-openapi/openapi.yaml"

// docURL is the URL under which the whole document is registered with the
// JSON Schema compiler.
const docURL = "file:///openapi.json"

// strictRootURL prefixes the wrapper resources that close the root object of
// a strict validator.
const strictRootURL = "file:///strict-root/"

const schemasPtr = "#/components/schemas/"

// Spec is a parsed OpenAPI description, ready for compiling validators for
// its component schemas. It is safe for concurrent use.
type Spec struct {
	doc map[string]any // normalised document; never modified after Load

	mu         sync.Mutex // guards the fields below
	plain      *compilerState
	strict     *compilerState
	validators map[validatorKey]*Validator
}

// compilerState is a compiler and the document registered with it.
type compilerState struct {
	c   *jsonschema.Compiler
	doc map[string]any
}

type validatorKey struct {
	name   string
	strict bool
}

// Validator validates JSON bodies against one component schema. It is safe
// for concurrent use.
type Validator struct {
	name   string
	strict bool
	schema *jsonschema.Schema

	// strict mode only: the plain schema and the strict document, used to
	// explain failures
	plain *jsonschema.Schema
	doc   map[string]any
}

// Path returns the absolute path of OpenAI's OpenAPI description: the file
// ../shared/data/openai-openapi/openapi.yaml relative to the directory
// holding go.mod, found by walking up from the current working directory
// (tests run in their package directory). Directories with a go.mod that
// lack the file are passed over, so a nested module also works. Path returns
// "" if no such file exists.
func Path() string {
	p, _ := locate()
	return p
}

// locate returns the spec path, or "" and the candidate paths it checked.
func locate() (found string, tried []string) {
	dir, err := os.Getwd()
	if err != nil {
		return "", nil
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) {
			cand := filepath.Join(dir, filepath.FromSlash(relPath))
			if isFile(cand) {
				return cand, nil
			}
			tried = append(tried, cand)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", tried
		}
		dir = parent
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Load reads and parses the OpenAPI description at path. The YAML is
// converted to the values encoding/json would produce (map[string]any with
// string keys, []any, string, bool, nil, and json.Number for numbers), and
// the OpenAPI 3.0 leftovers described in the package documentation are
// rewritten so the schemas compile as JSON Schema draft 2020-12.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("openapispec: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("openapispec: parse %s: %w", path, err)
	}
	v, err := fromYAML(&root, 0)
	if err != nil {
		return nil, fmt.Errorf("openapispec: convert %s: %w", path, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapispec: %s: top level is %T, want a mapping", path, v)
	}
	schemas, err := componentSchemas(doc)
	if err != nil {
		return nil, fmt.Errorf("openapispec: %s: %w", path, err)
	}
	for name, sch := range schemas {
		fixOpenAPI30(sch, name)
	}
	return &Spec{doc: doc, validators: map[validatorKey]*Validator{}}, nil
}

type notFoundError struct{ tried []string }

func (e *notFoundError) Error() string {
	where := "no directory with a go.mod above the working directory"
	if len(e.tried) > 0 {
		where = strings.Join(e.tried, ", ")
	}
	return fmt.Sprintf("OpenAI OpenAPI description not found: looked for %s relative to the module root (%s)", relPath, where)
}

// loadOnce finds and loads the spec at most once per process; the result is
// immutable (a *Spec only caches compiled validators, under its own lock).
var loadOnce = sync.OnceValues(func() (*Spec, error) {
	p, tried := locate()
	if p == "" {
		return nil, &notFoundError{tried: tried}
	}
	return Load(p)
})

// LoadForTest returns the OpenAPI description found by [Path], loading it at
// most once per process. If the file is missing the test is skipped with a
// message naming the expected path, unless the environment variable CI is
// "true", in which case the test fails. Any other load error fails the test.
func LoadForTest(t testing.TB) *Spec {
	t.Helper()
	return loadForTest(t, loadOnce)
}

func loadForTest(t testing.TB, load func() (*Spec, error)) *Spec {
	t.Helper()
	s, err := load()
	if err == nil {
		return s
	}
	var nf *notFoundError
	if errors.As(err, &nf) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openapispec: %v (CI=true, so this is a failure rather than a skip)", err)
			return nil
		}
		t.Skipf("openapispec: %v; skipping", err)
		return nil
	}
	t.Fatal(err)
	return nil
}

// Validator returns a validator for the component schema
// #/components/schemas/<schemaName>. With strict set, objects reject
// properties the schema does not declare, following the rule in the package
// documentation; without it, the schema is applied as published (additional
// properties allowed unless the schema says otherwise). Validators are
// compiled once per (schemaName, strict) and cached in s.
func (s *Spec) Validator(schemaName string, strict bool) (*Validator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validator(schemaName, strict)
}

// validator implements Validator; s.mu must be held.
func (s *Spec) validator(name string, strict bool) (*Validator, error) {
	key := validatorKey{name, strict}
	if v, ok := s.validators[key]; ok {
		return v, nil
	}
	schemas, err := componentSchemas(s.doc)
	if err != nil {
		return nil, fmt.Errorf("openapispec: %w", err)
	}
	if _, ok := schemas[name]; !ok {
		return nil, fmt.Errorf("openapispec: no component schema %q", name)
	}
	v := &Validator{name: name, strict: strict}
	if strict {
		// Strict failures are explained with the help of the plain schema.
		plain, err := s.validator(name, false)
		if err != nil {
			return nil, err
		}
		v.plain = plain.schema
	}
	cs, err := s.compiler(strict)
	if err != nil {
		return nil, err
	}
	loc := docURL + schemasPtr + escapeFragment(name)
	if strict {
		v.doc = cs.doc
		root := component(cs.doc, name)
		if !hasAny(root, "additionalProperties", "unevaluatedProperties") && closable(cs.doc, root) {
			wrapper := strictRootURL + url.PathEscape(name) + ".json"
			err := cs.c.AddResource(wrapper, map[string]any{
				"$ref":                  loc,
				"unevaluatedProperties": false,
			})
			if err != nil {
				return nil, fmt.Errorf("openapispec: %w", err)
			}
			loc = wrapper
		}
	}
	if v.schema, err = cs.c.Compile(loc); err != nil {
		return nil, fmt.Errorf("openapispec: compile %s: %w", name, err)
	}
	s.validators[key] = v
	return v, nil
}

// compiler returns the compiler for the plain or strict document, creating
// it on first use. s.mu must be held.
func (s *Spec) compiler(strict bool) (*compilerState, error) {
	slot := &s.plain
	if strict {
		slot = &s.strict
	}
	if *slot != nil {
		return *slot, nil
	}
	doc := s.doc
	if strict {
		doc = strictCopy(s.doc)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// No AssertFormat: "format" stays an annotation (see package doc).
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, fmt.Errorf("openapispec: %w", err)
	}
	*slot = &compilerState{c: c, doc: doc}
	return *slot, nil
}

// Validate parses body as JSON (numbers become json.Number, as
// jsonschema.UnmarshalJSON does) and validates it against the schema. In
// strict mode the body must match both the published (plain) schema and the
// strict one, so strict mode can only add failures.
//
// The error starts with "openapispec: body does not match <schema>" and has
// one line per failure, "- at '<JSON pointer into body>': <message>",
// indented under the failing anyOf/oneOf/allOf. In strict mode the failures
// of the plain schema come first, followed by the properties that strict
// mode rejects, as "- at '<object>': property '<name>' is not declared by
// the schema (strict mode)"; properties that strict mode reports only
// because an enclosing subschema failed are left out. The error wraps the
// *jsonschema.ValidationError of the plain validation if that failed,
// otherwise of the strict one.
func (v *Validator) Validate(body []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("openapispec: %s: body is not valid JSON: %w", v.describe(), err)
	}
	e := &validationError{schema: v.describe()}
	if !v.strict {
		if err := v.schema.Validate(inst); err != nil {
			if !errors.As(err, &e.err) {
				return fmt.Errorf("openapispec: %s: %w", v.describe(), err)
			}
			e.tree = true
			return e
		}
		return nil
	}
	serr, perr := v.schema.Validate(inst), v.plain.Validate(inst)
	if serr == nil && perr == nil {
		return nil
	}
	if perr != nil {
		if !errors.As(perr, &e.err) {
			return fmt.Errorf("openapispec: %s: %w", v.describe(), perr)
		}
		e.tree = true
	}
	if serr != nil {
		var sverr *jsonschema.ValidationError
		if !errors.As(serr, &sverr) {
			return fmt.Errorf("openapispec: %s: %w", v.describe(), serr)
		}
		e.unknown = v.unknownProperties(sverr, perr == nil)
		if e.err == nil {
			e.err = sverr
			// Nothing more concise to say: show the whole strict tree.
			e.tree = len(e.unknown) == 0
		}
	}
	return e
}

func (v *Validator) describe() string {
	if v.strict {
		return v.name + " (strict)"
	}
	return v.name
}

// validationError reports that a body does not match a schema.
type validationError struct {
	schema  string
	err     *jsonschema.ValidationError
	tree    bool     // render err
	unknown []string // properties rejected by strict mode, as "at '<loc>': ..."
}

func (e *validationError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "openapispec: body does not match %s:", e.schema)
	if e.tree {
		render(&sb, e.err, 0)
	}
	for _, u := range e.unknown {
		sb.WriteString("\n- ")
		sb.WriteString(u)
	}
	return sb.String()
}

func (e *validationError) Unwrap() error { return e.err }

// render writes one line per error in the tree, "- at '<instance
// location>': <message>", indented by nesting, as the library does, but
// without the top line naming the schema URL.
func render(sb *strings.Builder, e *jsonschema.ValidationError, depth int) {
	switch e.ErrorKind.(type) {
	case *kind.Schema:
		for _, c := range e.Causes {
			render(sb, c, depth)
		}
		return
	case *kind.Reference:
		if len(e.Causes) == 1 {
			render(sb, e.Causes[0], depth)
			return
		}
	}
	sb.WriteString("\n")
	sb.WriteString(strings.Repeat("  ", depth))
	sb.WriteString("- ")
	if loc, name, ok := unevaluated(e); ok {
		sb.WriteString(unknownLine(loc, name))
	} else {
		// A copy without causes renders as the single line "at '<loc>': <msg>".
		line := jsonschema.ValidationError{
			SchemaURL:        e.SchemaURL,
			InstanceLocation: e.InstanceLocation,
			ErrorKind:        e.ErrorKind,
		}
		sb.WriteString(line.Error())
	}
	for _, c := range e.Causes {
		render(sb, c, depth+1)
	}
}

// unevaluated reports whether e is strict mode rejecting property name of
// the object at loc (the library reports it as "false schema").
func unevaluated(e *jsonschema.ValidationError) (loc []string, name string, ok bool) {
	if _, f := e.ErrorKind.(*kind.FalseSchema); !f || len(e.InstanceLocation) == 0 ||
		!strings.HasSuffix(e.SchemaURL, "/unevaluatedProperties") {
		return nil, "", false
	}
	n := len(e.InstanceLocation)
	return e.InstanceLocation[:n-1], e.InstanceLocation[n-1], true
}

func unknownLine(loc []string, name string) string {
	return fmt.Sprintf("at %s: property '%s' is not declared by the schema (strict mode)", quotePointer(loc), name)
}

// unknownProperties picks the strict-mode rejections out of the error tree
// of a strict validation. A property that no subschema at its object's
// location declares is always reported. One that some subschema there
// declares (e.g. "model" when the allOf branch declaring it failed, which
// drops its annotations) is reported only if the plain validation passed
// and nothing else failed at that location: then it really came from a
// branch that did not match.
func (v *Validator) unknownProperties(root *jsonschema.ValidationError, plainOK bool) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		other := false
		for _, c := range e.Causes {
			if _, _, ok := unevaluated(c); !ok {
				other = true
			}
		}
		for _, c := range e.Causes {
			loc, name, ok := unevaluated(c)
			if !ok {
				walk(c)
				continue
			}
			if !v.declares(c.SchemaURL, name) || (plainOK && !other) {
				if line := unknownLine(loc, name); !seen[line] {
					seen[line] = true
					out = append(out, line)
				}
			}
		}
	}
	walk(root)
	slices.Sort(out)
	return out
}

// declares reports whether a schema reachable in place from the schema
// holding the unevaluatedProperties keyword at kwURL declares property name.
// It errs on the side of true when the schema cannot be found.
func (v *Validator) declares(kwURL, name string) bool {
	var sch map[string]any
	if rest, ok := strings.CutPrefix(kwURL, strictRootURL); ok {
		n, _, _ := strings.Cut(rest, ".json")
		if u, err := url.PathUnescape(n); err == nil {
			sch = component(v.doc, u)
		}
	} else if frag, ok := strings.CutPrefix(kwURL, docURL+"#"); ok {
		frag = strings.TrimSuffix(frag, "/unevaluatedProperties")
		if t, err := resolveRef(v.doc, "#"+frag); err == nil {
			sch, _ = t.(map[string]any)
		}
	}
	if sch == nil {
		return true
	}
	return reachable(v.doc, sch, func(m map[string]any) bool {
		if props, ok := m["properties"].(map[string]any); ok {
			if _, ok := props[name]; ok {
				return true
			}
		}
		if pp, ok := m["patternProperties"].(map[string]any); ok {
			for re := range pp {
				if ok, err := regexp.MatchString(re, name); ok || err != nil {
					return true
				}
			}
		}
		return false
	})
}

// quotePointer formats an instance location as the library does: '/a/0'.
func quotePointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return "'" + sb.String() + "'"
}

// RequestSchema returns the name of the component schema of the
// application/json request body of the operation method path, for example
// ("POST", "/chat/completions") -> "CreateChatCompletionRequest". The method
// is case-insensitive; path is the OpenAPI path template as written in the
// spec. It fails if the operation does not exist or its JSON body is not a
// $ref to a component schema.
func (s *Spec) RequestSchema(method, path string) (string, error) {
	op := fmt.Sprintf("%s %s", strings.ToUpper(method), path)
	paths, _ := s.doc["paths"].(map[string]any)
	item, ok := paths[path].(map[string]any)
	if !ok {
		return "", fmt.Errorf("openapispec: no path %q in the spec", path)
	}
	operation, ok := item[strings.ToLower(method)].(map[string]any)
	if !ok {
		return "", fmt.Errorf("openapispec: no operation %s in the spec", op)
	}
	body, ok := operation["requestBody"].(map[string]any)
	if !ok {
		return "", fmt.Errorf("openapispec: %s has no request body", op)
	}
	if ref, ok := body["$ref"].(string); ok {
		resolved, err := resolveRef(s.doc, ref)
		if err != nil {
			return "", fmt.Errorf("openapispec: %s: request body: %w", op, err)
		}
		if body, ok = resolved.(map[string]any); !ok {
			return "", fmt.Errorf("openapispec: %s: request body %s is not an object", op, ref)
		}
	}
	content, _ := body["content"].(map[string]any)
	media, ok := content["application/json"].(map[string]any)
	if !ok {
		return "", fmt.Errorf("openapispec: %s has no application/json request body", op)
	}
	sch, _ := media["schema"].(map[string]any)
	ref, _ := sch["$ref"].(string)
	name, ok := strings.CutPrefix(ref, schemasPtr)
	if !ok {
		return "", fmt.Errorf("openapispec: %s: application/json request body is not a $ref to a component schema", op)
	}
	return unescapeToken(name), nil
}

// ---- YAML to JSON values ----

// jsonNumber matches the JSON number grammar; such YAML scalars are kept
// verbatim as json.Number, with no float rounding.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

const maxDepth = 10000

// fromYAML converts a YAML node to a JSON-compatible value: mappings become
// map[string]any (scalar keys are used as written, so a key 200 becomes
// "200"), sequences []any, numbers json.Number, and timestamps and other
// tagged scalars their text.
func fromYAML(n *yaml.Node, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nesting too deep (alias cycle?)", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromYAML(n.Content[0], depth+1)
	case yaml.AliasNode:
		return fromYAML(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, val)
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: non-scalar mapping key", k.Line)
			}
			v, err := fromYAML(val, depth+1)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		// "<<" merge keys: explicit keys win.
		for _, m := range merges {
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, src := range srcs {
				v, err := fromYAML(src, depth+1)
				if err != nil {
					return nil, err
				}
				mm, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("line %d: merge of a non-mapping", src.Line)
				}
				for k, v := range mm {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
			}
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int", "!!float":
			if jsonNumber.MatchString(n.Value) {
				return json.Number(n.Value), nil
			}
			var x any
			if err := n.Decode(&x); err != nil {
				return nil, err
			}
			switch x := x.(type) {
			case int:
				return json.Number(strconv.Itoa(x)), nil
			case int64:
				return json.Number(strconv.FormatInt(x, 10)), nil
			case uint64:
				return json.Number(strconv.FormatUint(x, 10)), nil
			case float64:
				if math.IsInf(x, 0) || math.IsNaN(x) {
					return nil, fmt.Errorf("line %d: %s is not representable in JSON", n.Line, n.Value)
				}
				return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
			}
			return nil, fmt.Errorf("line %d: unexpected number %q (%T)", n.Line, n.Value, x)
		default: // !!str, !!timestamp, !!binary, custom tags
			return n.Value, nil
		}
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

// ---- document helpers ----

func componentSchemas(doc map[string]any) (map[string]any, error) {
	comps, _ := doc["components"].(map[string]any)
	schemas, ok := comps["schemas"].(map[string]any)
	if !ok {
		return nil, errors.New("document has no components/schemas")
	}
	return schemas, nil
}

// component returns the component schema name of doc, or nil.
func component(doc map[string]any, name string) map[string]any {
	schemas, _ := componentSchemas(doc)
	m, _ := schemas[name].(map[string]any)
	return m
}

// resolveRef resolves a same-document reference "#/a/b" in doc.
func resolveRef(doc map[string]any, ref string) (any, error) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("unsupported reference %q (only same-document references are)", ref)
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	var cur any = doc
	if frag == "" {
		return cur, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, fmt.Errorf("unsupported reference %q", ref)
	}
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = unescapeToken(tok)
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("reference %q: no %q", ref, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("reference %q: bad index %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("reference %q: cannot descend into %T", ref, cur)
		}
	}
	return cur, nil
}

func unescapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func escapeFragment(name string) string {
	tok := strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
	return (&url.URL{Fragment: tok}).EscapedFragment()
}

func hasAny(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// ---- schema walking ----

// eachSubschema calls fn for every direct subschema of m, telling whether it
// applies to a different instance location than m (child) or the same one.
func eachSubschema(m map[string]any, fn func(kw string, sub map[string]any, child bool)) {
	one := func(keys []string, child bool) {
		for _, k := range keys {
			if sub, ok := m[k].(map[string]any); ok {
				fn(k, sub, child)
			}
		}
	}
	arr := func(keys []string, child bool) {
		for _, k := range keys {
			if subs, ok := m[k].([]any); ok {
				for _, s := range subs {
					if sub, ok := s.(map[string]any); ok {
						fn(k, sub, child)
					}
				}
			}
		}
	}
	mp := func(keys []string, child bool) {
		for _, k := range keys {
			if subs, ok := m[k].(map[string]any); ok {
				for _, s := range subs {
					if sub, ok := s.(map[string]any); ok {
						fn(k, sub, child)
					}
				}
			}
		}
	}
	// Same instance location.
	one([]string{"not", "if", "then", "else"}, false)
	arr([]string{"allOf", "anyOf", "oneOf"}, false)
	mp([]string{"dependentSchemas"}, false)
	// A property, item or name of the instance.
	one([]string{"items", "additionalProperties", "unevaluatedProperties", "additionalItems",
		"unevaluatedItems", "contains", "propertyNames"}, true)
	arr([]string{"prefixItems", "items"}, true) // array-valued items: pre-2020 tuple form
	mp([]string{"properties", "patternProperties"}, true)
	// Not applied at all; reported so that they get rewritten too.
	mp([]string{"$defs", "definitions"}, false)
}

// annotationOnly reports whether key carries no assertion.
func annotationOnly(key string) bool {
	switch key {
	case "description", "title", "default", "deprecated", "example", "examples", "readOnly", "writeOnly", "$comment":
		return true
	}
	return strings.HasPrefix(key, "x-")
}

// fixOpenAPI30 rewrites OpenAPI 3.0 / draft 2019-09 constructs in the
// component schema sch (named component) into draft 2020-12, in place.
func fixOpenAPI30(sch any, component string) {
	m, ok := sch.(map[string]any)
	if !ok {
		return
	}
	// $recursiveRef "#" meant the enclosing (recursive-anchored) component.
	if r, ok := m["$recursiveRef"].(string); ok && r == "#" {
		delete(m, "$recursiveRef")
		if _, has := m["$ref"]; !has {
			m["$ref"] = schemasPtr + escapeFragment(component)
		}
	}
	delete(m, "$recursiveAnchor")

	// allOf: [X, {nullable: true}] means "X or null".
	if all, ok := m["allOf"].([]any); ok {
		kept := all[:0:0]
		for _, b := range all {
			if bm, ok := b.(map[string]any); ok && onlyNullable(bm) {
				m["nullable"] = true
				continue
			}
			kept = append(kept, b)
		}
		if len(kept) == 0 {
			delete(m, "allOf")
		} else {
			m["allOf"] = kept
		}
	}

	// Duplicate "required" entries (a spec defect) are invalid in 2020-12.
	if req, ok := m["required"].([]any); ok {
		var uniq []any
		for _, r := range req {
			if !slices.Contains(uniq, r) {
				uniq = append(uniq, r)
			}
		}
		if len(uniq) != len(req) {
			m["required"] = uniq
		}
	}

	for _, kw := range []string{"exclusiveMinimum", "exclusiveMaximum"} {
		bound := strings.ToLower(strings.TrimPrefix(kw, "exclusive")) // minimum / maximum
		if b, ok := m[kw].(bool); ok {
			delete(m, kw)
			if v, has := m[bound]; b && has {
				m[kw] = v
				delete(m, bound)
			}
		}
	}

	if n, ok := m["nullable"].(bool); ok {
		delete(m, "nullable")
		if n {
			makeNullable(m)
		}
	}

	eachSubschema(m, func(_ string, sub map[string]any, _ bool) { fixOpenAPI30(sub, component) })
}

func onlyNullable(m map[string]any) bool {
	if n, ok := m["nullable"].(bool); !ok || !n {
		return false
	}
	for k := range m {
		if k != "nullable" && !annotationOnly(k) {
			return false
		}
	}
	return true
}

// makeNullable makes the schema m also accept null.
func makeNullable(m map[string]any) {
	simple := !hasAny(m, "$ref", "allOf", "anyOf", "oneOf", "not", "if", "const", "$dynamicRef")
	if t, ok := m["type"]; ok && simple {
		switch t := t.(type) {
		case string:
			if t != "null" {
				m["type"] = []any{t, "null"}
			}
		case []any:
			if !slices.Contains(t, any("null")) {
				m["type"] = append(t, "null")
			}
		}
		if enum, ok := m["enum"].([]any); ok && !slices.Contains(enum, nil) {
			m["enum"] = append(enum, nil)
		}
		return
	}
	inner := make(map[string]any, len(m))
	for k, v := range m {
		inner[k] = v
		delete(m, k)
	}
	m["anyOf"] = []any{inner, map[string]any{"type": "null"}}
}

// ---- strict mode ----

// strictCopy returns a copy of doc whose component schemas are rewritten
// for strict mode (see the package documentation). doc is not modified.
func strictCopy(doc map[string]any) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		out[k] = v
	}
	comps := make(map[string]any)
	for k, v := range doc["components"].(map[string]any) {
		comps[k] = v
	}
	schemas := deepCopy(comps["schemas"]).(map[string]any)
	comps["schemas"] = schemas
	out["components"] = comps

	// Decide where to close objects before modifying anything, so that the
	// decision only depends on the published schemas.
	var closeAt, openAt []map[string]any
	var walk func(m map[string]any, child bool)
	walk = func(m map[string]any, child bool) {
		if freeForm(m) {
			openAt = append(openAt, m)
		}
		if child && !hasAny(m, "additionalProperties", "unevaluatedProperties") && closable(out, m) {
			closeAt = append(closeAt, m)
		}
		eachSubschema(m, func(_ string, sub map[string]any, c bool) { walk(sub, c) })
	}
	for _, s := range schemas {
		if m, ok := s.(map[string]any); ok {
			walk(m, false)
		}
	}
	for _, m := range openAt {
		m["additionalProperties"] = true
	}
	for _, m := range closeAt {
		m["unevaluatedProperties"] = false
	}
	return out
}

// freeForm reports whether m is an object schema that says nothing about
// its members, which OpenAPI reads as "any members allowed".
func freeForm(m map[string]any) bool {
	if !hasType(m, "object") {
		return false
	}
	return !hasAny(m, "properties", "patternProperties", "additionalProperties", "unevaluatedProperties",
		"required", "dependentRequired", "dependentSchemas", "$ref", "$dynamicRef",
		"allOf", "anyOf", "oneOf", "not", "if")
}

func hasType(m map[string]any, want string) bool {
	switch t := m["type"].(type) {
	case string:
		return t == want
	case []any:
		return slices.Contains(t, any(want))
	}
	return false
}

// closable reports whether some schema reachable from m without changing
// the instance location declares properties or patternProperties.
func closable(doc, m map[string]any) bool {
	return reachable(doc, m, func(m map[string]any) bool {
		return hasAny(m, "properties", "patternProperties")
	})
}

// reachable reports whether pred holds for m or for a schema reachable from
// it without changing the instance location: through $ref, allOf, anyOf,
// oneOf, if/then/else and dependentSchemas ("not" yields no evaluated
// properties; $defs are not applied).
func reachable(doc, m map[string]any, pred func(map[string]any) bool) bool {
	seen := map[string]bool{}
	var visit func(m map[string]any) bool
	visit = func(m map[string]any) bool {
		if pred(m) {
			return true
		}
		if ref, ok := m["$ref"].(string); ok && !seen[ref] {
			seen[ref] = true
			if t, err := resolveRef(doc, ref); err == nil {
				if tm, ok := t.(map[string]any); ok && visit(tm) {
					return true
				}
			}
		}
		found := false
		eachSubschema(m, func(kw string, sub map[string]any, child bool) {
			if !found && !child && kw != "not" && kw != "$defs" && kw != "definitions" {
				found = visit(sub)
			}
		})
		return found
	}
	return visit(m)
}

// deepCopy copies the JSON values maps and slices are made of.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
