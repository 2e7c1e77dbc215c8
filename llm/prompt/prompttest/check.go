package prompttest

import (
	"io/fs"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/prompt"
	"github.com/keel-go/keel/llm/structured"
)

// Check reports, through t.Errorf, every problem with every version of
// every prompt in r (not only the versions being served, so a rollback
// target is known to work too):
//
//   - a variable without an example;
//   - a failure to render with the examples, or a rendering without
//     messages;
//   - for a prompt with an output type: a schema that does not compile
//     again from its JSON, that has no strict form (StrictJSON fails), or
//     whose strict form structured.CheckStrict refuses, or a rendered
//     request whose ResponseFormat does not ask for it.
//
// Each message starts with the prompt's name@version and its file.
func Check(t testing.TB, r *prompt.Registry) {
	t.Helper()
	names := r.Names()
	if len(names) == 0 {
		t.Errorf("prompttest: the registry holds no prompts")
		return
	}
	for _, name := range names {
		versions, err := r.Versions(name)
		if err != nil {
			t.Errorf("prompttest: %s: %v", name, err)
			continue
		}
		for _, tm := range versions {
			checkTemplate(t, tm)
		}
	}
}

// CheckFS loads the prompts of fsys with opts, failing the test at once if
// that fails, then runs Check on them and returns the registry.
func CheckFS(t testing.TB, fsys fs.FS, opts ...prompt.Option) *prompt.Registry {
	t.Helper()
	r, err := prompt.Load(fsys, opts...)
	if err != nil {
		t.Fatalf("prompttest: %v", err)
		return nil
	}
	Check(t, r)
	return r
}

func checkTemplate(t testing.TB, tm *prompt.Template) {
	t.Helper()
	where := tm.Name() + "@" + tm.Version()
	if tm.File() != "" {
		where += " (" + tm.File() + ")"
	}
	complete := true
	for _, v := range tm.Variables() {
		if v.Example == nil {
			t.Errorf("prompttest: %s: variable %q has no example", where, v.Name)
			complete = false
		}
	}
	var req *llm.Request
	if complete {
		var err error
		req, err = tm.Render(tm.Examples())
		switch {
		case err != nil:
			t.Errorf("prompttest: %s: rendering with the examples: %v", where, err)
		case len(req.Messages) == 0:
			t.Errorf("prompttest: %s: rendering with the examples gives no message", where)
		}
	}

	out := tm.Output()
	if out == nil {
		return
	}
	if _, err := structured.CompileSchema(out.Name(), out.JSON()); err != nil {
		t.Errorf("prompttest: %s: output schema %s does not compile: %v", where, out.Name(), err)
	}
	strict, err := out.StrictJSON()
	if err != nil {
		t.Errorf("prompttest: %s: output schema %s has no strict form: %v", where, out.Name(), err)
		return
	}
	if err := structured.CheckStrict(strict); err != nil {
		t.Errorf("prompttest: %s: the strict form of output schema %s is refused by the strict-subset checker: %v", where, out.Name(), err)
	}
	if req != nil {
		if rf := req.ResponseFormat; rf == nil || rf.Type != llm.FormatJSONSchema || rf.Name != out.Name() {
			t.Errorf("prompttest: %s: the rendered request does not ask for output schema %s (ResponseFormat %+v)", where, out.Name(), rf)
		}
	}
}
