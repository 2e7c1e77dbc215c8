package bm25_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/keel-go/keel/rag/bm25"
)

func TestTokenizer(t *testing.T) {
	english := bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true}
	tests := []struct {
		name string
		tok  bm25.Tokenizer
		text string
		want []string
	}{
		{"lowercase and split", bm25.Tokenizer{}, "Hello, World! It's 2024.", []string{"hello", "world", "it", "s", "2024"}},
		{"hyphen and glued sentences", bm25.Tokenizer{}, "COVID-19 disabilities.A line", []string{"covid", "19", "disabilities", "a", "line"}},
		{"accents fold", bm25.Tokenizer{}, "Café naïve RÉSUMÉ", []string{"cafe", "naive", "resume"}},
		{"decomposed accent folds the same", bm25.Tokenizer{}, "cafe\u0301", []string{"cafe"}},
		{"ligature and superscript decompose", bm25.Tokenizer{}, "ﬁnance x²", []string{"finance", "x2"}},
		{"decomposition that splits", bm25.Tokenizer{}, "½", []string{"1", "2"}},
		{"non-Latin scripts lowercase", bm25.Tokenizer{}, "ΔΈΛΤΑ Москва", []string{"δελτα", "москва"}},
		{"keep marks", bm25.Tokenizer{KeepMarks: true}, "Café naïve", []string{"café", "naïve"}},
		{"only separators", bm25.Tokenizer{}, " \t\n--..!! ", nil},
		{"empty", bm25.Tokenizer{}, "", nil},
		{"invalid UTF-8 separates", bm25.Tokenizer{}, "ab\xffcd", []string{"ab", "cd"}},
		{"lone combining mark", bm25.Tokenizer{}, "\u0301 x", []string{"x"}},
		{"stop words", bm25.Tokenizer{StopWords: bm25.EnglishStopWords()}, "The cat is on the mat", []string{"cat", "mat"}},
		{"stop words and stemming", english, "The patients were treated with antibiotics; infections decreased.",
			[]string{"patient", "were", "treat", "antibiot", "infect", "decreas"}},
		{"stemming after folding", english, "Cafés", []string{"cafe"}},
		{"custom stop words fold", bm25.Tokenizer{StopWords: bm25.NewStopWords("ÜBER", "Straße")}, "uber alles straße", []string{"alles"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.tok.Tokens(tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Tokens(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestTokenizerLongTokens(t *testing.T) {
	var tk bm25.Tokenizer
	ok := strings.Repeat("a", bm25.MaxTokenLen)
	tooLong := strings.Repeat("b", bm25.MaxTokenLen+1)
	huge := strings.Repeat("é", 100_000) // a run far past the folding bound
	got := tk.Tokens(ok + " " + tooLong + " x " + huge + " y")
	if want := []string{ok, "x", "y"}; !slices.Equal(got, want) {
		t.Errorf("got %d tokens %.20q, want the %d-byte token, x and y", len(got), got, bm25.MaxTokenLen)
	}
	// Folding can shrink a run under the limit: 200 letters each carrying
	// an accent are 600 bytes before folding and 200 after.
	accented := strings.Repeat("e\u0301", 200)
	if got := tk.Tokens(accented); len(got) != 1 || got[0] != strings.Repeat("e", 200) {
		t.Errorf("accented run: got %d tokens", len(got))
	}
}

func TestAppendTokens(t *testing.T) {
	var tk bm25.Tokenizer
	dst := []string{"keep"}
	dst = tk.AppendTokens(dst, "One two")
	dst = tk.AppendTokens(dst, "THREE")
	if want := []string{"keep", "one", "two", "three"}; !slices.Equal(dst, want) {
		t.Errorf("got %q, want %q", dst, want)
	}
}

func TestStopWords(t *testing.T) {
	en := bm25.EnglishStopWords()
	if en.Len() != 35 {
		t.Errorf("%d English stop words, want 33 from Lucene plus s and t", en.Len())
	}
	for _, w := range []string{"the", "a", "with", "s"} {
		if !en.Contains(w) {
			t.Errorf("English stop words lack %q", w)
		}
	}
	for _, w := range []string{"The", "cat", "", "thee"} {
		if en.Contains(w) {
			t.Errorf("English stop words contain %q", w)
		}
	}
	var none bm25.StopWords
	if none.Len() != 0 || none.Contains("the") {
		t.Error("zero StopWords is not empty")
	}
	long := strings.Repeat("x", 100)
	custom := bm25.NewStopWords("Ünïcode", long)
	if !custom.Contains("unicode") || !custom.Contains(long) || custom.Contains("Ünïcode") {
		t.Error("NewStopWords does not fold its words as the tokenizer does")
	}
}

func TestTokenizerString(t *testing.T) {
	tests := []struct {
		tok  bm25.Tokenizer
		want string
	}{
		{bm25.Tokenizer{}, "lowercase+fold"},
		{bm25.Tokenizer{KeepMarks: true}, "lowercase"},
		{bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true}, "lowercase+fold+stop+porter2"},
	}
	for _, tt := range tests {
		if got := tt.tok.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
