package llm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"
)

// Router is a Model that chooses, for each request, which of several Models
// serves it: by ordered rules (tenant, feature, estimated input size, tools,
// images, risk tag, a custom predicate), and within a rule by weights, for
// canaries and A/B tests. Build one with NewRouter; it is safe for
// concurrent use and never changes after construction.
//
// # Position in the stack
//
// A Router is a Model, not a Middleware: a Middleware wraps one next Model,
// while a Router chooses among several, each usually its own stack of
// fallback, retry, rate limit and timeout. It is therefore the innermost
// Model of the upper half of the canonical stack, where the stack fans out:
//
//	// Each route is its own stack: fallback → retry → rate limit → timeout → provider.
//	router, err := llm.NewRouter(llm.RouterOptions{
//		Rules: []llm.RouteRule{
//			{Name: "long-context", MinInputTokens: 16_000, Model: longStack},
//			{Name: "chat", Arms: []llm.RouteArm{
//				{Name: "stable", Weight: 95, Model: stableStack},
//				{Name: "canary", Weight: 5, Model: canaryStack},
//			}},
//		},
//	})
//	model := llm.Chain(router, telemetry, guard, cache, budget)
//
// # Rules
//
// Rules are tried in order and the first whose criteria all hold wins; a
// criterion left at its zero value does not constrain. When no rule
// matches, the Default route serves; without one the call fails with an
// *Error of KindInvalidRequest. Estimated input tokens come from
// EstimateInputTokens, a cheap upper bound computed at most once per call,
// and only when a rule with a token bound is reached. Cheap criteria are
// checked first and a custom Match last.
//
// # Weights and stickiness
//
// A rule with Arms splits its traffic by weight. The split is sticky per
// principal: the arm is chosen from a stable 64-bit hash (FNV-1a followed by
// the murmur3 finaliser) of the rule's salt, the tenant and the user,
// separated by zero bytes, so a user sees the same arm on every call, in
// every process, and across restarts and deploys. The salt defaults to the
// rule name; rules with different salts split the same users
// independently, and changing a salt reshuffles its experiment. A request
// with a tenant but no user is sticky per tenant; a request with neither
// gets a fresh random arm per call.
//
// Arms own consecutive slices of the hash space in the order listed, so
// ramping up a canary listed last (95/5, then 90/10, then 50/50) only moves
// users into it: nobody flips back and forth between arms while it grows.
//
// # Route names
//
// The route taken is recorded on Response.Route, and on the first event of a
// stream: the rule name for a rule with one Model ("long-context"), or rule
// and arm joined by a slash for a weighted rule ("chat/canary"). The
// Response the inner Model returns is annotated in place; as for every
// middleware that annotates, it belongs to the caller. A Route already set
// by a Model below (a nested Router) is overwritten with this Router's
// choice.
//
// # Safe mode
//
// While RouterOptions.SafeMode is active, every request, including one no
// rule would match, goes to RouterOptions.SafeRoute (typically the cheap or
// most reliable model) and is recorded under that route's name. Safe mode is
// read once per call, when the decision is made.
//
// Choosing a route allocates nothing: route names are built at construction,
// the hash reads strings in place, and no rule criterion allocates (a custom
// Match function is the caller's own).
type Router struct {
	rules    []routeRule
	def      *routeRule
	safeMode *SafeMode
	safe     *routeTarget
}

var _ Model = (*Router)(nil)

// RouterOptions configures a Router.
type RouterOptions struct {
	// Rules are tried in order; the first that matches a request chooses
	// its Model.
	Rules []RouteRule
	// Default serves requests no rule matches. Its match criteria must be
	// empty; its Name defaults to "default". It may be weighted. Nil means
	// a request no rule matches fails with KindInvalidRequest.
	Default *RouteRule
	// SafeMode, when non-nil and active, sends every request to SafeRoute.
	// Nil means never active.
	SafeMode *SafeMode
	// SafeRoute names the route that serves every request while SafeMode
	// is active: the name of a rule with a single Model ("cheap"), or of
	// one arm of a weighted rule ("chat/stable"). Required when SafeMode is
	// set; checked whenever it is set.
	SafeRoute string
}

