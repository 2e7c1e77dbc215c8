package rag

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// spRuneCounter counts characters: a cheap counter that is not the
// estimate, to test the path that checks guides with the counter.
type spRuneCounter struct{}

func (spRuneCounter) CountTokens(s string) int { return utf8.RuneCountInString(s) }

// spCheck holds what a set of spans must satisfy.
type spCheck struct {
	max, overlap int
	count        func(string) int
	context      func([]string) string // Markdown heading context, or nil
	exact        bool                  // also check both OpenAI encodings (EstimateCounter only)
}

// spCheckSpans checks the promises of Splitter.Split and of the options:
// spans in order, non-empty, on character boundaries, without white space
// at their edges, within the limit (heading context included), covering
// every character that is not white space, and overlapping by at most
// Overlap tokens.
func spCheckSpans(t testing.TB, text string, spans []Span, c spCheck) {
	t.Helper()
	boundary := make([]bool, len(text)+1)
	covered := make([]bool, len(text)+1)
	for p := 0; p < len(text); {
		boundary[p] = true
		_, w := utf8.DecodeRuneInString(text[p:])
		p += w
	}
	boundary[len(text)] = true
	var x spExact
	if c.exact {
		x = spNewExact()
	}
	for i, sp := range spans {
		if sp.Start < 0 || sp.Start >= sp.End || sp.End > len(text) {
			t.Fatalf("span %d [%d, %d) is empty or outside the text (%d bytes)", i, sp.Start, sp.End, len(text))
		}
		if !boundary[sp.Start] || !boundary[sp.End] {
			t.Fatalf("span %d [%d, %d) cuts a character in %q", i, sp.Start, sp.End, text)
		}
		chunk := text[sp.Start:sp.End]
		first, _ := utf8.DecodeRuneInString(chunk)
		last, _ := utf8.DecodeLastRuneInString(chunk)
		if unicode.IsSpace(first) || unicode.IsSpace(last) {
			t.Fatalf("span %d %q starts or ends with white space", i, chunk)
		}
		counted := chunk
		if c.context != nil {
			counted = c.context(sp.Headings) + chunk
		}
		single := utf8.RuneCountInString(chunk) == 1
		if n := c.count(counted); n > c.max && !single {
			t.Fatalf("span %d %q counts %d tokens, over %d", i, counted, n, c.max)
		}
		if c.exact && !single {
			if cl, o2 := x.counts(t, counted); cl > c.max || o2 > c.max {
				t.Fatalf("span %d %q counts %d (cl100k_base) and %d (o200k_base) tokens, over %d", i, counted, cl, o2, c.max)
			}
		}
		for p := sp.Start; p < sp.End; p++ {
			covered[p] = true
		}
		if i == 0 {
			continue
		}
		prev := spans[i-1]
		if sp.Start <= prev.Start || sp.End <= prev.End {
			t.Fatalf("span %d [%d, %d) is not after span %d [%d, %d)", i, sp.Start, sp.End, i-1, prev.Start, prev.End)
		}
		if sp.Start < prev.End {
			if c.overlap == 0 {
				t.Fatalf("spans %d and %d overlap with Overlap 0", i-1, i)
			}
			if n := c.count(text[sp.Start:prev.End]); n > c.overlap {
				t.Fatalf("span %d repeats %q, %d tokens, over Overlap %d", i, text[sp.Start:prev.End], n, c.overlap)
			}
		}
	}
	for p := 0; p < len(text); {
		r, w := utf8.DecodeRuneInString(text[p:])
		if !unicode.IsSpace(r) && !covered[p] {
			t.Fatalf("byte %d (%q) of %q is in no span", p, text[p:p+w], text)
		}
		p += w
	}
}

// spSplitTexts returns seeded texts of every shape the splitters must
// handle: empty, white space only, one huge word, long lines without
// punctuation, CRLF, CJK and other scripts, invalid bytes, prose, code,
// and Markdown.
func spSplitTexts(r *rand.Rand) []string {
	texts := []string{
		"",
		" \t\n\r\n\u3000\u00a0 ",
		strings.Repeat("a", 3000),
		strings.Repeat("日本語", 400),
		strings.Repeat("😀", 300),
		strings.Repeat("\xff", 500),
		"x",
		"a\r\n\r\nb\r\nc\rd",
	}
	var long strings.Builder
	for range 600 {
		long.WriteString(spEnglishWords[r.IntN(len(spEnglishWords))] + " ")
	}
	texts = append(texts, long.String(), strings.ReplaceAll(long.String(), " ", "\n"))
	for range 6 {
		texts = append(texts,
			spGenProse(r, 50+r.IntN(800)),
			strings.ReplaceAll(spGenProse(r, 200), "\n", "\r\n"),
			spGenRunes(r, spCJKRanges, 50+r.IntN(800)),
			spGenScripts(r),
			spGenWhitespace(r),
			spGenAtoms(r)+spGenBytes(r)+spGenEmoji(r),
			spGenJSON(r),
			spGenMarkdown(r),
		)
	}
	return texts
}

