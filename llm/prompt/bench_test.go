package prompt_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/prompt"
)

// benchFile is a realistic support prompt: a 1 KB system message with a
// trusted variable and a conditional, and a user message quoting three
// retrieved articles and the question.
var benchFile = `---
name: support-answer
version: v3
model: gpt-4o-mini
temperature: 0.2
max_output_tokens: 400
variables:
  - {name: product, trusted: true}
  - {name: plan, trusted: true}
  - {name: articles, type: strings}
  - {name: question}
---
[system]
You are the support assistant for {{.product}}. ` + strings.Repeat("Answer only from the articles quoted in the user message; if they do not answer the question, say so and offer to open a ticket. ", 8) + `
{{if eq .plan "enterprise"}}The customer has an enterprise plan: mention their dedicated support line.{{end}}

[user]
Articles:
{{range $i, $a := .articles}}
<article n="{{$i}}">{{$a}}</article>
{{- end}}

Question: {{.question}}
`

func BenchmarkRender(b *testing.B) {
	tm, err := prompt.Parse([]byte(benchFile))
	if err != nil {
		b.Fatal(err)
	}
	article := strings.Repeat("To reset your password, open Settings, then Security, and choose Reset. ", 8)
	vars := prompt.Vars{
		"product":  "Acme Mail",
		"plan":     "enterprise",
		"articles": []string{article, article, article},
		"question": "How do I reset my password? I no longer have access to my recovery e-mail.",
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tm.Render(vars); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSelect(b *testing.B) {
	r, err := prompt.Load(mapFS("a: {default: v1, canary: v2, canary_percent: 10}\n", "a@v1", "a@v2"))
	if err != nil {
		b.Fatal(err)
	}
	ps := make([]llm.Principal, 1024)
	for i := range ps {
		ps[i] = llm.Principal{Tenant: "acme", User: fmt.Sprintf("user-%d", i)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := r.Select("a", ps[i%len(ps)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(benchFile)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := prompt.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
