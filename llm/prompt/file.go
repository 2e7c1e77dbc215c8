package prompt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds a prompt file and the rollout file. A prompt is text
// a person reviews; a megabyte is far beyond any real one, and the bound
// keeps a stray large file from being parsed as a template.
const maxFileSize = 1 << 20

// maxJSONDepth bounds the nesting of examples and inline schemas.
const maxJSONDepth = 64

// header is the front matter of a prompt file. Its YAML and JSON forms have
// the same fields; unknown fields are an error in both.
type header struct {
	Name            string      `yaml:"name" json:"name"`
	Version         string      `yaml:"version" json:"version"`
	Description     string      `yaml:"description" json:"description"`
	Model           string      `yaml:"model" json:"model"`
	Temperature     *float64    `yaml:"temperature" json:"temperature"`
	TopP            *float64    `yaml:"top_p" json:"top_p"`
	MaxOutputTokens int         `yaml:"max_output_tokens" json:"max_output_tokens"`
	ReasoningEffort string      `yaml:"reasoning_effort" json:"reasoning_effort"`
	Variables       []headerVar `yaml:"variables" json:"variables"`
	Output          string      `yaml:"output" json:"output"`
	OutputSchema    schemaJSON  `yaml:"output_schema" json:"output_schema"`
}

// headerVar is one entry of the header's variables list.
type headerVar struct {
	Name        string  `yaml:"name" json:"name"`
	Type        string  `yaml:"type" json:"type"`
	Trusted     bool    `yaml:"trusted" json:"trusted"`
	Description string  `yaml:"description" json:"description"`
	Example     rawJSON `yaml:"example" json:"example"`
}

// knownHeaderKey and knownVarKey list the fields of header and headerVar
// for the JSON form, whose decoder matches names case-insensitively and
// keeps the last of duplicate keys: both would let a typo through.
func knownHeaderKey(k string) bool {
	switch k {
	case "name", "version", "description", "model", "temperature", "top_p",
		"max_output_tokens", "reasoning_effort", "variables", "output", "output_schema":
		return true
	}
	return false
}

func knownVarKey(k string) bool {
	switch k {
	case "name", "type", "trusted", "description", "example":
		return true
	}
	return false
}

// rawJSON is a value written in YAML or JSON, kept as JSON text. Its
// length is zero when the field is absent.
type rawJSON []byte

// UnmarshalYAML converts the node to JSON, keeping the order of mapping
// keys.
func (r *rawJSON) UnmarshalYAML(n *yaml.Node) error {
	var b bytes.Buffer
	if err := yamlToJSON(&b, n, 0); err != nil {
		return err
	}
	*r = b.Bytes()
	return nil
}

// UnmarshalJSON keeps a copy of the JSON text.
func (r *rawJSON) UnmarshalJSON(data []byte) error {
	*r = append(rawJSON(nil), data...)
	return nil
}

// schemaJSON is a JSON Schema written either as YAML or JSON structure, or
// as a string that holds JSON text (a YAML block scalar, or a JSON string),
// so a schema can be pasted verbatim.
type schemaJSON []byte

// UnmarshalYAML accepts a mapping or a string holding JSON text.
func (s *schemaJSON) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return s.setText([]byte(n.Value))
	}
	var b bytes.Buffer
	if err := yamlToJSON(&b, n, 0); err != nil {
		return err
	}
	*s = b.Bytes()
	return nil
}

// UnmarshalJSON accepts an object or a string holding JSON text.
func (s *schemaJSON) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var text string
		if err := json.Unmarshal(data, &text); err != nil {
			return err
		}
		return s.setText([]byte(text))
	}
	*s = append(schemaJSON(nil), data...)
	return nil
}

func (s *schemaJSON) setText(text []byte) error {
	if !json.Valid(text) {
		return errors.New("output_schema: the string is not valid JSON")
	}
	*s = append(schemaJSON(nil), bytes.TrimSpace(text)...)
	return nil
}

