package rag

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tiktoken-go/tokenizer/codec"
)

// spExact counts with both OpenAI encodings; the estimate must be at least
// the larger count.
type spExact struct{ cl, o2 *codec.Codec }

func spNewExact() spExact { return spExact{codec.NewCl100kBase(), codec.NewO200kBase()} }

func (x spExact) counts(t testing.TB, s string) (cl, o2 int) {
	t.Helper()
	var err error
	if cl, err = x.cl.Count(s); err != nil {
		t.Fatal(err)
	}
	if o2, err = x.o2.Count(s); err != nil {
		t.Fatal(err)
	}
	return cl, o2
}

// spCorpus is a seeded corpus of varied text, by kind, for the bound
// tests. Every generator cuts its samples at arbitrary places, so that
// samples start and end mid-word, mid-number and mid-character.
func spCorpus(t testing.TB, seed uint64) map[string][]string {
	r := rand.New(rand.NewPCG(seed, 1))
	kinds := map[string]func() string{
		"prose":      func() string { return spGenProse(r, 20+r.IntN(300)) },
		"json":       func() string { return spGenJSON(r) },
		"numbers":    func() string { return spGenNumbers(r) },
		"urls":       func() string { return spGenURLs(r) },
		"cjk":        func() string { return spGenRunes(r, spCJKRanges, 5+r.IntN(200)) },
		"emoji":      func() string { return spGenEmoji(r) },
		"scripts":    func() string { return spGenScripts(r) },
		"whitespace": func() string { return spGenWhitespace(r) },
		"bytes":      func() string { return spGenBytes(r) },
		"atoms":      func() string { return spGenAtoms(r) },
	}
	corpus := map[string][]string{}
	for kind, gen := range kinds {
		for range 150 {
			corpus[kind] = append(corpus[kind], gen())
		}
	}
	code, docs := spRepoText(t)
	corpus["repo code"] = spCuts(r, code)
	corpus["repo docs"] = spCuts(r, docs)
	return corpus
}

// TestEstimateUpperBound checks that the estimate is at least the exact
// count of both encodings on every sample of a varied corpus, and reports
// how much it over-counts.
func TestEstimateUpperBound(t *testing.T) {
	x := spNewExact()
	for kind, samples := range spCorpus(t, 1) {
		est, cl, o2 := 0, 0, 0
		for _, s := range samples {
			e := EstimateCounter{}.CountTokens(s)
			c, o := x.counts(t, s)
			if e < c || e < o {
				t.Errorf("%s: estimate %d < exact (cl100k %d, o200k %d) for %q", kind, e, c, o, s)
			}
			est, cl, o2 = est+e, cl+c, o2+o
		}
		t.Logf("%-10s %4d samples: estimate/exact %.2f (cl100k_base), %.2f (o200k_base)",
			kind, len(samples), float64(est)/float64(cl), float64(est)/float64(o2))
	}
}

// TestEstimateProseRatio reports the over-count on English prose, the doc
// comments and Markdown of this module and seeded prose, and checks it
// stays below 1.25 on the seeded prose (the module's text changes).
func TestEstimateProseRatio(t *testing.T) {
	_, docs := spRepoText(t)
	seeded := spGenProse(rand.New(rand.NewPCG(9, 9)), 20000)
	x := spNewExact()
	for _, c := range []struct {
		name, text string
		limit      float64
	}{
		{"module docs", docs, 0},
		{"seeded prose", seeded, 1.25},
	} {
		est := EstimateCounter{}.CountTokens(c.text)
		cl, o2 := x.counts(t, c.text)
		rcl, ro2 := float64(est)/float64(cl), float64(est)/float64(o2)
		t.Logf("%s, %d bytes: estimate %d, cl100k_base %d (ratio %.3f), o200k_base %d (ratio %.3f)",
			c.name, len(c.text), est, cl, rcl, o2, ro2)
		if c.limit > 0 && (rcl > c.limit || ro2 > c.limit) {
			t.Errorf("%s: estimate/exact = %.3f, %.3f; want at most %.2f", c.name, rcl, ro2, c.limit)
		}
	}
}

// TestEstimateAdversarial checks the bound on many short strings built
// from the characters the boundary rules turn on: apostrophes and
// contractions, slashes after newlines, case changes, digits next to
// letters, lone spaces and tabs, marks, non-ASCII spaces and invalid bytes.
func TestEstimateAdversarial(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	x := spNewExact()
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		s := spGenAtoms(r)
		e := spEstimate(s)
		if c, o := x.counts(t, s); e < c || e < o {
			t.Fatalf("estimate %d < exact (cl100k %d, o200k %d) for %q", e, c, o, s)
		}
	}
}

