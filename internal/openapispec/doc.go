// Package openapispec validates JSON bodies against the component schemas of
// OpenAI's published OpenAPI 3.1 description of its REST API.
//
// It is meant for contract tests: a provider test builds the request body it
// would send (or a response body it must be able to parse) and checks it
// against the schema OpenAI publishes. The description is read from
// ../shared/data/openai-openapi/openapi.yaml relative to the module root (see
// [Path]); tests that use [LoadForTest] are skipped when it is absent, unless
// the environment variable CI is "true", in which case they fail.
//
// Typical use in a test:
//
//	func TestRequestMatchesSpec(t *testing.T) {
//		spec := openapispec.LoadForTest(t)
//		name, err := spec.RequestSchema("POST", "/chat/completions")
//		if err != nil {
//			t.Fatal(err)
//		}
//		v, err := spec.Validator(name, true) // strict: unknown fields fail
//		if err != nil {
//			t.Fatal(err)
//		}
//		body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
//		if err := v.Validate(body); err != nil {
//			t.Errorf("request body does not match the OpenAI spec: %v", err)
//		}
//	}
//
// # From OpenAPI to JSON Schema
//
// Schemas are compiled with github.com/santhosh-tekuri/jsonschema/v6 as JSON
// Schema draft 2020-12. The whole document is registered as a single resource
// (file:///openapi.json), so "#/components/schemas/..." references resolve as
// they do in the OpenAPI document. Keywords unknown to 2020-12
// (discriminator, example, x-*, ...) are ignored. Although the file declares
// OpenAPI 3.1, it still uses some OpenAPI 3.0 / draft 2019-09 constructs;
// [Load] rewrites them, inside components/schemas only:
//
//   - nullable: true becomes a type union with "null" (and null is added to
//     an enum, which is the evident intent: e.g. finish_reason in stream
//     chunks is null until the last chunk). When the schema has no plain
//     type to extend ($ref, allOf, anyOf, oneOf, const, ...), it is wrapped as
//     anyOf: [<schema>, {type: null}]. An allOf branch that says nothing but
//     nullable: true (allOf: [{$ref: X}, {nullable: true}]) makes the parent
//     schema nullable. nullable: false is dropped.
//   - Boolean exclusiveMinimum/exclusiveMaximum (3.0 style) become the
//     numeric 2020-12 form.
//   - $recursiveRef: "#" (2019-09) becomes a $ref to the enclosing component
//     schema, and $recursiveAnchor is dropped.
//   - Duplicate entries in "required" (a defect in ContainerResource) are
//     removed; 2020-12 requires them to be unique.
//
// Format assertions stay off (the 2020-12 default): "format" is an
// annotation only. Of the formats the spec uses (unixtime, binary, double,
// int64, uri, ...) the library only knows uri and date, and checking URIs
// is not what these contract tests are for.
//
// Loading parses about 3 MB of YAML and takes roughly 0.3 s; compiling the
// strict CreateChatCompletionRequest validator the first time adds under
// 0.1 s. [LoadForTest] pays this once per test binary.
//
// # Strict mode
//
// OpenAPI schemas leave additional properties allowed unless they say
// otherwise, so a misspelled field ("temprature") or a field in the wrong
// object would pass a plain validation. [Spec.Validator] with strict set to
// true validates against a copy of the schemas in which objects are closed
// with "unevaluatedProperties": false, following this rule:
//
//	The keyword is added only where the instance location changes: to the
//	schema compiled as the root, and to every schema that is the value of
//	properties/<name>, patternProperties/<re>, additionalProperties, items,
//	prefixItems/<i>, contains or unevaluatedItems. It is added only if that
//	schema does not already have additionalProperties or
//	unevaluatedProperties, and only if some schema reachable from it without
//	changing the instance location ($ref, allOf, anyOf, oneOf, if/then/else,
//	dependentSchemas) declares properties or patternProperties. Schemas
//	applied in place - component schemas as such, allOf/anyOf/oneOf
//	branches - never get the keyword themselves; the root is closed by a
//	small wrapper resource {"$ref": <component>, "unevaluatedProperties":
//	false}.
//
// Because unevaluatedProperties sees the properties evaluated by every
// successful in-place subschema (through $ref, all allOf branches, passing
// anyOf branches and the matching oneOf branch), placing it once at the
// outermost schema of each object location accepts exactly the properties
// declared by the composition that actually matched, and rejects the rest.
// Putting it on the subschemas instead would be wrong: inside allOf each
// branch would reject its siblings' properties (CreateChatCompletionRequest
// is allOf: [CreateModelResponseProperties, {messages, model, ...}]), and a
// component used as a mixin in one place and standalone in another could
// not be closed correctly in both. The branches stay open, so at each
// location the same anyOf/oneOf branches match as in non-strict mode, except
// where a branch fails because of an unknown property deeper down; and a
// strict validator also requires the plain schema to pass, so strict mode
// only ever adds "unknown property" failures. Finally, an object schema that declares nothing about its
// members (type: object with no properties, patternProperties,
// additionalProperties, required or composition) is an open map in
// OpenAPI; strict mode makes that explicit with additionalProperties: true,
// so an enclosing unevaluatedProperties does not reject its members. Free-form
// schemas that already say additionalProperties: true, such as function
// parameters or a json_schema response format's schema, are left open.
//
// When a body fails, the library reports every property of an object whose
// enclosing subschema failed as unevaluated, which buries the real problem.
// [Validator.Validate] therefore reports, in strict mode, the failures of the
// plain schema followed only by the properties that strict mode really
// rejects; see its documentation.
package openapispec
