package llm_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// routeEcho returns a fake Model that answers with its own name, so tests
// can tell which Model served.
func routeEcho(name string) llm.Model {
	return llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText(name)}, nil
	})
}

func mustRouter(t testing.TB, opts llm.RouterOptions) *llm.Router {
	t.Helper()
	r, err := llm.NewRouter(opts)
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	return r
}

func routeName(t testing.TB, r *llm.Router, req *llm.Request) string {
	t.Helper()
	name, m, err := r.Route(req)
	if err != nil {
		t.Fatalf("Route: %v", err)
	}
	if m == nil {
		t.Fatalf("Route returned a nil Model for route %q", name)
	}
	return name
}

// canaryRouter returns a router whose only rule splits every request
// between "stable" and "canary" with the given weights.
func canaryRouter(t testing.TB, stable, canary int) *llm.Router {
	return mustRouter(t, llm.RouterOptions{Rules: []llm.RouteRule{{
		Name: "chat",
		Arms: []llm.RouteArm{
			{Name: "stable", Weight: stable, Model: routeEcho("stable")},
			{Name: "canary", Weight: canary, Model: routeEcho("canary")},
		},
	}}})
}

func userReq(tenant, user string) *llm.Request {
	return &llm.Request{
		Messages:  []llm.Message{llm.UserText("hi")},
		Principal: llm.Principal{Tenant: tenant, User: user},
	}
}

// fourSigma returns four binomial standard deviations of the share of n
// draws with probability p.
func fourSigma(p float64, n int) float64 {
	return 4 * math.Sqrt(p*(1-p)/float64(n))
}