// TestEstimateStream checks that measuring a growing prefix with spStream
// gives the estimate of each prefix on its own, at every position a
// splitter may query (after a character that is not ASCII white space).
func TestEstimateStream(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for i := range 400 {
		var s string
		switch i % 3 {
		case 0:
			s = spGenAtoms(r)
		case 1:
			s = spGenProse(r, 30)
		default:
			s = spGenWhitespace(r)
		}
		start := 0
		if len(s) > 0 {
			start = r.IntN(len(s))
		}
		var st spStream
		st.reset(s, start)
		for x := start + 1; x <= len(s); x++ {
			if x < len(s) && spIsASCIISpace(spClasses[s[x-1]]) {
				continue
			}
			if got, want := st.upTo(x), spEstimate(s[start:x]); got != want {
				t.Fatalf("stream over %q from %d: upTo(%d) = %d, estimate of %q = %d", s, start, x, got, s[start:x], want)
			}
		}
	}
}

// TestWordBound checks spWordBound against a brute-force search over every
// way to cut short words into parts, under the same rule: no two adjacent
// parts of at most three bytes in all that are a single token, except
// across a lower-to-upper case change.
func TestWordBound(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const letters = "aeiostnrlhdcumAESTRLCx"
	for range 3000 {
		var b []byte
		if r.IntN(2) == 0 {
			b = append(b, " (.\"-_/*@["[r.IntN(10)])
		}
		for range 1 + r.IntN(11) {
			b = append(b, letters[r.IntN(len(letters))])
		}
		w := string(b)
		if got, want := spWordBound(w), spWordBoundBrute(w); got != want {
			t.Fatalf("spWordBound(%q) = %d, brute force %d", w, got, want)
		}
		if got := spWordBound(w); got > len(w) || got < 1 {
			t.Fatalf("spWordBound(%q) = %d, outside [1, %d]", w, got, len(w))
		}
	}
}

// spWordBoundBrute returns the most parts a cut of w can have under
// spWordBound's rule, trying every cut.
func spWordBoundBrute(w string) int {
	best := 0
	var try func(start, prevLen, parts int)
	try = func(start, prevLen, parts int) {
		if start == len(w) {
			best = max(best, parts)
			return
		}
		for m := 1; start+m <= len(w); m++ {
			if prevLen > 0 && prevLen+m <= 3 && !spFreeJunction(w, start) && spIsToken(w[start-prevLen:start+m]) {
				continue
			}
			try(start+m, m, parts+1)
		}
	}
	try(0, 0, 0)
	return best
}

func TestEstimateCounterNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, text := range []string{spGenProse(r, 50), spGenProse(r, 5000)} { // without and with the word cache
		if n := testing.AllocsPerRun(20, func() { EstimateCounter{}.CountTokens(text) }); n != 0 {
			t.Errorf("CountTokens of %d bytes allocates %v times per call", len(text), n)
		}
	}
}

func TestEstimateCounterEdgeCases(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		{" ", 1},
		{"a", 1},
		{"\xff", 3},                   // an invalid byte is read as U+FFFD, 3 bytes
		{"12345", 2},                  // "123" "45"
		{" the", 1},                   // a single token in both encodings
		{"      ", 1},                 // six spaces: one token
		{strings.Repeat(" ", 200), 6}, // at most two pieces of 2*floor(m/80)+1
	}
	for _, tt := range tests {
		if got := (EstimateCounter{}).CountTokens(tt.text); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestExactCounter(t *testing.T) {
	if _, err := ExactCounter("p50k_base"); err == nil || !strings.Contains(err.Error(), "p50k_base") {
		t.Errorf("ExactCounter(p50k_base) error = %v, want one naming the encoding", err)
	}
	x := spNewExact()
	text := spGenProse(rand.New(rand.NewPCG(6, 6)), 300) + " 日本語 \xff😀"
	wantCl, wantO2 := x.counts(t, text)
	for enc, want := range map[string]int{"cl100k_base": wantCl, "o200k_base": wantO2} {
		c, err := ExactCounter(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.CountTokens(""); got != 0 {
			t.Errorf("%s: CountTokens(\"\") = %d", enc, got)
		}
		// Concurrent use, for the race detector.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if got := c.CountTokens(text); got != want {
					t.Errorf("%s: CountTokens = %d, want %d", enc, got, want)
				}
			})
		}
		wg.Wait()
	}
}

