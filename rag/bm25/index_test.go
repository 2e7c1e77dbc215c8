package bm25_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keel-go/keel/rag/bm25"
)

// The hand-made corpus: five documents, tokenised by the zero Tokenizer
// (lowercase, no stop words, no stemming). Lengths 6, 3, 3, 5, 2: N = 5,
// total 19 tokens, avgdl = 3.8. With k1 = 0.9 and b = 0.4 the length
// factor of a document is
//
//	K(|D|) = k1·(1 − b + b·|D|/avgdl) = 0.9·(0.6 + 0.4·|D|/3.8)
//	K(6) = 1.10842105…  K(5) = 1.01368421…  K(3) = 0.82421052…
//
// and a term occurring tf times contributes IDF·tf·1.9/(tf + K).
var handCorpus = []struct{ id, text string }{
	{"d1", "The cat sat on the mat."},
	{"d2", "The dog sat."},
	{"d3", "Cat, cat, CAT!"},
	{"d4", "A dog and a cat"},
	{"d5", "Birds fly"},
}

func handIndex(t *testing.T) *bm25.Index {
	t.Helper()
	ix := bm25.New(bm25.Tokenizer{})
	for _, d := range handCorpus {
		if err := ix.Add(d.id, d.text); err != nil {
			t.Fatal(err)
		}
	}
	return ix
}

// K is the length factor above, written out for each expected value.
func K(dl float64) float64 { return 0.9 * (0.6 + 0.4*dl/3.8) }

func checkResults(t *testing.T, got, want []bm25.Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i].DocID != want[i].DocID || math.Abs(got[i].Score-want[i].Score) > 1e-9 {
			t.Errorf("result %d = %s %.12f, want %s %.12f", i, got[i].DocID, got[i].Score, want[i].DocID, want[i].Score)
		}
	}
}

func TestSearchHandComputed(t *testing.T) {
	ix := handIndex(t)
	tests := []struct {
		query string
		want  []bm25.Result
	}{
		{
			// "cat": df = 3 (d1, d3, d4), IDF = ln(1 + 2.5/3.5) = 0.53899650.
			// d3: tf 3, |D| 3: 0.53899650·3·1.9/(3 + 0.82421053) = 0.80337629
			// d4: tf 1, |D| 5: 0.53899650·1.9/(1 + 1.01368421)  = 0.50856701
			// d1: tf 1, |D| 6: 0.53899650·1.9/(1 + 1.10842105)  = 0.48571577
			query: "cat",
			want: []bm25.Result{
				{"d3", math.Log(1+2.5/3.5) * 3 * 1.9 / (3 + K(3))},
				{"d4", math.Log(1+2.5/3.5) * 1.9 / (1 + K(5))},
				{"d1", math.Log(1+2.5/3.5) * 1.9 / (1 + K(6))},
			},
		},
		{
			// "dog" df 2, "sat" df 2: both IDF = ln(1 + 3.5/2.5) = ln 2.4 = 0.87546874.
			// d2 holds both, tf 1, |D| 3: 2·0.87546874·1.9/1.82421053 = 1.82368271
			// d4 dog, |D| 5: 0.87546874·1.9/2.01368421 = 0.82604342
			// d1 sat, |D| 6: 0.87546874·1.9/2.10842105 = 0.78892714
			query: "dog sat",
			want: []bm25.Result{
				{"d2", 2 * math.Log(2.4) * 1.9 / (1 + K(3))},
				{"d4", math.Log(2.4) * 1.9 / (1 + K(5))},
				{"d1", math.Log(2.4) * 1.9 / (1 + K(6))},
			},
		},
		{
			// "the" twice in the query (qtf 2), df 2: IDF ln 2.4; "mat" df 1:
			// IDF = ln(1 + 4.5/1.5) = ln 4 = 1.38629436; "unicorn" is unknown.
			// d1: the tf 2: 2·0.87546874·2·1.9/(2 + 1.10842105) = 2.14049701
			//     mat tf 1: 1.38629436·1.9/(1 + 1.10842105)   = 1.24925563
			//     total 3.38975264
			// d2: the tf 1: 2·0.87546874·1.9/(1 + 0.82421053) = 1.82368271
			query: "The the MAT unicorn",
			want: []bm25.Result{
				{"d1", 2*math.Log(2.4)*2*1.9/(2+K(6)) + math.Log(4)*1.9/(1+K(6))},
				{"d2", 2 * math.Log(2.4) * 1.9 / (1 + K(3))},
			},
		},
		{query: "unicorn", want: nil},
		{query: "", want: nil},
		{query: "...", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			checkResults(t, ix.Search(tt.query, 10, nil), tt.want)
		})
	}
}

