package structured

import (
	"encoding/json"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The fast path of a Decoder pairs each schema node with the Go type that
// stores its values and splits the node's keywords three ways:
//
//   - implied by the fill plan: "type" where the plan only stores values of
//     the allowed JSON types, and additionalProperties: false on a struct
//     whose fields are exactly the listed properties (the plan refuses
//     other keys);
//   - checked by the plan itself (valueChecks): required, string enums,
//     minLength/maxLength, minItems/maxItems, numeric bounds where they
//     can be compared exactly, and a string's format and pattern (by
//     jsonschema/v6 itself, on the string alone, so the semantics are the
//     library's);
//   - everything else (patterns, formats, const, multipleOf, applicators
//     such as anyOf, ...) stays in a residual schema that jsonschema/v6
//     checks on the parsed tree. Subtrees with nothing left are dropped
//     from it, so jsonschema walks only the values that need it.
//
// Soundness: every keyword of the original is kept in the residual,
// implied by the plan or checked by it with the same semantics, so the
// fast path accepts a document only if the original schema does; anything
// else goes to the reference path. A node with a keyword this file does not
// reason about is kept whole in the residual, with no plan checks.

// valueChecks are the constraints a fill node checks on a JSON value
// before storing it. Each applies only to values of its JSON type, as in
// JSON Schema; the plan refuses values of other types anyway.
type valueChecks struct {
	required           []string
	enum               []string
	minLen, maxLen     int // -1: none
	minItems, maxItems int // -1: none
	bounds             []numBound
	// scalar holds a string's format and pattern, compiled as a schema
	// of their own; scalarDoc collects them while the plan is built.
	scalar    *sjs.Schema
	scalarDoc *object
}

// numBound is one of minimum, maximum, exclusiveMinimum and
// exclusiveMaximum.
type numBound struct {
	lower, exclusive bool
	lit              string  // the bound as written
	f                float64 // lit rounded, for float fields
	i                int64   // lit, for integer fields when isInt
	isInt            bool
}

// pass reports whether v meets every check.
func (c *valueChecks) pass(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, r := range c.required {
			if _, ok := x[r]; !ok {
				return false
			}
		}
	case string:
		if c.enum != nil && !slices.Contains(c.enum, x) {
			return false
		}
		if c.minLen >= 0 || c.maxLen >= 0 {
			n := utf8.RuneCountInString(x)
			if (c.minLen >= 0 && n < c.minLen) || (c.maxLen >= 0 && n > c.maxLen) {
				return false
			}
		}
		if c.scalar != nil && !c.scalarOK(x) {
			return false
		}
	case []any:
		if (c.minItems >= 0 && len(x) < c.minItems) || (c.maxItems >= 0 && len(x) > c.maxItems) {
			return false
		}
	case json.Number:
		for i := range c.bounds {
			if !c.bounds[i].holds(string(x)) {
				return false
			}
		}
	}
	return true
}

// holds reports whether the number literal lit meets the bound, deciding
// exactly: integers as integers, other numbers by their rounded float64
// values where those differ (rounding is monotonic, so a strict order of
// the rounded values is the order of the exact ones) and by exact
// rationals where they are equal.
func (b *numBound) holds(lit string) bool {
	var cmp int
	if i, err := strconv.ParseInt(lit, 10, 64); err == nil && b.isInt {
		cmp = compareInt(i, b.i)
	} else {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return false
		}
		switch {
		case f < b.f:
			cmp = -1
		case f > b.f:
			cmp = 1
		default:
			x, ok1 := new(big.Rat).SetString(lit)
			y, ok2 := new(big.Rat).SetString(b.lit)
			if !ok1 || !ok2 {
				return false
			}
			cmp = x.Cmp(y)
		}
	}
	switch {
	case b.lower && b.exclusive:
		return cmp > 0
	case b.lower:
		return cmp >= 0
	case b.exclusive:
		return cmp < 0
	default:
		return cmp <= 0
	}
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fastCompiler builds a fast path: the fill plan with its checks, and the
// residual schema.
type fastCompiler struct {
	root *object
	// plain shares the check-free plans of types (for subtrees the
	// residual keeps whole), which is how recursive types end.
	plain map[reflect.Type]*fillNode
	// active marks the definitions being compiled, to stop at recursion.
	active map[*object]bool
}

