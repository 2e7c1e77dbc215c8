// Command rag-qa answers questions over a small bundled knowledge base for
// two tenants, with numbered citations, and shows that one tenant never
// retrieves the other's documents.
//
// Offline by default: embeddings come from llm/llmtest's deterministic
// lexical embedder and answers from a scripted model that quotes the best
// source. With OPENAI_API_KEY set it uses the real provider for both.
//
//	go run ./examples/rag-qa
package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path"
	"strings"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/openai"
	"github.com/keel-go/keel/rag"
	"github.com/keel-go/keel/rag/bm25"
	"github.com/keel-go/keel/rag/memstore"
)

//go:embed kb
var kb embed.FS

func main() {
	if err := run(context.Background(), os.Stdout, os.Getenv("OPENAI_API_KEY") != ""); err != nil {
		log.Fatal(err)
	}
}

// setup is the example's wiring: a store filled from the knowledge base,
// a retriever and a model.
type setup struct {
	store     *memstore.Store
	retriever *rag.Retriever
	model     llm.Model
	modelName string
}

func newSetup(ctx context.Context, online bool) (*setup, error) {
	var emb llm.Embedder = &llmtest.Embedder{Dimensions: 256}
	embModel, dim := "llmtest-lexical", 256
	var model llm.Model = llmtest.NewModelFunc(quoteBestSource)
	modelName := "scripted"
	if online {
		p, err := openai.New()
		if err != nil {
			return nil, err
		}
		emb, embModel, model, modelName = p, "text-embedding-3-small", p, "gpt-4o-mini"
	}
	splitter, err := rag.NewMarkdownSplitter(rag.MarkdownOptions{MaxTokens: 48, Overlap: 8})
	if err != nil {
		return nil, err
	}
	store := memstore.New(memstore.Options{Dim: dim, Tokenizer: bm25Tokenizer()})
	ing := &rag.Ingester{Store: store, Embedder: emb, Model: embModel, Dimensions: dim, Splitter: splitter, Feature: "rag-qa-ingest"}
	for _, tenant := range []string{"acme", "globex"} {
		docs, err := loadTenant(tenant)
		if err != nil {
			return nil, err
		}
		if _, err := ing.Sync(ctx, tenant, docs); err != nil {
			return nil, err
		}
	}
	return &setup{store: store, model: model, modelName: modelName,
		retriever: &rag.Retriever{Store: store, Embedder: emb, Model: embModel, Dimensions: dim, Feature: "rag-qa"}}, nil
}

// bm25Tokenizer is the keyword side's tokenizer: English stop words and
// stemming, so that "refunds" matches "refund".
func bm25Tokenizer() bm25.Tokenizer {
	return bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true}
}

