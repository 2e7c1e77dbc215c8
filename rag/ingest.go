package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/keel-go/keel/llm"
)

// TextSplitter is what the ingester needs of a splitter: spans of a text.
// RecursiveSplitter and MarkdownSplitter implement it.
type TextSplitter interface {
	Split(text string) []Span
}

// Ingester loads documents into a Store: split → embed (batched,
// concurrently, through the Embedder the caller built, usually with
// retry, rate-limit and cache middlewares) → replace. It is incremental:
// a document whose fingerprint (content hash, embedding model and
// dimensions, splitter settings) is unchanged is skipped, so changing the
// model or the splitter re-embeds rather than mixing vectors; a changed
// document replaces its old chunks atomically; a document whose only
// changes are its ACL, title, URL, date or metadata is updated without
// re-embedding. Sync also deletes what is gone.
//
// An Ingester is safe for concurrent use once configured.
type Ingester struct {
	Store    Store
	Embedder llm.Embedder
	// Model and Dimensions are passed to the Embedder (Dimensions 0: the
	// model's native size) and are part of the fingerprint.
	Model      string
	Dimensions int
	// Splitter splits documents into chunks.
	Splitter TextSplitter
	// SplitterSettings names the splitter's configuration in the
	// fingerprint; when empty, the splitter's Settings method is used if
	// it has one (RecursiveSplitter and MarkdownSplitter do). Change it
	// and every document is re-split and re-embedded.
	SplitterSettings string
	// BatchSize is how many chunks go in one embedding call (default 64);
	// Concurrency how many calls run at once (default 4).
	BatchSize, Concurrency int
	// Feature attributes the embedding calls' cost.
	Feature string
}

// Report counts what an ingestion did.
type Report struct {
	// Added and Replaced count documents embedded and stored; Skipped
	// those whose fingerprint was unchanged; Updated those whose fields
	// changed without their content; Deleted those Sync removed.
	Added, Replaced, Skipped, Updated, Deleted int
	// Chunks counts the chunks embedded.
	Chunks int
	// Usage adds up the embedding calls.
	Usage llm.Usage
}

func (r *Report) add(o Report) {
	r.Added += o.Added
	r.Replaced += o.Replaced
	r.Skipped += o.Skipped
	r.Updated += o.Updated
	r.Deleted += o.Deleted
	r.Chunks += o.Chunks
	r.Usage.InputTokens += o.Usage.InputTokens
	r.Usage.OutputTokens += o.Usage.OutputTokens
}

// settings is what a splitter may say about its configuration.
type settings interface{ Settings() string }

// Fingerprint returns the fingerprint d gets under this ingester: what
// must match for its stored chunks to be reused.
func (in *Ingester) Fingerprint(d *Document) string {
	h := sha256.New()
	sum := sha256.Sum256([]byte(d.Text))
	h.Write(sum[:])
	split := in.SplitterSettings
	if split == "" {
		if s, ok := in.Splitter.(settings); ok {
			split = s.Settings()
		} else {
			split = fmt.Sprintf("%T", in.Splitter)
		}
	}
	for _, part := range []string{in.Model, strconv.Itoa(in.Dimensions), split} {
		h.Write([]byte(strconv.Itoa(len(part))))
		h.Write([]byte{':'})
		h.Write([]byte(part))
	}
	return "v1:" + hex.EncodeToString(h.Sum(nil))
}

func (in *Ingester) check() error {
	if in.Store == nil || in.Embedder == nil || in.Splitter == nil {
		return errors.New("rag: Ingester needs a Store, an Embedder and a Splitter")
	}
	return nil
}

// Ingest adds or refreshes docs. Documents are processed one after the
// other, their chunks embedded concurrently; on error, the documents
// before the failing one are stored and the report says how far it got.
func (in *Ingester) Ingest(ctx context.Context, docs ...Document) (Report, error) {
	var total Report
	if err := in.check(); err != nil {
		return total, err
	}
	for i := range docs {
		r, err := in.ingest(ctx, &docs[i])
		total.add(r)
		if err != nil {
			return total, fmt.Errorf("rag: ingesting %q: %w", docs[i].ID, err)
		}
	}
	return total, nil
}

// Sync makes tenant's documents in the store exactly docs: it ingests
// them as Ingest does and deletes the tenant's documents not among them.
// Every document must belong to tenant.
func (in *Ingester) Sync(ctx context.Context, tenant string, docs []Document) (Report, error) {
	if tenant == "" {
		return Report{}, ErrNoPrincipal
	}
	keep := make(map[string]bool, len(docs))
	for i := range docs {
		if docs[i].Tenant != tenant {
			return Report{}, fmt.Errorf("rag: Sync of tenant %q given document %q of tenant %q", tenant, docs[i].ID, docs[i].Tenant)
		}
		keep[docs[i].ID] = true
	}
	r, err := in.Ingest(ctx, docs...)
	if err != nil {
		return r, err
	}
	stored, err := in.Store.Documents(ctx, tenant)
	if err != nil {
		return r, err
	}
	for _, d := range stored {
		if keep[d.ID] {
			continue
		}
		if err := in.Store.Delete(ctx, tenant, d.ID); err != nil {
			return r, err
		}
		r.Deleted++
	}
	return r, nil
}