// compileFast returns the plan for t under the schema root and the
// residual schema (with no keys when nothing is left for jsonschema), or
// false when the fast path does not handle t.
func compileFast(root *object, t reflect.Type) (*fillNode, *object, bool) {
	if hasIdentifiers(root) {
		// Moving nodes could change what their references mean: keep
		// the whole schema, and use the plan only for filling.
		n, ok := planFill(t)
		return n, clone(root).(*object), ok
	}
	c := &fastCompiler{root: root, plain: map[reflect.Type]*fillNode{}, active: map[*object]bool{}}
	n, res, ok := c.build(root, t)
	if !ok {
		return nil, nil, false
	}
	if len(res.keys) > 0 {
		if defs, ok := root.vals["$defs"]; ok {
			res.set("$defs", clone(defs))
		}
		if draft, ok := root.vals["$schema"]; ok {
			res.set("$schema", draft)
		}
	}
	return n, res, true
}

// whole returns the plan for t without checks and sch kept whole as its
// residual.
func (c *fastCompiler) whole(sch *object, t reflect.Type) (*fillNode, *object, bool) {
	n, ok := planFillMemo(t, c.plain)
	c2 := clone(sch).(*object)
	c2.del("$defs")
	return n, c2, ok
}

// build compiles the plan for values of t that sch describes.
func (c *fastCompiler) build(sch *object, t reflect.Type) (*fillNode, *object, bool) {
	if _, isRef := sch.vals["$ref"].(string); isRef {
		def := deref(sch, c.root)
		if def == sch || c.active[def] || !onlyKeys(sch, "$ref") {
			return c.whole(sch, t)
		}
		c.active[def] = true
		defer delete(c.active, def)
		return c.build(def, t)
	}
	for _, k := range sch.keys {
		if !isAnnotation(k) && !isReducible(k) {
			return c.whole(sch, t) // a keyword this file does not reason about
		}
	}
	base, ok := planFillMemo(t, map[reflect.Type]*fillNode{})
	if !ok {
		return nil, nil, false
	}
	if base.kind == fillPtr {
		// The plan refuses null, so a pointer's values are its element's.
		e, res, ok := c.build(sch, t.Elem())
		if !ok {
			return nil, nil, false
		}
		return &fillNode{kind: fillPtr, typ: t, elem: e}, res, true
	}
	n := &fillNode{kind: base.kind, typ: t}
	res := newObject()
	chk := valueChecks{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
	var children map[string]*object // the struct's property schemas
	for _, k := range sch.keys {
		v := sch.vals[k]
		if isAnnotation(k) || chk.absorb(k, v, n.kind, sch) {
			continue
		}
		switch k {
		case "type":
			if !typeImplied(v, n) {
				res.set(k, clone(v))
			}
		case "properties":
			props, ok := v.(*object)
			if !ok || n.kind != fillStruct {
				res.set(k, clone(v))
				continue
			}
			children = map[string]*object{}
			for _, name := range props.keys {
				if ps, ok := props.vals[name].(*object); ok {
					children[name] = ps
				}
			}
		case "additionalProperties":
			if a := c.additional(sch, v, n, base); a != nil {
				res.set(k, a)
			}
		case "items":
			items, ok := v.(*object)
			if !ok || n.kind != fillSlice {
				res.set(k, clone(v))
				continue
			}
			e, r, ok := c.build(items, t.Elem())
			if !ok {
				return nil, nil, false
			}
			n.elem = e
			if len(r.keys) > 0 {
				res.set(k, r)
			}
		default:
			res.set(k, clone(v))
		}
	}
	if !chk.compileScalar() {
		return c.whole(sch, t)
	}
	if !chk.empty() {
		n.checks = &chk
	}
	if !c.children(n, base, t, sch, children, res) {
		return nil, nil, false
	}
	return n, res, true
}

// children completes n's element and field plans: with their property
// schemas where sch lists them, check-free otherwise (then the residual
// holds whatever constrains them).
func (c *fastCompiler) children(n, base *fillNode, t reflect.Type, sch *object, props map[string]*object, res *object) bool {
	switch n.kind {
	case fillSlice:
		if n.elem == nil {
			e, ok := planFillMemo(t.Elem(), c.plain)
			if !ok {
				return false
			}
			n.elem = e
		}
	case fillMap:
		if n.elem == nil {
			e, ok := planFillMemo(t.Elem(), c.plain)
			if !ok {
				return false
			}
			n.elem = e
		}
	case fillStruct:
		n.fields = make(map[string]fillField, len(base.fields))
		var resProps *object
		if all, ok := sch.vals["properties"].(*object); ok {
			resProps = newObject()
			// Properties that are not fields are kept as they are.
			for _, name := range all.keys {
				if _, isField := base.fields[name]; !isField {
					resProps.set(name, clone(all.vals[name]))
				}
			}
		}
		for name, f := range base.fields {
			ft := t.Field(f.index).Type
			var fn *fillNode
			if ps, ok := props[name]; ok {
				var r *object
				var ok bool
				if fn, r, ok = c.build(ps, ft); !ok {
					return false
				}
				if len(r.keys) > 0 {
					resProps.set(name, r)
				}
			} else {
				var ok bool
				if fn, ok = planFillMemo(ft, c.plain); !ok {
					return false
				}
			}
			n.fields[name] = fillField{index: f.index, node: fn}
		}
		if resProps != nil && len(resProps.keys) > 0 {
			// Keep the original order of properties.
			ordered := newObject()
			all := sch.vals["properties"].(*object)
			for _, name := range all.keys {
				if v, ok := resProps.vals[name]; ok {
					ordered.set(name, v)
				}
			}
			res.set("properties", ordered)
		}
	}
	return true
}

// additional returns the residual "additionalProperties" of sch, or nil
// when the plan implies it.
func (c *fastCompiler) additional(sch *object, v any, n, base *fillNode) any {
	if v == false && n.kind == fillStruct {
		// The plan refuses keys that are not fields: that is this keyword
		// exactly when every field is a listed property.
		props, _ := sch.vals["properties"].(*object)
		ok := props != nil
		for name := range base.fields {
			if !ok {
				break
			}
			_, ok = props.vals[name]
		}
		if ok {
			return nil
		}
	}
	if a, isObj := v.(*object); isObj && n.kind == fillMap && !hasKey(sch, "properties") && !hasKey(sch, "patternProperties") {
		e, r, ok := c.build(a, n.typ.Elem())
		if ok {
			n.elem = e
			if len(r.keys) == 0 {
				return nil
			}
			return r
		}
	}
	return clone(v)
}

// isReducible reports whether the compiler reasons about keyword k.
func isReducible(k string) bool {
	switch k {
	case "type", "properties", "additionalProperties", "items",
		"enum", "const", "pattern", "format",
		"minLength", "maxLength", "minimum", "maximum",
		"exclusiveMinimum", "exclusiveMaximum", "multipleOf",
		"minItems", "maxItems", "uniqueItems",
		"minProperties", "maxProperties", "required":
		return true
	}
	return false
}

// isAnnotation reports whether keyword k leaves values unconstrained
// ($schema and $defs included: the residual root carries the original's).
func isAnnotation(k string) bool {
	switch k {
	case "title", "description", "examples", "default", "$comment",
		"deprecated", "readOnly", "writeOnly", "$schema", "$defs":
		return true
	}
	return false
}

// absorb takes keyword k (value v) into the checks when a node of kind
// can check it exactly, and reports whether it did.
func (c *valueChecks) absorb(k string, v any, kind fillKind, sch *object) bool {
	switch k {
	case "required":
		list, ok := v.([]any)
		if !ok || kind != fillStruct && kind != fillMap {
			return false
		}
		names := make([]string, 0, len(list))
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return false
			}
			names = append(names, s)
		}
		c.required = names
		return true
	case "enum":
		list, ok := v.([]any)
		if !ok || !stringKind(kind) {
			return false
		}
		vals := make([]string, 0, len(list))
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return false
			}
			vals = append(vals, s)
		}
		c.enum = vals
		return true
	case "format", "pattern":
		if _, ok := v.(string); !ok || !stringKind(kind) {
			return false
		}
		if c.scalarDoc == nil {
			c.scalarDoc = newObject()
		}
		c.scalarDoc.set(k, v)
		return true
	case "minLength", "maxLength":
		n, ok := nonNegInt(v)
		if !ok || !stringKind(kind) {
			return false
		}
		if k == "minLength" {
			c.minLen = n
		} else {
			c.maxLen = n
		}
		return true
	case "minItems", "maxItems":
		n, ok := nonNegInt(v)
		if !ok || kind != fillSlice {
			return false
		}
		if k == "minItems" {
			c.minItems = n
		} else {
			c.maxItems = n
		}
		return true
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		num, ok := v.(json.Number)
		if !ok || (kind != fillInt && kind != fillUint && kind != fillFloat) {
			return false
		}
		b := numBound{lower: k == "minimum" || k == "exclusiveMinimum", exclusive: k == "exclusiveMinimum" || k == "exclusiveMaximum", lit: string(num)}
		f, err := strconv.ParseFloat(b.lit, 64)
		if err != nil {
			return false
		}
		b.f = f
		if i, err := strconv.ParseInt(b.lit, 10, 64); err == nil {
			b.i, b.isInt = i, true
		}
		c.bounds = append(c.bounds, b)
		return true
	}
	return false
}

