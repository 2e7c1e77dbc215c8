package structured

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The transform into OpenAI's strict subset of JSON Schema (Structured
// Outputs, "supported schemas"). The strict schema is what the provider
// sees; the original is what answers are validated against, so keywords
// strict mode does not support (minLength, uniqueItems, unsupported
// formats...) are dropped here but still enforced.
//
// OpenAI's API description accepts any schema object; the transform's
// output is checked by CheckStrict, an independent implementation of the
// rules, in this package's tests.

// strictKeep lists the keywords strict mode accepts; others are dropped
// (annotations and constraints the original schema still enforces) or,
// when dropping would change which values are valid in a way validation
// cannot make up for, make the type inexpressible (strictStructural).
var strictKeep = map[string]bool{
	"type": true, "description": true, "title": true, "enum": true, "const": true,
	"anyOf": true, "$ref": true, "$defs": true,
	"properties": true, "required": true, "additionalProperties": true, "items": true,
	"pattern": true, "format": true,
	"multipleOf": true, "maximum": true, "exclusiveMaximum": true, "minimum": true, "exclusiveMinimum": true,
	"minItems": true, "maxItems": true,
}

// strictStructural lists keywords whose meaning strict mode cannot carry:
// a schema that uses them has no strict form.
var strictStructural = map[string]bool{
	"allOf": true, "not": true, "if": true, "then": true, "else": true,
	"dependentSchemas": true, "dependentRequired": true, "patternProperties": true,
	"propertyNames": true, "prefixItems": true, "contains": true,
	"unevaluatedProperties": true, "unevaluatedItems": true, "$dynamicRef": true,
}

// strictFormats are the string formats strict mode supports.
var strictFormats = map[string]bool{
	"date-time": true, "time": true, "date": true, "duration": true, "email": true,
	"hostname": true, "ipv4": true, "ipv6": true, "uuid": true,
}