// FuzzEstimate checks the bound on arbitrary text, and that the stream
// agrees with the estimate of each prefix.
func FuzzEstimate(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, s := range []string{"", " the cat's", "x\n/y", "don't\tTALK", "3rd 1,000,000.50", "日本語。", "\xff\xfe", "  \n  foo", "a(.bar"} {
		f.Add(s)
	}
	for range 20 {
		f.Add(spGenAtoms(r))
	}
	x := spNewExact()
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<12 {
			return // the exact tokenizers are slow; short inputs find the bugs
		}
		e := spEstimate(s)
		if c, o := x.counts(t, s); e < c || e < o {
			t.Fatalf("estimate %d < exact (cl100k %d, o200k %d) for %q", e, c, o, s)
		}
		var st spStream
		st.reset(s, 0)
		for p := 1; p <= len(s); p++ {
			if p == len(s) || !spIsASCIISpace(spClasses[s[p-1]]) {
				if got, want := st.upTo(p), spEstimate(s[:p]); got != want {
					t.Fatalf("upTo(%d) = %d, estimate of %q = %d", p, got, s[:p], want)
				}
			}
		}
	})
}

// spEnglish is a seeded generator's vocabulary: common words, some rare
// and long ones, names, and numbers.
var spEnglishWords = strings.Fields(`the of and to a in is it you that he was for on are with as
I his they be at one have this from or had by hot word but what some we can out other were all
there when up use your how said an each she which do their time if will way about many then them
write would like so these her long make thing see him two has look more day could go come did
number sound no most people my over know water than call first who may down side been now find
any new work part take get place made live where after back little only round man year came
show every good me give our under name very through just form sentence great think say help low
line differ turn cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here must big high
such follow act why ask men change went light kind off need house picture try us again animal
point mother world near build self earth father retrieval embedding vector chunk tokenizer
configuration authentication infrastructure interoperability notwithstanding
Kubernetes PostgreSQL OpenTelemetry Zürich naïve café résumé 2024 3.14 1,000 42`)

// spGenProse returns n words of English-like prose in sentences and
// paragraphs, with commas, quotes, parentheses and the odd line break.
func spGenProse(r *rand.Rand, n int) string {
	var b strings.Builder
	start := true
	for i := range n {
		w := spEnglishWords[r.IntN(len(spEnglishWords))]
		if start {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		switch {
		case i == 0:
		case start && r.IntN(5) == 0:
			b.WriteString("\n\n")
		case r.IntN(40) == 0:
			b.WriteString("\n")
		default:
			b.WriteString(" ")
		}
		switch r.IntN(30) {
		case 0:
			w = "(" + w + ")"
		case 1:
			w = `"` + w + `"`
		case 2:
			w += ","
		}
		b.WriteString(w)
		start = false
		if r.IntN(12) == 0 {
			b.WriteString([]string{".", ".", ".", "?", "!", "…", ";", ":"}[r.IntN(8)])
			start = true
		}
	}
	return b.String() + "."
}

func spGenJSON(r *rand.Rand) string {
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := r.IntN(7); {
		case depth > 3 || k == 0:
			return spGenProse(r, 1+r.IntN(6))
		case k == 1:
			return r.NormFloat64() * 1e3
		case k == 2:
			return r.IntN(2) == 0
		case k == 3:
			return nil
		case k == 4:
			a := make([]any, r.IntN(5))
			for i := range a {
				a[i] = gen(depth + 1)
			}
			return a
		default:
			m := map[string]any{}
			for range r.IntN(5) {
				m[spEnglishWords[r.IntN(len(spEnglishWords))]+"_"+fmt.Sprint(r.IntN(100))] = gen(depth + 1)
			}
			return m
		}
	}
	var b []byte
	if r.IntN(2) == 0 {
		b, _ = json.Marshal(gen(0))
	} else {
		b, _ = json.MarshalIndent(gen(0), "", "  ")
	}
	return string(b)
}

