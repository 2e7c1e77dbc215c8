// Package policy decides whether an agent may call a tool: allow, deny, or
// allow only after a person approves. It is the policy engine of the tool
// layer (package tools asks it before every call and records the decision
// in the audit trail).
//
// A policy denies by default. Rules allow, deny or require approval by
// principal (tenant, user, roles, groups), by tool name or risk level, and
// by conditions on the call's arguments. Rules are data, loadable from
// JSON or YAML, or Go values; every Decision names the rule that made it.
// The policy is context-aware: once untrusted content (retrieved
// documents, tool outputs, user uploads) is in the conversation, tools
// above a chosen risk level are refused or need approval, so an
// instruction injected into a document cannot trigger them; and while the
// application's llm.SafeMode is on, tools above a risk level are refused.
//
//	p, err := policy.ParseYAML([]byte(`
//	lists:
//	  approved_recipients: [billing@acme.example, ops@acme.example]
//	rules:
//	  - name: refunds-small
//	    effect: allow
//	    tools: [refund]
//	    roles: [support]
//	    when:
//	      - amount <= 100
//	      - ticket.tenant == principal.tenant
//	  - name: refunds-large
//	    effect: approve
//	    tools: [refund]
//	    roles: [support]
//	    when: [amount > 100]
//	  - name: mail-known-recipients
//	    effect: allow
//	    tools: [send_email]
//	    when: [to in lists.approved_recipients]
//	`))
//	if err != nil {
//		return err // names the line and the rule
//	}
//	d := p.Decide(&policy.Input{
//		Principal: principal,
//		Tool:      "refund",
//		Risk:      policy.RiskExternal,
//		Args:      args, // policy.DecodeArgs(call.Arguments)
//		Untrusted: conversationHasUntrustedContent,
//		SafeMode:  safeMode.Active(),
//	})
//	// d.Effect is Allow, Approve or Deny; d.Rule names the deciding rule.
//
// # Risk levels
//
// Each tool declares a Risk: RiskRead (read-only), RiskWrite (changes
// state inside the application) or RiskExternal (destructive, or an effect
// outside the application such as sending or paying). A tool that declares
// none is treated as RiskExternal.
//
// # Precedence
//
// Decide applies, in this order:
//
//  1. Safe mode. If Input.SafeMode is set and the tool's risk is above
//     Config.SafeMode.AboveRisk (default RiskRead), the call is denied by
//     RuleSafeMode, whatever the rules say.
//  2. Rules. Among the rules that match the call, Deny beats Approve and
//     Approve beats Allow. The deciding rule is the first rule, in the
//     order of Config.Rules, with the winning effect.
//  3. Untrusted context. If Input.Untrusted is set and the tool's risk is
//     above Config.Untrusted.AboveRisk (default RiskRead), the result can
//     only tighten: Allow becomes Config.Untrusted.Effect (Deny by
//     default, or Approve), and Approve becomes Deny if that effect is
//     Deny. The decision then names RuleUntrusted, and its reason names
//     the rule it overrode.
//  4. Default. If no rule matched, the call is denied by RuleDefaultDeny.
//
// A Decide without a tool name is denied by RuleInvalidInput.
//
// # Rules
//
// A rule matches a call when each of its selectors that is set matches
// and every condition in When holds:
//
//	tools      exact names, "*" for every tool, or a prefix and "*" ("crm_*")
//	min_risk   the tool's risk is at least this (read, write, external)
//	max_risk   the tool's risk is at most this
//	tenants    the principal's tenant is one of these
//	users      the principal's user is one of these
//	roles      the principal holds one of these roles
//	groups     the principal belongs to one of these groups
//	when       conditions, all of which must hold
//
// Several rules with the same effect give "or". In a file, every field
// other than name, effect and tools is optional, and unknown or repeated
// fields are errors. The whole format:
//
//	untrusted:               # once untrusted content is in the conversation
//	  above_risk: read       # tools above this risk (default read)
//	  effect: deny           # are denied (default) or need approval
//	safe_mode:
//	  above_risk: read       # tools above this risk are refused in safe mode
//	lists:                   # named lists for conditions: lists.NAME
//	  approved_recipients: [billing@acme.example]
//	rules:
//	  - name: refunds-small  # required, unique
//	    effect: allow        # required: allow, deny or approve
//	    reason: Small refunds for the customer's own ticket.
//	    tools: [refund]      # required
//	    min_risk: write
//	    max_risk: external
//	    tenants: [acme]
//	    users: [u-42]
//	    roles: [support]
//	    groups: [billing]
//	    when: ["amount <= 100", "ticket.tenant == principal.tenant"]
//
// # Conditions
//
// A condition compares values. Its grammar:
//
//	condition  = and { "||" and }
//	and        = unary { "&&" unary }
//	unary      = "!" unary | "(" condition ")" | "exists" "(" path ")" | comparison
//	comparison = operand op operand
//	op         = "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in" | "contains" | "matches"
//	operand    = path | literal | list
//	path       = name { "." name | "[" index "]" | "[" string "]" }
//	           | "args" ( "." name | "[" string "]" ) { ... }
//	           | "principal" "." ( "tenant" | "user" | "roles" | "groups" )
//	           | "tool" | "lists" "." name
//	literal    = number | string | "true" | "false" | "null"
//	list       = "[" [ literal { "," literal } ] "]"
//
// A path that starts with a plain name reads the arguments: amount,
// ticket.tenant, items[0].sku, headers["x-request-id"]. An argument whose
// name is one of tool, principal, lists, args or a keyword (true, false,
// null, in, not, contains, matches, exists) is written args.NAME. Names
// are letters, digits, _ and - (not first). Numbers are written as in
// JSON. Strings are in single or double quotes; a backslash escapes the
// quote or a backslash and is otherwise kept, so regular expressions are
// written as they are: 'INV-\d+'.
//
// The operators:
//
//	== !=             equal (numbers by value: 100 == 100.0); values of
//	                  different types are not equal
//	< <= > >=         numbers by value, strings byte by byte (so ISO 8601
//	                  dates order correctly); a number in a string is a
//	                  string
//	in, not in        membership in a list literal, a named list, an array
//	                  argument, principal.roles or principal.groups. An array
//	                  on the left is "in" when it is non-empty and every
//	                  element is, and "not in" when no element is:
//	                  to in lists.approved_recipients
//	contains          an array holds a value, or a string holds a substring:
//	                  principal.roles contains 'admin'
//	matches           an RE2 regular expression, compiled when the policy
//	                  loads and matched against the whole string (it is
//	                  anchored): recipient matches '.*@acme\.example'
//	exists(path)      the argument is present (even if null); for
//	                  principal fields, non-empty
//	&& || ! ( )       and, or, not, grouping
//
// Numbers are compared exactly: json.Number arguments (see DecodeArgs) as
// decimals, without rounding through float64, so 100.000000000000000001 is
// more than 100; float64 arguments by their shortest decimal form.
//
// A condition over a missing argument is neither true nor false but
// unknown, as is a comparison between values it cannot compare (a string
// ordered against a number, a list compared with ==). An empty
// principal.tenant or principal.user is missing too, so an anonymous
// caller never satisfies ticket.tenant == principal.tenant. Unknown stays
// unknown under ! (and combines with && and || as in SQL), and a rule
// matches only when every condition is true. Allow rules therefore fail
// closed: a call without an amount is not allowed by "amount <= 100", nor
// by "!(amount > 100)". The same makes deny rules fail open, which is why
// they should be written positively and kept as a second line of defence
// behind narrow allow rules: "amount > 5000" denies large amounts, but a
// call that hides its amount is not denied by it (it is, by default, not
// allowed either). To refuse calls that lack an argument, write
// "!exists(amount)".
//
// Mistakes are reported when the policy loads, with the rule, the
// condition and the position: a syntax error, an unknown named list, a
// comparison between two constants (often a path written in quotes), an
// ordering of a list or a boolean, a bad regular expression. Conditions
// are limited to 2 KiB and 32 levels of nesting.
//
// # Performance
//
// New indexes rules by tool name, so Decide only looks at the rules that
// can cover the tool, skips rules that could not beat the effect already
// found, and allocates nothing. BenchmarkPolicyDecide (100 rules over 20
// tools, argument conditions) measures it.
package policy