// loadTenant reads kb/<tenant>/*.md. The fraud review is internal: only
// the fraud team may see it.
func loadTenant(tenant string) ([]rag.Document, error) {
	dir := path.Join("kb", tenant)
	entries, err := fs.ReadDir(kb, dir)
	if err != nil {
		return nil, err
	}
	var docs []rag.Document
	for _, e := range entries {
		data, err := fs.ReadFile(kb, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		text := string(data)
		title, _, _ := strings.Cut(strings.TrimPrefix(text, "# "), "\n")
		acl := rag.ACL{Everyone: true}
		if strings.HasPrefix(e.Name(), "fraud") {
			acl = rag.ACL{Groups: []string{"fraud-team"}}
		}
		docs = append(docs, rag.Document{ID: strings.TrimSuffix(e.Name(), ".md"), Tenant: tenant, ACL: acl, Title: title,
			SourceURL: "https://help." + tenant + ".example/" + strings.TrimSuffix(e.Name(), ".md"), Text: text})
	}
	return docs, nil
}

// ask answers question for principal: retrieve, build the numbered
// context, call the model, check the citations.
func (s *setup) ask(ctx context.Context, w io.Writer, p llm.Principal, question string) error {
	hits, err := s.retriever.Retrieve(ctx, p, question, 3, rag.Filter{})
	if err != nil {
		return err
	}
	sources := rag.Sources(hits)
	req := &llm.Request{Model: s.modelName, Principal: p, Feature: "rag-qa", Messages: []llm.Message{
		llm.SystemMessage("You answer customer questions for the tenant's help centre, briefly, citing sources like [1]."),
		sources.Message(),
		llm.UserText(question),
	}}
	resp, err := s.model.Generate(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s/%s asks: %s\n", p.Tenant, p.User, question)
	for i, h := range hits {
		fmt.Fprintf(w, "  [%d] %s (%s#%d, score %.3f)\n", i+1, h.Chunk.Title, h.Chunk.DocID, h.Chunk.Index, h.Score)
	}
	answer := resp.Message.Text()
	fmt.Fprintf(w, "  answer: %s\n", answer)
	report := sources.Check(answer)
	fmt.Fprintf(w, "  citations: cited %v, invalid %v, uncited sentences %d of %d (coverage %.0f%%)\n",
		report.Cited, report.Invalid, len(report.Uncited), report.Sentences, 100*report.Coverage())
	return nil
}

func run(ctx context.Context, w io.Writer, online bool) error {
	s, err := newSetup(ctx, online)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "knowledge base: %d chunks for two tenants (model: %s)\n", s.store.Len(), s.modelName)
	alice := llm.Principal{Tenant: "acme", User: "alice"}
	bob := llm.Principal{Tenant: "globex", User: "bob"}
	carol := llm.Principal{Tenant: "acme", User: "carol", Groups: []string{"fraud-team"}}
	for _, q := range []struct {
		p llm.Principal
		q string
	}{
		{alice, "How long do refunds take?"},
		{alice, "My parcel has not moved for a week, what now?"},
		{bob, "How long do refunds take?"},
		{bob, "What is the Acme refund fraud review threshold?"},
		{alice, "When are large refund requests reviewed for fraud?"},
		{carol, "When are large refund requests reviewed for fraud?"},
	} {
		if err := s.ask(ctx, w, q.p, q.q); err != nil {
			return err
		}
	}
	// Isolation, shown: globex's principal searches for Acme's words.
	hits, err := s.retriever.Retrieve(ctx, bob, "Acme parcel refund fraud team Monday", 10, rag.Filter{})
	if err != nil {
		return err
	}
	leaked := 0
	for _, h := range hits {
		if h.Chunk.Tenant != bob.Tenant {
			leaked++
		}
	}
	fmt.Fprintf(w, "\nglobex searching for Acme's words: %d hits, %d from another tenant\n", len(hits), leaked)
	return nil
}

// quoteBestSource is the offline model: it answers with the first
// sentence of the first two sources in the context, cited [1] and [2],
// and a closing courtesy that cites nothing (which the citation check
// reports).
func quoteBestSource(_ context.Context, req *llm.Request) (*llm.Response, error) {
	var sentences []string
	for _, m := range req.Messages {
		for _, p := range m.Parts {
			if p.Provenance != llm.Untrusted || len(sentences) == 2 {
				continue
			}
			n := len(sentences) + 1
			if !strings.HasPrefix(p.Text, fmt.Sprintf("[%d] ", n)) {
				continue
			}
			_, body, _ := strings.Cut(p.Text, "\n")
			var text []string
			for _, line := range strings.Split(body, "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
					text = append(text, line)
				}
			}
			sentence, _, _ := strings.Cut(strings.Join(text, " "), ". ")
			sentences = append(sentences, fmt.Sprintf("%s [%d].", strings.TrimSuffix(sentence, "."), n))
		}
	}
	if len(sentences) == 0 {
		return &llm.Response{Message: llm.AssistantText("I could not find this in the help centre."), FinishReason: llm.FinishStop}, nil
	}
	answer := strings.Join(sentences, " ") + " Is there anything else I can help with?"
	return &llm.Response{Message: llm.AssistantText(answer), FinishReason: llm.FinishStop}, nil
}