// RouteRule is one routing rule: criteria that must all hold for a request,
// and the Model (or weighted Arms) that serves the requests it matches.
// Criteria at their zero value do not constrain, so a rule without any
// matches every request.
type RouteRule struct {
	// Name identifies the rule in route names, telemetry and errors. It is
	// required, must be unique and may not contain a slash.
	Name string

	// Tenants matches requests whose Principal.Tenant is in the list.
	Tenants []string
	// Features matches requests whose Feature is in the list.
	Features []string
	// Risks matches requests whose Risk tag is in the list.
	Risks []string
	// MinInputTokens and MaxInputTokens bound EstimateInputTokens of the
	// request, inclusive; zero leaves that side unbounded.
	MinInputTokens int
	MaxInputTokens int
	// Tools requires the request to have tool definitions
	// (PresenceRequired) or to have none (PresenceForbidden).
	Tools Presence
	// Images requires the request to contain an image part
	// (PresenceRequired) or none (PresenceForbidden).
	Images Presence
	// Match, when set, must also return true. It runs after every other
	// criterion has held, must be safe for concurrent use and must not
	// modify the request.
	Match func(*Request) bool

	// Model serves the rule's requests. Set exactly one of Model and Arms.
	Model Model
	// Arms split the rule's requests by weight, sticky per principal.
	Arms []RouteArm
	// Salt seeds the hash that assigns principals to Arms; it defaults to
	// Name. Rules with different salts split the same users independently;
	// give two rules the same salt to assign users to arms in lockstep.
	Salt string
}

// RouteArm is one weighted branch of a rule: a stable model and a canary,
// or the variants of an A/B test.
type RouteArm struct {
	// Name identifies the arm; the route is recorded as "rule/arm". It is
	// required, unique within its rule, and may not contain a slash.
	Name string
	// Weight is the arm's relative share of the rule's traffic. Weights
	// must be non-negative and not all zero; an arm of weight zero gets no
	// traffic but may still be the SafeRoute.
	Weight int
	// Model serves the arm's requests.
	Model Model
}

// Presence says whether a rule requires something to be present in a
// request, requires it to be absent, or does not care.
type Presence uint8

// The presence requirements. The zero value does not constrain.
const (
	// PresenceAny matches whether or not the thing is present.
	PresenceAny Presence = iota
	// PresenceRequired matches only requests that have it.
	PresenceRequired
	// PresenceForbidden matches only requests that do not have it.
	PresenceForbidden
)

// String returns "any", "required" or "forbidden".
func (p Presence) String() string {
	switch p {
	case PresenceAny:
		return "any"
	case PresenceRequired:
		return "required"
	case PresenceForbidden:
		return "forbidden"
	default:
		return fmt.Sprintf("presence(%d)", uint8(p))
	}
}

// routeTarget is one Model a Router may choose, with its precomputed route
// name.
type routeTarget struct {
	name  string
	model Model
}

// routeRule is a validated, compiled RouteRule.
type routeRule struct {
	name                     string
	tenants, features, risks routeSet
	minTokens, maxTokens     int
	tools, images            Presence
	match                    func(*Request) bool
	targets                  []routeTarget
	// cum holds the cumulative weights of targets; total is the last.
	cum   []uint64
	total uint64
	salt  string
}

// routeSetMapAt is the size from which a routeSet uses a map: below it a
// linear scan of a few strings is faster than hashing.
const routeSetMapAt = 8

// routeSet is a set of strings, matched without allocating.
type routeSet struct {
	list []string
	m    map[string]struct{}
}

func newRouteSet(values []string) routeSet {
	if len(values) < routeSetMapAt {
		return routeSet{list: append([]string(nil), values...)}
	}
	m := make(map[string]struct{}, len(values))
	for _, v := range values {
		m[v] = struct{}{}
	}
	return routeSet{m: m}
}

// empty reports whether the set places no constraint.
func (s *routeSet) empty() bool { return s.list == nil && s.m == nil }

func (s *routeSet) contains(v string) bool {
	if s.m != nil {
		_, ok := s.m[v]
		return ok
	}
	for _, x := range s.list {
		if x == v {
			return true
		}
	}
	return false
}

