package prompttest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/keel-go/keel/llm/prompt"
	"github.com/keel-go/keel/llm/prompt/prompttest"
	"github.com/keel-go/keel/llm/structured"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB // unused methods panic: Check must only report
	mu         sync.Mutex
	errs       []string
	fatal      bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine, as a test would run,
// so that Fatalf can stop it.
func run(f func(testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// Ticket is an output type given to the registry as a Go type.
type Ticket struct {
	Title    string   `json:"title"`
	Priority string   `json:"priority" jsonschema:"enum=low,enum=normal,enum=urgent"`
	Tags     []string `json:"tags,omitempty"`
}

const (
	answer = `---
name: answer
version: %s
variables:
  - {name: q, example: "How do I reset my password?"}
  - {name: docs, type: strings, example: [Open Settings.]}
---
[system]
Answer from the articles.
[user]
{{range .docs}}<doc>{{.}}</doc>{{end}}
{{.q}}
`
	triageInline = `---
name: triage
version: v1
variables: [{name: msg, example: My invoice is wrong.}]
output: TriageResult
output_schema:
  type: object
  properties:
    title: {type: string}
    priority: {type: string, enum: [low, normal, urgent]}
  required: [title, priority]
  additionalProperties: false
---
[user]
{{.msg}}
`
	triageGo = `---
name: ticket
version: v1
variables: [{name: msg, example: My invoice is wrong.}]
output: Ticket
---
[user]
{{.msg}}
`
)

func goodFS() fstest.MapFS {
	return fstest.MapFS{
		"answer/v1.prompt":   {Data: []byte(fmt.Sprintf(answer, "v1"))},
		"answer/v2.prompt":   {Data: []byte(fmt.Sprintf(answer, "v2"))},
		"triage/v1.prompt":   {Data: []byte(triageInline)},
		"ticket@v1.prompt":   {Data: []byte(triageGo)},
		"rollout.yaml":       {Data: []byte("answer: {default: v1, canary: v2, canary_percent: 5}\n")},
		"notes/README.md":    {Data: []byte("ignored")},
		".drafts/x@v.prompt": {Data: []byte("ignored too")},
	}
}

func schemas(t *testing.T) prompt.Option {
	t.Helper()
	s, err := structured.SchemaFor[Ticket](structured.SchemaOptions{})
	if err != nil {
		t.Fatalf("SchemaFor[Ticket]: %v", err)
	}
	return prompt.WithSchemas(map[string]*structured.Schema{"Ticket": s})
}

func TestCheckPasses(t *testing.T) {
	opt := schemas(t)
	rec := run(func(tb testing.TB) { prompttest.CheckFS(tb, goodFS(), opt) })
	if len(rec.errs) > 0 || rec.fatal {
		t.Errorf("Check reported problems with good prompts: %q", rec.errs)
	}
}

func TestCheckFindsProblems(t *testing.T) {
	opt := schemas(t)
	tests := []struct {
		name  string
		edit  func(fstest.MapFS)
		want  []string
		fatal bool
	}{{
		name: "variable without example",
		edit: func(f fstest.MapFS) {
			f["answer/v2.prompt"] = &fstest.MapFile{Data: []byte(strings.Replace(fmt.Sprintf(answer, "v2"),
				`{name: q, example: "How do I reset my password?"}`, "{name: q}", 1))}
		},
		// v2 is only the canary: every version is checked.
		want: []string{"answer@v2 (answer/v2.prompt)", `variable "q" has no example`},
	}, {
		name: "example does not render",
		edit: func(f fstest.MapFS) {
			f["answer/v1.prompt"] = &fstest.MapFile{Data: []byte(strings.Replace(fmt.Sprintf(answer, "v1"),
				"{name: docs, type: strings, example: [Open Settings.]}",
				"{name: docs, type: strings, trusted: true, example: [Open Settings.]}", 1) + "{{index .docs 2}}\n")}
		},
		want: []string{"answer@v1", "rendering with the examples", "index out of range"},
	}, {
		name: "output schema without strict form",
		edit: func(f fstest.MapFS) {
			f["triage/v1.prompt"] = &fstest.MapFile{Data: []byte(strings.Replace(triageInline,
				"additionalProperties: false", "additionalProperties: {type: string}", 1))}
		},
		want: []string{"triage@v1", "output schema TriageResult has no strict form"},
	}, {
		name: "registry does not load",
		edit: func(f fstest.MapFS) {
			f["answer/v3.prompt"] = &fstest.MapFile{Data: []byte("---\nname: answer\nversion: v3\nmodle: x\n---\n[user]\nhi\n")}
		},
		want:  []string{"answer/v3.prompt", "modle"},
		fatal: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := goodFS()
			tt.edit(fsys)
			rec := run(func(tb testing.TB) { prompttest.CheckFS(tb, fsys, opt) })
			if rec.fatal != tt.fatal {
				t.Errorf("fatal = %v, want %v", rec.fatal, tt.fatal)
			}
			if len(rec.errs) != 1 {
				t.Fatalf("Check reported %d problems, want 1: %q", len(rec.errs), rec.errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(rec.errs[0], w) {
					t.Errorf("report %q does not mention %q", rec.errs[0], w)
				}
			}
		})
	}
}

func TestCheckNilRegistry(t *testing.T) {
	rec := run(func(tb testing.TB) { prompttest.Check(tb, nil) })
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "no prompts") {
		t.Errorf("reports %q", rec.errs)
	}
}