func TestRouterRuleCriteria(t *testing.T) {
	short := &llm.Request{
		Messages:  []llm.Message{llm.UserText("hello")},
		Principal: llm.Principal{Tenant: "acme", User: "u-1"},
		Feature:   "chat",
	}
	long := &llm.Request{Messages: []llm.Message{llm.UserText(strings.Repeat("x", 50_000))}}
	withTools := &llm.Request{
		Messages: []llm.Message{llm.UserText("weather?")},
		Tools:    []llm.ToolDef{{Name: "get_weather"}},
	}
	withImage := &llm.Request{Messages: []llm.Message{
		llm.SystemMessage("describe"),
		llm.UserMessage(llm.Text("what is this?"), llm.ImageURL("https://example.com/a.png")),
	}}
	risky := &llm.Request{Messages: []llm.Message{llm.UserText("wire money")}, Risk: "high"}
	shortTokens := llm.EstimateInputTokens(short)
	isRisky := func(r *llm.Request) bool { return r.Risk == "high" }

	tests := []struct {
		name string
		rule llm.RouteRule
		req  *llm.Request
		want bool
	}{
		{"tenant in list", llm.RouteRule{Tenants: []string{"globex", "acme"}}, short, true},
		{"tenant not in list", llm.RouteRule{Tenants: []string{"globex"}}, short, false},
		{"tenant absent", llm.RouteRule{Tenants: []string{"acme"}}, long, false},
		{"tenant in large list", llm.RouteRule{Tenants: strings.Fields("a b c d e f g h i j acme")}, short, true},
		{"tenant not in large list", llm.RouteRule{Tenants: strings.Fields("a b c d e f g h i j k")}, short, false},
		{"feature in list", llm.RouteRule{Features: []string{"chat"}}, short, true},
		{"feature not in list", llm.RouteRule{Features: []string{"search"}}, short, false},
		{"risk in list", llm.RouteRule{Risks: []string{"high", "critical"}}, risky, true},
		{"risk not set", llm.RouteRule{Risks: []string{"high"}}, short, false},
		{"min tokens below", llm.RouteRule{MinInputTokens: 10_000}, short, false},
		{"min tokens above", llm.RouteRule{MinInputTokens: 10_000}, long, true},
		{"min tokens inclusive", llm.RouteRule{MinInputTokens: shortTokens}, short, true},
		{"min tokens one over", llm.RouteRule{MinInputTokens: shortTokens + 1}, short, false},
		{"max tokens below", llm.RouteRule{MaxInputTokens: 10_000}, short, true},
		{"max tokens above", llm.RouteRule{MaxInputTokens: 10_000}, long, false},
		{"max tokens inclusive", llm.RouteRule{MaxInputTokens: shortTokens}, short, true},
		{"max tokens one under", llm.RouteRule{MaxInputTokens: shortTokens - 1}, short, false},
		{"token range inside", llm.RouteRule{MinInputTokens: 1, MaxInputTokens: 10_000}, short, true},
		{"tools required, present", llm.RouteRule{Tools: llm.PresenceRequired}, withTools, true},
		{"tools required, absent", llm.RouteRule{Tools: llm.PresenceRequired}, short, false},
		{"tools forbidden, present", llm.RouteRule{Tools: llm.PresenceForbidden}, withTools, false},
		{"tools forbidden, absent", llm.RouteRule{Tools: llm.PresenceForbidden}, short, true},
		{"images required, present", llm.RouteRule{Images: llm.PresenceRequired}, withImage, true},
		{"images required, absent", llm.RouteRule{Images: llm.PresenceRequired}, short, false},
		{"images forbidden, present", llm.RouteRule{Images: llm.PresenceForbidden}, withImage, false},
		{"images forbidden, absent", llm.RouteRule{Images: llm.PresenceForbidden}, short, true},
		{"custom match true", llm.RouteRule{Match: isRisky}, risky, true},
		{"custom match false", llm.RouteRule{Match: isRisky}, short, false},
		{"combined, all hold", llm.RouteRule{
			Tenants: []string{"acme"}, Features: []string{"chat"}, MaxInputTokens: 1000,
			Tools: llm.PresenceForbidden, Images: llm.PresenceForbidden,
			Match: func(r *llm.Request) bool { return r.Principal.User == "u-1" },
		}, short, true},
		{"combined, tenant fails", llm.RouteRule{
			Tenants: []string{"globex"}, Features: []string{"chat"}, MaxInputTokens: 1000,
		}, short, false},
		{"combined, feature fails", llm.RouteRule{
			Tenants: []string{"acme"}, Features: []string{"search"}, MaxInputTokens: 1000,
		}, short, false},
		{"combined, tokens fail", llm.RouteRule{
			Tenants: []string{"acme"}, Features: []string{"chat"}, MinInputTokens: 1000,
		}, short, false},
		{"combined, custom fails", llm.RouteRule{
			Tenants: []string{"acme"}, Features: []string{"chat"},
			Match: func(*llm.Request) bool { return false },
		}, short, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule := tt.rule
			rule.Name = "rule"
			rule.Model = routeEcho("rule")
			r := mustRouter(t, llm.RouterOptions{
				Rules:   []llm.RouteRule{rule},
				Default: &llm.RouteRule{Model: routeEcho("default")},
			})
			want := "default"
			if tt.want {
				want = "rule"
			}
			if got := routeName(t, r, tt.req); got != want {
				t.Errorf("route = %q, want %q", got, want)
			}
		})
	}
}