// NewRouter validates opts and returns a Router. Configuration mistakes are
// reported here rather than on the first call: no rules and no default, a
// rule without a name, a duplicate or slash-containing name, a rule with
// both or neither of Model and Arms, a nil Model, a negative weight, arms
// whose weights are all zero, a negative or inverted token range, an
// unknown Presence, criteria on the Default route, a rule that matches
// everything placed before other rules or a default, and a SafeRoute that
// is missing while SafeMode is set, unknown, or names a weighted rule
// rather than one of its arms.
func NewRouter(opts RouterOptions) (*Router, error) {
	r := &Router{safeMode: opts.SafeMode}
	seen := make(map[string]bool)
	routes := make(map[string]*routeTarget)
	weighted := make(map[string]bool)

	compile := func(rule *RouteRule, what string) (routeRule, error) {
		c, err := compileRouteRule(rule, what)
		if err != nil {
			return c, err
		}
		if seen[c.name] {
			return c, fmt.Errorf("llm: router: %s: duplicate rule name %q", what, c.name)
		}
		seen[c.name] = true
		if len(rule.Arms) > 0 {
			weighted[c.name] = true
		}
		return c, nil
	}

	r.rules = make([]routeRule, 0, len(opts.Rules))
	for i := range opts.Rules {
		rule := &opts.Rules[i]
		what := fmt.Sprintf("rule %d (%q)", i, rule.Name)
		c, err := compile(rule, what)
		if err != nil {
			return nil, err
		}
		if i > 0 && r.rules[i-1].matchesAll() {
			return nil, fmt.Errorf("llm: router: %s is unreachable: rule %q before it matches every request", what, r.rules[i-1].name)
		}
		r.rules = append(r.rules, c)
	}
	if opts.Default != nil {
		d := *opts.Default
		if d.Name == "" {
			d.Name = "default"
		}
		if d.hasCriteria() {
			return nil, fmt.Errorf("llm: router: default route %q has match criteria; make it a rule instead", d.Name)
		}
		if n := len(r.rules); n > 0 && r.rules[n-1].matchesAll() {
			return nil, fmt.Errorf("llm: router: default route is unreachable: rule %q matches every request", r.rules[n-1].name)
		}
		c, err := compile(&d, "default route")
		if err != nil {
			return nil, err
		}
		r.def = &c
	}

	if len(r.rules) == 0 && r.def == nil {
		return nil, errors.New("llm: router: no rules and no default route")
	}
	for i := range r.rules {
		for j := range r.rules[i].targets {
			t := &r.rules[i].targets[j]
			routes[t.name] = t
		}
	}
	if r.def != nil {
		for j := range r.def.targets {
			t := &r.def.targets[j]
			routes[t.name] = t
		}
	}

	switch {
	case opts.SafeRoute != "":
		t, ok := routes[opts.SafeRoute]
		if !ok {
			if weighted[opts.SafeRoute] {
				return nil, fmt.Errorf("llm: router: SafeRoute %q names a weighted rule; name one of its arms (%q)",
					opts.SafeRoute, opts.SafeRoute+"/<arm>")
			}
			return nil, fmt.Errorf("llm: router: SafeRoute %q names no route", opts.SafeRoute)
		}
		r.safe = t
	case opts.SafeMode != nil:
		return nil, errors.New("llm: router: SafeMode is set but SafeRoute is empty")
	}
	return r, nil
}

// hasCriteria reports whether rule constrains requests at all.
func (rule *RouteRule) hasCriteria() bool {
	return len(rule.Tenants) > 0 || len(rule.Features) > 0 || len(rule.Risks) > 0 ||
		rule.MinInputTokens != 0 || rule.MaxInputTokens != 0 ||
		rule.Tools != PresenceAny || rule.Images != PresenceAny || rule.Match != nil
}