// defName is what a $defs name may be: refs are JSON pointers, and
// generic type names ("Page[pkg.Item]") carry characters that are better
// kept out of them.
var (
	defName      = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	defNameStrip = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// normalizeDefs renames $defs entries whose names are not plain and
// rewrites the refs to them, in place, and moves draft-07 "definitions"
// to "$defs".
func normalizeDefs(root *object) {
	if d, ok := root.get("definitions"); ok {
		if _, has := root.get("$defs"); !has {
			root.set("$defs", d)
			root.del("definitions")
			rewriteRefs(root, func(ref string) string {
				if rest, ok := strings.CutPrefix(ref, "#/definitions/"); ok {
					return "#/$defs/" + rest
				}
				return ref
			})
		}
	}
	defs, ok := root.vals["$defs"].(*object)
	if !ok {
		return
	}
	renames := map[string]string{}
	taken := map[string]bool{}
	for _, k := range defs.keys {
		if defName.MatchString(k) {
			taken[k] = true
		}
	}
	for _, k := range defs.keys {
		if defName.MatchString(k) {
			continue
		}
		base := strings.Trim(defNameStrip.ReplaceAllString(k, "_"), "_")
		if base == "" {
			base = "def"
		}
		name := base
		for i := 2; taken[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		taken[name] = true
		renames[k] = name
	}
	if len(renames) == 0 {
		return
	}
	renamed := newObject()
	for _, k := range defs.keys {
		n := k
		if r, ok := renames[k]; ok {
			n = r
		}
		renamed.set(n, defs.vals[k])
	}
	root.set("$defs", renamed)
	rewriteRefs(root, func(ref string) string {
		if rest, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
			if r, ok := renames[rest]; ok {
				return "#/$defs/" + r
			}
		}
		return ref
	})
}

// rewriteRefs replaces every $ref string in the tree.
func rewriteRefs(v any, f func(string) string) {
	switch x := v.(type) {
	case *object:
		for _, k := range x.keys {
			if k == "$ref" {
				if s, ok := x.vals[k].(string); ok {
					x.vals[k] = f(s)
				}
				continue
			}
			rewriteRefs(x.vals[k], f)
		}
	case []any:
		for _, e := range x {
			rewriteRefs(e, f)
		}
	}
}

// strictifier turns a schema tree into its strict form, noting why when
// it has none.
type strictifier struct {
	defs     *object
	problems []string
}

// toStrict returns the strict form of root (a deep copy; root is not
// changed), or an error listing what strict mode cannot express.
func toStrict(root *object) (*object, error) {
	r := clone(root).(*object)
	for _, k := range []string{"$schema", "$id", "$comment", "$anchor"} {
		r.del(k)
	}
	s := &strictifier{}
	s.defs, _ = r.vals["$defs"].(*object)
	// A root that is a reference (invopop's default) is inlined: strict
	// mode wants an object schema at the root.
	if ref, ok := r.vals["$ref"].(string); ok {
		def, err := s.resolve(ref)
		if err != nil {
			return nil, err
		}
		r.del("$ref")
		for _, k := range def.keys {
			if _, has := r.get(k); !has {
				r.set(k, clone(def.vals[k]))
			}
		}
	}
	if t, _ := r.vals["type"].(string); t != "object" {
		s.problems = append(s.problems, "the root is not an object")
	}
	out := s.node(r, "#", false).(*object)
	if s.defs != nil {
		// Only the definitions the schema refers to are sent: every byte
		// of the schema is input tokens on every call (the root type's own
		// definition, once inlined, is often unused).
		defs := newObject()
		for _, k := range s.defs.keys {
			defs.set(k, s.node(s.defs.vals[k], "#/$defs/"+k, false))
		}
		used := map[string]bool{}
		var mark func(v any)
		mark = func(v any) {
			switch x := v.(type) {
			case *object:
				for _, k := range x.keys {
					if ref, ok := x.vals[k].(string); ok && k == "$ref" {
						name, ok := strings.CutPrefix(ref, "#/$defs/")
						if ok && !used[name] {
							used[name] = true
							mark(defs.vals[name])
						}
						continue
					}
					if k != "$defs" {
						mark(x.vals[k])
					}
				}
			case []any:
				for _, e := range x {
					mark(e)
				}
			}
		}
		mark(out)
		kept := newObject()
		for _, k := range defs.keys {
			if used[k] {
				kept.set(k, defs.vals[k])
			}
		}
		if len(kept.keys) > 0 {
			out.set("$defs", kept)
		}
	}
	if len(s.problems) > 0 {
		return nil, errors.New(strings.Join(s.problems, "; "))
	}
	return out, nil
}

// resolve returns the definition ref points to.
func (s *strictifier) resolve(ref string) (*object, error) {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok || s.defs == nil {
		return nil, fmt.Errorf("reference %q does not point into $defs", ref)
	}
	def, ok := s.defs.vals[name].(*object)
	if !ok {
		return nil, fmt.Errorf("reference %q points to no definition", ref)
	}
	return def, nil
}

func (s *strictifier) fail(path, format string, args ...any) {
	s.problems = append(s.problems, path+": "+fmt.Sprintf(format, args...))
}

// node returns the strict form of the schema v found at path; optional
// says the property it describes may be left out, which strict mode
// expresses as a union with null.
func (s *strictifier) node(v any, path string, optional bool) any {
	o, ok := v.(*object)
	if !ok || len(o.keys) == 0 {
		s.fail(path, "any value is allowed here, which strict mode cannot express; use a concrete type")
		return v
	}
	// A reference with other keywords beside it is inlined: strict mode
	// does not accept siblings of $ref.
	if ref, ok := o.vals["$ref"].(string); ok && len(o.keys) > 1 && ref != "#" {
		if def, err := s.resolve(ref); err == nil {
			merged := clone(def).(*object)
			for _, k := range o.keys {
				if k != "$ref" {
					merged.set(k, clone(o.vals[k]))
				}
			}
			o = merged
		}
	}
	out := newObject()
	for _, k := range o.keys {
		val := o.vals[k]
		switch {
		case k == "oneOf":
			// The exclusive "one of" becomes "any of"; validation against
			// the original schema still holds the answer to exactly one.
			out.set("anyOf", s.each(val, path+"/oneOf"))
		case k == "anyOf":
			out.set("anyOf", s.each(val, path+"/anyOf"))
		case k == "$defs":
			// Handled once, at the root.
		case k == "items":
			out.set("items", s.node(val, path+"/items", false))
		case k == "properties", k == "required", k == "additionalProperties":
			// Handled with the object below.
		case k == "format":
			if f, _ := val.(string); strictFormats[f] {
				out.set(k, val)
			}
		case strictStructural[k]:
			s.fail(path, "keyword %q has no equivalent in strict mode", k)
		case strictKeep[k]:
			out.set(k, clone(val))
		}
	}
	if isObjectSchema(o) {
		s.object(o, out, path)
	}
	if optional {
		return nullable(out)
	}
	return out
}

// each transforms a list of schemas.
func (s *strictifier) each(v any, path string) []any {
	list, ok := v.([]any)
	if !ok {
		s.fail(path, "not a list of schemas")
		return nil
	}
	out := make([]any, len(list))
	for i, e := range list {
		out[i] = s.node(e, fmt.Sprintf("%s/%d", path, i), false)
	}
	return out
}

// isObjectSchema reports whether o describes objects.
func isObjectSchema(o *object) bool {
	switch t := o.vals["type"].(type) {
	case string:
		return t == "object"
	case []any:
		for _, e := range t {
			if e == "object" {
				return true
			}
		}
	}
	_, props := o.get("properties")
	return props
}

// object writes the strict form of object schema o into out: every
// property required (the ones that were optional made nullable), and no
// other properties allowed.
func (s *strictifier) object(o, out *object, path string) {
	props, _ := o.vals["properties"].(*object)
	if ap, ok := o.get("additionalProperties"); ok && ap != false {
		if props == nil || len(props.keys) == 0 {
			s.fail(path, "a map (an object with arbitrary keys) cannot be expressed in strict mode; use a struct or a list of key/value objects")
		} else {
			s.fail(path, "an object that allows properties beyond the listed ones cannot be expressed in strict mode")
		}
	}
	required := map[string]bool{}
	if list, ok := o.vals["required"].([]any); ok {
		for _, r := range list {
			if name, ok := r.(string); ok {
				required[name] = true
			}
		}
	}
	sp := newObject()
	names := make([]any, 0)
	if props != nil {
		for _, k := range props.keys {
			sp.set(k, s.node(props.vals[k], path+"/properties/"+k, !required[k]))
			names = append(names, k)
		}
	}
	out.set("properties", sp)
	out.set("required", names)
	out.set("additionalProperties", false)
}

// nullable returns o widened to also accept null.
func nullable(o *object) *object {
	if _, ok := o.get("$ref"); ok {
		return anyOfNull(o)
	}
	if list, ok := o.vals["anyOf"].([]any); ok {
		for _, e := range list {
			if e, ok := e.(*object); ok && e.vals["type"] == "null" && len(e.keys) == 1 {
				return o
			}
		}
		o.set("anyOf", append(list, nullSchema()))
		return o
	}
	if _, ok := o.get("const"); ok {
		return anyOfNull(o)
	}
	if isObjectSchema(o) {
		// An object made nullable is a union, the form strict mode
		// documents for it.
		return anyOfNull(o)
	}
	switch t := o.vals["type"].(type) {
	case string:
		if t != "null" {
			o.set("type", []any{t, "null"})
		}
	case []any:
		has := false
		for _, e := range t {
			has = has || e == "null"
		}
		if !has {
			o.set("type", append(t, "null"))
		}
	default:
		return anyOfNull(o)
	}
	if enum, ok := o.vals["enum"].([]any); ok {
		has := false
		for _, e := range enum {
			has = has || e == nil
		}
		if !has {
			o.set("enum", append(enum, nil))
		}
	}
	return o
}

// anyOfNull returns {"anyOf": [o, {"type": "null"}]}, keeping o's
// description on the outside where a model reads it.
func anyOfNull(o *object) *object {
	out := newObject()
	if d, ok := o.get("description"); ok {
		out.set("description", d)
		o.del("description")
	}
	out.set("anyOf", []any{o, nullSchema()})
	return out
}

func nullSchema() *object {
	n := newObject()
	n.set("type", "null")
	return n
}