// yamlToJSON writes n as JSON. Mapping keys keep their order (it matters
// for a schema: models fill properties in order); aliases and merge keys
// are refused, so a small file cannot expand into a huge value.
func yamlToJSON(b *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("line %d: nested deeper than %d levels", n.Line, maxJSONDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: empty document", n.Line)
		}
		return yamlToJSON(b, n.Content[0], depth)
	case yaml.AliasNode:
		return fmt.Errorf("line %d: YAML aliases are not supported here", n.Line)
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := yamlToJSON(b, c, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case yaml.MappingNode:
		b.WriteByte('{')
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a mapping key must be a plain value", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: YAML merge keys are not supported here", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: key %q is repeated", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k.Value)
			b.WriteByte(':')
			if err := yamlToJSON(b, v, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case yaml.ScalarNode:
		if tag := n.ShortTag(); (tag == "!!int" || tag == "!!float") && isJSONNumber(n.Value) {
			// Keep a number as written: 2.50 stays 2.50.
			b.WriteString(n.Value)
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		switch x := v.(type) {
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
			}
		case time.Time:
			// A timestamp is written back as the text the author wrote.
			v = n.Value
		}
		out, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b.Write(out)
		return nil
	}
	return fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	out, _ := json.Marshal(s) // a string always marshals
	b.Write(out)
}

// splitFile separates a prompt file into its header and body. It returns
// the decoded header and the body with the line number (1-based) of the
// body's first line in the file.
func splitFile(data []byte) (h header, body []byte, bodyLine int, err error) {
	if len(data) > maxFileSize {
		return h, nil, 0, fmt.Errorf("file is larger than %d bytes", maxFileSize)
	}
	if !utf8.Valid(data) {
		return h, nil, 0, errors.New("file is not valid UTF-8")
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	// Skip leading blank space, counting lines, to find the header.
	line := 1
	i := 0
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		if data[i] == '\n' {
			line++
		}
		i++
	}
	rest := data[i:]
	switch {
	case len(rest) > 0 && rest[0] == '{':
		return splitJSON(rest, line)
	case hasMarkerLine(rest, "---"):
		return splitYAML(rest, line)
	}
	return h, nil, 0, errors.New("a prompt file starts with a header: YAML front matter between --- lines, or a JSON object")
}

// hasMarkerLine reports whether b starts with a line that is exactly
// marker, ignoring trailing spaces and a carriage return.
func hasMarkerLine(b []byte, marker string) bool {
	first, _, _ := bytes.Cut(b, []byte("\n"))
	return string(bytes.TrimRight(first, " \t\r")) == marker
}

func splitYAML(rest []byte, line int) (h header, body []byte, bodyLine int, err error) {
	_, after, _ := bytes.Cut(rest, []byte("\n"))
	hdrStart := line + 1
	// Find the closing --- line.
	off, n := 0, hdrStart
	for {
		if off >= len(after) {
			return h, nil, 0, errors.New("the YAML header has no closing --- line")
		}
		end := bytes.IndexByte(after[off:], '\n')
		var ln []byte
		if end < 0 {
			ln, end = after[off:], len(after)-off
		} else {
			ln = after[off : off+end]
		}
		if string(bytes.TrimRight(ln, " \t\r")) == "---" {
			hdr := after[:off]
			body = after[min(off+end+1, len(after)):]
			bodyLine = n + 1
			if err := decodeYAMLHeader(hdr, hdrStart, &h); err != nil {
				return h, nil, 0, err
			}
			return h, body, bodyLine, nil
		}
		off += end + 1
		n++
	}
}

// decodeYAMLHeader decodes hdr strictly. Blank lines are put in front of it
// so that the line numbers in YAML errors are those of the file.
func decodeYAMLHeader(hdr []byte, firstLine int, h *header) error {
	if len(bytes.TrimSpace(hdr)) == 0 {
		return errors.New("the header is empty")
	}
	padded := make([]byte, 0, firstLine-1+len(hdr))
	padded = append(padded, bytes.Repeat([]byte("\n"), firstLine-1)...)
	padded = append(padded, hdr...)
	dec := yaml.NewDecoder(bytes.NewReader(padded))
	dec.KnownFields(true)
	if err := dec.Decode(h); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("header: more than one YAML document")
	}
	return nil
}

func splitJSON(rest []byte, line int) (h header, body []byte, bodyLine int, err error) {
	dec := json.NewDecoder(bytes.NewReader(rest))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return h, nil, 0, fmt.Errorf("JSON header: %w", err)
	}
	if err := checkJSONKeys(raw); err != nil {
		return h, nil, 0, fmt.Errorf("JSON header: %w", err)
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, nil, 0, fmt.Errorf("JSON header: %w", err)
	}
	off := int(dec.InputOffset())
	line += bytes.Count(rest[:off], []byte("\n"))
	after := rest[off:]
	// The rest of the header's last line must be blank.
	first, tail, found := bytes.Cut(after, []byte("\n"))
	if len(bytes.TrimSpace(first)) != 0 {
		return h, nil, 0, fmt.Errorf("line %d: text after the JSON header on the same line", line)
	}
	if !found {
		return h, nil, line + 1, nil
	}
	return h, tail, line + 1, nil
}

// checkJSONKeys reports unknown and repeated keys in a JSON header and in
// each of its variables, matching names exactly.
func checkJSONKeys(raw []byte) error {
	keys, vals, err := jsonObject(raw)
	if err != nil {
		return err
	}
	if err := checkKeys(keys, knownHeaderKey, "field"); err != nil {
		return err
	}
	for i, k := range keys {
		if k != "variables" {
			continue
		}
		var list []json.RawMessage
		if err := json.Unmarshal(vals[i], &list); err != nil {
			return fmt.Errorf("variables: %w", err)
		}
		for j, v := range list {
			vk, _, err := jsonObject(v)
			if err != nil {
				return fmt.Errorf("variable %d: %w", j+1, err)
			}
			if err := checkKeys(vk, knownVarKey, fmt.Sprintf("variable %d: field", j+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkKeys(keys []string, known func(string) bool, what string) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !known(k) {
			return fmt.Errorf("unknown %s %q", what, k)
		}
		if seen[k] {
			return fmt.Errorf("%s %q is repeated", what, k)
		}
		seen[k] = true
	}
	return nil
}

// jsonObject returns the keys of a JSON object in order with their raw
// values.
func jsonObject(raw []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("not a JSON object")
	}
	var keys []string
	var vals []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		vals = append(vals, v)
	}
	return keys, vals, nil
}

// decodeJSONValue decodes an example or a value given as JSON, keeping
// numbers exact.
func decodeJSONValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// lineString formats a line number for messages.
func lineString(n int) string { return "line " + strconv.Itoa(n) }