func compileRouteRule(rule *RouteRule, what string) (routeRule, error) {
	c := routeRule{
		name:      rule.Name,
		tenants:   newRouteSet(rule.Tenants),
		features:  newRouteSet(rule.Features),
		risks:     newRouteSet(rule.Risks),
		minTokens: rule.MinInputTokens,
		maxTokens: rule.MaxInputTokens,
		tools:     rule.Tools,
		images:    rule.Images,
		match:     rule.Match,
		salt:      rule.Salt,
	}
	if err := checkRouteName(rule.Name); err != nil {
		return c, fmt.Errorf("llm: router: %s: rule %w", what, err)
	}
	if c.salt == "" {
		c.salt = c.name
	}
	if c.minTokens < 0 || c.maxTokens < 0 {
		return c, fmt.Errorf("llm: router: %s: negative token bound", what)
	}
	if c.maxTokens > 0 && c.minTokens > c.maxTokens {
		return c, fmt.Errorf("llm: router: %s: MinInputTokens %d > MaxInputTokens %d", what, c.minTokens, c.maxTokens)
	}
	if c.tools > PresenceForbidden || c.images > PresenceForbidden {
		return c, fmt.Errorf("llm: router: %s: unknown Presence value", what)
	}
	switch {
	case rule.Model != nil && len(rule.Arms) > 0:
		return c, fmt.Errorf("llm: router: %s: set Model or Arms, not both", what)
	case rule.Model != nil:
		c.targets = []routeTarget{{name: c.name, model: rule.Model}}
		c.cum = []uint64{1}
		c.total = 1
		return c, nil
	case len(rule.Arms) == 0:
		return c, fmt.Errorf("llm: router: %s: no Model and no Arms", what)
	}
	c.targets = make([]routeTarget, len(rule.Arms))
	c.cum = make([]uint64, len(rule.Arms))
	arms := make(map[string]bool, len(rule.Arms))
	for i, a := range rule.Arms {
		if err := checkRouteName(a.Name); err != nil {
			return c, fmt.Errorf("llm: router: %s: arm %d: %w", what, i, err)
		}
		if arms[a.Name] {
			return c, fmt.Errorf("llm: router: %s: duplicate arm name %q", what, a.Name)
		}
		arms[a.Name] = true
		if a.Model == nil {
			return c, fmt.Errorf("llm: router: %s: arm %q has a nil Model", what, a.Name)
		}
		if a.Weight < 0 {
			return c, fmt.Errorf("llm: router: %s: arm %q has negative weight %d", what, a.Name, a.Weight)
		}
		c.total += uint64(a.Weight)
		if c.total > math.MaxUint32 {
			return c, fmt.Errorf("llm: router: %s: weights add up to more than %d", what, uint64(math.MaxUint32))
		}
		c.cum[i] = c.total
		c.targets[i] = routeTarget{name: c.name + "/" + a.Name, model: a.Model}
	}
	if c.total == 0 {
		return c, fmt.Errorf("llm: router: %s: every arm has weight zero", what)
	}
	return c, nil
}

func checkRouteName(name string) error {
	switch {
	case name == "":
		return errors.New("name is empty")
	case strings.Contains(name, "/"):
		return fmt.Errorf("name %q contains a slash", name)
	}
	return nil
}

// matchesAll reports whether the rule matches every request.
func (c *routeRule) matchesAll() bool {
	return c.tenants.empty() && c.features.empty() && c.risks.empty() &&
		c.minTokens == 0 && c.maxTokens == 0 &&
		c.tools == PresenceAny && c.images == PresenceAny && c.match == nil
}

// routeFacts holds what rules ask about a request that costs a scan, each
// computed at most once per decision.
type routeFacts struct {
	tokens int // -1 until computed
	images int // -1 until computed, then 0 or 1
}

func (f *routeFacts) inputTokens(req *Request) int {
	if f.tokens < 0 {
		f.tokens = EstimateInputTokens(req)
	}
	return f.tokens
}

func (f *routeFacts) hasImages(req *Request) bool {
	if f.images < 0 {
		f.images = 0
		for i := range req.Messages {
			for j := range req.Messages[i].Parts {
				if req.Messages[i].Parts[j].Kind == PartImage {
					f.images = 1
					break
				}
			}
		}
	}
	return f.images == 1
}

func (c *routeRule) matches(req *Request, f *routeFacts) bool {
	if !c.tenants.empty() && !c.tenants.contains(req.Principal.Tenant) {
		return false
	}
	if !c.features.empty() && !c.features.contains(req.Feature) {
		return false
	}
	if !c.risks.empty() && !c.risks.contains(req.Risk) {
		return false
	}
	if !presenceHolds(c.tools, len(req.Tools) > 0) {
		return false
	}
	if c.minTokens > 0 || c.maxTokens > 0 {
		n := f.inputTokens(req)
		if n < c.minTokens || (c.maxTokens > 0 && n > c.maxTokens) {
			return false
		}
	}
	if c.images != PresenceAny && !presenceHolds(c.images, f.hasImages(req)) {
		return false
	}
	return c.match == nil || c.match(req)
}

