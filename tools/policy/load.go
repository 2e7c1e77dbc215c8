package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds a policy file. Policies are reviewed by people; four
// megabytes leaves room for long allow-lists and keeps a stray file from
// costing much.
const maxFileSize = 4 << 20

// maxNesting bounds the nesting of a policy document; the format itself
// needs four levels.
const maxNesting = 16

// ParseJSON parses and compiles a policy written in JSON. Unknown and
// repeated fields are errors (names match exactly), and errors give the
// line and column.
func ParseJSON(data []byte) (*Policy, error) {
	root, err := jsonTree(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return fromTree(root)
}

// ParseYAML parses and compiles a policy written in YAML. Unknown and
// repeated fields are errors, aliases and merge keys are refused, and
// errors give the line and column.
func ParseYAML(data []byte) (*Policy, error) {
	root, err := yamlTree(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return fromTree(root)
}

// LoadFile reads a policy file: .json with ParseJSON, .yaml or .yml with
// ParseYAML. Errors start with the path.
func LoadFile(path string) (*Policy, error) {
	var parse func([]byte) (*Policy, error)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		parse = ParseJSON
	case ".yaml", ".yml":
		parse = ParseYAML
	default:
		return nil, fmt.Errorf("policy: %s: unknown extension (want .json, .yaml or .yml)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: %s: %w", path, err)
	}
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// DecodeArgs decodes a tool call's JSON arguments for Input.Args, keeping
// numbers as json.Number so that conditions compare them exactly.
func DecodeArgs(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("policy: tool arguments: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("policy: tool arguments: data after the JSON value")
	}
	return v, nil
}

// nodeKind is the type of a node of a parsed policy document.
type nodeKind uint8

const (
	nNull nodeKind = iota
	nBool
	nNum
	nStr
	nSeq
	nMap
)

func (k nodeKind) String() string {
	switch k {
	case nNull:
		return "null"
	case nBool:
		return "a boolean"
	case nNum:
		return "a number"
	case nStr:
		return "a string"
	case nSeq:
		return "a list"
	}
	return "a mapping"
}

// node is a parsed JSON or YAML value with its position, so that both
// formats share one strict decoder and one style of error.
type node struct {
	kind      nodeKind
	line, col int
	s         string // string, or number text
	b         bool
	items     []*node // list items, or mapping values
	keys      []*node // mapping keys (strings)
}

func (n *node) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d, column %d: %s", n.line, n.col, fmt.Sprintf(format, args...))
}

// yamlTree parses a YAML document into nodes.
func yamlTree(data []byte) (*node, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the document is empty")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("the document is empty")
	}
	return fromYAML(doc.Content[0], 0)
}

func fromYAML(y *yaml.Node, depth int) (*node, error) {
	n := &node{line: y.Line, col: y.Column}
	if depth > maxNesting {
		return nil, n.errorf("nested deeper than %d levels", maxNesting)
	}
	switch y.Kind {
	case yaml.AliasNode:
		return nil, n.errorf("YAML aliases are not supported in a policy")
	case yaml.SequenceNode:
		n.kind = nSeq
		for _, c := range y.Content {
			item, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, item)
		}
		return n, nil
	case yaml.MappingNode:
		n.kind = nMap
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return nil, (&node{line: k.Line, col: k.Column}).errorf("a key must be a plain name (no merge keys or complex keys)")
			}
			key, err := fromYAML(k, depth+1)
			if err != nil {
				return nil, err
			}
			if key.kind != nStr {
				// Field and list names are text, whatever YAML makes
				// of them (yes, 1, null).
				key.kind, key.s = nStr, k.Value
			}
			val, err := fromYAML(v, depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, key)
			n.items = append(n.items, val)
		}
		return n, nil
	case yaml.ScalarNode:
	default:
		return nil, n.errorf("unsupported YAML node")
	}
	switch tag := y.ShortTag(); tag {
	case "!!str", "!!timestamp":
		n.kind, n.s = nStr, y.Value
	case "!!null":
		n.kind = nNull
	case "!!bool":
		var b bool
		if err := y.Decode(&b); err != nil {
			return nil, n.errorf("%v", err)
		}
		n.kind, n.b = nBool, b
	case "!!int", "!!float":
		if !isJSONNumber(y.Value) {
			return nil, n.errorf("number %q: write numbers in decimal, as in JSON", y.Value)
		}
		n.kind, n.s = nNum, y.Value
	default:
		return nil, n.errorf("unsupported YAML tag %s (a condition that starts with ! must be quoted)", tag)
	}
	return n, nil
}

// jsonTree parses a JSON document into nodes.
func jsonTree(data []byte) (*node, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	jp := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	jp.dec.UseNumber()
	for i, c := range data {
		if c == '\n' {
			jp.lines = append(jp.lines, i+1)
		}
	}
	root, err := jp.value(0)
	if err != nil {
		return nil, err
	}
	off := jp.start()
	if _, err := jp.dec.Token(); !errors.Is(err, io.EOF) {
		line, col := jp.pos(off)
		return nil, fmt.Errorf("line %d, column %d: data after the policy object", line, col)
	}
	return root, nil
}

