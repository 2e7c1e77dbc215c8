package prompt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/keel-go/keel/llm"
)

// Render fills the template with vars and returns the request it makes:
// the messages of its role sections, the header's model and parameters,
// the output schema as ResponseFormat, and the prompt's name, version and
// hash on Request.Prompt. The request is new: the caller may modify it,
// and sets Principal, Feature, tools and anything else it needs.
//
// Every declared variable must be given a value of its type, and no other
// variable may be given; errors are *RenderError. Text written in the
// template, and trusted variables, become llm.Trusted parts; each untrusted
// text value becomes an llm.UntrustedText part of its own (an llm.Part
// passed as the value keeps its Source), whatever the section's role.
// A rendering whose template text would exceed 16 MiB fails rather than
// exhaust memory.
func (t *Template) Render(vars Vars) (*llm.Request, error) {
	st := renderState{t: t}
	data := make(map[string]any, len(t.vars))
	found := 0
	for i := range t.vars {
		v := &t.vars[i]
		val, ok := vars[v.Name]
		if !ok {
			return nil, t.errVar(v.Name, ErrMissingVariable)
		}
		found++
		x, err := st.bind(i, val)
		if err != nil {
			return nil, t.errVar(v.Name, err)
		}
		data[v.Name] = x
	}
	if found < len(vars) {
		var unknown []string
		for k := range vars {
			if _, ok := t.index[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		slices.Sort(unknown)
		return nil, t.errVar(unknown[0], ErrUnknownVariable)
	}

	buf := t.bufs.Get().(*bytes.Buffer)
	defer func() {
		// Keep usual buffers; let an exceptionally large one go.
		if buf.Cap() <= 256<<10 {
			t.bufs.Put(buf)
		}
	}()
	msgs := make([]llm.Message, 0, len(t.secs))
	w := limitWriter{buf: buf}
	for _, s := range t.secs {
		buf.Reset()
		if err := s.tmpl.Execute(&w, data); err != nil {
			return nil, &RenderError{Prompt: t.name, Version: t.version, Err: err}
		}
		parts, err := t.split(buf.String(), st.untrusted)
		if err != nil {
			return nil, &RenderError{Prompt: t.name, Version: t.version, Err: err}
		}
		if len(parts) > 0 {
			msgs = append(msgs, llm.Message{Role: s.role, Parts: parts})
		}
	}
	if len(msgs) == 0 {
		return nil, &RenderError{Prompt: t.name, Version: t.version, Err: errors.New("every section rendered empty")}
	}

	req := &llm.Request{
		Model:           t.model,
		Messages:        msgs,
		MaxOutputTokens: t.maxOutputTokens,
		ReasoningEffort: t.reasoningEffort,
		Prompt:          &llm.PromptRef{Name: t.name, Version: t.version, Hash: t.hash},
	}
	if t.temperature != nil {
		v := *t.temperature
		req.Temperature = &v
	}
	if t.topP != nil {
		v := *t.topP
		req.TopP = &v
	}
	if t.output != nil {
		req.ResponseFormat = t.output.ResponseFormat()
	}
	return req, nil
}

// maxRenderSize bounds the text one rendering may produce, untrusted
// values excepted: far more than any model's context, it stops a template
// that loops over a huge range or repeats a large trusted value before it
// exhausts memory.
const maxRenderSize = 16 << 20

var errTooLarge = fmt.Errorf("the rendered text exceeds %d bytes", maxRenderSize)

// limitWriter writes to buf until the rendering has produced maxRenderSize
// bytes over all sections.
type limitWriter struct {
	buf     *bytes.Buffer
	written int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.written += len(p); w.written > maxRenderSize {
		return 0, errTooLarge
	}
	return w.buf.Write(p)
}

func (t *Template) errVar(name string, err error) error {
	return &RenderError{Prompt: t.name, Version: t.version, Variable: name, Err: err}
}

// renderState holds the untrusted values of one rendering; the template
// sees sentinel i in place of untrusted[i].
type renderState struct {
	t         *Template
	untrusted []llm.Part
}

func (st *renderState) sentinel(i int) string {
	if i < len(st.t.sentinels) {
		return st.t.sentinels[i]
	}
	return st.t.prefix + strconv.Itoa(i) + "\x00"
}

// hide records an untrusted text and returns what the template sees in
// its place: "" for empty text, so {{if .x}} tests the real value, and a
// sentinel otherwise.
func (st *renderState) hide(text, source, fallback string) string {
	if text == "" {
		return ""
	}
	if source == "" {
		source = fallback
	}
	st.untrusted = append(st.untrusted, llm.UntrustedText(text, source))
	return st.sentinel(len(st.untrusted) - 1)
}

// bind checks the value of variable i and returns what the template sees.
func (st *renderState) bind(i int, val any) (any, error) {
	v := &st.t.vars[i]
	src := st.t.sources[i]
	switch v.Type {
	case TypeString:
		text, source, err := textOf(val, v.Trusted)
		if err != nil {
			return nil, err
		}
		if v.Trusted {
			return text, nil
		}
		return st.hide(text, source, src), nil
	case TypeStrings:
		return st.bindList(v, val, src)
	case TypeJSON:
		if v.Trusted {
			return jsonValue(val)
		}
		text, err := jsonText(val)
		if err != nil {
			return nil, err
		}
		return st.hide(text, "", src), nil
	}
	return normalize(v.Type, val)
}

func (st *renderState) bindList(v *Variable, val any, src string) (any, error) {
	// The common types take a loop without reflection.
	switch x := val.(type) {
	case []string:
		if v.Trusted {
			return x, nil
		}
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = st.hide(s, "", src)
		}
		return out, nil
	case []llm.Part:
		out := make([]string, len(x))
		for i := range x {
			text, source, err := partText(&x[i], v.Trusted)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			if v.Trusted {
				out[i] = text
			} else {
				out[i] = st.hide(text, source, src)
			}
		}
		return out, nil
	}
	rv := reflect.ValueOf(val)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, typeErr(TypeStrings, val)
	}
	out := make([]string, rv.Len())
	for i := range out {
		text, source, err := textOf(rv.Index(i).Interface(), v.Trusted)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		if v.Trusted {
			out[i] = text
		} else {
			out[i] = st.hide(text, source, src)
		}
	}
	return out, nil
}

