package structured

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// fillKind is how the fast path stores a JSON value into a Go value.
type fillKind uint8

const (
	fillString fillKind = iota
	fillBool
	fillInt
	fillUint
	fillFloat
	fillStruct
	fillPtr
	fillSlice
	fillMap
	fillText // encoding.TextUnmarshaler, from a JSON string
	fillJSON // json.Unmarshaler, from a JSON string
)

// fillNode is the compiled plan for storing parsed JSON into one Go type.
// It reproduces what encoding/json with DisallowUnknownFields does for
// the documents it accepts, and refuses (returns false) wherever the two
// could differ: a null, a key that does not name a field exactly (encoding/
// json also matches case-insensitively), a number that does not parse for
// the kind, or a JSON type that does not fit. A refusal sends the document
// to encoding/json, whose answer (usually an error) is then the result.
type fillNode struct {
	kind   fillKind
	typ    reflect.Type
	elem   *fillNode            // fillPtr, fillSlice, fillMap
	fields map[string]fillField // fillStruct, by exact JSON name
	// checks are schema constraints the node enforces itself (see
	// fastpath.go); nil when there are none.
	checks *valueChecks
}

// fillField is one struct field of a fillStruct node.
type fillField struct {
	index int
	node  *fillNode
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// planFill compiles the plan for t, or reports that the fast path does
// not handle t (then every document of t goes through encoding/json).
// Unhandled: interfaces, arrays, embedded struct fields, the ",string"
// tag option, fields whose names collide, and maps whose keys are not
// plain strings.
func planFill(t reflect.Type) (*fillNode, bool) {
	return planFillMemo(t, map[reflect.Type]*fillNode{})
}

// planFillMemo is planFill sharing the nodes of types seen before, which
// is how recursive types end.
func planFillMemo(t reflect.Type, memo map[reflect.Type]*fillNode) (*fillNode, bool) {
	if n, ok := memo[t]; ok {
		return n, true // recursive types share their node
	}
	n := &fillNode{typ: t}
	memo[t] = n
	pt := reflect.PointerTo(t)
	switch {
	case t.Kind() != reflect.Pointer && pt.Implements(jsonUnmarshalerType):
		n.kind = fillJSON
		return n, true
	case t.Kind() != reflect.Pointer && pt.Implements(textUnmarshalerType):
		n.kind = fillText
		return n, true
	}
	switch t.Kind() {
	case reflect.String:
		n.kind = fillString
	case reflect.Bool:
		n.kind = fillBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n.kind = fillInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n.kind = fillUint
	case reflect.Float32, reflect.Float64:
		n.kind = fillFloat
	case reflect.Pointer:
		n.kind = fillPtr
		e, ok := planFillMemo(t.Elem(), memo)
		if !ok {
			return nil, false
		}
		n.elem = e
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, false // []byte is base64 in encoding/json
		}
		n.kind = fillSlice
		e, ok := planFillMemo(t.Elem(), memo)
		if !ok {
			return nil, false
		}
		n.elem = e
	case reflect.Map:
		if t.Key().Kind() != reflect.String || reflect.PointerTo(t.Key()).Implements(textUnmarshalerType) {
			return nil, false
		}
		n.kind = fillMap
		e, ok := planFillMemo(t.Elem(), memo)
		if !ok {
			return nil, false
		}
		n.elem = e
	case reflect.Struct:
		n.kind = fillStruct
		n.fields = map[string]fillField{}
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous {
				return nil, false
			}
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			for opt := range strings.SplitSeq(opts, ",") {
				if opt == "string" {
					return nil, false
				}
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := n.fields[name]; dup {
				return nil, false // encoding/json would drop both
			}
			fn, ok := planFillMemo(f.Type, memo)
			if !ok {
				return nil, false
			}
			n.fields[name] = fillField{index: i, node: fn}
		}
	default:
		return nil, false
	}
	return n, true
}

// fill stores the parsed JSON value v into dst, which is settable and
// holds the zero value of n.typ. It reports false where encoding/json
// must decide instead.
func (n *fillNode) fill(dst reflect.Value, v any) bool {
	if n.checks != nil && !n.checks.pass(v) {
		return false
	}
	switch n.kind {
	case fillString:
		s, ok := v.(string)
		if ok {
			dst.SetString(s)
		}
		return ok
	case fillBool:
		b, ok := v.(bool)
		if ok {
			dst.SetBool(b)
		}
		return ok
	case fillInt:
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		i, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || dst.OverflowInt(i) {
			return false
		}
		dst.SetInt(i)
		return true
	case fillUint:
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		u, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil || dst.OverflowUint(u) {
			return false
		}
		dst.SetUint(u)
		return true
	case fillFloat:
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(string(num), n.typ.Bits())
		if err != nil || dst.OverflowFloat(f) {
			return false
		}
		dst.SetFloat(f)
		return true
	case fillStruct:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k, val := range m {
			f, ok := n.fields[k]
			if !ok || !f.node.fill(dst.Field(f.index), val) {
				return false
			}
		}
		return true
	case fillPtr:
		if v == nil {
			return false
		}
		p := reflect.New(n.elem.typ)
		if !n.elem.fill(p.Elem(), v) {
			return false
		}
		dst.Set(p)
		return true
	case fillSlice:
		a, ok := v.([]any)
		if !ok {
			return false
		}
		s := reflect.MakeSlice(n.typ, len(a), len(a))
		for i, e := range a {
			if !n.elem.fill(s.Index(i), e) {
				return false
			}
		}
		dst.Set(s)
		return true
	case fillMap:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		out := reflect.MakeMapWithSize(n.typ, len(m))
		for k, val := range m {
			e := reflect.New(n.elem.typ).Elem()
			if !n.elem.fill(e, val) {
				return false
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(n.typ.Key()), e)
		}
		dst.Set(out)
		return true
	case fillText:
		s, ok := v.(string)
		if !ok {
			return false
		}
		return dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)) == nil
	case fillJSON:
		s, ok := v.(string)
		if !ok {
			return false
		}
		// The original bytes are gone; a string re-encodes to JSON with
		// the same value, which is what UnmarshalJSON reads.
		raw, err := json.Marshal(s)
		return err == nil && dst.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw) == nil
	}
	return false
}

// jsonTypes is the set of JSON types a node accepts, as JSON Schema
// names them; integers are "integer" (and so also "number").
func (n *fillNode) jsonTypes() []string {
	switch n.kind {
	case fillString, fillText, fillJSON:
		return []string{"string"}
	case fillBool:
		return []string{"boolean"}
	case fillInt, fillUint:
		return []string{"integer"}
	case fillFloat:
		return []string{"number"}
	case fillStruct, fillMap:
		return []string{"object"}
	case fillSlice:
		return []string{"array"}
	case fillPtr:
		return n.elem.jsonTypes()
	}
	return nil
}

// reaches reports whether the plan from n has a node of kind k.
func (n *fillNode) reaches(k fillKind, seen map[*fillNode]bool) bool {
	if n == nil || seen[n] {
		return false
	}
	seen[n] = true
	if n.kind == k || n.elem.reaches(k, seen) {
		return true
	}
	for _, f := range n.fields {
		if f.node.reaches(k, seen) {
			return true
		}
	}
	return false
}
