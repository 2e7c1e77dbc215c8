package prompt_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/prompt"
)

// promptFile returns a minimal prompt file for name@version whose system
// message says which version it is.
func promptFile(name, version string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(fmt.Sprintf(
		"---\nname: %s\nversion: %s\nmodel: model-%s\nvariables: [{name: q, example: hi}]\n---\n[system]\nversion %s\n[user]\n{{.q}}\n",
		name, version, version, version))}
}

func mapFS(rollout string, refs ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, ref := range refs {
		name, version, _ := strings.Cut(ref, "@")
		fsys[name+"/"+version+".prompt"] = promptFile(name, version)
	}
	if rollout != "" {
		fsys["rollout.yaml"] = &fstest.MapFile{Data: []byte(rollout)}
	}
	return fsys
}

func mustLoad(t testing.TB, fsys fstest.MapFS) *prompt.Registry {
	t.Helper()
	r, err := prompt.Load(fsys)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

func TestLoad(t *testing.T) {
	fsys := mapFS("a: {default: v9}\n", "a@v10", "a@v9", "a@v2", "b@v1")
	fsys["c@v1.prompt"] = promptFile("c", "v1")
	fsys[".hidden/x@v1.prompt"] = &fstest.MapFile{Data: []byte("not a prompt")}
	fsys["README.md"] = &fstest.MapFile{Data: []byte("not a prompt either")}
	r := mustLoad(t, fsys)

	if got := strings.Join(r.Names(), ","); got != "a,b,c" {
		t.Errorf("Names = %s", got)
	}
	vs, err := r.Versions("a")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.Version())
	}
	if strings.Join(got, ",") != "v2,v9,v10" {
		t.Errorf("Versions = %v, want natural order", got)
	}
	if d, _ := r.Get("a"); d.Version() != "v9" || d.File() != "a/v9.prompt" {
		t.Errorf("Get(a) = %s from %s", d.Version(), d.File())
	}
	if d, _ := r.Get("b"); d.Version() != "v1" {
		t.Errorf("a single version is the default; got %s", d.Version())
	}
	if p, err := r.Version("a", "v10"); err != nil || p.Version() != "v10" {
		t.Errorf("Version(a, v10) = %v, %v", p, err)
	}
	if ro, _ := r.Rollout("b"); ro != (prompt.Rollout{Default: "v1"}) {
		t.Errorf("Rollout(b) = %+v", ro)
	}
	for _, err := range []error{
		func() error { _, err := r.Get("nope"); return err }(),
		func() error { _, err := r.Version("a", "v3"); return err }(),
		func() error { _, err := r.Versions("nope"); return err }(),
		func() error { _, err := r.Select("nope", llm.Principal{}); return err }(),
		func() error { _, err := r.Render("nope", llm.Principal{}, nil); return err }(),
	} {
		if !errors.Is(err, prompt.ErrNotFound) {
			t.Errorf("error %v is not ErrNotFound", err)
		}
	}
}