func (c *valueChecks) empty() bool {
	return c.required == nil && c.enum == nil && c.minLen < 0 && c.maxLen < 0 &&
		c.minItems < 0 && c.maxItems < 0 && len(c.bounds) == 0 && c.scalarDoc == nil
}

// compileScalar compiles the collected format and pattern, reporting
// false if jsonschema/v6 refuses them (the node then cannot take them).
func (c *valueChecks) compileScalar() bool {
	if c.scalarDoc == nil {
		return true
	}
	doc, err := json.Marshal(c.scalarDoc)
	if err != nil {
		return false
	}
	c.scalar, err = compileOriginal("scalar", doc)
	return err == nil
}

// scalarOK checks s against the compiled format and pattern the way the
// library's validator does (Schema.Format.Validate, Schema.Pattern), without
// building a validator for one string; the "regex" format, which the
// library checks with its regexp engine, goes through Validate.
func (c *valueChecks) scalarOK(s string) bool {
	if f := c.scalar.Format; f != nil {
		if f.Name == "regex" {
			return c.scalar.Validate(s) == nil
		}
		if f.Validate(s) != nil {
			return false
		}
	}
	return c.scalar.Pattern == nil || c.scalar.Pattern.MatchString(s)
}

func stringKind(k fillKind) bool { return k == fillString || k == fillText || k == fillJSON }

