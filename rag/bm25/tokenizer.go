package bm25

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxTokenLen is the longest token, in bytes after folding, that a
// Tokenizer emits; longer runs of letters are dropped. Nothing a person
// searches for is that long (Lucene's limit is the same), and the bound
// keeps hostile input such as base64 blobs from bloating the vocabulary.
const MaxTokenLen = 255

// maxRawRun bounds the bytes of one run of letters that is folded at all:
// folding can shrink a run (combining marks disappear) but a run this long
// cannot fold to MaxTokenLen bytes in any real text, and skipping it keeps
// the work per byte constant.
const maxRawRun = 16 * MaxTokenLen

// Tokenizer turns text into index terms. The zero value lowercases, folds
// and splits; set the fields to drop stop words and stem. The same
// Tokenizer must be used for indexing and for queries (an Index does that).
// A Tokenizer is a plain, immutable value, safe for concurrent use.
//
// The steps, in order:
//
//  1. Split: a token is a maximal run of letters, digits and combining
//     marks (Unicode categories L, N and M); everything else separates
//     tokens, so "covid-19", "don't" and "disabilities.A" each give two.
//  2. Fold (unless KeepMarks): Unicode compatibility decomposition (NFKD)
//     and removal of non-spacing marks, so "Café", "cafe\u0301" and "café"
//     all become "cafe", and the ligature "ﬁ" becomes "fi". Characters the
//     decomposition turns into separators split the token ("½" gives "1"
//     and "2").
//  3. Lowercase (always).
//  4. Drop tokens longer than MaxTokenLen bytes and stop words.
//  5. Stem (if Stem) with the English Porter2 stemmer; only tokens that
//     are pure ASCII after folding are stemmed.
type Tokenizer struct {
	// StopWords lists tokens to drop, compared after folding and
	// lowercasing and before stemming. The zero value keeps every token;
	// EnglishStopWords returns a default list.
	StopWords StopWords
	// Stem reduces each token to its English stem (see Stem), so that
	// "infections" matches "infected".
	Stem bool
	// KeepMarks skips Unicode folding: tokens are only lowercased and keep
	// their accents and other combining marks. Use it for languages where
	// the marks distinguish words (the vowel signs of Indic scripts).
	KeepMarks bool
}

// StopWords is an immutable set of tokens a Tokenizer drops. The zero
// value is the empty set. Build one with NewStopWords or EnglishStopWords.
type StopWords struct {
	set map[string]struct{}
	// lens has bit n set when a word of n bytes is in the set (bit 63 for
	// 63 or more), so most tokens are rejected without hashing.
	lens uint64
}

// NewStopWords returns a set holding words, each folded and lowercased the
// way a zero Tokenizer folds text, so that "Über" matches the token "uber".
// A word that folds into several tokens contributes each of them.
func NewStopWords(words ...string) StopWords {
	s := StopWords{set: make(map[string]struct{}, len(words))}
	var t Tokenizer
	var sc tokScratch
	for _, w := range words {
		t.scan(w, &sc, func(tok []byte) {
			s.set[string(tok)] = struct{}{}
			s.lens |= 1 << min(len(tok), 63)
		})
	}
	return s
}

// Contains reports whether token, as a Tokenizer produces it (folded and
// lowercased), is in the set.
func (s StopWords) Contains(token string) bool {
	return s.contains([]byte(token))
}

func (s StopWords) contains(tok []byte) bool {
	if s.lens&(1<<min(len(tok), 63)) == 0 {
		return false
	}
	_, ok := s.set[string(tok)]
	return ok
}

// Len returns the number of words in the set.
func (s StopWords) Len() int { return len(s.set) }

// EnglishStopWords returns a new set holding the 33 English stop words of
// Lucene's EnglishAnalyzer, which Anserini's BM25 baselines use, plus "s"
// and "t": this tokenizer splits at apostrophes, so possessives and
// contractions ("patient's", "don't") leave those letters behind.
func EnglishStopWords() StopWords {
	return NewStopWords(
		"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if",
		"in", "into", "is", "it", "no", "not", "of", "on", "or", "such",
		"that", "the", "their", "then", "there", "these", "they", "this",
		"to", "was", "will", "with",
		"s", "t",
	)
}

// Tokens returns the tokens of text in order, repeats included.
func (t Tokenizer) Tokens(text string) []string {
	return t.AppendTokens(nil, text)
}

// AppendTokens appends the tokens of text to dst and returns the extended
// slice. The new tokens share one allocation.
func (t Tokenizer) AppendTokens(dst []string, text string) []string {
	// Sized for plain text, where tokens take at most the text's bytes
	// and average more than five of them; folding may still grow them.
	arena := make([]byte, 0, len(text))
	ends := make([]int, 0, len(text)/5+1)
	var sc tokScratch
	t.scan(text, &sc, func(tok []byte) {
		arena = append(arena, tok...)
		ends = append(ends, len(arena))
	})
	all := string(arena)
	dst = slices.Grow(dst, len(ends))
	start := 0
	for _, end := range ends {
		dst = append(dst, all[start:end])
		start = end
	}
	return dst
}