func spGenNumbers(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(30) {
		switch r.IntN(7) {
		case 0:
			fmt.Fprintf(&b, "%d", r.Int64())
		case 1:
			fmt.Fprintf(&b, "%.*f", r.IntN(8), r.NormFloat64()*1e4)
		case 2:
			fmt.Fprintf(&b, "%e", r.ExpFloat64())
		case 3:
			fmt.Fprintf(&b, "+1 (%03d) %03d-%04d", r.IntN(1000), r.IntN(1000), r.IntN(10000))
		case 4:
			fmt.Fprintf(&b, "%04d-%02d-%02dT%02d:%02d:%02dZ", 1900+r.IntN(200), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
		case 5:
			fmt.Fprintf(&b, "%d,%03d,%03d", r.IntN(1000), r.IntN(1000), r.IntN(1000))
		default:
			fmt.Fprintf(&b, "v%d.%d.%d-rc%d", r.IntN(20), r.IntN(100), r.IntN(100), r.IntN(9))
		}
		b.WriteString([]string{" ", "\n", ", ", "\t", ""}[r.IntN(5)])
	}
	return b.String()
}

func spGenURLs(r *rand.Rand) string {
	var b strings.Builder
	word := func() string { return strings.ToLower(spEnglishWords[r.IntN(len(spEnglishWords))]) }
	for range 1 + r.IntN(8) {
		switch r.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "https://%s.%s.com/%s/%s?id=%d&q=%s#%s", word(), word(), word(), word(), r.IntN(1e6), word(), word())
		case 1:
			fmt.Fprintf(&b, "%s.%s@%s-mail.org", word(), word(), word())
		default:
			fmt.Fprintf(&b, "/usr/local/%s/%s_%d.tar.gz", word(), word(), r.IntN(99))
		}
		b.WriteString([]string{" ", "\n", " <", "> ", "\n/"}[r.IntN(5)])
	}
	return b.String()
}

// spCJKRanges are Chinese, Japanese and Korean characters and punctuation.
var spCJKRanges = [][2]rune{{0x4E00, 0x9FFF}, {0x3040, 0x309F}, {0x30A0, 0x30FF}, {0xAC00, 0xD7A3}, {0x3000, 0x303F}, {0xFF01, 0xFF5E}}

func spGenRunes(r *rand.Rand, ranges [][2]rune, n int) string {
	var b strings.Builder
	for range n {
		rg := ranges[r.IntN(len(ranges))]
		b.WriteRune(rg[0] + rune(r.IntN(int(rg[1]-rg[0]+1))))
		if r.IntN(15) == 0 {
			b.WriteString([]string{" ", "\n", "。", "、", "abc", "123"}[r.IntN(6)])
		}
	}
	return b.String()
}

func spGenEmoji(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(40) {
		switch r.IntN(6) {
		case 0:
			b.WriteRune(0x1F3FB + rune(r.IntN(5))) // skin tone
		case 1:
			b.WriteString("\u200d") // zero-width joiner
		case 2:
			b.WriteString("\ufe0f") // variation selector
		case 3:
			b.WriteRune(0x1F1E6 + rune(r.IntN(26))) // regional indicator
		default:
			b.WriteRune(0x1F300 + rune(r.IntN(0x1FAFF-0x1F300)))
		}
		if r.IntN(5) == 0 {
			b.WriteString([]string{" ", "!", "\n", " ok", "♥"}[r.IntN(5)])
		}
	}
	return b.String()
}

// spScriptRanges are Latin with diacritics, Greek, Cyrillic, Hebrew,
// Arabic, Devanagari, Thai and combining marks.
var spScriptRanges = [][2]rune{{0xC0, 0x24F}, {0x391, 0x3C9}, {0x410, 0x44F}, {0x5D0, 0x5EA}, {0x621, 0x64A}, {0x905, 0x939}, {0xE01, 0xE2E}, {0x300, 0x36F}, {0x1E00, 0x1EFF}}

func spGenScripts(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(40) {
		b.WriteString(spGenRunes(r, spScriptRanges[r.IntN(len(spScriptRanges)):][:1], 1+r.IntN(10)))
		b.WriteString([]string{" ", " ", ", ", "\n", "-", " the "}[r.IntN(6)])
	}
	return b.String()
}

func spGenWhitespace(r *rand.Rand) string {
	spaces := []string{" ", "  ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", "\v", "\f", "\u00a0", "\u3000", "\u2028", "\u0085", strings.Repeat(" ", 80+r.IntN(100))}
	var b strings.Builder
	for range 1 + r.IntN(30) {
		b.WriteString(spaces[r.IntN(len(spaces))])
		if r.IntN(3) > 0 {
			b.WriteString([]string{"word", "x", "Foo", "1", ".", "/", "'s", "(a)", "日本", "é"}[r.IntN(10)])
		}
	}
	return b.String()
}

