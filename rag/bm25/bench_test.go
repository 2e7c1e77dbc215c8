package bm25_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/keel-go/keel/rag/bm25"
)

// synthCorpus is a seeded, synthetic but realistic corpus for the
// benchmarks: 100,000 chunks of about 150 words drawn from a 50,000-word
// vocabulary with a Zipf–Mandelbrot distribution (s = 1.07, q = 2.7, the
// shape of English word frequencies), the 30 most frequent words being
// English stop words. Words are made of syllables with English suffixes,
// so stemming does real work; sentences start with a capital and end with
// a period, some with commas.
type synthCorpus struct {
	chunks  []string
	bytes   int64
	queries []string // three distinct content words each
}

const (
	synthChunks = 100_000
	synthVocab  = 50_000
)

var synthStop = strings.Fields("the of and to a in is that for it as was with be by on not this are at or from have an they which one you were her all")

// loadSynthCorpus builds the corpus once per test binary: it takes a few
// seconds and several benchmarks share it.
var loadSynthCorpus = sync.OnceValue(func() *synthCorpus {
	rng := rand.New(rand.NewPCG(2024, 7))
	syllables := strings.Fields("ba be bi bo bu ca co cu da de di do fa fe fi fo ga ge go ha he hi ho ja jo ka ke ki la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo wa we wi ya yo za zo str pl tr cl gr br sp")
	suffixes := []string{"", "", "", "", "s", "ed", "ing", "tion", "ly", "ment", "ness", "er", "al", "ity", "ive"}
	seen := map[string]bool{}
	vocab := append([]string(nil), synthStop...)
	for _, w := range vocab {
		seen[w] = true
	}
	for len(vocab) < synthVocab {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		b.WriteString(suffixes[rng.IntN(len(suffixes))])
		if w := b.String(); !seen[w] {
			seen[w] = true
			vocab = append(vocab, w)
		}
	}
	zipf := rand.NewZipf(rng, 1.07, 2.7, synthVocab-1)

	c := &synthCorpus{chunks: make([]string, synthChunks)}
	var b strings.Builder
	for i := range c.chunks {
		b.Reset()
		words := 120 + rng.IntN(61)
		sentence := 0
		for w := range words {
			word := vocab[zipf.Uint64()]
			if sentence == 0 {
				word = strings.ToUpper(word[:1]) + word[1:]
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(word)
			sentence++
			switch {
			case w == words-1 || (sentence > 7 && rng.IntN(12) == 0):
				b.WriteString(". ")
				sentence = 0
			case rng.IntN(15) == 0:
				b.WriteByte(',')
			}
		}
		c.chunks[i] = b.String()
		c.bytes += int64(len(c.chunks[i]))
	}
	for range 1000 {
		var q []string
		for len(q) < 3 {
			r := zipf.Uint64()
			if r < uint64(len(synthStop)) {
				continue
			}
			if w := vocab[r]; !strings.Contains(strings.Join(q, " "), w) {
				q = append(q, w)
			}
		}
		c.queries = append(c.queries, strings.Join(q, " "))
	}
	return c
})

// benchTokenizer is the configuration the SciFact test chose.
func benchTokenizer() bm25.Tokenizer {
	return bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true}
}

// BenchmarkIndexSearch: 3-term queries, top 10, against 100,000 chunks.
// It also reports the heap the index holds (MB-heap) and per chunk.
func BenchmarkIndexSearch(b *testing.B) {
	c := loadSynthCorpus()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := bm25.New(benchTokenizer())
	for i, chunk := range c.chunks {
		if err := ix.Add(fmt.Sprintf("chunk-%06d", i), chunk); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)

	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if len(ix.Search(c.queries[i%len(c.queries)], 10, nil)) == 0 {
			b.Fatal("no results")
		}
		i++
	}
	b.ReportMetric(heap/1e6, "MB-heap")
	b.ReportMetric(heap/float64(len(c.chunks)), "B-heap/chunk")
	runtime.KeepAlive(ix)
}

// BenchmarkIndexSearchFiltered is BenchmarkIndexSearch with an allow filter
// that admits one document in two, as an access rule would.
func BenchmarkIndexSearchFiltered(b *testing.B) {
	c := loadSynthCorpus()
	ix := bm25.New(benchTokenizer())
	allowed := make(map[string]bool, len(c.chunks))
	for i, chunk := range c.chunks {
		id := fmt.Sprintf("chunk-%06d", i)
		allowed[id] = i%2 == 0
		if err := ix.Add(id, chunk); err != nil {
			b.Fatal(err)
		}
	}
	allow := func(id string) bool { return allowed[id] }
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ix.Search(c.queries[i%len(c.queries)], 10, allow)
		i++
	}
}

// BenchmarkIndexAdd indexes the 100,000 chunks into a fresh index per
// iteration; throughput is in bytes of text.
func BenchmarkIndexAdd(b *testing.B) {
	c := loadSynthCorpus()
	ids := make([]string, len(c.chunks))
	for i := range ids {
		ids[i] = fmt.Sprintf("chunk-%06d", i)
	}
	b.SetBytes(c.bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ix := bm25.New(benchTokenizer())
		for i, chunk := range c.chunks {
			if err := ix.Add(ids[i], chunk); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkTokenize tokenises one ~1 KB chunk with each configuration.
func BenchmarkTokenize(b *testing.B) {
	chunk := loadSynthCorpus().chunks[0]
	unicodeText := strings.Repeat("Les élèves naïfs étudièrent la thèse de Gödel à Zürich; ", 18)
	configs := []struct {
		name string
		tok  bm25.Tokenizer
		text string
	}{
		{"plain", bm25.Tokenizer{}, chunk},
		{"stop+stem", benchTokenizer(), chunk},
		{"accented", bm25.Tokenizer{}, unicodeText},
	}
	for _, cfg := range configs {
		b.Run(cfg.name, func(b *testing.B) {
			b.SetBytes(int64(len(cfg.text)))
			b.ReportAllocs()
			var toks []string
			for b.Loop() {
				toks = cfg.tok.AppendTokens(toks[:0], cfg.text)
			}
		})
	}
}

func BenchmarkStem(b *testing.B) {
	words := strings.Fields("running generalization abatements accountabilities hopping agreed skies the internationally")
	b.ReportAllocs()
	for b.Loop() {
		for _, w := range words {
			bm25.Stem(w)
		}
	}
}