// asciiClass classifies an ASCII byte for the scanner.
func asciiClass(c byte) (token, upper bool) {
	switch {
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true, false
	case 'A' <= c && c <= 'Z':
		return true, true
	}
	return false, false
}

// isTokenRune reports whether a non-ASCII rune belongs to a token before
// folding: a letter, a number or a combining mark.
func isTokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

// tokScratch is the work space of one tokenizing goroutine, reused across
// calls to keep tokenizing allocation-free.
type tokScratch struct {
	buf []byte
	it  *norm.Iter // allocated at the first non-ASCII run
}

// scan calls emit with each token of text. The slice passed to emit is
// only valid during the call.
func (t Tokenizer) scan(text string, sc *tokScratch, emit func(tok []byte)) {
	if !t.Stem {
		t.scanSurface(text, sc, func(tok []byte, _ bool) { emit(tok) })
		return
	}
	t.scanSurface(text, sc, func(tok []byte, ascii bool) {
		if ascii {
			// Full slice expression: the stemmer never lengthens a word,
			// but should it, it must not write past this token.
			tok = stemASCII(tok[:len(tok):len(tok)])
		}
		emit(tok)
	})
}

// scanSurface is scan without the stemming: it emits the surface form of
// each token (split, folded, lowercased, stop words and long tokens
// dropped) and whether it is ASCII, hence stemmable. The Index stems each
// distinct surface form once instead of every occurrence.
func (t Tokenizer) scanSurface(text string, sc *tokScratch, emit func(tok []byte, ascii bool)) {
	i := 0
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			if ok, _ := asciiClass(c); !ok {
				i++
				continue
			}
		} else if r, size := utf8.DecodeRuneInString(text[i:]); !isTokenRune(r) {
			i += size
			continue
		}

		// A run of token characters starts at i; find its end and whether
		// it needs more than ASCII lowercasing.
		start := i
		ascii, upper := true, false
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				ok, up := asciiClass(c)
				if !ok {
					break
				}
				upper = upper || up
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(text[i:])
			if !isTokenRune(r) {
				break
			}
			ascii = false
			i += size
		}
		run := text[start:i]
		switch {
		case len(run) > maxRawRun:
		case !ascii:
			t.foldRun(run, sc, emit)
		case len(run) <= MaxTokenLen:
			buf := append(sc.buf[:0], run...)
			if upper {
				for j, c := range buf {
					if 'A' <= c && c <= 'Z' {
						buf[j] = c + ('a' - 'A')
					}
				}
			}
			sc.buf = buf
			t.finish(buf, true, emit)
		}
	}
}

// foldRun lowercases (and unless KeepMarks, folds) a run holding non-ASCII
// characters, emitting the one or more tokens it yields. The decomposed
// run goes at the start of sc.buf, the tokens are built after it.
func (t Tokenizer) foldRun(run string, sc *tokScratch, emit func(tok []byte, ascii bool)) {
	buf := sc.buf[:0]
	if t.KeepMarks {
		buf = append(buf, run...)
	} else {
		if sc.it == nil {
			sc.it = new(norm.Iter)
		}
		sc.it.InitString(norm.NFKD, run)
		for !sc.it.Done() {
			buf = append(buf, sc.it.Next()...)
		}
	}
	// src stays valid even if appending below moves buf to a new array.
	src := buf
	tokStart := len(buf)
	ascii := true
	flush := func() {
		if len(buf) > tokStart {
			t.finish(buf[tokStart:], ascii, emit)
		}
		buf = buf[:tokStart]
		ascii = true
	}
	for j := 0; j < len(src); {
		r, size := rune(src[j]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(src[j:])
		}
		j += size
		switch {
		case r < utf8.RuneSelf:
			if ok, up := asciiClass(byte(r)); !ok {
				flush()
				continue
			} else if up {
				r += 'a' - 'A'
			}
			buf = append(buf, byte(r))
			continue
		case !t.KeepMarks && unicode.Is(unicode.Mn, r):
			continue // the accent goes, the letter stays
		case !isTokenRune(r):
			flush() // the decomposition produced a separator
			continue
		}
		r = unicode.ToLower(r)
		if r >= utf8.RuneSelf {
			ascii = false
		}
		buf = utf8.AppendRune(buf, r)
	}
	flush()
	sc.buf = buf
}

// finish applies the length limit and stop words to one lowercased,
// folded token and emits what is left.
func (t Tokenizer) finish(tok []byte, ascii bool, emit func(tok []byte, ascii bool)) {
	if len(tok) == 0 || len(tok) > MaxTokenLen {
		return
	}
	if t.StopWords.lens != 0 && t.StopWords.contains(tok) {
		return
	}
	emit(tok, ascii)
}

// String describes the configuration, for logs and test names.
func (t Tokenizer) String() string {
	var b strings.Builder
	b.WriteString("lowercase")
	if !t.KeepMarks {
		b.WriteString("+fold")
	}
	if t.StopWords.Len() > 0 {
		b.WriteString("+stop")
	}
	if t.Stem {
		b.WriteString("+porter2")
	}
	return b.String()
}
