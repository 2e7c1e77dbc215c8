package structured

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file checks a JSON Schema against OpenAI's Structured Outputs strict
// subset. It is written from the published rules, independently of the
// transform that produces strict schemas, so that it can prove that
// transform right; it shares no code with it.
//
// Sources relied on (as of February 2026):
//   - OpenAI, "Structured Outputs — Supported schemas"
//     (platform.openai.com/docs/guides/structured-outputs#supported-schemas),
//     as summarised by jsonschemaprofiles.unitvectorylabs.com/schemas/openai
//     (February 2026 baseline): the supported types and keywords, root
//     must be an object and not anyOf, additionalProperties false and every
//     property required, and the limits (5,000 properties, 10 levels,
//     120,000 characters, 1,000 enum values, 15,000 characters for one
//     string enum of more than 250 values).
//   - community.openai.com/t/932422: the API answers "'oneOf' is not
//     permitted"; openai/openai-agents-python src/agents/strict_schema.py
//     rewrites oneOf into anyOf because strict mode lacks it. So oneOf is
//     unsupported here.
//   - 567-labs/instructor#1074: "'default' is not permitted" in strict
//     mode; openai/openai-python strips null defaults before sending;
//     openai/openai-agents-python#4390: Azure OpenAI still rejects
//     non-null defaults (api.openai.com accepted one in a 2026 test). A
//     schema must work on every OpenAI-compatible endpoint, so default is
//     unsupported here.
//   - openai/openai-python src/openai/lib/_pydantic.py ("we can't use
//     $refs if there are also other properties defined"): a $ref must
//     stand alone, so any keyword next to $ref is a problem.

// StrictProblem is one reason a schema falls outside OpenAI's strict subset.
type StrictProblem struct {
	// Path is the JSON Pointer (RFC 6901) of the schema or keyword at
	// fault, "" for the whole document, e.g. "/properties/items/items".
	Path string
	// Rule is a short, stable identifier of the rule broken, such as
	// "additional-properties"; CheckStrict documents the full list.
	Rule string
	// Message explains the problem for a person.
	Message string
}

// String formats the problem as "path: message (rule)", with "(root)" for
// the empty path.
func (p StrictProblem) String() string {
	path := p.Path
	if path == "" {
		path = "(root)"
	}
	return path + ": " + p.Message + " (" + p.Rule + ")"
}

// StrictError lists every reason a schema is not accepted in strict mode.
// Callers inspect Problems rather than parse the message.
type StrictError struct {
	// Problems holds at least one problem, in a deterministic order: the
	// schema walk from the root (a schema's own problems before its
	// subschemas'), then its definitions, then the limits. At most 100
	// are kept, which bounds the memory a hostile schema can cost.
	Problems []StrictProblem
	// Omitted counts the problems found past those kept in Problems.
	Omitted int
}

// stErrorListed is how many problems Error spells out; the rest are counted.
const stErrorListed = 5