// spSplitConfigs are the limits and overlaps the property tests use.
var spSplitConfigs = []struct{ max, overlap int }{
	{4, 0}, {4, 3}, {8, 2}, {16, 0}, {16, 8}, {64, 16}, {100, 99}, {512, 64},
}

func TestRecursiveSplitterProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	texts := spSplitTexts(r)
	for _, cfg := range spSplitConfigs {
		counters := []struct {
			name    string
			counter TokenCounter
		}{
			{"estimate", nil},
			{"runes", spRuneCounter{}},
		}
		for _, cn := range counters {
			s, err := NewRecursiveSplitter(SplitOptions{MaxTokens: cfg.max, Overlap: cfg.overlap, Counter: cn.counter})
			if err != nil {
				t.Fatal(err)
			}
			count := EstimateCounter{}.CountTokens
			if cn.counter != nil {
				count = cn.counter.CountTokens
			}
			for i, text := range texts {
				spans := s.Split(text)
				spCheckSpans(t, text, spans, spCheck{max: cfg.max, overlap: cfg.overlap, count: count,
					exact: cn.counter == nil && i%4 == 0})
				for _, sp := range spans {
					if sp.Headings != nil {
						t.Fatalf("RecursiveSplitter span has headings %q", sp.Headings)
					}
				}
			}
		}
	}
}

func TestRecursiveSplitterExactCounter(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	c, err := ExactCounter("o200k_base")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewRecursiveSplitter(SplitOptions{MaxTokens: 40, Overlap: 10, Counter: c})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{spGenProse(r, 400), spGenRunes(r, spCJKRanges, 300), strings.Repeat("ab", 500), spGenMarkdown(r)} {
		spCheckSpans(t, text, s.Split(text), spCheck{max: 40, overlap: 10, count: c.CountTokens})
	}
}

// TestRecursiveSplitterBoundaries checks where chunks end: at paragraph,
// sentence, line and word boundaries in that order of preference, at CJK
// full stops, and inside a word only when it is too long.
func TestRecursiveSplitterBoundaries(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		max       int
		overlap   int
		want      []string // the chunks
		wantWords bool     // chunks after the first start with a word
	}{
		{
			name: "paragraphs that fit together",
			text: "One two.\n\nThree four.\n\nFive six.",
			max:  100,
			want: []string{"One two.\n\nThree four.\n\nFive six."},
		},
		{
			name: "paragraph ends preferred",
			text: "Alpha beta gamma delta epsilon. Zeta eta theta.\n\nIota kappa lambda mu nu. Xi omicron pi.",
			max:  16, // 12 and 16 tokens
			want: []string{"Alpha beta gamma delta epsilon. Zeta eta theta.", "Iota kappa lambda mu nu. Xi omicron pi."},
		},
		{
			name: "sentences",
			text: "The cat sat on the mat. The dog ate the bone! Did the bird sing? It did.",
			max:  8, // 7, 6 and 8 tokens
			want: []string{"The cat sat on the mat.", "The dog ate the bone!", "Did the bird sing? It did."},
		},
		{
			name: "CJK full stops",
			text: "今日は晴れです。明日は雨です。",
			max:  30, // 24 and 21 tokens
			want: []string{"今日は晴れです。", "明日は雨です。"},
		},
		{
			name: "a short paragraph joins a long one",
			text: "Hi.\n\nThe cat sat on the mat and the dog ate the bone and the bird sang all day long",
			max:  13, // "Hi." is 1 token
			want: []string{"Hi.\n\nThe cat sat on the mat and the dog ate the", "bone and the bird sang all day long"},
		},
		{
			name: "a word too long",
			text: "123456789012345678901234567890",
			max:  5, // 15 digits
			want: []string{"123456789012345", "678901234567890"},
		},
		{
			name:      "overlap on word boundaries",
			text:      "one two three four five six seven eight nine ten eleven twelve",
			max:       6,
			overlap:   2,
			wantWords: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewRecursiveSplitter(SplitOptions{MaxTokens: tt.max, Overlap: tt.overlap})
			if err != nil {
				t.Fatal(err)
			}
			spans := s.Split(tt.text)
			spCheckSpans(t, tt.text, spans, spCheck{max: tt.max, overlap: tt.overlap, count: spEstimate})
			var got []string
			for _, sp := range spans {
				got = append(got, tt.text[sp.Start:sp.End])
			}
			if tt.want != nil && strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("chunks %q, want %q", got, tt.want)
			}
			if tt.wantWords {
				if len(spans) < 2 {
					t.Fatalf("chunks %q, want several", got)
				}
				repeated := false
				for _, sp := range spans[1:] {
					if tt.text[sp.Start-1] != ' ' {
						t.Errorf("chunk %q does not start at a word", tt.text[sp.Start:sp.End])
					}
					repeated = repeated || sp.Start < spans[0].End
				}
				if !repeated {
					t.Errorf("chunks %q repeat nothing", got)
				}
			}
		})
	}
}