// checkValue reports whether val is a valid value for v, without keeping
// anything: for examples at parse time.
func checkValue(v *Variable, val any) error {
	st := renderState{t: &Template{vars: []Variable{*v}, sources: []string{""}, prefix: "\x00"}}
	_, err := st.bind(0, val)
	return err
}

func typeErr(want Type, got any) error {
	if got == nil {
		return fmt.Errorf("%w: want %s, got nil", ErrVariableType, want)
	}
	return fmt.Errorf("%w: want %s, got %T", ErrVariableType, want, got)
}

// textOf returns the text of a string value and, for an llm.Part, its
// Source. An untrusted Part for a trusted variable is refused.
func textOf(val any, trusted bool) (text, source string, err error) {
	switch x := val.(type) {
	case string:
		return x, "", nil
	case llm.Part:
		return partText(&x, trusted)
	case *llm.Part:
		if x == nil {
			return "", "", typeErr(TypeString, nil)
		}
		return partText(x, trusted)
	}
	if rv := reflect.ValueOf(val); rv.Kind() == reflect.String {
		return rv.String(), "", nil
	}
	return "", "", typeErr(TypeString, val)
}

func partText(p *llm.Part, trusted bool) (text, source string, err error) {
	if p.Kind != llm.PartText {
		return "", "", fmt.Errorf("%w: want a text part, got an image", ErrVariableType)
	}
	if trusted && p.Provenance == llm.Untrusted {
		return "", "", ErrProvenance
	}
	return p.Text, p.Source, nil
}