// Error lists the first few problems and the total count.
func (e *StrictError) Error() string {
	var b strings.Builder
	n := len(e.Problems) + e.Omitted
	fmt.Fprintf(&b, "structured: schema is not valid in strict mode: %d problem", n)
	if n != 1 {
		b.WriteString("s")
	}
	listed := min(len(e.Problems), stErrorListed)
	for i, p := range e.Problems[:listed] {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	if n > listed {
		fmt.Fprintf(&b, "; and %d more", n-listed)
	}
	return b.String()
}

// Rule identifiers reported in StrictProblem.Rule.
const (
	stRuleInvalidJSON       = "invalid-json"
	stRuleSchemaNotObject   = "schema-not-object"
	stRuleRootType          = "root-type"
	stRuleUnsupportedKw     = "unsupported-keyword"
	stRuleKeywordForType    = "keyword-for-type"
	stRuleKeywordValue      = "keyword-value"
	stRuleType              = "type"
	stRuleTypeUnion         = "type-union"
	stRuleNullType          = "null-type"
	stRuleMissingType       = "missing-type"
	stRuleAdditionalProps   = "additional-properties"
	stRuleProperties        = "properties"
	stRuleRequired          = "required"
	stRuleItems             = "items"
	stRuleFormat            = "format"
	stRuleAnyOf             = "anyof"
	stRuleRef               = "ref"
	stRuleRefSiblings       = "ref-siblings"
	stRuleDefs              = "defs"
	stRuleEnum              = "enum"
	stRuleConst             = "const"
	stRuleMaxProperties     = "max-properties"
	stRuleMaxDepth          = "max-depth"
	stRuleMaxStringLength   = "max-string-length"
	stRuleMaxEnumValues     = "max-enum-values"
	stRuleEnumStringLength  = "enum-string-length"
	stMaxProblems           = 100
	stLimitProperties       = 5000
	stLimitDepth            = 10
	stLimitStringLength     = 120000
	stLimitEnumValues       = 1000
	stLimitLargeEnum        = 250
	stLimitLargeEnumStrings = 15000
)

// stType is a set of JSON Schema type names, as bits.
type stType uint8

const (
	stTString stType = 1 << iota
	stTNumber
	stTInteger
	stTBoolean
	stTObject
	stTArray
	stTNull
)

// stTypeByName maps the supported type names to their bit. A function
// rather than a package-level map, so there is no mutable package state.
func stTypeByName(name string) stType {
	switch name {
	case "string":
		return stTString
	case "number":
		return stTNumber
	case "integer":
		return stTInteger
	case "boolean":
		return stTBoolean
	case "object":
		return stTObject
	case "array":
		return stTArray
	case "null":
		return stTNull
	}
	return 0
}

// stKeywordTypes says which types a supported keyword belongs to (0 for
// keywords valid on any schema), whether it is valid only at the root, and
// ok=false for keywords strict mode does not support at all.
func stKeywordTypes(kw string) (types stType, rootOnly, ok bool) {
	switch kw {
	case "type", "description", "title", "enum", "const", "anyOf", "$ref":
		return 0, false, true
	case "$defs", "definitions", "$schema", "$id":
		return 0, true, true
	case "pattern", "format":
		return stTString, false, true
	case "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum":
		return stTNumber | stTInteger, false, true
	case "items", "minItems", "maxItems":
		return stTArray, false, true
	case "properties", "required", "additionalProperties":
		return stTObject, false, true
	}
	return 0, false, false
}

// stFormatSupported reports whether strict mode accepts a string format.
func stFormatSupported(f string) bool {
	switch f {
	case "date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid":
		return true
	}
	return false
}

// stUnsupportedHint adds advice for the unsupported keywords people reach
// for most often.
func stUnsupportedHint(kw string) string {
	switch kw {
	case "oneOf":
		return "; use anyOf"
	case "allOf":
		return "; merge the subschemas into one object"
	case "default":
		return "; describe the default in description"
	case "minLength", "maxLength":
		return "; use pattern"
	case "prefixItems":
		return "; use an object instead of a tuple"
	case "additionalItems", "unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems":
		return "; items, minItems and maxItems are the only array keywords"
	}
	return ""
}

// stChecker holds the state of one CheckStrict call.
type stChecker struct {
	root     map[string]any
	problems []StrictProblem

	properties int // property keys over every properties map
	strLen     int // characters of property and definition names, enum and const values
	enumValues int // values over every enum

	omitted int // problems past stMaxProblems

	// Depth walk state (see depth).
	onStack  map[string]bool
	seen     map[stDepthState]bool
	reported map[string]bool
}

// stDepthState is a definition entered at an object level; entering it
// again at the same level cannot find anything new.
type stDepthState struct {
	def   string
	level int
}

// CheckStrict reports whether schema (the value sent as
// response_format.json_schema.schema, or as a strict function's
// parameters) is accepted by OpenAI's Structured Outputs in strict mode. It
// returns nil when it is, and otherwise a *StrictError listing every
// problem found, not just the first (the first 100 in full, the rest
// counted in Omitted). It never panics, whatever the input.
//
// The rules, with the Rule identifier each problem carries:
//
//   - invalid-json: the input is not one JSON value.
//   - schema-not-object: a schema (the root, a property, items, an anyOf
//     branch, a definition) is not a JSON object; boolean schemas are not
//     supported.
//   - root-type: the root is not {"type": "object", ...}; a root anyOf or
//     $ref, or a nullable root, is refused.
//   - unsupported-keyword: a keyword outside the subset (oneOf, allOf, not,
//     if/then/else, default, minLength, patternProperties, prefixItems,
//     uniqueItems, ...), or $defs, definitions, $schema or $id anywhere but
//     the root. Supported everywhere: type, description, title, enum,
//     const, anyOf, $ref; for strings pattern and format; for numbers and
//     integers multipleOf, minimum, maximum, exclusiveMinimum,
//     exclusiveMaximum; for arrays items, minItems, maxItems; for objects
//     properties, required, additionalProperties.
//   - keyword-for-type: a supported keyword on a schema whose type does
//     not take it (pattern on an integer, items without type array).
//   - keyword-value: a keyword's value has the wrong shape (a non-string
//     description, a negative minItems, a zero multipleOf, ...).
//   - type, type-union, null-type, missing-type: type must be one of
//     string, number, integer, boolean, object, array, or a two-element
//     union of one of them with "null" (["string", "null"]); "null" alone
//     is only valid as an anyOf branch; a schema needs a type unless it is
//     an enum, a const, an anyOf or a $ref.
//   - additional-properties: an object schema without
//     "additionalProperties": false.
//   - properties, required: an object schema must have properties and
//     required, and required must list every property exactly once and
//     nothing else. An object without properties is written
//     "properties": {}, "required": [].
//   - items: an array schema must have items, and it must be one schema.
//   - format: a format other than date-time, time, date, duration, email,
//     hostname, ipv4, ipv6, uuid.
//   - anyof: anyOf is not a non-empty array, or sits next to keywords
//     other than description and title.
//   - ref, ref-siblings: $ref must be "#", "#/$defs/Name" or
//     "#/definitions/Name" naming an existing definition (no
//     percent-decoding; ~0 and ~1 are decoded), and must stand alone.
//     Recursion through $ref is allowed.
//   - defs: $defs or definitions is not an object of schemas.
//   - enum, const: enum must be a non-empty array; enum and const values
//     must be strings, numbers, booleans or null, and fit the declared type.
//   - max-properties: more than 5,000 properties in total, counting the
//     keys of every properties object in the document once (a definition
//     counts once, however often it is referenced).
//   - max-depth: more than 10 levels of object nesting. The root object is
//     level 1; every object schema (a schema whose type includes "object")
//     below another adds one, whether reached through properties, items or
//     anyOf. $refs are followed from the root, but a $ref to a definition
//     already being followed (recursion) is not, so recursive schemas
//     count their cycle once. Levels are counted on the paths from the
//     root, so a definition nothing refers to is not measured. The
//     problem's path is the first object schema too deep (inside $defs
//     when reached through a $ref).
//   - max-string-length: property names, definition names, enum values
//     and const values add up to more than 120,000 characters (Unicode
//     code points; a non-string value counts the length of its JSON text).
//   - max-enum-values: more than 1,000 enum values in the whole schema.
//   - enum-string-length: one enum of more than 250 values whose strings
//     add up to more than 15,000 characters.
func CheckStrict(schema []byte) error {
	root, err := stDecode(schema)
	if err != nil {
		return &StrictError{Problems: []StrictProblem{{Path: "", Rule: stRuleInvalidJSON, Message: err.Error()}}}
	}
	c := &stChecker{}
	c.run(root)
	if len(c.problems) == 0 {
		return nil
	}
	return &StrictError{Problems: c.problems, Omitted: c.omitted}
}

// stDecode parses exactly one JSON value, keeping numbers as json.Number
// so that integers and their text survive exactly.
func stDecode(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty input, want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed JSON: data after the schema")
	}
	return v, nil
}