type jsonParser struct {
	data  []byte
	dec   *json.Decoder
	lines []int // offsets where lines 2, 3, ... start
}

// start returns the offset of the next token, skipping the white space
// and separators the decoder has not consumed yet.
func (jp *jsonParser) start() int {
	off := int(jp.dec.InputOffset())
	for off < len(jp.data) {
		switch jp.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

// pos converts a byte offset to a line and a column (in characters).
func (jp *jsonParser) pos(off int) (line, col int) {
	i := sort.SearchInts(jp.lines, off+1)
	lineStart := 0
	if i > 0 {
		lineStart = jp.lines[i-1]
	}
	return i + 1, utf8.RuneCount(jp.data[lineStart:min(off, len(jp.data))]) + 1
}

func (jp *jsonParser) syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the bytes read before the offending one.
		line, col := jp.pos(int(se.Offset))
		return fmt.Errorf("line %d, column %d: %v", line, col, se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON")
	}
	return err
}

func (jp *jsonParser) value(depth int) (*node, error) {
	off := jp.start()
	tok, err := jp.dec.Token()
	if err != nil {
		return nil, jp.syntaxError(err)
	}
	n := &node{}
	n.line, n.col = jp.pos(off)
	if depth > maxNesting {
		return nil, n.errorf("nested deeper than %d levels", maxNesting)
	}
	switch t := tok.(type) {
	case nil:
		n.kind = nNull
	case bool:
		n.kind, n.b = nBool, t
	case json.Number:
		n.kind, n.s = nNum, string(t)
	case string:
		n.kind, n.s = nStr, t
	case json.Delim:
		switch t {
		case '[':
			n.kind = nSeq
			for jp.dec.More() {
				item, err := jp.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, item)
			}
		case '{':
			n.kind = nMap
			for jp.dec.More() {
				key, err := jp.value(depth + 1)
				if err != nil {
					return nil, err
				}
				val, err := jp.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.items = append(n.items, val)
			}
		}
		if _, err := jp.dec.Token(); err != nil {
			return nil, jp.syntaxError(err)
		}
	}
	return n, nil
}

// positions maps the path of a Config field ("rules[2].when[0]") to the
// node it came from, to place errors found by New.
type positions map[string]*node

// fromTree decodes a document into a Config strictly and compiles it.
func fromTree(root *node) (*Policy, error) {
	pos := positions{}
	cfg, err := decodeConfig(root, pos)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := compile(&cfg)
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			// The closest recorded field: rules[2].when[0], rules[2].when,
			// rules[2].
			for path := fe.path; path != ""; path = parentPath(path) {
				if n, ok := pos[path]; ok {
					return nil, fmt.Errorf("policy: %w", n.errorf("%v", err))
				}
			}
		}
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}

// fields walks a mapping, checking names against known (nil: any name)
// and refusing repeats. what names the mapping in errors ("" for the
// document itself).
func fields(n *node, what string, known func(string) bool, fn func(key string, v *node) error) error {
	prefix := ""
	if what != "" {
		prefix = what + ": "
	}
	if n.kind != nMap {
		return n.errorf("%sexpected a mapping, found %s", prefix, n.kind)
	}
	seen := make(map[string]bool, len(n.keys))
	for i, k := range n.keys {
		if known != nil && !known(k.s) {
			return k.errorf("%sunknown field %q", prefix, k.s)
		}
		if seen[k.s] {
			return k.errorf("%s%q is repeated", prefix, k.s)
		}
		seen[k.s] = true
		if err := fn(k.s, n.items[i]); err != nil {
			return err
		}
	}
	return nil
}

func oneOf(names ...string) func(string) bool {
	return func(s string) bool {
		for _, n := range names {
			if n == s {
				return true
			}
		}
		return false
	}
}

func decodeConfig(root *node, pos positions) (Config, error) {
	var cfg Config
	err := fields(root, "", oneOf("rules", "lists", "untrusted", "safe_mode"), func(key string, v *node) error {
		pos[key] = v
		switch key {
		case "rules":
			return decodeRules(v, pos, &cfg)
		case "lists":
			return decodeLists(v, pos, &cfg)
		case "untrusted":
			return fields(v, "untrusted", oneOf("above_risk", "effect"), func(k string, v *node) error {
				pos["untrusted."+k] = v
				if k == "effect" {
					return decodeEffect(v, "untrusted.effect", &cfg.Untrusted.Effect)
				}
				return decodeRisk(v, "untrusted.above_risk", &cfg.Untrusted.AboveRisk)
			})
		default:
			return fields(v, "safe_mode", oneOf("above_risk"), func(k string, v *node) error {
				pos["safe_mode."+k] = v
				return decodeRisk(v, "safe_mode.above_risk", &cfg.SafeMode.AboveRisk)
			})
		}
	})
	return cfg, err
}