// nonNegInt reads a non-negative integer keyword value.
func nonNegInt(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(num), 10, 32)
	return int(i), err == nil && i >= 0
}

// typeImplied reports whether the plan n only ever stores values of the
// JSON types the "type" keyword value v allows.
func typeImplied(v any, n *fillNode) bool {
	var allowed []string
	switch t := v.(type) {
	case string:
		allowed = []string{t}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				allowed = append(allowed, s)
			}
		}
	}
	got := n.jsonTypes()
	if len(got) == 0 {
		return false
	}
	for _, g := range got {
		if !slices.Contains(allowed, g) && !(g == "integer" && slices.Contains(allowed, "number")) {
			return false
		}
	}
	return true
}

// hasIdentifiers reports whether the schema tree v declares base URIs or
// anchors anywhere.
func hasIdentifiers(v any) bool {
	switch x := v.(type) {
	case *object:
		for _, k := range x.keys {
			switch k {
			case "$id", "$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef", "$recursiveAnchor":
				return true
			}
			if hasIdentifiers(x.vals[k]) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasIdentifiers(e) {
				return true
			}
		}
	}
	return false
}

func onlyKeys(o *object, keys ...string) bool {
	for _, k := range o.keys {
		if !slices.Contains(keys, k) && !isAnnotation(k) {
			return false
		}
	}
	return true
}

func hasKey(o *object, k string) bool {
	_, ok := o.vals[k]
	return ok
}