// add records a problem at path. Past stMaxProblems it only counts them,
// which bounds the memory a hostile schema can make CheckStrict use.
func (c *stChecker) add(path *stPath, rule, format string, args ...any) {
	if len(c.problems) >= stMaxProblems {
		c.omitted++
		return
	}
	c.problems = append(c.problems, StrictProblem{Path: path.String(), Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (c *stChecker) run(v any) {
	root, ok := v.(map[string]any)
	if !ok {
		c.add(nil, stRuleSchemaNotObject, "the schema is %s, want a JSON object with \"type\": \"object\"", stDescribe(v))
		return
	}
	c.root = root
	c.checkRoot(root)
	c.schema(root, nil, true, false)
	for _, kw := range []string{"$defs", "definitions"} {
		raw, present := root[kw]
		if !present {
			continue
		}
		defs, ok := raw.(map[string]any)
		if !ok {
			c.add(stPathOf(kw), stRuleDefs, "%s is %s, want an object of named schemas", kw, stDescribe(raw))
			continue
		}
		for _, name := range stSortedKeys(defs) {
			c.strLen += utf8.RuneCountInString(name)
			c.schema(defs[name], stPathOf(kw).at(name), false, false)
		}
	}
	c.depth()
	c.limits()
}

// checkRoot applies the rules that only the root has.
func (c *stChecker) checkRoot(root map[string]any) {
	if _, ok := root["anyOf"]; ok {
		c.add(nil, stRuleRootType, "the root must be an object schema, not anyOf")
	}
	if _, ok := root["$ref"]; ok {
		c.add(nil, stRuleRootType, "the root must be an object schema, not a $ref; inline the referenced object at the root")
	}
	t, present := root["type"]
	switch {
	case !present:
		c.add(nil, stRuleRootType, "the root needs \"type\": \"object\"")
	case t != "object":
		if list, ok := t.([]any); !ok || len(list) != 1 || list[0] != "object" {
			c.add(nil, stRuleRootType, "the root type is %s, want \"object\" (the root cannot be nullable or a union)", stJSON(t))
		}
	}
	for _, kw := range []string{"$schema", "$id"} {
		if v, ok := root[kw]; ok {
			if _, isStr := v.(string); !isStr {
				c.add(stPathOf(kw), stRuleKeywordValue, "%s is %s, want a string", kw, stDescribe(v))
			}
		}
	}
}

// schema checks one schema position, then walks into its subschemas. Every
// schema in the document is visited once here, which is also where the
// property, string and enum totals are counted.
func (c *stChecker) schema(v any, path *stPath, isRoot, inAnyOf bool) {
	node, ok := v.(map[string]any)
	if !ok {
		c.add(path, stRuleSchemaNotObject, "a schema must be a JSON object, got %s", stDescribe(v))
		return
	}
	// The schema's own problems come first, then its keywords', then its
	// subschemas', so that problems read top-down.
	types, typed := c.types(node, path, inAnyOf)
	if _, hasType := node["type"]; !hasType && !isRoot {
		_, hasEnum := node["enum"]
		_, hasConst := node["const"]
		_, hasAnyOf := node["anyOf"]
		_, hasRef := node["$ref"]
		if !hasEnum && !hasConst && !hasAnyOf && !hasRef {
			c.add(path, stRuleMissingType, "the schema has no type (nor enum, const, anyOf or $ref)")
		}
	}
	if types&stTObject != 0 {
		c.object(node, path)
	}
	if types&stTArray != 0 {
		if _, ok := node["items"]; !ok {
			c.add(path, stRuleItems, "an array schema needs items")
		}
	}

	keys := stSortedKeys(node)
	_, hasRef := node["$ref"]
	_, hasAnyOf := node["anyOf"]
	for _, kw := range keys {
		kwTypes, rootOnly, supported := stKeywordTypes(kw)
		p := path.at(kw)
		switch {
		case !supported:
			c.add(p, stRuleUnsupportedKw, "%q is not supported in strict mode%s", kw, stUnsupportedHint(kw))
			continue
		case rootOnly && !isRoot:
			c.add(p, stRuleUnsupportedKw, "%q is only supported at the root of the schema", kw)
			continue
		case kwTypes != 0 && types&kwTypes == 0:
			if typed {
				c.add(p, stRuleKeywordForType, "%q does not apply to type %s", kw, stJSON(node["type"]))
			} else {
				c.add(p, stRuleKeywordForType, "%q needs a type that takes it (%s)", kw, stTypeNames(kwTypes))
			}
		}
		switch {
		case hasRef && kw != "$ref" && !(rootOnly && isRoot):
			c.add(p, stRuleRefSiblings, "%q next to $ref is not supported; a $ref must stand alone", kw)
		case hasAnyOf && !isRoot && kw != "anyOf" && kw != "description" && kw != "title" && kw != "$ref":
			c.add(p, stRuleAnyOf, "%q next to anyOf is not supported; move it into the branches", kw)
		}
		c.keyword(node, kw, p)
	}
	c.subschemas(node, path)
}

// subschemas walks the schemas inside node: properties (by name), items,
// then anyOf branches. Shapes that are not schemas were reported by
// keyword.
func (c *stChecker) subschemas(node map[string]any, path *stPath) {
	if props, ok := node["properties"].(map[string]any); ok {
		pp := path.at("properties")
		for _, name := range stSortedKeys(props) {
			c.schema(props[name], pp.at(name), false, false)
		}
	}
	if items, ok := node["items"]; ok {
		if _, isList := items.([]any); !isList {
			c.schema(items, path.at("items"), false, false)
		}
	}
	if list, ok := node["anyOf"].([]any); ok {
		ap := path.at("anyOf")
		for i, branch := range list {
			c.schema(branch, ap.at(strconv.Itoa(i)), false, true)
		}
	}
}

// types reads the type keyword, reporting what is wrong with it. typed is
// false when there is no usable type; types is what the schema declares.
func (c *stChecker) types(node map[string]any, path *stPath, inAnyOf bool) (types stType, typed bool) {
	raw, present := node["type"]
	if !present {
		return 0, false
	}
	p := path.at("type")
	var names []any
	switch t := raw.(type) {
	case string:
		names = []any{t}
	case []any:
		names = t
		if len(t) == 0 {
			c.add(p, stRuleTypeUnion, "an empty type array allows nothing")
			return 0, false
		}
	default:
		c.add(p, stRuleType, "type is %s, want a type name or [type, \"null\"]", stDescribe(raw))
		return 0, false
	}
	for _, n := range names {
		s, ok := n.(string)
		bit := stTypeByName(s)
		if !ok || bit == 0 {
			c.add(p, stRuleType, "%s is not a supported type; use string, number, integer, boolean, object, array or null", stJSON(n))
			continue
		}
		if types&bit != 0 {
			c.add(p, stRuleTypeUnion, "type %q is listed twice", s)
		}
		types |= bit
	}
	if types == 0 {
		return 0, false
	}
	nonNull := types &^ stTNull
	switch {
	case nonNull == 0 && !inAnyOf:
		c.add(p, stRuleNullType, "type \"null\" alone is only supported as an anyOf branch; use [T, \"null\"]")
	case nonNull&(nonNull-1) != 0:
		c.add(p, stRuleTypeUnion, "type %s is a union of several types; only [T, \"null\"] is supported, use anyOf", stJSON(raw))
	}
	return types, true
}

// keyword checks the value of one supported keyword, at p; subschemas
// walks the schemas it holds.
func (c *stChecker) keyword(node map[string]any, kw string, p *stPath) {
	v := node[kw]
	switch kw {
	case "description", "title", "pattern":
		if _, ok := v.(string); !ok {
			c.add(p, stRuleKeywordValue, "%s is %s, want a string", kw, stDescribe(v))
		}
	case "format":
		s, ok := v.(string)
		switch {
		case !ok:
			c.add(p, stRuleKeywordValue, "format is %s, want a string", stDescribe(v))
		case !stFormatSupported(s):
			c.add(p, stRuleFormat, "format %q is not supported; use date-time, time, date, duration, email, hostname, ipv4, ipv6 or uuid, or a pattern", s)
		}
	case "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum":
		f, ok := stNumber(v)
		switch {
		case !ok:
			c.add(p, stRuleKeywordValue, "%s is %s, want a number", kw, stDescribe(v))
		case kw == "multipleOf" && !(f > 0):
			c.add(p, stRuleKeywordValue, "multipleOf must be greater than 0")
		}
	case "minItems", "maxItems":
		if f, ok := stNumber(v); !ok || f < 0 || f != math.Trunc(f) {
			c.add(p, stRuleKeywordValue, "%s is %s, want a non-negative integer", kw, stJSON(v))
		}
	case "additionalProperties":
		if v != false {
			c.add(p, stRuleAdditionalProps, "additionalProperties is %s, want false", stJSON(v))
		}
	case "items":
		if _, isList := v.([]any); isList {
			c.add(p, stRuleItems, "items must be one schema, not an array (tuples are not supported)")
		}
	case "properties":
		props, ok := v.(map[string]any)
		if !ok {
			c.add(p, stRuleProperties, "properties is %s, want an object of schemas", stDescribe(v))
			return
		}
		c.properties += len(props)
		for name := range props {
			c.strLen += utf8.RuneCountInString(name)
		}
	case "required":
		// Checked against properties by object.
	case "anyOf":
		if list, ok := v.([]any); !ok || len(list) == 0 {
			c.add(p, stRuleAnyOf, "anyOf is %s, want a non-empty array of schemas", stJSON(v))
		}
	case "$ref":
		c.ref(v, p)
	case "enum":
		c.enum(node, v, p)
	case "const":
		c.strLen += stValueLen(v)
		if why := stValueFits(node, v); why != "" {
			c.add(p, stRuleConst, "const %s %s", stJSON(v), why)
		}
	case "type", "$defs", "definitions", "$schema", "$id":
		// type: read by types; the rest: checked by run and checkRoot.
	}
}

// object applies the object rules: additionalProperties false, properties
// present, and required naming every property exactly once.
func (c *stChecker) object(node map[string]any, path *stPath) {
	if _, ok := node["additionalProperties"]; !ok {
		c.add(path, stRuleAdditionalProps, "an object schema needs \"additionalProperties\": false")
	}
	rawProps, hasProps := node["properties"]
	props, _ := rawProps.(map[string]any)
	// A missing properties counts as empty for required; a malformed one
	// (reported by keyword) leaves the names unknown.
	propsKnown := !hasProps || props != nil
	if !hasProps {
		c.add(path, stRuleProperties, "an object schema needs properties (\"properties\": {} when it has none)")
	}
	rawReq, hasReq := node["required"]
	if !hasReq {
		if len(props) > 0 {
			c.add(path, stRuleRequired, "an object schema needs required listing every property: missing %s", stQuoteList(stSortedKeys(props)))
		} else {
			c.add(path, stRuleRequired, "an object schema needs required (\"required\": [] when it has no properties)")
		}
		return
	}
	p := path.at("required")
	list, ok := rawReq.([]any)
	if !ok {
		c.add(p, stRuleRequired, "required is %s, want an array of property names", stDescribe(rawReq))
		return
	}
	listed := make(map[string]bool, len(list))
	for i, item := range list {
		name, ok := item.(string)
		switch {
		case !ok:
			c.add(p.at(strconv.Itoa(i)), stRuleRequired, "required lists %s, want a property name", stDescribe(item))
			continue
		case listed[name]:
			c.add(p.at(strconv.Itoa(i)), stRuleRequired, "required lists %q twice", name)
		case propsKnown && !stHasKey(props, name):
			c.add(p.at(strconv.Itoa(i)), stRuleRequired, "required lists %q, which is not in properties", name)
		}
		listed[name] = true
	}
	var missing []string
	for _, name := range stSortedKeys(props) {
		if !listed[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		c.add(p, stRuleRequired, "every property must be required; missing %s (make a property optional with [T, \"null\"])", stQuoteList(missing))
	}
}

// enum checks one enum and counts its values and characters.
func (c *stChecker) enum(node map[string]any, v any, p *stPath) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		c.add(p, stRuleEnum, "enum is %s, want a non-empty array of values", stJSON(v))
		return
	}
	c.enumValues += len(list)
	strChars := 0
	for i, item := range list {
		n := stValueLen(item)
		c.strLen += n
		if _, isStr := item.(string); isStr {
			strChars += n
		}
		if why := stValueFits(node, item); why != "" {
			c.add(p.at(strconv.Itoa(i)), stRuleEnum, "enum value %s %s", stJSON(item), why)
		}
	}
	if len(list) > stLimitLargeEnum && strChars > stLimitLargeEnumStrings {
		c.add(p, stRuleEnumStringLength, "an enum of %d values (more than %d) has strings of %d characters in total, the limit is %d", len(list), stLimitLargeEnum, strChars, stLimitLargeEnumStrings)
	}
}

// ref checks that a $ref is one of the supported in-document forms and
// that it resolves.
func (c *stChecker) ref(v any, p *stPath) {
	s, ok := v.(string)
	if !ok {
		c.add(p, stRuleRef, "$ref is %s, want a string", stDescribe(v))
		return
	}
	if _, _, why := c.resolve(s); why != "" {
		c.add(p, stRuleRef, "$ref %q %s", s, why)
	}
}

// resolve finds the target of a $ref. key identifies the definition
// ("" for the root); why is non-empty when the $ref is not supported or
// does not resolve.
func (c *stChecker) resolve(ref string) (target any, key, why string) {
	if ref == "#" {
		return c.root, "", ""
	}
	for _, kw := range []string{"$defs", "definitions"} {
		prefix := "#/" + kw + "/"
		if !strings.HasPrefix(ref, prefix) {
			continue
		}
		rest := ref[len(prefix):]
		if rest == "" || strings.Contains(rest, "/") {
			return nil, "", "must name a definition directly: #/" + kw + "/Name"
		}
		name := rest
		if strings.Contains(rest, "~") {
			name = strings.NewReplacer("~1", "/", "~0", "~").Replace(rest)
		}
		defs, ok := c.root[kw].(map[string]any)
		if !ok {
			return nil, "", "does not resolve: the root has no " + kw + " object"
		}
		target, ok := defs[name]
		if !ok {
			return nil, "", fmt.Sprintf("does not resolve: %s has no %q", kw, name)
		}
		return target, kw + "/" + name, ""
	}
	if !strings.HasPrefix(ref, "#") {
		return nil, "", "points outside the document; only \"#\", \"#/$defs/Name\" and \"#/definitions/Name\" are supported"
	}
	return nil, "", "is not supported; only \"#\", \"#/$defs/Name\" and \"#/definitions/Name\" are"
}

// depth walks the schema from the root, following $refs, and reports
// object schemas deeper than the limit (see CheckStrict for how levels are
// counted). Each (definition, level) pair is walked at most once, which
// bounds the work on schemas whose references fan out.
func (c *stChecker) depth() {
	if c.root == nil {
		return
	}
	c.onStack = map[string]bool{"": true} // "" is the root: "#" is always recursion
	c.seen = map[stDepthState]bool{}
	c.reported = map[string]bool{}
	c.depthWalk(c.root, nil, 0)
}

func (c *stChecker) depthWalk(v any, path *stPath, level int) {
	node, ok := v.(map[string]any)
	if !ok {
		return
	}
	if stDeclaredTypes(node)&stTObject != 0 {
		level++
		if level > stLimitDepth {
			if at := path.String(); !c.reported[at] {
				c.reported[at] = true
				c.add(path, stRuleMaxDepth, "object nesting reaches level %d here (the root object is level 1); the limit is %d", level, stLimitDepth)
			}
			return
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		pp := path.at("properties")
		for _, name := range stSortedKeys(props) {
			c.depthWalk(props[name], pp.at(name), level)
		}
	}
	if items, ok := node["items"]; ok {
		c.depthWalk(items, path.at("items"), level)
	}
	if list, ok := node["anyOf"].([]any); ok {
		ap := path.at("anyOf")
		for i, branch := range list {
			c.depthWalk(branch, ap.at(strconv.Itoa(i)), level)
		}
	}
	if ref, ok := node["$ref"].(string); ok {
		target, key, why := c.resolve(ref)
		if why != "" || c.onStack[key] {
			return // unresolved (reported already) or recursion
		}
		state := stDepthState{def: key, level: level}
		if c.seen[state] {
			return
		}
		c.seen[state] = true
		c.onStack[key] = true
		kw, name, _ := strings.Cut(key, "/")
		c.depthWalk(target, stPathOf(kw).at(name), level)
		delete(c.onStack, key)
	}
}

// limits reports the whole-schema limits counted during the walk.
func (c *stChecker) limits() {
	if c.properties > stLimitProperties {
		c.add(nil, stRuleMaxProperties, "the schema has %d object properties in total, the limit is %d", c.properties, stLimitProperties)
	}
	if c.strLen > stLimitStringLength {
		c.add(nil, stRuleMaxStringLength, "property names, definition names, enum and const values add up to %d characters, the limit is %d", c.strLen, stLimitStringLength)
	}
	if c.enumValues > stLimitEnumValues {
		c.add(nil, stRuleMaxEnumValues, "the schema has %d enum values in total, the limit is %d", c.enumValues, stLimitEnumValues)
	}
}

// stDeclaredTypes reads the type keyword without judging it, for the depth
// walk (the main walk has reported what is wrong with it).
func stDeclaredTypes(node map[string]any) stType {
	switch t := node["type"].(type) {
	case string:
		return stTypeByName(t)
	case []any:
		var types stType
		for _, n := range t {
			if s, ok := n.(string); ok {
				types |= stTypeByName(s)
			}
		}
		return types
	}
	return 0
}

// stValueFits says why an enum or const value cannot appear in strict
// mode or does not fit the schema's declared type, or "" when it fits.
func stValueFits(node map[string]any, v any) string {
	var need stType
	switch x := v.(type) {
	case string:
		need = stTString
	case bool:
		need = stTBoolean
	case nil:
		need = stTNull
	case json.Number:
		need = stTNumber
		if f, ok := stNumber(x); ok && f == math.Trunc(f) {
			need |= stTInteger // 1.0 is an integer too
		}
	default:
		return "is " + stDescribe(v) + "; only strings, numbers, booleans and null are supported"
	}
	declared := stDeclaredTypes(node)
	if declared == 0 || declared&need != 0 {
		return ""
	}
	return "does not match type " + stJSON(node["type"])
}

// stValueLen is the number of characters a value adds to the string
// limit: code points for a string, the JSON text for anything else.
func stValueLen(v any) int {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x)
	case json.Number:
		return len(x.String())
	case bool:
		if x {
			return 4
		}
		return 5
	case nil:
		return 4
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return utf8.RuneCount(b)
}

// stNumber reads a JSON number.
func stNumber(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// stDescribe names the JSON kind of a value for messages.
func stDescribe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// stJSON renders a small value for a message, cut short when long.
func stJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return stDescribe(v)
	}
	const max = 60
	if len(b) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		return string(b[:cut]) + "…"
	}
	return string(b)
}