func TestNewRecursiveSplitterErrors(t *testing.T) {
	tests := []struct {
		opts SplitOptions
		ok   bool
	}{
		{SplitOptions{MaxTokens: 0}, false},
		{SplitOptions{MaxTokens: -1}, false},
		{SplitOptions{MaxTokens: 10, Overlap: 10}, false},
		{SplitOptions{MaxTokens: 10, Overlap: -1}, false},
		{SplitOptions{MaxTokens: 1}, true},
		{SplitOptions{MaxTokens: 10, Overlap: 9}, true},
	}
	for _, tt := range tests {
		s, err := NewRecursiveSplitter(tt.opts)
		if (err == nil) != tt.ok || (s != nil) != tt.ok {
			t.Errorf("NewRecursiveSplitter(%+v) = %v, %v; want ok %v", tt.opts, s, err, tt.ok)
		}
	}
}

// TestRecursiveSplitterZeroValue checks that the zero value (and a nil
// pointer) split with the documented defaults instead of panicking.
func TestRecursiveSplitterZeroValue(t *testing.T) {
	text := spGenProse(rand.New(rand.NewPCG(12, 12)), 3000)
	var zero RecursiveSplitter
	var nilSplitter *RecursiveSplitter
	for _, s := range []*RecursiveSplitter{&zero, nilSplitter} {
		spans := s.Split(text)
		if len(spans) < 2 {
			t.Fatalf("zero splitter made %d chunks of %d bytes", len(spans), len(text))
		}
		spCheckSpans(t, text, spans, spCheck{max: spDefaultMaxTokens, count: spEstimate})
	}
}

// TestSplitterSafeForConcurrentUse runs one splitter from several
// goroutines, for the race detector.
func TestSplitterSafeForConcurrentUse(t *testing.T) {
	s, err := NewRecursiveSplitter(SplitOptions{MaxTokens: 50, Overlap: 10})
	if err != nil {
		t.Fatal(err)
	}
	text := spGenProse(rand.New(rand.NewPCG(13, 13)), 2000)
	want := s.Split(text)
	done := make(chan []Span)
	for range 4 {
		go func() { done <- s.Split(text) }()
	}
	for range 4 {
		if got := <-done; !reflect.DeepEqual(got, want) {
			t.Errorf("concurrent Split gave %d spans, want %d", len(got), len(want))
		}
	}
}

// FuzzRecursiveSplitter checks the span properties on arbitrary text and
// limits, with the estimate and with a counter that is not.
func FuzzRecursiveSplitter(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input that finds new
	// coverage, which takes long on big ones.
	r := rand.New(rand.NewPCG(14, 14))
	for _, text := range spSplitTexts(r) {
		if len(text) > 200 {
			text = strings.ToValidUTF8(text[:200], "")
		}
		f.Add(text, uint8(r.IntN(256)), uint8(r.IntN(256)))
	}
	f.Fuzz(func(t *testing.T, text string, maxSeed, overlapSeed uint8) {
		maxTokens := 4 + int(maxSeed)%120
		overlap := int(overlapSeed) % maxTokens
		for _, counter := range []TokenCounter{nil, spRuneCounter{}} {
			s, err := NewRecursiveSplitter(SplitOptions{MaxTokens: maxTokens, Overlap: overlap, Counter: counter})
			if err != nil {
				t.Fatal(err)
			}
			count := spEstimate
			if counter != nil {
				count = counter.CountTokens
			}
			spCheckSpans(t, text, s.Split(text), spCheck{max: maxTokens, overlap: overlap, count: count})
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	text := spBenchProse()
	s, err := NewRecursiveSplitter(SplitOptions{MaxTokens: 512, Overlap: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		s.Split(text)
	}
}

func BenchmarkSplitExact(b *testing.B) {
	text := spBenchProse()[:1<<17]
	c, err := ExactCounter("o200k_base")
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewRecursiveSplitter(SplitOptions{MaxTokens: 512, Overlap: 64, Counter: c})
	if err != nil {
		b.Fatal(err)
	}
	s.Split("warm up")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		s.Split(text)
	}
}