func TestLoadDir(t *testing.T) {
	r, err := prompt.LoadDir("testdata/registry")
	if err != nil {
		t.Fatal(err)
	}
	req, err := r.Render("greet", llm.Principal{Tenant: "acme", User: "u1"}, prompt.Vars{"name": "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Principal.User != "u1" || req.Prompt.Name != "greet" || req.Prompt.Version != "v2" {
		t.Errorf("request: %+v, %+v", req.Principal, req.Prompt)
	}
}

func TestLoadErrors(t *testing.T) {
	named := func(path, name, version string) fstest.MapFS {
		return fstest.MapFS{path: promptFile(name, version)}
	}
	tests := []struct {
		name string
		fsys fstest.MapFS
		opts []prompt.Option
		want []string
	}{
		{"no prompts", fstest.MapFS{"rollout.yaml": {Data: []byte("")}}, nil, []string{"no .prompt files"}},
		{"same version twice", func() fstest.MapFS {
			f := mapFS("", "a@v1")
			f["a@v1.prompt"] = promptFile("a", "v1")
			return f
		}(), nil, []string{"a@v1 is also defined in"}},
		{"copied file, header not updated", named("a/v2.prompt", "a", "v1"), nil, []string{"a/v2.prompt", "name the file a@v1.prompt or a/v1.prompt"}},
		{"name mismatch", named("b@v1.prompt", "a", "v1"), nil, []string{"header says a@v1"}},
		{"bare file name", named("a.prompt", "a", "v1"), nil, []string{"name the file"}},
		{"several versions, no rollout", mapFS("", "a@v1", "a@v2"), nil, []string{"versions v1, v2 and no rollout entry"}},
		{"rollout without default", mapFS("a: {canary: v2, canary_percent: 5}\n", "a@v1", "a@v2"), nil, []string{"no default"}},
		{"rollout of unknown prompt", mapFS("zz: v1\n", "a@v1"), nil, []string{"unknown prompt \"zz\""}},
		{"rollout of unknown version", mapFS("a: v3\n", "a@v1"), nil, []string{"default \"v3\" is not a loaded version"}},
		{"canary of unknown version", mapFS("a: {default: v1, canary: v3, canary_percent: 1}\n", "a@v1"), nil, []string{"canary \"v3\""}},
		{"canary is default", mapFS("a: {default: v1, canary: v1, canary_percent: 1}\n", "a@v1", "a@v2"), nil, []string{"both \"v1\""}},
		{"bad rollout YAML", mapFS("a: {default: v1\n", "a@v1"), nil, []string{"rollout.yaml"}},
		{"named rollout file missing", mapFS("", "a@v1"), []prompt.Option{prompt.WithRolloutFile("prod.yaml")}, []string{"prod.yaml"}},
		{"every broken file is reported", fstest.MapFS{
			"a@v1.prompt":  {Data: []byte("junk")},
			"b@v1.prompt":  {Data: []byte("---\nname: b\nversion: v1\nmodle: x\n---\n[user]\nhi\n")},
			"rollout.yaml": {Data: []byte("a: v1\n")},
		}, nil, []string{"a@v1.prompt: a prompt file starts", "b@v1.prompt: header", "modle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := prompt.Load(tt.fsys, tt.opts...)
			if err == nil {
				t.Fatalf("Load succeeded: %v", r.Names())
			}
			var le *prompt.LoadError
			if !errors.As(err, &le) {
				t.Errorf("error %T is not a *LoadError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRolloutFile(t *testing.T) {
	tests := []struct {
		name, rollout string
		want          prompt.Rollout // for prompt a; "" want means an error is expected
		err           string
	}{
		{"shorthand", "a: v2\n", prompt.Rollout{Default: "v2"}, ""},
		{"full", "a: {default: v1, canary: v2, canary_percent: 12.5}\n", prompt.Rollout{Default: "v1", Canary: "v2", CanaryPercent: 12.5}, ""},
		{"block style with comments", "# prompts\na:\n  default: v1 # stable\n  canary: v2\n  canary_percent: 0\n", prompt.Rollout{Default: "v1", Canary: "v2"}, ""},
		{"empty file", "", prompt.Rollout{}, "versions v1, v2 and no rollout entry"},
		{"only comments", "# nothing yet\n", prompt.Rollout{}, "no rollout entry"},
		{"unknown field", "a: {default: v1, canry: v2}\n", prompt.Rollout{}, "unknown field \"canry\""},
		{"repeated field", "a: {default: v1, default: v2}\n", prompt.Rollout{}, "repeated"},
		{"repeated prompt", "a: v1\na: v2\n", prompt.Rollout{}, "listed twice"},
		{"percent too high", "a: {default: v1, canary: v2, canary_percent: 101}\n", prompt.Rollout{}, "outside [0, 100]"},
		{"percent negative", "a: {default: v1, canary: v2, canary_percent: -1}\n", prompt.Rollout{}, "outside [0, 100]"},
		{"percent not a number", "a: {default: v1, canary: v2, canary_percent: 10%}\n", prompt.Rollout{}, "want a number"},
		{"canary without percent", "a: {default: v1, canary: v2}\n", prompt.Rollout{}, "without canary_percent"},
		{"percent without canary", "a: {default: v1, canary_percent: 5}\n", prompt.Rollout{}, "without canary"},
		{"list", "- a\n", prompt.Rollout{}, "want a mapping"},
		{"null entry", "a:\n", prompt.Rollout{}, "want a version"},
		{"two documents", "a: v1\n---\na: v2\n", prompt.Rollout{}, "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := prompt.Load(mapFS(tt.rollout, "a@v1", "a@v2"))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v: want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := r.Rollout("a"); got != tt.want {
				t.Errorf("Rollout = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func users(n int) []llm.Principal {
	ps := make([]llm.Principal, n)
	for i := range ps {
		ps[i] = llm.Principal{Tenant: fmt.Sprintf("t%d", i%7), User: fmt.Sprintf("user-%d", i)}
	}
	return ps
}

// canaryShare returns the share of ps that get version v of prompt a, and
// which of them do.
func canaryShare(t *testing.T, r *prompt.Registry, ps []llm.Principal, v string) (float64, map[int]bool) {
	t.Helper()
	in := map[int]bool{}
	for i, p := range ps {
		tm, err := r.Select("a", p)
		if err != nil {
			t.Fatal(err)
		}
		if tm.Version() == v {
			in[i] = true
		}
	}
	return float64(len(in)) / float64(len(ps)), in
}

func TestCanaryDistribution(t *testing.T) {
	ps := users(10_000)
	for _, pct := range []float64{1, 10, 50, 90} {
		t.Run(fmt.Sprint(pct), func(t *testing.T) {
			r := mustLoad(t, mapFS(fmt.Sprintf("a: {default: v1, canary: v2, canary_percent: %v}\n", pct), "a@v1", "a@v2"))
			share, in := canaryShare(t, r, ps, "v2")
			// Five standard deviations of a binomial share over 10,000 users.
			p := pct / 100
			if tol := 5 * math.Sqrt(p*(1-p)/float64(len(ps))); math.Abs(share-p) > tol {
				t.Errorf("canary share %.4f, want %.2f ± %.4f", share, p, tol)
			}
			// Stable: the same users, in a registry loaded again.
			again := mustLoad(t, mapFS(fmt.Sprintf("a: {default: v1, canary: v2, canary_percent: %v}\n", pct), "a@v1", "a@v2"))
			_, in2 := canaryShare(t, again, ps, "v2")
			if len(in) != len(in2) {
				t.Fatalf("reload moved users: %d then %d", len(in), len(in2))
			}
			for i := range in {
				if !in2[i] {
					t.Fatalf("user %d left the canary on reload", i)
				}
			}
		})
	}
}

func TestCanaryRampOnlyAddsUsers(t *testing.T) {
	ps := users(5_000)
	prev := map[int]bool{}
	for _, pct := range []int{5, 10, 25, 50, 100} {
		r := mustLoad(t, mapFS(fmt.Sprintf("a: {default: v1, canary: v2, canary_percent: %d}\n", pct), "a@v1", "a@v2"))
		share, in := canaryShare(t, r, ps, "v2")
		for i := range prev {
			if !in[i] {
				t.Fatalf("user %d left the canary when it grew to %d%%", i, pct)
			}
		}
		if pct == 100 && share != 1 {
			t.Errorf("at 100%% the share is %v", share)
		}
		prev = in
	}
}

func TestRollback(t *testing.T) {
	ps := users(2_000)
	before := mustLoad(t, mapFS("a: {default: v1, canary: v2, canary_percent: 30}\nb: v1\n", "a@v1", "a@v2", "b@v1"))
	if share, _ := canaryShare(t, before, ps, "v2"); share == 0 {
		t.Fatal("no user in the canary before the rollback")
	}
	for _, rollout := range []string{
		"a: {default: v1, canary: v2, canary_percent: 0}\nb: v1\n", // stop the canary
		"a: {default: v1}\nb: v1\n",                                // remove it
	} {
		after := mustLoad(t, mapFS(rollout, "a@v1", "a@v2", "b@v1"))
		if share, _ := canaryShare(t, after, ps, "v1"); share != 1 {
			t.Errorf("after %q, %.2f%% of users get v1", rollout, share*100)
		}
	}
	// Promote, then roll the default back: one line each.
	promoted := mustLoad(t, mapFS("a: v2\nb: v1\n", "a@v1", "a@v2", "b@v1"))
	if share, _ := canaryShare(t, promoted, ps, "v2"); share != 1 {
		t.Errorf("after promotion %.2f%% of users get v2", share*100)
	}
	back := mustLoad(t, mapFS("a: v1\nb: v1\n", "a@v1", "a@v2", "b@v1"))
	if share, _ := canaryShare(t, back, ps, "v1"); share != 1 {
		t.Errorf("after rollback %.2f%% of users get v1", share*100)
	}
}

func TestSelectPrincipals(t *testing.T) {
	r := mustLoad(t, mapFS("a: {default: v1, canary: v2, canary_percent: 100}\n", "a@v1", "a@v2"))
	tests := []struct {
		name string
		p    llm.Principal
		want string
	}{
		{"anonymous gets the default", llm.Principal{}, "v1"},
		{"roles alone are anonymous", llm.Principal{Roles: []string{"admin"}}, "v1"},
		{"tenant only", llm.Principal{Tenant: "acme"}, "v2"},
		{"user only", llm.Principal{User: "u1"}, "v2"},
	}
	for _, tt := range tests {
		if got, _ := r.Select("a", tt.p); got.Version() != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got.Version(), tt.want)
		}
	}

	// Without a user, a principal is placed by tenant: every tenant-only
	// principal of one tenant gets the same version.
	half := mustLoad(t, mapFS("a: {default: v1, canary: v2, canary_percent: 50}\n", "a@v1", "a@v2"))
	seen := map[string]bool{}
	for i := range 200 {
		tm, _ := half.Select("a", llm.Principal{Tenant: fmt.Sprintf("t%d", i)})
		seen[tm.Version()] = true
		again, _ := half.Select("a", llm.Principal{Tenant: fmt.Sprintf("t%d", i), Roles: []string{"x"}})
		if again != tm {
			t.Fatalf("tenant t%d moved between versions", i)
		}
	}
	if !seen["v1"] || !seen["v2"] {
		t.Errorf("tenants split into %v", seen)
	}
}

// TestCanaryIndependentOfRouter checks that a prompt canary and a model
// canary named alike split users independently: at 10% each, about 1% of
// users are in both, not 10%.
func TestCanaryIndependentOfRouter(t *testing.T) {
	r := mustLoad(t, mapFS("a: {default: v1, canary: v2, canary_percent: 10}\n", "a@v1", "a@v2"))
	router, err := llm.NewRouter(llm.RouterOptions{Rules: []llm.RouteRule{{
		Name: "a", // the same name as the prompt: the worst case
		Arms: []llm.RouteArm{
			{Name: "stable", Weight: 90, Model: llmtest.NewModel()},
			{Name: "canary", Weight: 10, Model: llmtest.NewModel()},
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ps := users(20_000)
	both, promptCanary, modelCanary := 0, 0, 0
	for _, p := range ps {
		req, err := r.Render("a", p, prompt.Vars{"q": "x"})
		if err != nil {
			t.Fatal(err)
		}
		route, _, err := router.Route(req)
		if err != nil {
			t.Fatal(err)
		}
		pc, mc := req.Prompt.Version == "v2", route == "a/canary"
		if pc {
			promptCanary++
		}
		if mc {
			modelCanary++
		}
		if pc && mc {
			both++
		}
	}
	n := float64(len(ps))
	want := float64(promptCanary) / n * float64(modelCanary) / n // independence
	got := float64(both) / n
	if tol := 5 * math.Sqrt(want*(1-want)/n); math.Abs(got-want) > tol {
		t.Errorf("%.4f of users are in both canaries; independence predicts %.4f ± %.4f", got, want, tol)
	}
}

func TestLiveSwap(t *testing.T) {
	v1 := mustLoad(t, mapFS("", "a@v1"))
	v2 := mustLoad(t, mapFS("", "a@v2"))
	live := prompt.NewLive(v1)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				req, err := live.Registry().Render("a", llm.Principal{User: fmt.Sprint(g, i)}, prompt.Vars{"q": "x"})
				if err != nil {
					t.Error(err)
					return
				}
				if v := req.Prompt.Version; v != "v1" && v != "v2" {
					t.Errorf("version %q", v)
					return
				}
			}
		}()
	}
	for i := range 100 {
		next := v1
		if i%2 == 0 {
			next = v2
		}
		live.Store(next)
	}
	wg.Wait()
	if old := live.Store(v2); old != v1 {
		t.Error("Store did not return the previous registry")
	}
	if d, _ := live.Registry().Get("a"); d.Version() != "v2" {
		t.Errorf("serving %s after Store(v2)", d.Version())
	}
}

func TestNilRegistry(t *testing.T) {
	var r *prompt.Registry
	if _, err := r.Get("a"); err == nil {
		t.Error("Get on a nil registry succeeded")
	}
	if _, err := r.Render("a", llm.Principal{}, nil); err == nil {
		t.Error("Render on a nil registry succeeded")
	}
	if r.Names() != nil {
		t.Error("Names of a nil registry")
	}
}

// TestPromptChangeMissesCache shows the prompt's hash at work: two
// versions that render the same messages, differing only in their header,
// are distinct cache entries, and a cache hit is per prompt version.
func TestPromptChangeMissesCache(t *testing.T) {
	body := "variables: [{name: q}]\ntemperature: 0\n---\n[user]\n{{.q}}\n"
	fsys := fstest.MapFS{
		"a/v1.prompt":  {Data: []byte("---\nname: a\nversion: v1\nmodel: m\n" + body)},
		"a/v2.prompt":  {Data: []byte("---\nname: a\nversion: v2\nmodel: m\ndescription: reworded header only\n" + body)},
		"rollout.yaml": {Data: []byte("a: v1\n")},
	}
	r := mustLoad(t, fsys)
	fake := llmtest.NewModel(llmtest.Reply("ok").Times(10))
	model := llm.Cache(llm.CacheOptions{Store: llm.NewMemoryCache(1 << 20)})(fake)
	p := llm.Principal{Tenant: "acme", User: "u1"}
	for _, version := range []string{"v1", "v1", "v2", "v2"} {
		tm, err := r.Version("a", version)
		if err != nil {
			t.Fatal(err)
		}
		req, err := tm.Render(prompt.Vars{"q": "same question"})
		if err != nil {
			t.Fatal(err)
		}
		req.Principal = p
		if _, err := model.Generate(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	if got := fake.Calls(); got != 2 {
		t.Errorf("the model was called %d times; want 2 (one per prompt version)", got)
	}
}