// stTypeNames lists the names of a type set for messages.
func stTypeNames(t stType) string {
	var names []string
	for _, n := range []string{"string", "number", "integer", "boolean", "object", "array", "null"} {
		if t&stTypeByName(n) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, " or ")
}

// stQuoteList quotes names for messages, at most ten of them.
func stQuoteList(names []string) string {
	const max = 10
	var b strings.Builder
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}

// stPath is a JSON Pointer built one reference token at a time; it is
// rendered only when a problem is reported, so walking a deep schema costs
// one small allocation a level rather than a copy of the whole path.
type stPath struct {
	up  *stPath
	seg string // unescaped
}

// stPathOf returns the pointer to a member of the root; nil is the root.
func stPathOf(seg string) *stPath { return &stPath{seg: seg} }

// at returns the pointer to seg inside p.
func (p *stPath) at(seg string) *stPath { return &stPath{up: p, seg: seg} }

// String renders the pointer, escaping ~ and / in each token (RFC 6901).
func (p *stPath) String() string {
	var segs []string
	for q := p; q != nil; q = q.up {
		segs = append(segs, q.seg)
	}
	var b strings.Builder
	for i := len(segs) - 1; i >= 0; i-- {
		b.WriteByte('/')
		seg := segs[i]
		if strings.ContainsAny(seg, "~/") {
			seg = strings.NewReplacer("~", "~0", "/", "~1").Replace(seg)
		}
		b.WriteString(seg)
	}
	return b.String()
}

// stHasKey reports whether m has key k.
func stHasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// stSortedKeys returns the keys of m in order, so that problems come out
// in the same order on every run.
func stSortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