func decodeRules(v *node, pos positions, cfg *Config) error {
	if v.kind != nSeq {
		return v.errorf("rules: expected a list, found %s", v.kind)
	}
	known := oneOf("name", "effect", "reason", "tools", "min_risk", "max_risk", "tenants", "users", "roles", "groups", "when")
	for i, rn := range v.items {
		path := fmt.Sprintf("rules[%d]", i)
		pos[path] = rn
		var r Rule
		what := fmt.Sprintf("rule %d", i+1)
		if rn.kind == nMap {
			for j, k := range rn.keys {
				if k.s == "name" && rn.items[j].kind == nStr {
					what = fmt.Sprintf("rule %q", rn.items[j].s)
				}
			}
		}
		hasEffect := false
		err := fields(rn, what, known, func(k string, f *node) error {
			pos[path+"."+k] = f
			fw := what + ": " + k
			switch k {
			case "name":
				return decodeString(f, fw, &r.Name)
			case "reason":
				return decodeString(f, fw, &r.Reason)
			case "effect":
				hasEffect = true
				return decodeEffect(f, fw, &r.Effect)
			case "min_risk":
				return decodeRisk(f, fw, &r.MinRisk)
			case "max_risk":
				return decodeRisk(f, fw, &r.MaxRisk)
			case "tools":
				return decodeStrings(f, fw, path+"."+k, pos, &r.Tools)
			case "tenants":
				return decodeStrings(f, fw, path+"."+k, pos, &r.Tenants)
			case "users":
				return decodeStrings(f, fw, path+"."+k, pos, &r.Users)
			case "roles":
				return decodeStrings(f, fw, path+"."+k, pos, &r.Roles)
			case "groups":
				return decodeStrings(f, fw, path+"."+k, pos, &r.Groups)
			default:
				return decodeStrings(f, fw, path+"."+k, pos, &r.When)
			}
		})
		if err != nil {
			return err
		}
		if !hasEffect {
			// In Go the zero Effect is Deny; in a file an omitted effect
			// is more likely a mistake than a deny rule.
			return rn.errorf("%s: effect is required (allow, deny or approve)", what)
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return nil
}

func decodeLists(v *node, pos positions, cfg *Config) error {
	cfg.Lists = map[string][]any{}
	return fields(v, "lists", nil, func(name string, l *node) error {
		path := "lists." + name
		pos[path] = l
		if l.kind != nSeq {
			return l.errorf("list %q: expected a list, found %s", name, l.kind)
		}
		items := make([]any, 0, len(l.items))
		for j, it := range l.items {
			pos[fmt.Sprintf("%s[%d]", path, j)] = it
			switch it.kind {
			case nNull:
				items = append(items, nil)
			case nBool:
				items = append(items, it.b)
			case nNum:
				items = append(items, json.Number(it.s))
			case nStr:
				items = append(items, it.s)
			default:
				return it.errorf("list %q: item %d: expected a string, number, boolean or null, found %s", name, j, it.kind)
			}
		}
		cfg.Lists[name] = items
		return nil
	})
}

func decodeString(n *node, what string, dst *string) error {
	if n.kind != nStr {
		return n.errorf("%s: expected a string, found %s", what, n.kind)
	}
	*dst = n.s
	return nil
}

func decodeStrings(n *node, what, path string, pos positions, dst *[]string) error {
	if n.kind != nSeq {
		return n.errorf("%s: expected a list of strings, found %s", what, n.kind)
	}
	out := make([]string, 0, len(n.items))
	for j, it := range n.items {
		pos[fmt.Sprintf("%s[%d]", path, j)] = it
		if it.kind != nStr {
			hint := ""
			if it.kind == nNum {
				hint = " (quote it)"
			}
			return it.errorf("%s[%d]: expected a string, found %s%s", what, j, it.kind, hint)
		}
		out = append(out, it.s)
	}
	*dst = out
	return nil
}

func decodeEffect(n *node, what string, dst *Effect) error {
	if n.kind != nStr {
		return n.errorf("%s: expected allow, deny or approve, found %s", what, n.kind)
	}
	e, err := ParseEffect(n.s)
	if err != nil {
		return n.errorf("%s: unknown effect %q (want allow, deny or approve)", what, n.s)
	}
	*dst = e
	return nil
}

func decodeRisk(n *node, what string, dst *Risk) error {
	if n.kind != nStr {
		return n.errorf("%s: expected read, write or external, found %s", what, n.kind)
	}
	r, err := ParseRisk(n.s)
	if err != nil {
		return n.errorf("%s: unknown risk %q (want read, write or external)", what, n.s)
	}
	*dst = r
	return nil
}