func TestSearchFilterBeforeTopK(t *testing.T) {
	ix := handIndex(t)
	noD3 := func(id string) bool { return id != "d3" }
	// d3 is the best match for "cat"; with it filtered out, the top 1 must
	// be the best allowed document, not an empty list.
	got := ix.Search("cat", 1, noD3)
	checkResults(t, got, []bm25.Result{{"d4", math.Log(1+2.5/3.5) * 1.9 / (1 + K(5))}})

	calls := map[string]int{}
	ix.Search("cat dog sat", 2, func(id string) bool { calls[id]++; return true })
	for id, n := range calls {
		if n != 1 {
			t.Errorf("allow called %d times for %s, want at most once", n, id)
		}
	}
	if got := ix.Search("cat", 10, func(string) bool { return false }); got != nil {
		t.Errorf("nothing allowed: got %v", got)
	}
}

func TestSearchK(t *testing.T) {
	ix := handIndex(t)
	if got := ix.Search("cat", 0, nil); got != nil {
		t.Errorf("k=0: %v", got)
	}
	if got := ix.Search("cat", -1, nil); got != nil {
		t.Errorf("k=-1: %v", got)
	}
	if got := ix.Search("cat", 2, nil); len(got) != 2 || got[0].DocID != "d3" || got[1].DocID != "d4" {
		t.Errorf("k=2: %v", got)
	}
	if got := ix.Search("cat", math.MaxInt, nil); len(got) != 3 {
		t.Errorf("huge k: %v", got)
	}
}

func TestParams(t *testing.T) {
	ix := handIndex(t)
	if got := ix.Params(); got != bm25.DefaultParams() || got.K1 != 0.9 || got.B != 0.4 {
		t.Errorf("default params %+v", got)
	}
	// b = 0: length no longer matters, so d1 and d4 (tf 1 each) tie and
	// the tie goes to the smaller id. IDF·tf·1.9/(tf + 0.9).
	if err := ix.SetParams(bm25.Params{K1: 0.9, B: 0}); err != nil {
		t.Fatal(err)
	}
	idf := math.Log(1 + 2.5/3.5)
	checkResults(t, ix.Search("cat", 10, nil), []bm25.Result{
		{"d3", idf * 3 * 1.9 / (3 + 0.9)},
		{"d1", idf * 1.9 / (1 + 0.9)},
		{"d4", idf * 1.9 / (1 + 0.9)},
	})
	// The textbook k1 = 1.2, b = 0.75: K(|D|) = 1.2·(0.25 + 0.75·|D|/3.8).
	if err := ix.SetParams(bm25.Params{K1: 1.2, B: 0.75}); err != nil {
		t.Fatal(err)
	}
	k := func(dl float64) float64 { return 1.2 * (0.25 + 0.75*dl/3.8) }
	checkResults(t, ix.Search("cat", 10, nil), []bm25.Result{
		{"d3", idf * 3 * 2.2 / (3 + k(3))},
		{"d4", idf * 2.2 / (1 + k(5))},
		{"d1", idf * 2.2 / (1 + k(6))},
	})

	for _, p := range []bm25.Params{{K1: -1, B: 0.5}, {K1: 1, B: 1.5}, {K1: math.NaN(), B: 0.5}, {K1: 1, B: math.NaN()}, {K1: math.Inf(1), B: 0.5}} {
		if err := ix.SetParams(p); !errors.Is(err, bm25.ErrInvalidParams) {
			t.Errorf("SetParams(%+v) = %v, want ErrInvalidParams", p, err)
		}
	}
}

func TestRemoveAndReplace(t *testing.T) {
	ix := handIndex(t)
	if !ix.Remove("d3") || ix.Remove("d3") || ix.Remove("nope") {
		t.Fatal("Remove reported wrongly")
	}
	if ix.Len() != 4 {
		t.Fatalf("Len = %d, want 4", ix.Len())
	}
	// Without d3: N = 4, 16 tokens, avgdl = 4, "cat" df 2, IDF = ln 2.
	// K(6) = 0.9·(0.6 + 0.4·6/4) = 1.08, K(5) = 0.9·(0.6 + 0.4·5/4) = 0.99.
	checkResults(t, ix.Search("cat", 10, nil), []bm25.Result{
		{"d4", math.Ln2 * 1.9 / (1 + 0.99)},
		{"d1", math.Ln2 * 1.9 / (1 + 1.08)},
	})

	// Re-adding d4 with other text replaces it: now N = 4, lengths 6, 3, 2
	// and 1 ("cat"), 12 tokens, avgdl 3; "cat" df 2, IDF ln 2;
	// K(1) = 0.9·(0.6 + 0.4/3) = 0.66, K(6) = 0.9·(0.6 + 0.8) = 1.26.
	if err := ix.Add("d4", "cat"); err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 4 {
		t.Fatalf("Len after replace = %d, want 4", ix.Len())
	}
	checkResults(t, ix.Search("cat", 10, nil), []bm25.Result{
		{"d4", math.Ln2 * 1.9 / (1 + 0.66)},
		{"d1", math.Ln2 * 1.9 / (1 + 1.26)},
	})
	if got := ix.Search("dog", 10, nil); len(got) != 1 || got[0].DocID != "d2" {
		t.Errorf("dog after d4 was replaced: %v", got)
	}

	for _, d := range handCorpus {
		ix.Remove(d.id)
	}
	if ix.Len() != 0 || ix.Search("cat", 10, nil) != nil {
		t.Errorf("empty index: Len %d", ix.Len())
	}
	if err := ix.Add("again", "cat"); err != nil || len(ix.Search("cat", 1, nil)) != 1 {
		t.Errorf("index unusable after being emptied: %v", err)
	}
}