func spGenBytes(r *rand.Rand) string {
	b := make([]byte, 1+r.IntN(200))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

// spAtoms are the pieces spGenAtoms strings together.
var spAtoms = []string{"a", "b", "e", "s", "t", "d", "A", "B", "S", "T", "D", "x", "z", "q", "Mc", "aB", "0", "1", "9", "123",
	" ", " ", "  ", "\t", "\n", "\r\n", "\r", "'", "'s", "'t", "'ll", "'RE", "/", ".", ",", "(", ")", "\"", "-", "_", "#", "`",
	"...", ".\n", "//", "é", "ß", "日本", "語", "\u3000", "\u00a0", "😀", "\u0301", "²", "٣", "\xff", "\xe6\x97", "\x01", "\v", "\f",
	"Ⅻ", "ǅ", "ʰ", "\u200b", "\u0085", " the", " The", "ing", " of", "tion", "HTTP", "Server"}

// spGenAtoms strings atoms together, or letters into words with a prefix,
// or whole single tokens, to probe the boundary rules and the word bound.
func spGenAtoms(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(3) {
	case 0:
		for range 1 + r.IntN(12) {
			b.WriteString(spAtoms[r.IntN(len(spAtoms))])
		}
	case 1:
		const letters = "aeiostnrlhAESTRLcCx"
		b.WriteString([]string{"", " ", "(", ".", "\"", "-", "_", "/", "*", "\n"}[r.IntN(10)])
		for range 1 + r.IntN(20) {
			b.WriteByte(letters[r.IntN(len(letters))])
		}
		b.WriteString([]string{"", " ", "'s", ".", "x"}[r.IntN(5)])
	default:
		tokens := spSomeTokens()
		for range 1 + r.IntN(5) {
			b.WriteString(tokens[r.IntN(len(tokens))])
		}
	}
	return b.String()
}

// spSomeTokens returns strings from the token table, read back from
// spTokData, without walking the vocabularies.
var spSomeTokens = sync.OnceValue(func() []string {
	var out []string
	for i := 0; i+1 < len(spTokData); {
		n := int(spTokData[i] - ' ')
		if i+1+n > len(spTokData) || n == 0 {
			break
		}
		out = append(out, spTokData[i+1:i+1+n])
		i += 1 + n
	}
	return out
})

// spRepoText returns the Go source of this module, and its English prose:
// the Markdown files and the comments of the Go files.
func spRepoText(t testing.TB) (code, docs string) {
	t.Helper()
	var c, d strings.Builder
	err := filepath.WalkDir("..", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (strings.HasPrefix(e.Name(), ".") && path != ".." || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		switch {
		case strings.HasSuffix(path, ".md"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			d.Write(b)
			d.WriteString("\n\n")
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "tokens_table.go"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			c.Write(b)
			inComment := false
			for _, line := range strings.Split(string(b), "\n") {
				trimmed := strings.TrimSpace(line)
				if text, ok := strings.CutPrefix(trimmed, "//"); ok && !strings.HasPrefix(text, "go:") {
					d.WriteString(strings.TrimPrefix(text, " ") + "\n")
					inComment = true
				} else if inComment {
					d.WriteString("\n")
					inComment = false
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.String(), d.String()
}

// spCuts cuts s into pieces of random length at arbitrary byte offsets.
func spCuts(r *rand.Rand, s string) []string {
	var out []string
	for len(s) > 0 {
		n := min(len(s), 1+r.IntN(3000))
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// spBenchProse is about 1 MB of seeded English prose for benchmarks.
var spBenchProse = sync.OnceValue(func() string {
	r := rand.New(rand.NewPCG(8, 8))
	var b strings.Builder
	for b.Len() < 1<<20 {
		b.WriteString(spGenProse(r, 50+r.IntN(150)))
		b.WriteString("\n\n")
	}
	return b.String()
})

func BenchmarkEstimateTokens(b *testing.B) {
	text := spBenchProse()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		EstimateCounter{}.CountTokens(text)
	}
}

func BenchmarkExactTokens(b *testing.B) {
	text := spBenchProse()[:1<<17]
	c, err := ExactCounter("o200k_base")
	if err != nil {
		b.Fatal(err)
	}
	c.CountTokens("warm up")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		c.CountTokens(text)
	}
}