// normalize checks an int, number or bool value and returns what the
// template sees: integers as int64, so templates compare them alike.
func normalize(typ Type, val any) (any, error) {
	switch typ {
	case TypeInt:
		if n, ok := intOf(val); ok {
			return n, nil
		}
	case TypeNumber:
		if ok := numberOK(val); ok {
			return val, nil
		}
	case TypeBool:
		if b, ok := val.(bool); ok {
			return b, nil
		}
		if rv := reflect.ValueOf(val); rv.Kind() == reflect.Bool {
			return rv.Bool(), nil
		}
	}
	return nil, typeErr(typ, val)
}

func intOf(val any) (int64, bool) {
	switch x := val.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		f, err := x.Float64()
		if err != nil {
			return 0, false
		}
		return floatInt(f)
	}
	rv := reflect.ValueOf(val)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return 0, false
		}
		return int64(u), true
	case reflect.Float32, reflect.Float64:
		return floatInt(rv.Float())
	}
	return 0, false
}

// floatInt accepts a float that holds an integer exactly, as JSON decoding
// produces for integers.
func floatInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func numberOK(val any) bool {
	if x, ok := val.(json.Number); ok {
		// json.Number does not check its text; NaN and Inf are not JSON.
		f, err := strconv.ParseFloat(string(x), 64)
		return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && json.Valid([]byte(x))
	}
	rv := reflect.ValueOf(val)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		return !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return false
}

// jsonValue returns a trusted json value as the template sees it: decoded
// from its JSON encoding, so a struct's fields go by their JSON names.
func jsonValue(val any) (any, error) {
	raw, err := jsonText(val)
	if err != nil {
		return nil, err
	}
	return decodeJSONValue([]byte(raw))
}

// jsonText returns the compact JSON encoding of val; json.RawMessage and
// []byte holding JSON are taken as JSON text.
func jsonText(val any) (string, error) {
	var raw []byte
	switch x := val.(type) {
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	default:
		b, err := json.Marshal(val)
		if err != nil {
			return "", fmt.Errorf("%w: want json: %v", ErrVariableType, err)
		}
		return string(b), nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", fmt.Errorf("%w: want json: %v", ErrVariableType, err)
	}
	return b.String(), nil
}

// split cuts the output of one section at its sentinels: the text between
// them is trusted (the template's own text and trusted values), each
// sentinel becomes its untrusted part. Whitespace at the edges of the
// message is trimmed from trusted text only; an untrusted value is never
// changed.
func (t *Template) split(out string, untrusted []llm.Part) ([]llm.Part, error) {
	parts := make([]llm.Part, 0, 2*strings.Count(out, t.prefix)+1)
	trusted := func(s string) {
		if s != "" {
			parts = append(parts, llm.Part{Kind: llm.PartText, Text: s, Provenance: llm.Trusted})
		}
	}
	for {
		i := strings.Index(out, t.prefix)
		if i < 0 {
			trusted(out)
			break
		}
		trusted(out[:i])
		out = out[i+len(t.prefix):]
		n, j := 0, 0
		for j < len(out) && j < 9 && out[j] >= '0' && out[j] <= '9' {
			n = n*10 + int(out[j]-'0')
			j++
		}
		if j == 0 || j >= len(out) || out[j] != 0 || n >= len(untrusted) {
			// Unreachable for templates that passed the checker: only a
			// template that cut or altered a sentinel gets here.
			return nil, errors.New("the template altered an untrusted value")
		}
		parts = append(parts, untrusted[n])
		out = out[j+1:]
	}
	// Trim the message's edges, dropping trusted parts that become empty.
	for len(parts) > 0 && parts[0].Provenance == llm.Trusted {
		parts[0].Text = strings.TrimLeft(parts[0].Text, " \t\r\n")
		if parts[0].Text != "" {
			break
		}
		parts = parts[1:]
	}
	for n := len(parts); n > 0 && parts[n-1].Provenance == llm.Trusted; n = len(parts) {
		parts[n-1].Text = strings.TrimRight(parts[n-1].Text, " \t\r\n")
		if parts[n-1].Text != "" {
			break
		}
		parts = parts[:n-1]
	}
	return parts, nil
}
