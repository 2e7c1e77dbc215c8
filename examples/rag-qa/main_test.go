package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
)

func TestRunOffline(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"acme/alice asks", "globex/bob asks", "citations: cited [1", "0 from another tenant"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// Only the fraud team sees the internal review.
	carol := text[strings.Index(text, "acme/carol asks"):]
	alice := text[strings.LastIndex(text, "acme/alice asks"):strings.Index(text, "acme/carol asks")]
	if !strings.Contains(carol, "fraud#0") || strings.Contains(alice, "fraud#0") {
		t.Errorf("fraud review visibility wrong:\nalice: %s\ncarol: %s", alice, carol)
	}
}

// The example corpus's labelled questions, for recall@10 of hybrid,
// keyword-only and vector-only retrieval (reported in BENCHMARKS.md).
var labelled = []struct {
	p        llm.Principal
	question string
	relevant string // document id
}{
	{llm.Principal{Tenant: "acme", User: "a"}, "How long until my refund is paid?", "refunds"},
	{llm.Principal{Tenant: "acme", User: "a"}, "Can I get my money back for a broken parcel?", "refunds"},
	{llm.Principal{Tenant: "acme", User: "a"}, "How much does delivery cost?", "shipping"},
	{llm.Principal{Tenant: "acme", User: "a"}, "When is a parcel considered lost?", "shipping"},
	{llm.Principal{Tenant: "acme", User: "a"}, "I forgot my password", "accounts"},
	{llm.Principal{Tenant: "acme", User: "a"}, "How do I enable two-factor authentication?", "accounts"},
	{llm.Principal{Tenant: "acme", User: "a", Groups: []string{"fraud-team"}}, "Which refund requests get reviewed?", "fraud"},
	{llm.Principal{Tenant: "globex", User: "b"}, "Do you refund a subscription I did not use?", "refunds"},
	{llm.Principal{Tenant: "globex", User: "b"}, "When can I call support?", "support"},
	{llm.Principal{Tenant: "globex", User: "b"}, "How are refunds paid?", "refunds"},
}

func TestRecallByMode(t *testing.T) {
	ctx := context.Background()
	s, err := newSetup(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		mode rag.Mode
	}{{"hybrid", rag.Hybrid}, {"keyword", rag.KeywordOnly}, {"vector", rag.VectorOnly}} {
		r := *s.retriever
		r.Mode = m.mode
		found, first := 0, 0
		var mrr float64
		for _, l := range labelled {
			hits, err := r.Retrieve(ctx, l.p, l.question, 10, rag.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			for i, h := range hits {
				if h.Chunk.Tenant != l.p.Tenant {
					t.Fatalf("%s: another tenant's chunk", m.name)
				}
				if h.Chunk.DocID == l.relevant {
					found++
					mrr += 1 / float64(i+1)
					if i == 0 {
						first++
					}
					break
				}
			}
		}
		n := float64(len(labelled))
		recall := float64(found) / n
		// The corpus is small enough that recall@10 sees most of a
		// tenant's chunks; hit@1 and MRR tell the modes apart.
		t.Logf("%s recall@10=%.2f hit@1=%.2f MRR=%.3f (%d questions)", m.name, recall, float64(first)/n, mrr/n, len(labelled))
		if recall < 0.5 {
			t.Errorf("%s recall@10 %.2f", m.name, recall)
		}
	}
}