func TestAddErrors(t *testing.T) {
	ix := bm25.New(bm25.Tokenizer{})
	if err := ix.Add("", "text"); !errors.Is(err, bm25.ErrEmptyID) {
		t.Errorf("empty id: %v", err)
	}
	// A document with no tokens is stored and counts towards N.
	if err := ix.Add("blank", " ... "); err != nil || ix.Len() != 1 {
		t.Errorf("blank document: %v, Len %d", err, ix.Len())
	}
}

// naiveBM25 scores every document of docs for query from scratch, with the
// formula of Search written out directly: the reference the randomised test
// compares the index with.
func naiveBM25(docs map[string][]string, query []string, k1, b float64) map[string]float64 {
	n := float64(len(docs))
	total := 0
	for _, toks := range docs {
		total += len(toks)
	}
	avgdl := float64(total) / n
	qtf := map[string]int{}
	for _, q := range query {
		qtf[q]++
	}
	df := map[string]int{}
	for term := range qtf {
		for _, toks := range docs {
			if slices.Contains(toks, term) {
				df[term]++
			}
		}
	}
	scores := map[string]float64{}
	for id, toks := range docs {
		for term, qn := range qtf {
			tf := 0
			for _, tok := range toks {
				if tok == term {
					tf++
				}
			}
			if tf == 0 {
				continue
			}
			idf := math.Log(1 + (n-float64(df[term])+0.5)/(float64(df[term])+0.5))
			scores[id] += float64(qn) * idf * float64(tf) * (k1 + 1) /
				(float64(tf) + k1*(1-b+b*float64(len(toks))/avgdl))
		}
	}
	return scores
}

// TestIndexMatchesNaive runs random adds, replacements and removals (enough
// to trigger compaction several times) and after each batch compares every
// score with naiveBM25 over the documents' tokens. The stemming tokenizer
// exercises the index's cache of surface forms, whose vocabulary mixes
// inflections of the same stem and stop words.
func TestIndexMatchesNaive(t *testing.T) {
	tokenizers := []bm25.Tokenizer{{}, {StopWords: bm25.EnglishStopWords(), Stem: true}}
	for _, tok := range tokenizers {
		t.Run(tok.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			vocab := []string{"alpha", "Beta", "gamma", "delta", "eps", "zeta", "the", "of", "cat", "cats", "catting", "running", "runs", "Run", "runner", "naïve"}
			randText := func() string {
				words := make([]string, rng.IntN(12))
				for i := range words {
					words[i] = vocab[min(rng.IntN(len(vocab)), rng.IntN(len(vocab)))] // skewed
				}
				return strings.Join(words, " ")
			}
			ix := bm25.New(tok)
			docs := map[string][]string{}
			for round := range 40 {
				for range 50 {
					id := fmt.Sprintf("doc%d", rng.IntN(300))
					if rng.IntN(3) == 0 {
						ix.Remove(id)
						delete(docs, id)
						continue
					}
					text := randText()
					if err := ix.Add(id, text); err != nil {
						t.Fatal(err)
					}
					docs[id] = tok.Tokens(text)
				}
				if ix.Len() != len(docs) {
					t.Fatalf("round %d: Len %d, want %d", round, ix.Len(), len(docs))
				}
				for range 5 {
					query := randText()
					want := naiveBM25(docs, tok.Tokens(query), 0.9, 0.4)
					got := ix.Search(query, len(docs)+1, nil)
					if len(got) != len(want) {
						t.Fatalf("round %d, query %q: %d results, want %d", round, query, len(got), len(want))
					}
					for i, r := range got {
						if math.Abs(r.Score-want[r.DocID]) > 1e-9 {
							t.Fatalf("round %d, query %q: %s scored %v, want %v", round, query, r.DocID, r.Score, want[r.DocID])
						}
						if i > 0 && (got[i-1].Score < r.Score || got[i-1].Score == r.Score && got[i-1].DocID > r.DocID) {
							t.Fatalf("results out of order at %d: %v", i, got)
						}
					}
				}
			}
		})
	}
}

// TestConcurrentUse exercises Add, Remove, Search and SetParams from
// several goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	ix := bm25.New(bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("w%d-%d", w, i%50)
				if err := ix.Add(id, fmt.Sprintf("worker %d wrote document %d about cats and dogs", w, i)); err != nil {
					t.Error(err)
					return
				}
				if i%7 == 0 {
					ix.Remove(id)
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				for _, r := range ix.Search("cats document", 5, nil) {
					if r.Score <= 0 || r.DocID == "" {
						t.Errorf("bad result %+v", r)
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			if err := ix.SetParams(bm25.Params{K1: 0.5 + float64(i%3)/2, B: 0.4}); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	if ix.Len() == 0 || ix.Len() > 200 {
		t.Errorf("Len = %d", ix.Len())
	}
}