func TestRouterFirstMatchWins(t *testing.T) {
	r := mustRouter(t, llm.RouterOptions{
		Rules: []llm.RouteRule{
			{Name: "acme", Tenants: []string{"acme"}, Model: routeEcho("acme")},
			{Name: "search", Features: []string{"search"}, Model: routeEcho("search")},
			{Name: "tools", Tools: llm.PresenceRequired, Model: routeEcho("tools")},
		},
		Default: &llm.RouteRule{Name: "fallthrough", Model: routeEcho("fallthrough")},
	})
	tools := []llm.ToolDef{{Name: "lookup"}}
	tests := []struct {
		name string
		req  *llm.Request
		want string
	}{
		{"all three match", &llm.Request{Principal: llm.Principal{Tenant: "acme"}, Feature: "search", Tools: tools}, "acme"},
		{"second and third match", &llm.Request{Principal: llm.Principal{Tenant: "globex"}, Feature: "search", Tools: tools}, "search"},
		{"third matches", &llm.Request{Principal: llm.Principal{Tenant: "globex"}, Tools: tools}, "tools"},
		{"none match", &llm.Request{Principal: llm.Principal{Tenant: "globex"}}, "fallthrough"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := routeName(t, r, tt.req); got != tt.want {
				t.Errorf("route = %q, want %q", got, tt.want)
			}
			resp, err := r.Generate(t.Context(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text() != tt.want || resp.Route != tt.want {
				t.Errorf("served by %q with Route %q, want %q", resp.Text(), resp.Route, tt.want)
			}
		})
	}
}

func TestRouterNoMatch(t *testing.T) {
	served := llmtest.NewModel()
	r := mustRouter(t, llm.RouterOptions{Rules: []llm.RouteRule{
		{Name: "search", Features: []string{"search"}, Model: served},
	}})
	req := &llm.Request{Feature: "chat", Messages: []llm.Message{llm.UserText("hi")}}

	check := func(t *testing.T, err error) {
		t.Helper()
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindInvalidRequest {
			t.Fatalf("err = %v, want an *llm.Error of kind invalid_request", err)
		}
		if !strings.Contains(e.Message, "no route matched") || !strings.Contains(e.Message, "chat") {
			t.Errorf("message %q should say no route matched, for feature chat", e.Message)
		}
		if llm.Retryable(err) || llm.KindOf(err).Handling().Fallback {
			t.Error("a routing miss must be neither retried nor sent to a fallback")
		}
	}
	t.Run("Route", func(t *testing.T) {
		_, _, err := r.Route(req)
		check(t, err)
	})
	t.Run("Generate", func(t *testing.T) {
		resp, err := r.Generate(t.Context(), req)
		if resp != nil {
			t.Errorf("resp = %+v, want nil", resp)
		}
		check(t, err)
	})
	t.Run("Stream", func(t *testing.T) {
		n := 0
		var last error
		for _, err := range r.Stream(t.Context(), req) {
			n++
			last = err
		}
		if n != 1 {
			t.Errorf("stream yielded %d pairs, want 1", n)
		}
		check(t, last)
	})
	t.Run("nil request", func(t *testing.T) {
		_, err := r.Generate(t.Context(), nil)
		if !errors.Is(err, llm.KindInvalidRequest) {
			t.Errorf("err = %v, want invalid_request", err)
		}
	})
	if served.Calls() != 0 {
		t.Errorf("the rule's Model was called %d times", served.Calls())
	}
}

func TestNewRouterValidation(t *testing.T) {
	m := routeEcho("m")
	arms := func(ws ...int) []llm.RouteArm {
		out := make([]llm.RouteArm, len(ws))
		for i, w := range ws {
			out[i] = llm.RouteArm{Name: fmt.Sprintf("a%d", i), Weight: w, Model: m}
		}
		return out
	}
	tests := []struct {
		name string
		opts llm.RouterOptions
		want string // substring of the error; "" means valid
	}{
		{"minimal", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", Model: m}}}, ""},
		{"default only", llm.RouterOptions{Default: &llm.RouteRule{Model: m}}, ""},
		{"weighted default", llm.RouterOptions{Default: &llm.RouteRule{Arms: arms(1, 1)}}, ""},
		{"zero-weight arm", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", Arms: arms(1, 0)}}}, ""},
		{"catch-all last", llm.RouterOptions{Rules: []llm.RouteRule{
			{Name: "a", Features: []string{"x"}, Model: m}, {Name: "b", Model: m}}}, ""},
		{"empty", llm.RouterOptions{}, "no rules and no default"},
		{"unnamed rule", llm.RouterOptions{Rules: []llm.RouteRule{{Model: m}}}, "name is empty"},
		{"slash in rule name", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "a/b", Model: m}}}, "contains a slash"},
		{"duplicate rule", llm.RouterOptions{Rules: []llm.RouteRule{
			{Name: "r", Features: []string{"x"}, Model: m}, {Name: "r", Model: m}}}, "duplicate rule name"},
		{"default named like a rule", llm.RouterOptions{
			Rules:   []llm.RouteRule{{Name: "default", Features: []string{"x"}, Model: m}},
			Default: &llm.RouteRule{Model: m}}, "duplicate rule name"},
		{"no target", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r"}}}, "no Model and no Arms"},
		{"both targets", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", Model: m, Arms: arms(1)}}}, "not both"},
		{"nil arm model", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r",
			Arms: []llm.RouteArm{{Name: "a", Weight: 1}}}}}, "nil Model"},
		{"unnamed arm", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r",
			Arms: []llm.RouteArm{{Weight: 1, Model: m}}}}}, "name is empty"},
		{"slash in arm name", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r",
			Arms: []llm.RouteArm{{Name: "x/y", Weight: 1, Model: m}}}}}, "contains a slash"},
		{"duplicate arm", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", Arms: []llm.RouteArm{
			{Name: "a", Weight: 1, Model: m}, {Name: "a", Weight: 1, Model: m}}}}}, "duplicate arm name"},
		{"negative weight", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", Arms: arms(1, -1)}}}, "negative weight"},
		{"all weights zero", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", Arms: arms(0, 0)}}}, "weight zero"},
		{"weights overflow", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", Arms: arms(math.MaxInt32, math.MaxInt32, 2)}}}, "add up to more"},
		{"negative tokens", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", MinInputTokens: -1, Model: m}}}, "negative token bound"},
		{"inverted tokens", llm.RouterOptions{Rules: []llm.RouteRule{
			{Name: "r", MinInputTokens: 10, MaxInputTokens: 5, Model: m}}}, "MinInputTokens 10 > MaxInputTokens 5"},
		{"unknown presence", llm.RouterOptions{Rules: []llm.RouteRule{{Name: "r", Tools: 7, Model: m}}}, "unknown Presence"},
		{"default with criteria", llm.RouterOptions{Default: &llm.RouteRule{Features: []string{"x"}, Model: m}}, "has match criteria"},
		{"catch-all before rule", llm.RouterOptions{Rules: []llm.RouteRule{
			{Name: "all", Model: m}, {Name: "b", Features: []string{"x"}, Model: m}}}, "unreachable"},
		{"catch-all before default", llm.RouterOptions{
			Rules: []llm.RouteRule{{Name: "all", Model: m}}, Default: &llm.RouteRule{Model: m}}, "unreachable"},
		{"safe mode without route", llm.RouterOptions{
			Rules: []llm.RouteRule{{Name: "r", Model: m}}, SafeMode: llm.NewSafeMode()}, "SafeRoute is empty"},
		{"unknown safe route", llm.RouterOptions{
			Rules: []llm.RouteRule{{Name: "r", Model: m}}, SafeMode: llm.NewSafeMode(), SafeRoute: "cheap"}, "names no route"},
		{"safe route names weighted rule", llm.RouterOptions{
			Rules: []llm.RouteRule{{Name: "r", Arms: arms(1, 1)}}, SafeMode: llm.NewSafeMode(), SafeRoute: "r"}, "names a weighted rule"},
		{"safe route names an arm", llm.RouterOptions{
			Rules: []llm.RouteRule{{Name: "r", Arms: arms(1, 0)}}, SafeMode: llm.NewSafeMode(), SafeRoute: "r/a1"}, ""},
		{"safe route names the default", llm.RouterOptions{
			Default: &llm.RouteRule{Model: m}, SafeMode: llm.NewSafeMode(), SafeRoute: "default"}, ""},
		{"safe route without safe mode is checked", llm.RouterOptions{
			Rules: []llm.RouteRule{{Name: "r", Model: m}}, SafeRoute: "nope"}, "names no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := llm.NewRouter(tt.opts)
			if tt.want == "" {
				if err != nil || r == nil {
					t.Fatalf("NewRouter = %v, %v; want a router", r, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewRouter succeeded, want an error containing %q", tt.want)
			}
			if r != nil {
				t.Errorf("NewRouter returned a router with error %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestRouterStickyPerUser(t *testing.T) {
	r := canaryRouter(t, 50, 50)
	// A second router built from the same configuration stands for another
	// process or a restart: the hash has no per-process seed.
	restarted := canaryRouter(t, 50, 50)
	seen := map[string]int{}
	for i := range 500 {
		req := userReq("acme", fmt.Sprintf("u-%d", i))
		first := routeName(t, r, req)
		seen[first]++
		for range 5 {
			if got := routeName(t, r, req); got != first {
				t.Fatalf("user %d moved from %q to %q", i, first, got)
			}
		}
		if got := routeName(t, restarted, req); got != first {
			t.Fatalf("user %d is on %q in one router and %q in another", i, first, got)
		}
		resp, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Route != first || "chat/"+resp.Text() != first {
			t.Fatalf("user %d served by %q with Route %q, want %q", i, resp.Text(), resp.Route, first)
		}
	}
	if seen["chat/stable"] == 0 || seen["chat/canary"] == 0 {
		t.Errorf("500 users did not reach both arms: %v", seen)
	}
	// The same user in another tenant is another principal.
	diff := 0
	for i := range 500 {
		u := fmt.Sprintf("u-%d", i)
		if routeName(t, r, userReq("acme", u)) != routeName(t, r, userReq("globex", u)) {
			diff++
		}
	}
	if diff == 0 {
		t.Error("users with the same id in two tenants always share an arm; the tenant is not hashed")
	}
}

func TestRouterStickyPerTenantWithoutUser(t *testing.T) {
	r := canaryRouter(t, 50, 50)
	seen := map[string]int{}
	for i := range 200 {
		req := userReq(fmt.Sprintf("tenant-%d", i), "")
		first := routeName(t, r, req)
		seen[first]++
		for range 5 {
			if got := routeName(t, r, req); got != first {
				t.Fatalf("tenant %d moved from %q to %q", i, first, got)
			}
		}
	}
	if len(seen) != 2 {
		t.Errorf("200 tenants did not reach both arms: %v", seen)
	}
}

func TestRouterRandomWithoutPrincipal(t *testing.T) {
	r := canaryRouter(t, 50, 50)
	req := userReq("", "")
	seen := map[string]int{}
	for range 200 {
		seen[routeName(t, r, req)]++
	}
	// Both arms: the chance of 200 fair draws all landing on one is 2^-199.
	if len(seen) != 2 {
		t.Errorf("anonymous requests were not split: %v", seen)
	}
}

func TestRouterWeights(t *testing.T) {
	const users = 10_000
	tests := []struct {
		name    string
		weights []int
	}{
		{"90/10", []int{90, 10}},
		{"95/5", []int{95, 5}},
		{"50/50", []int{1, 1}},
		{"50/30/20", []int{50, 30, 20}},
		{"with a zero arm", []int{70, 0, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var arms []llm.RouteArm
			total := 0
			for i, w := range tt.weights {
				arms = append(arms, llm.RouteArm{Name: fmt.Sprint(i), Weight: w, Model: routeEcho(fmt.Sprint(i))})
				total += w
			}
			r := mustRouter(t, llm.RouterOptions{Rules: []llm.RouteRule{{Name: "exp", Arms: arms}}})
			counts := map[string]int{}
			for i := range users {
				counts[routeName(t, r, userReq("acme", fmt.Sprintf("user-%d", i)))]++
			}
			for i, w := range tt.weights {
				want := float64(w) / float64(total)
				got := float64(counts[fmt.Sprintf("exp/%d", i)]) / users
				tol := fourSigma(want, users)
				t.Logf("arm %d: share %.4f, want %.4f ± %.4f", i, got, want, tol)
				if math.Abs(got-want) > tol {
					t.Errorf("arm %d: share %.4f, want %.4f ± %.4f (4σ)", i, got, want, tol)
				}
				if w == 0 && counts[fmt.Sprintf("exp/%d", i)] != 0 {
					t.Errorf("arm %d has weight 0 but served %d users", i, counts[fmt.Sprintf("exp/%d", i)])
				}
			}
		})
	}
}

func TestRouterExperimentsIndependent(t *testing.T) {
	const users = 10_000
	split := func(name, salt string) llm.RouteRule {
		return llm.RouteRule{Name: name, Features: []string{name}, Salt: salt, Arms: []llm.RouteArm{
			{Name: "a", Weight: 50, Model: routeEcho("a")},
			{Name: "b", Weight: 50, Model: routeEcho("b")},
		}}
	}
	arm := func(r *llm.Router, feature, user string) string {
		req := userReq("acme", user)
		req.Feature = feature
		name := routeName(t, r, req)
		return name[strings.IndexByte(name, '/')+1:]
	}

	t.Run("different salts", func(t *testing.T) {
		r := mustRouter(t, llm.RouterOptions{Rules: []llm.RouteRule{split("x", ""), split("y", "")}})
		cells := map[string]int{}
		for i := range users {
			u := fmt.Sprintf("user-%d", i)
			cells[arm(r, "x", u)+arm(r, "y", u)]++
		}
		// Independent 50/50 splits put a quarter of the users in each cell.
		tol := fourSigma(0.25, users)
		for _, cell := range []string{"aa", "ab", "ba", "bb"} {
			got := float64(cells[cell]) / users
			if math.Abs(got-0.25) > tol {
				t.Errorf("cell %s: share %.4f, want 0.25 ± %.4f (4σ); cells %v", cell, got, tol, cells)
			}
		}
	})
	t.Run("shared salt", func(t *testing.T) {
		r := mustRouter(t, llm.RouterOptions{Rules: []llm.RouteRule{split("x", "exp-1"), split("y", "exp-1")}})
		for i := range 1000 {
			u := fmt.Sprintf("user-%d", i)
			if ax, ay := arm(r, "x", u), arm(r, "y", u); ax != ay {
				t.Fatalf("user %s is on arm %s of x and %s of y despite a shared salt", u, ax, ay)
			}
		}
	})
}

func TestRouterCanaryRampOnlyMovesUsersIn(t *testing.T) {
	steps := []int{1, 5, 10, 25, 50}
	inCanary := map[string]bool{}
	for _, pct := range steps {
		r := canaryRouter(t, 100-pct, pct)
		n := 0
		for i := range 5000 {
			u := fmt.Sprintf("user-%d", i)
			canary := routeName(t, r, userReq("acme", u)) == "chat/canary"
			if inCanary[u] && !canary {
				t.Fatalf("at %d%% user %s left the canary it joined earlier", pct, u)
			}
			inCanary[u] = canary
			if canary {
				n++
			}
		}
		t.Logf("canary at %d%%: %d of 5000 users", pct, n)
	}
}

func TestRouterSafeMode(t *testing.T) {
	sm := llm.NewSafeMode()
	r := mustRouter(t, llm.RouterOptions{
		Rules: []llm.RouteRule{
			{Name: "long-context", MinInputTokens: 1000, Model: routeEcho("long")},
			{Name: "chat", Features: []string{"chat"}, Arms: []llm.RouteArm{
				{Name: "stable", Weight: 0, Model: routeEcho("stable")},
				{Name: "canary", Weight: 1, Model: routeEcho("canary")},
			}},
		},
		SafeMode:  sm,
		SafeRoute: "chat/stable",
	})
	chat := userReq("acme", "u-1")
	chat.Feature = "chat"
	long := &llm.Request{Messages: []llm.Message{llm.UserText(strings.Repeat("x", 5000))}}
	unmatched := userReq("acme", "u-1")

	type want struct{ route, text string }
	check := func(t *testing.T, req *llm.Request, w want, wantErr bool) {
		t.Helper()
		resp, err := r.Generate(t.Context(), req)
		if wantErr {
			if !errors.Is(err, llm.KindInvalidRequest) {
				t.Fatalf("err = %v, want invalid_request", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.Route != w.route || resp.Text() != w.text {
			t.Errorf("served by %q with Route %q, want %q by %q", resp.Text(), resp.Route, w.route, w.text)
		}
		got, err := llm.Collect(r.Stream(t.Context(), req))
		if err != nil {
			t.Fatal(err)
		}
		if got.Route != w.route || got.Text() != w.text {
			t.Errorf("stream served by %q with Route %q, want %q by %q", got.Text(), got.Route, w.route, w.text)
		}
	}

	check(t, chat, want{"chat/canary", "canary"}, false)
	check(t, long, want{"long-context", "long"}, false)
	check(t, unmatched, want{}, true)

	// A stream created before safe mode is turned on decides when it is
	// ranged over.
	pending := r.Stream(t.Context(), long)
	sm.Enable("provider incident")
	safe := want{"chat/stable", "stable"}
	check(t, chat, safe, false)
	check(t, long, safe, false)
	check(t, unmatched, safe, false)
	if got, err := llm.Collect(pending); err != nil || got.Route != "chat/stable" {
		t.Errorf("pending stream: Route %q, err %v; want chat/stable", got.Route, err)
	}

	sm.Disable()
	check(t, chat, want{"chat/canary", "canary"}, false)
	check(t, long, want{"long-context", "long"}, false)
}

func TestRouterRecordsRoute(t *testing.T) {
	// The inner Model sets a Route of its own (a nested router); the
	// outer router's decision replaces it.
	inner := llmtest.NewModel(
		llmtest.Response(&llm.Response{Message: llm.AssistantText("hi"), Route: "inner"}),
		llmtest.Events(
			llm.Event{Kind: llm.EventStart, Model: "m", Route: "inner"},
			llm.Event{Kind: llm.EventTextDelta, Text: "h"},
			llm.Event{Kind: llm.EventTextDelta, Text: "i"},
			llm.Event{Kind: llm.EventFinish, FinishReason: llm.FinishStop},
		),
	)
	r := mustRouter(t, llm.RouterOptions{Rules: []llm.RouteRule{{Name: "chat", Arms: []llm.RouteArm{
		{Name: "canary", Weight: 1, Model: inner},
	}}}})
	req := userReq("acme", "u-1")

	resp, err := r.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Route != "chat/canary" || resp.Text() != "hi" {
		t.Errorf("Generate: Route %q text %q, want chat/canary, hi", resp.Route, resp.Text())
	}

	var routes []string
	for ev, err := range r.Stream(t.Context(), req) {
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, ev.Route)
	}
	if want := []string{"chat/canary", "", "", ""}; fmt.Sprint(routes) != fmt.Sprint(want) {
		t.Errorf("event routes = %q, want %q", routes, want)
	}
}

func TestRouterPassesErrorsThrough(t *testing.T) {
	inner := llmtest.NewModel(llmtest.ServerError(503), llmtest.Reply("partial").CutOffAfter(2))
	r := mustRouter(t, llm.RouterOptions{Default: &llm.RouteRule{Model: inner}})
	req := userReq("acme", "u-1")

	_, err := r.Generate(t.Context(), req)
	if llm.KindOf(err) != llm.KindUnavailable {
		t.Errorf("Generate: err = %v, want the inner unavailable error", err)
	}
	var evs []llm.Event
	var last error
	for ev, err := range r.Stream(t.Context(), req) {
		if err != nil {
			last = err
			continue
		}
		evs = append(evs, ev)
	}
	if len(evs) != 2 || evs[0].Route != "default" || llm.KindOf(last) != llm.KindUnavailable {
		t.Errorf("Stream: %d events (first route %q), err %v; want 2 events, route default, unavailable",
			len(evs), evs[0].Route, last)
	}
}

func TestRouterStreamIsLazy(t *testing.T) {
	inner := llmtest.NewModel(llmtest.Reply("one two three four five six"))
	r := mustRouter(t, llm.RouterOptions{Default: &llm.RouteRule{Model: inner}})
	s := r.Stream(t.Context(), userReq("acme", "u-1"))
	if inner.Calls() != 0 {
		t.Fatalf("Stream called the inner Model before the caller ranged")
	}
	n := 0
	for range s {
		n++
	}
	if inner.Calls() != 1 || n < 3 {
		t.Errorf("after ranging: %d inner calls, %d events", inner.Calls(), n)
	}
}

func TestRouterStreamBreakReleasesInner(t *testing.T) {
	var released, yieldedAfterFalse bool
	inner := llm.ModelFuncs{StreamFunc: func(context.Context, *llm.Request) llm.Stream {
		return func(yield func(llm.Event, error) bool) {
			defer func() { released = true }()
			for i := range 100 {
				if !yield(llm.Event{Kind: llm.EventTextDelta, Text: fmt.Sprint(i)}, nil) {
					return
				}
			}
			yieldedAfterFalse = true
		}
	}}
	r := mustRouter(t, llm.RouterOptions{Default: &llm.RouteRule{Model: inner}})
	n := 0
	for range r.Stream(t.Context(), userReq("acme", "u-1")) {
		n++
		if n == 3 {
			break
		}
	}
	if !released || yieldedAfterFalse {
		t.Errorf("inner stream released %v, ran on after break %v", released, yieldedAfterFalse)
	}
}

func TestRouterConcurrent(t *testing.T) {
	sm := llm.NewSafeMode()
	r := mustRouter(t, llm.RouterOptions{
		Rules: []llm.RouteRule{{Name: "chat", Arms: []llm.RouteArm{
			{Name: "stable", Weight: 9, Model: routeEcho("stable")},
			{Name: "canary", Weight: 1, Model: routeEcho("canary")},
		}}},
		SafeMode:  sm,
		SafeRoute: "chat/stable",
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				req := userReq("acme", fmt.Sprintf("u-%d-%d", g, i))
				if i%50 == 0 && g == 0 {
					sm.Enable("flap")
				} else if i%50 == 25 && g == 0 {
					sm.Disable()
				}
				if i%2 == 0 {
					if _, err := r.Generate(t.Context(), req); err != nil {
						t.Error(err)
					}
				} else if _, err := llm.Collect(r.Stream(t.Context(), req)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

func TestRouterDecisionAllocs(t *testing.T) {
	r := routeBenchRouter(t, llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{}, nil
	}})
	reqs := map[string]*llm.Request{
		"user":      routeBenchRequest(llm.Principal{Tenant: "acme", User: "u-42"}),
		"tenant":    routeBenchRequest(llm.Principal{Tenant: "acme"}),
		"anonymous": routeBenchRequest(llm.Principal{}),
	}
	for name, req := range reqs {
		if got := routeName(t, r, req); !strings.HasPrefix(got, "chat/") {
			t.Fatalf("%s: benchmark request routed to %q, want the chat canary rule", name, got)
		}
		if allocs := testing.AllocsPerRun(100, func() { _, _, _ = r.Route(req) }); allocs != 0 {
			t.Errorf("%s: routing decision allocates %.1f times, want 0", name, allocs)
		}
	}
}

// routeBenchRequest is a realistic request: about 2 KB of conversation and
// three tool definitions.
func routeBenchRequest(p llm.Principal) *llm.Request {
	schema := []byte(`{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer"}},"required":["query"]}`)
	return &llm.Request{
		Model: "gpt-4o-mini",
		Messages: []llm.Message{
			llm.SystemMessage(strings.Repeat("You are a helpful support assistant. ", 20)),
			llm.UserText(strings.Repeat("My order has not arrived yet, can you check? ", 20)),
			llm.AssistantText("Let me look that up."),
			llm.UserText("Order 12345, placed last Tuesday."),
		},
		Tools: []llm.ToolDef{
			{Name: "search_orders", Description: "Find orders by id or customer.", Parameters: schema},
			{Name: "get_shipment", Description: "Track a shipment.", Parameters: schema},
			{Name: "open_ticket", Description: "Open a support ticket.", Parameters: schema},
		},
		Principal: p,
		Feature:   "chat",
	}
}

// routeBenchRouter has five rules; the benchmark request fails the first
// four (tenant list, images, input size, risk) and lands on a 90/10 canary.
func routeBenchRouter(t testing.TB, m llm.Model) *llm.Router {
	return mustRouter(t, llm.RouterOptions{
		Rules: []llm.RouteRule{
			{Name: "enterprise", Tenants: []string{"globex", "initech", "umbrella"}, Model: m},
			{Name: "vision", Images: llm.PresenceRequired, Model: m},
			{Name: "long-context", MinInputTokens: 32_000, Model: m},
			{Name: "high-risk", Risks: []string{"high"}, Model: m},
			{Name: "chat", Features: []string{"chat", "support"}, Arms: []llm.RouteArm{
				{Name: "stable", Weight: 90, Model: m},
				{Name: "canary", Weight: 10, Model: m},
			}},
		},
		Default:   &llm.RouteRule{Model: m},
		SafeMode:  llm.NewSafeMode(),
		SafeRoute: "chat/stable",
	})
}

func BenchmarkRouterDecide(b *testing.B) {
	r := routeBenchRouter(b, llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		return nil, nil
	}})
	req := routeBenchRequest(llm.Principal{Tenant: "acme", User: "u-42"})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Route(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouterGenerate(b *testing.B) {
	answer := &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop}
	r := routeBenchRouter(b, llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		return answer, nil
	}})
	req := routeBenchRequest(llm.Principal{Tenant: "acme", User: "u-42"})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Generate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouterStream(b *testing.B) {
	events := []llm.Event{
		{Kind: llm.EventStart, Model: "m"},
		{Kind: llm.EventTextDelta, Text: "ok"},
		{Kind: llm.EventFinish, FinishReason: llm.FinishStop},
	}
	stream := llm.Stream(func(yield func(llm.Event, error) bool) {
		for _, ev := range events {
			if !yield(ev, nil) {
				return
			}
		}
	})
	r := routeBenchRouter(b, llm.ModelFuncs{StreamFunc: func(context.Context, *llm.Request) llm.Stream {
		return stream
	}})
	req := routeBenchRequest(llm.Principal{Tenant: "acme", User: "u-42"})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range r.Stream(ctx, req) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
