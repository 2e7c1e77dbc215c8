package bm25_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keel-go/keel/rag/bm25"
)

// FuzzTokenizer feeds arbitrary bytes to every tokenizer configuration:
// it must never panic, and every token must be non-empty, valid UTF-8,
// lowercase and at most MaxTokenLen bytes. Without stemming, tokenising
// the tokens again must give them back unchanged, so that a query made of
// indexed terms finds them.
func FuzzTokenizer(f *testing.F) {
	for _, s := range []string{
		"Hello, World! COVID-19 disabilities.A",
		"Café naïve cafe\u0301 ﬁ ½ x² İstanbul ǅemal ΣΊΣΥΦΟΣ",
		"हिन्दी 東京タワー Москва \u0301\u0301",
		"ab\xffcd\xc3", "", "'s' don't",
		strings.Repeat("é", 300),
		"\ufdfa", // an Arabic ligature that decomposes into words and spaces
	} {
		f.Add(s)
	}
	configs := []bm25.Tokenizer{
		{},
		{KeepMarks: true},
		{StopWords: bm25.EnglishStopWords(), Stem: true},
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, tok := range configs {
			tokens := tok.Tokens(text)
			for _, w := range tokens {
				switch {
				case w == "":
					t.Fatalf("%v: empty token from %q", tok, text)
				case !utf8.ValidString(w):
					t.Fatalf("%v: invalid UTF-8 token %q from %q", tok, w, text)
				case strings.ToLower(w) != w:
					t.Fatalf("%v: token %q from %q is not lowercase", tok, w, text)
				case len(w) > bm25.MaxTokenLen:
					t.Fatalf("%v: token of %d bytes", tok, len(w))
				}
			}
			if !tok.Stem {
				again := tok.Tokens(strings.Join(tokens, " "))
				if !slices.Equal(again, tokens) {
					t.Fatalf("%v: tokens %q re-tokenise to %q", tok, tokens, again)
				}
			}
		}
	})
}
