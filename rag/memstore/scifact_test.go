package memstore_test

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"github.com/keel-go/keel/internal/shareddata"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keel-go/keel/eval/metric"
	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
	"github.com/keel-go/keel/rag/bm25"
	"github.com/keel-go/keel/rag/memstore"
)

// TestSciFactBM25 checks the embedded store's keyword retrieval against a
// published figure: each SciFact abstract is one document of one chunk in
// a memstore.Store, searched with KeywordSearch (BM25). BM25 on the BEIR
// SciFact test split (5,183 abstracts, 300 queries) scores
// nDCG@10 = 0.665 in the BEIR paper (Thakur et al. 2021). The test fails
// below 0.65.
//
// Settings were chosen on the 809 TRAIN queries (qrels_train.tsv) only, by
// a grid over stop words {none, English}, stemming {off, on},
// k1 {0.6, 0.9, 1.2, 1.5} and b {0.3, 0.4, 0.5, 0.6, 0.75, 0.9}; train
// nDCG@10 for some of them:
//
//	no stop words, no stemming, k1 0.9, b 0.4    0.6638
//	English stop words, no stemming, 0.9 / 0.4   0.6657
//	no stop words, Porter2, 0.9 / 0.4            0.6937
//	English stop words, Porter2, 0.9 / 0.4       0.6947 (the defaults)
//	English stop words, Porter2, 1.2 / 0.5       0.6980 (best; R@10 0.8145)
//
// so the test uses English stop words, Porter2 stemming, k1 = 1.2, b = 0.5.
// Stemming is what matters (+0.03); k1 and b move the score by less than
// 0.005 across the whole grid.
func TestSciFactBM25(t *testing.T) {
	dir := sciFactDir(t)
	docs := readSciFactCorpus(t, filepath.Join(dir, "scifact.zip"))
	queries := readSciFactQueries(t, filepath.Join(dir, "queries.jsonl"))
	qrels := readSciFactQrels(t, filepath.Join(dir, "qrels_test.tsv"))
	if len(docs) != 5183 || len(qrels) != 300 {
		t.Fatalf("read %d documents and %d judged queries, want 5183 and 300", len(docs), len(qrels))
	}

	ctx := context.Background()
	store := memstore.New(memstore.Options{Dim: 1, Tokenizer: bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true},
		BM25: bm25.Params{K1: 1.2, B: 0.5}})
	for _, d := range docs {
		info := rag.DocumentInfo{ID: d.id, Tenant: "scifact", ACL: rag.ACL{Everyone: true}}
		chunk := rag.Chunk{End: len(d.text), Text: d.text, Vector: []float32{1}}
		if err := store.Replace(ctx, info, []rag.Chunk{chunk}); err != nil {
			t.Fatal(err)
		}
	}
	reader := llm.Principal{Tenant: "scifact", User: "eval"}
	run := metric.Run{}
	for q := range qrels {
		text, ok := queries[q]
		if !ok {
			t.Fatalf("query %s has judgements but no text", q)
		}
		hits, err := store.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: reader, K: 10}, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			run[q] = append(run[q], h.Chunk.DocID)
		}
	}
	ndcg := metric.Average(qrels, run, 10, metric.NDCGAt)
	t.Logf("nDCG@10=%.4f", ndcg)
	t.Logf("recall@10=%.4f MRR@10=%.4f", metric.Average(qrels, run, 10, metric.RecallAt), metric.Average(qrels, run, 10, metric.ReciprocalRankAt))
	if ndcg < 0.65 {
		t.Errorf("nDCG@10 = %.4f, below 0.65 (published BM25: 0.665)", ndcg)
	}
}

// sciFactDir finds shared/data/scifact (see internal/shareddata).
func sciFactDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(shareddata.File(t, "scifact/scifact.zip", "see shared/data/scifact/README.md"))
}

type sciFactDoc struct{ id, text string }

// readSciFactCorpus reads corpus_train.csv from the zip without extracting
// it. The text of a document is its title and abstract; the abstract is a
// Python list literal of sentences, whose brackets, quotes and separators
// are all token boundaries to the tokenizer, so only the escapes Python
// wrote into it need undoing.
func readSciFactCorpus(t *testing.T, path string) []sciFactDoc {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open("corpus_train.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(header) < 3 || header[0] != "doc_id" || header[1] != "title" || header[2] != "abstract" {
		t.Fatalf("unexpected corpus header %q", header)
	}
	unescape := strings.NewReplacer(`\n`, " ", `\t`, " ", `\r`, " ", `\'`, "'", `\"`, `"`, `\\`, " ")
	var docs []sciFactDoc
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, sciFactDoc{id: rec[0], text: rec[1] + " " + unescape.Replace(rec[2])})
	}
	return docs
}

// readSciFactQueries reads queries.jsonl (BEIR format) into text by id.
func readSciFactQueries(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	queries := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var q struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		queries[q.ID] = q.Text
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return queries
}

// readSciFactQrels reads the test judgements: whitespace-separated
// "query-id 0 doc-id grade" lines, no header.
func readSciFactQrels(t *testing.T, path string) metric.Qrels {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	qrels := metric.Qrels{}
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 {
			t.Fatalf("%s:%d: want 4 fields, got %q", path, i+1, line)
		}
		grade, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			t.Fatalf("%s:%d: grade: %v", path, i+1, err)
		}
		if qrels[f[0]] == nil {
			qrels[f[0]] = metric.Relevance{}
		}
		qrels[f[0]][f[2]] = grade
	}
	return qrels
}
