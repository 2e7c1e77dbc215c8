// Package prompt keeps an application's prompts as versioned files and
// renders them into requests whose untrusted content stays marked: a
// template cannot launder user input or retrieved text into trusted
// instructions.
//
// A prompt version is one file. It names the prompt, its version, its
// variables (with their type and whether their value is trusted), the
// default model and parameters, and optionally the type of its output. A
// Registry loads every file of an embed.FS or a directory, pins versions,
// and serves a default version and a canary version by weight. Rendering
// returns an *llm.Request whose Prompt field (name, version and content
// hash) travels into telemetry (keel.prompt.* span attributes), the cache
// key and evaluation reports, so a regression can be traced to a prompt
// change.
//
//	//go:embed prompts
//	var promptFiles embed.FS
//
//	sub, _ := fs.Sub(promptFiles, "prompts")
//	prompts, err := prompt.Load(sub, prompt.WithSchemas(map[string]*structured.Schema{"Ticket": ticketSchema}))
//	if err != nil {
//		return err // every broken file is listed, with its line
//	}
//	req, err := prompts.Render("support-answer", principal, prompt.Vars{
//		"product":  "Acme Mail",       // declared trusted
//		"articles": retrievedTexts,    // untrusted: one part each
//		"question": userQuestion,      // untrusted
//	})
//	resp, err := model.Generate(ctx, req)
//
// # Files
//
// A prompt file is named NAME@VERSION.prompt or NAME/VERSION.prompt, and
// its header must agree with its name, so the file of a version is found
// by name and a copied file whose header was not updated is caught. The
// header is YAML front matter between two lines of ---, or a JSON object
// (the file's first non-blank character is {) followed by a new line; the
// template body follows. Unknown and repeated header fields are errors, so
// a misspelt field is never silently ignored.
//
//	---
//	name: support-answer            # letters, digits, . _ - (required)
//	version: v3                     # same alphabet (required)
//	description: Answers from the help centre.
//	model: gpt-4o-mini              # Request.Model
//	temperature: 0.2                # Request.Temperature, 0 to 2
//	top_p: 1                        # Request.TopP, (0, 1]
//	max_output_tokens: 400          # Request.MaxOutputTokens
//	reasoning_effort: low           # minimal, low, medium or high
//	variables:
//	  - name: product
//	    type: string                # string (default), int, number, bool, strings, json
//	    trusted: true               # default false
//	    description: Product name, from configuration.
//	    example: Acme Mail          # used by prompttest.Check
//	  - name: question
//	    example: How do I reset my password?
//	output: Ticket                  # a schema given with WithSchemas...
//	output_schema: {type: object}   # ...or an inline JSON Schema
//	---
//	[system]
//	You are the support assistant for {{.product}}.
//
//	[user]
//	{{.question}}
//
// The content hash (Template.Hash) is the SHA-256 of the whole file, so
// any edit, header included, changes it.
//
// An output type is either named by output and looked up among the
// schemas given with WithSchemas (usually structured.SchemaFor of a Go
// type), or written inline as output_schema (YAML, JSON, or a string that
// holds JSON) and compiled with structured.CompileSchema under the name
// output, or the prompt's name when output is absent. A rendered request
// then asks for it through Request.ResponseFormat.
//
// # Body
//
// The body is Go text/template text, cut into messages by role lines: a
// line that is exactly [system], [developer], [user] or [assistant] starts
// a message with that role. Role lines are found before templating, so no
// value can open a new message; a literal role line is written as
// {{"[user]"}}. Each section is a template of its own ({{if}} cannot span
// two sections; {{define}}, {{block}} and {{template}} are refused).
// Whitespace around a message is trimmed, and a section that renders to
// nothing is left out, so a conditional section is optional. Template
// errors, and every error below, name the file and line.
//
// Parsing checks that every variable the template refers to is declared
// and that every declared variable is used: a retrieved context declared
// but forgotten in the template is a bug, not a warning. Rendering uses
// missingkey=error: it never prints <no value>.
//
// # Provenance
//
// Text written in the template is trusted; so are the values of variables
// declared trusted. The values of untrusted variables (the default) of the
// text types (string, strings, json) never reach the template: it is
// executed with a random sentinel in place of each, and its output is cut
// at the sentinels, so the template's text becomes llm.Trusted parts and
// each untrusted value becomes an llm.UntrustedText part of its own, with
// Source "prompt:NAME@VERSION:var:VARIABLE" (or the Source of an llm.Part
// passed as the value, such as a retrieved document's). Because the
// template only ever sees a sentinel, an untrusted value cannot be
// transformed into trusted text, and text in it that looks like a role
// line, a template action or a sentinel is inert.
//
// Computing on a sentinel would give wrong results silently, so the parser
// allows an untrusted variable only where its value is not needed:
// printed whole ({{.question}}), tested for emptiness ({{if .question}},
// {{with .question}}{{.}}{{end}}), or, for a strings list, ranged over
// ({{range .articles}}{{.}}{{end}}, {{range $i, $a := .articles}}). Piping
// it into a function, comparing it, slicing it, taking its length, or
// printing the whole variable set is a parse error. Declare the variable
// trusted if the template must compute on it, which is a statement that
// the application vouches for the value. An llm.Part marked Untrusted
// passed for a trusted variable is refused (ErrProvenance).
//
// An untrusted variable may appear in a [system] or [developer] section:
// the message's role does not promote its parts, whose provenance is
// explicit, so guards (which may wrap untrusted parts with spotlighting)
// and tool policies see it as untrusted all the same. Numbers and booleans
// are type-checked and so carry no text; they are substituted like
// trusted values whatever their declaration says.
//
// Rendering fails with a *RenderError naming the variable when a declared
// variable is missing (ErrMissingVariable), an undeclared one is given
// (ErrUnknownVariable), or a value has the wrong type (ErrVariableType).
// Error messages never contain values.
//
// # Versions, rollout and canaries
//
// A Registry is immutable once loaded; Live holds the current one for an
// application that reloads prompts at run time. Get returns a prompt's
// default version, Version pins one (for evaluations and replays), Select
// chooses the version for a principal, and Registry.Render selects and
// renders. The rollout file, rollout.yaml at the root of the loaded file
// system, says which version serves, one line per prompt:
//
//	support-answer: {default: v3, canary: v4, canary_percent: 10}
//	summarize: v2          # shorthand for {default: v2}
//
// A prompt with one version needs no line; a prompt with several must
// name its default, so adding a version file never changes what is served
// by itself. A rollback is one edit: canary_percent: 0 stops the canary,
// default: v3 goes back to v3.
//
// The canary share is chosen by a stable hash of the prompt (salted with
// "keel.prompt/" and its name), the tenant and the user: a user sees the
// same version on every call and in every process while the rollout stays
// the same, raising the share only moves users into the canary, a
// principal without a user is placed by tenant, and an anonymous one
// always gets the default.
//
// # Prompt canaries and model routing
//
// The two choices are made at different times and recorded separately.
// The prompt version is chosen first, when the request is rendered: it
// sets Request.Prompt and, through its header, the default Request.Model
// and parameters. Model routing (llm.Router) then chooses which Model
// serves the request, by its rules and weighted arms; it records its
// choice on Response.Route, and a fallback records the Model that answered
// on Response.Target. Telemetry puts both on the call's span (keel.prompt.name,
// keel.prompt.version and keel.prompt.hash; keel.route and keel.target), and
// the cache key includes the prompt reference.
//
// The prompt hash is salted differently from every llm.Router rule (a
// rule's default salt is its name, which cannot contain a slash), so the
// two canaries split users independently: with a 10% prompt canary and a
// 10% model canary, about 1% of users are in both, and a regression seen
// in one canary is not confounded with the other. To couple them
// deliberately (a new prompt written for a new model), give the prompt
// version the model in its header and have a route rule match it with
// RouteRule.Match on req.Prompt.Version.
package prompt