func presenceHolds(p Presence, present bool) bool {
	switch p {
	case PresenceRequired:
		return present
	case PresenceForbidden:
		return !present
	default:
		return true
	}
}

// choose returns the target of c that serves p.
func (c *routeRule) choose(p *Principal) *routeTarget {
	if len(c.targets) == 1 {
		return &c.targets[0]
	}
	// Scale the 64-bit hash to [0, total): the high word of hash*total.
	pos, _ := bits.Mul64(routeHash(c.salt, p), c.total)
	for i, cum := range c.cum {
		if pos < cum {
			return &c.targets[i]
		}
	}
	return &c.targets[len(c.targets)-1] // unreachable: pos < total
}

// FNV-1a 64-bit parameters.
const (
	routeFNVOffset = 14695981039346656037
	routeFNVPrime  = 1099511628211
)

// routeHash returns the stable hash that assigns p to an arm: FNV-1a 64 of
// salt, 0, tenant[, 0, user], finished with murmur3's fmix64 so that the
// high bits, which choose the arm, depend on every input byte. Without a
// principal it returns a random value, so anonymous traffic still splits by
// weight. Changing this function reassigns every user of every experiment.
func routeHash(salt string, p *Principal) uint64 {
	if p.Tenant == "" && p.User == "" {
		return rand.Uint64()
	}
	h := uint64(routeFNVOffset)
	h = routeFNVString(h, salt)
	h *= routeFNVPrime // a zero separator byte: h ^= 0 leaves h as is
	h = routeFNVString(h, p.Tenant)
	if p.User != "" {
		h *= routeFNVPrime
		h = routeFNVString(h, p.User)
	}
	return routeMix(h)
}

func routeFNVString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= routeFNVPrime
	}
	return h
}

// routeMix is murmur3's 64-bit finaliser.
func routeMix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// decide returns the target that serves req.
func (r *Router) decide(req *Request) (*routeTarget, error) {
	if req == nil {
		return nil, &Error{Kind: KindInvalidRequest, Message: "router: nil request"}
	}
	if r.safe != nil && r.safeMode.Active() {
		return r.safe, nil
	}
	f := routeFacts{tokens: -1, images: -1}
	for i := range r.rules {
		if c := &r.rules[i]; c.matches(req, &f) {
			return c.choose(&req.Principal), nil
		}
	}
	if r.def != nil {
		return r.def.choose(&req.Principal), nil
	}
	msg := "router: no route matched the request and there is no default route"
	if req.Feature != "" {
		msg += " (feature " + req.Feature + ")"
	}
	return nil, &Error{Kind: KindInvalidRequest, Model: req.Model, Message: msg}
}

// Route returns the name of the route that would serve req and its Model,
// without calling it: the decision Generate and Stream make, for dry runs,
// logging and tests. For a weighted rule and a request without a principal
// the arm is random, so two calls may differ. It fails with KindInvalidRequest
// when no route matches.
func (r *Router) Route(req *Request) (string, Model, error) {
	t, err := r.decide(req)
	if err != nil {
		return "", nil, err
	}
	return t.name, t.model, nil
}

// Generate implements Model: it chooses a route, calls its Model and records
// the route on Response.Route.
func (r *Router) Generate(ctx context.Context, req *Request) (*Response, error) {
	t, err := r.decide(req)
	if err != nil {
		return nil, err
	}
	resp, err := t.model.Generate(ctx, req)
	if resp != nil {
		resp.Route = t.name
	}
	return resp, err
}

// Stream implements Model. The route is chosen when the caller starts
// ranging (so safe mode is read then), the chosen Model's stream is passed
// through lazily, and the first event carries the route in Event.Route.
// Breaking out of the loop releases the inner stream.
func (r *Router) Stream(ctx context.Context, req *Request) Stream {
	return func(yield func(Event, error) bool) {
		t, err := r.decide(req)
		if err != nil {
			yield(Event{}, err)
			return
		}
		first := true
		for ev, err := range t.model.Stream(ctx, req) {
			if first && err == nil {
				ev.Route = t.name
				first = false
			}
			if !yield(ev, err) {
				return
			}
		}
	}
}