// Move moves a document to another tenant without re-embedding: its
// chunks are copied under the new tenant, then the old document deleted.
func (in *Ingester) Move(ctx context.Context, fromTenant, docID string, to DocumentInfo) error {
	if to.Tenant == "" || fromTenant == "" {
		return ErrNoPrincipal
	}
	chunks, err := in.Store.Chunks(ctx, fromTenant, docID)
	if err != nil {
		return err
	}
	old, err := in.Store.Document(ctx, fromTenant, docID)
	if err != nil {
		return err
	}
	to.ID, to.Fingerprint, to.Chunks = docID, old.Fingerprint, len(chunks)
	if err := in.Store.Replace(ctx, to, chunks); err != nil {
		return err
	}
	return in.Store.Delete(ctx, fromTenant, docID)
}

// ingest handles one document.
func (in *Ingester) ingest(ctx context.Context, d *Document) (Report, error) {
	var r Report
	if d.Tenant == "" {
		return r, ErrNoPrincipal
	}
	if d.ID == "" {
		return r, errors.New("rag: document without an ID")
	}
	fp := in.Fingerprint(d)
	old, err := in.Store.Document(ctx, d.Tenant, d.ID)
	switch {
	case err == nil && old.Fingerprint == fp:
		info := d.Info(fp, old.Chunks)
		if sameFields(&old, &info) {
			r.Skipped++
			return r, nil
		}
		if err := in.Store.Update(ctx, info); err != nil {
			return r, err
		}
		r.Updated++
		return r, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return r, err
	}
	spans := in.Splitter.Split(d.Text)
	chunks := make([]Chunk, len(spans))
	texts := make([]string, len(spans))
	for i, s := range spans {
		chunks[i] = Chunk{Index: i, Start: s.Start, End: s.End, Text: d.Text[s.Start:s.End], Headings: s.Headings}
		texts[i] = embedText(d, &chunks[i])
	}
	vectors, usage, err := in.embed(ctx, d.Tenant, texts)
	r.Usage = usage
	if err != nil {
		return r, err
	}
	for i := range chunks {
		chunks[i].Vector = vectors[i]
	}
	if err := in.Store.Replace(ctx, d.Info(fp, len(chunks)), chunks); err != nil {
		return r, err
	}
	r.Chunks = len(chunks)
	if old.ID == "" {
		r.Added++
	} else {
		r.Replaced++
	}
	return r, nil
}

// embedText is what is embedded for a chunk: its heading path and the
// document's title give the passage its context.
func embedText(d *Document, c *Chunk) string {
	prefix := d.Title
	for _, h := range c.Headings {
		if prefix != "" {
			prefix += " › "
		}
		prefix += h
	}
	if prefix == "" {
		return c.Text
	}
	return prefix + "\n\n" + c.Text
}

// embed embeds texts in batches, BatchSize at a time, Concurrency batches
// at once.
func (in *Ingester) embed(ctx context.Context, tenant string, texts []string) ([][]float32, llm.Usage, error) {
	batch := in.BatchSize
	if batch <= 0 {
		batch = 64
	}
	conc := in.Concurrency
	if conc <= 0 {
		conc = 4
	}
	out := make([][]float32, len(texts))
	var mu sync.Mutex
	var usage llm.Usage
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for start := 0; start < len(texts); start += batch {
		end := min(start+batch, len(texts))
		g.Go(func() error {
			resp, err := in.Embedder.Embed(ctx, &llm.EmbedRequest{Model: in.Model, Inputs: texts[start:end], Dimensions: in.Dimensions,
				Principal: llm.Principal{Tenant: tenant}, Feature: in.Feature})
			if err != nil {
				return err
			}
			if len(resp.Vectors) != end-start {
				return fmt.Errorf("rag: the embedder returned %d vectors for %d texts", len(resp.Vectors), end-start)
			}
			copy(out[start:end], resp.Vectors)
			mu.Lock()
			usage.InputTokens += resp.Usage.InputTokens
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, usage, err
	}
	return out, usage, nil
}

// sameFields reports whether two infos agree on everything Update sets.
func sameFields(a, b *DocumentInfo) bool {
	if a.Title != b.Title || a.SourceURL != b.SourceURL || !a.UpdatedAt.Equal(b.UpdatedAt) || a.ACL.Everyone != b.ACL.Everyone ||
		!slices.Equal(a.ACL.Users, b.ACL.Users) || !slices.Equal(a.ACL.Groups, b.ACL.Groups) || len(a.Metadata) != len(b.Metadata) {
		return false
	}
	for k, v := range a.Metadata {
		if bv, ok := b.Metadata[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
