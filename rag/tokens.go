package rag

import (
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer/codec"
)

// TokenCounter counts the tokens a text costs. Splitters call it on the
// exact text of every chunk they return, so a chunk is never larger than
// the limit by the counter's measure. Implementations must be safe for
// concurrent use and must return a count for any string, including invalid
// UTF-8.
type TokenCounter interface {
	CountTokens(text string) int
}

// EstimateCounter is the default TokenCounter: a fast upper bound on the
// number of tokens that OpenAI's cl100k_base (GPT-4, GPT-3.5) and
// o200k_base (GPT-4o, GPT-4.1, GPT-5, o-series) encodings produce for a
// text. It never under-counts either encoding, so a chunk that fits by the
// estimate fits the model. It needs no vocabulary at run time, allocates
// nothing, runs at about 100 MB/s, and over-counts English prose by 10 to
// 25%, Go source and URLs by about 30%, JSON by 10%, and text in other
// scripts more: CJK by 60 to 90%, Japanese prose without spaces up to 3.4
// times (see TestEstimateUpperBound for the corpus). The zero value is
// ready to use.
//
// # Why it is an upper bound
//
// Both encodings first split text into pieces with a regular expression
// (words with an optional leading space or punctuation character, runs of
// up to three digits, punctuation runs with trailing newlines, whitespace
// runs) and then run byte-pair encoding (BPE) inside each piece; no token
// crosses a piece boundary. The estimate finds positions that are piece
// boundaries in both encodings whatever the surrounding text, using only
// local facts about ASCII characters that follow from the two regular
// expressions:
//
//   - after an ASCII letter followed by an ASCII character that is neither
//     a letter nor an apostrophe (no letter alternative of either pattern
//     continues there, and only an apostrophe starts a contraction suffix);
//   - at either side of a run of ASCII digits between ASCII non-digits
//     (only the digit alternative matches digits, and it matches nothing
//     else);
//   - before a space followed by an ASCII letter or punctuation character,
//     and before a space or tab that follows ASCII non-whitespace (the
//     space then starts the word or punctuation piece; no alternative ends
//     in a space before such a character);
//   - after a newline followed by an ASCII letter, digit or punctuation
//     character other than "/" (o200k_base lets a punctuation piece end
//     with newlines and slashes), and after the last newline of a
//     whitespace run that ends at ASCII non-whitespace;
//   - before the last space or tab of an ASCII whitespace run that ends at
//     ASCII non-whitespace (the whitespace alternative backtracks by one
//     character so that the last one can start the next piece);
//   - after a tab, vertical tab or form feed followed by punctuation (only
//     a space may start a punctuation piece);
//   - before an ASCII letter that follows a punctuation run which starts a
//     piece and is either preceded by a space or at least two characters
//     long (it is then matched whole by the punctuation alternative).
//
// The text between two consecutive boundaries is a whole number of pieces
// in both encodings, so its tokens are the sum of the pieces' tokens, and
// the estimate adds one bound per such segment:
//
//   - 1 if the segment is one of about 84,000 strings that both encodings
//     encode as a single token on their own (a table generated from both
//     vocabularies and checked against them by the tests). A string that is
//     a single token on its own is a single token between two boundaries:
//     the pattern matches it the same way, because the characters after it
//     cannot extend the match across a boundary;
//   - ceil(n/3) for n ASCII digits: pieces of three digits from the left,
//     and every string of one to three digits is a single token in both
//     encodings;
//   - for a run of spaces, at most two pieces (the whitespace alternative
//     and a last space on its own), each a single token up to 79 spaces;
//   - for an ASCII word with at most one leading space or punctuation
//     character, a bound from how BPE ends: merging stops only when no two
//     adjacent tokens of a piece concatenate to a vocabulary entry. The
//     estimate takes the largest number of parts the word can be cut into
//     without two adjacent parts of at most three bytes together forming a
//     two- or three-byte string that is a single token in both encodings
//     (parts meeting at a lower-to-upper case change are exempt, as
//     o200k_base starts a new piece there). That is about half the word's
//     length instead of all of it;
//   - otherwise the length in bytes, since every token covers at least one
//     byte, counting an invalid UTF-8 byte as 3, the length of the U+FFFD
//     that tokenizers and JSON encoders replace it with.
//
// Special tokens such as "<|endoftext|>" are counted as the plain text
// they are. Other encodings (p50k_base, r50k_base, non-OpenAI models) are
// not covered; use a counter for them.
type EstimateCounter struct{}

// CountTokens returns the estimate for text, an upper bound on its token
// count in cl100k_base and in o200k_base.
func (EstimateCounter) CountTokens(text string) int {
	return spEstimate(text)
}

// ExactCounter returns a TokenCounter that counts tokens exactly with the
// named tiktoken encoding, "o200k_base" (GPT-4o, GPT-4.1, GPT-5,
// o-series) or "cl100k_base" (GPT-4, GPT-3.5, text-embedding-3-*). It is
// about 25 times slower than EstimateCounter and loads the encoding's
// vocabulary (once per process, tens of megabytes); the vocabulary is
// linked into a program only if it calls ExactCounter. Invalid UTF-8 is
// counted as the tokenizer counts it, with each invalid byte read as
// U+FFFD. The counter is safe for concurrent use.
func ExactCounter(encoding string) (TokenCounter, error) {
	switch encoding {
	case "o200k_base":
		return spExactCounter{codec.NewO200kBase(), encoding}, nil
	case "cl100k_base":
		return spExactCounter{codec.NewCl100kBase(), encoding}, nil
	}
	return nil, fmt.Errorf("rag: unknown token encoding %s (want \"o200k_base\" or \"cl100k_base\")", strconv.Quote(encoding))
}

type spExactCounter struct {
	c    *codec.Codec
	name string
}

// String names the counter in splitter settings: "exact:o200k_base".
func (e spExactCounter) String() string { return "exact:" + e.name }

func (e spExactCounter) CountTokens(text string) int {
	if text == "" {
		return 0
	}
	n, err := e.c.Count(text)
	if err != nil {
		// Count fails only on invalid UTF-8 in strict mode, which this
		// codec is not in; bytes (with U+FFFD's three per invalid byte)
		// stay an upper bound if that ever changes.
		return spBytesBound(text)
	}
	return n
}

// Byte classes of the estimator. Everything at or above 0x80 is spHigh:
// the estimate proves boundaries only next to ASCII characters.
const (
	spOther   = iota // control characters other than whitespace, DEL
	spLower          // a-z
	spUpper          // A-Z
	spDigit          // 0-9
	spSpace          // ' '
	spTab            // \t \v \f: whitespace that is neither a space nor a newline
	spNewline        // \n \r
	spPunct          // printable ASCII that is not a letter, digit or space
	spHigh           // bytes of non-ASCII characters and invalid bytes
)

// spClasses maps a byte to its class, one byte of the string per byte value.
const spClasses = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x06\x05\x05\x06\x00\x00" + // 0x00
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 0x10
	"\x04\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07" + // 0x20 ' ' !"#$%&'()*+,-./
	"\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x07\x07\x07\x07\x07\x07" + // 0x30 0-9 :;<=>?
	"\x07\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02" + // 0x40 @A-O
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x07\x07\x07\x07\x07" + // 0x50 P-Z[\]^_
	"\x07\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" + // 0x60 `a-o
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x07\x07\x07\x07\x00" + // 0x70 p-z{|}~ DEL
	"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08" +
	"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08" +
	"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08" +
	"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08" +
	"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08" +
	"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08" +
	"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08" +
	"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08"

func spIsLetter(c byte) bool { return c == spLower || c == spUpper }

// spIsASCIISpace reports whether class c is ASCII whitespace (\s).
func spIsASCIISpace(c byte) bool { return c == spSpace || c == spTab || c == spNewline }

// spIsASCIIText reports whether class c is ASCII and not whitespace.
func spIsASCIIText(c byte) bool { return c != spHigh && !spIsASCIISpace(c) }

// spEstimate returns EstimateCounter's bound for s.
func spEstimate(s string) int {
	st := spStream{s: s, decided: true, memoEnd: -1}
	var words spWordCache
	if len(s) >= 4<<10 {
		st.words = &words // worth clearing for a long text
	}
	return st.upTo(len(s))
}

// spStream computes EstimateCounter's bound for s[start:x] for a growing x
// in one left-to-right pass, which is how splitters measure every candidate
// end of a chunk at the cost of one estimate. It walks s by runs of one
// class, since no boundary rule fires inside a run of letters, digits,
// punctuation or non-ASCII bytes, and checks the rules where runs meet and
// at every whitespace character.
//
// upTo(x) equals spEstimate(s[start:x]) as long as s[x-1] is not ASCII
// whitespace (or x is len(s)): no rule deciding a boundary before such an
// x looks at s[x] or beyond (only the space, tab and newline rules look
// ahead, and they stop at the first character that is not whitespace).
type spStream struct {
	s       string
	start   int
	seg     int  // the last boundary found: s[seg:i] is not yet bounded
	i       int  // where the next run starts
	run     int  // where the run ending at i started
	decided bool // whether the boundary at i has been decided
	total   int  // bounds of the segments before seg
	memoSeg int  // s[memoSeg:memoEnd] was bounded by upTo as memoVal
	memoEnd int
	memoVal int

	// words, if set, caches the bounds of short words: a splitter keeps
	// one for all its chunks (a text repeats its common words).
	words *spWordCache
}

// spWordCache is a direct-mapped cache of the bounds of short words (a
// space and up to six letters), keyed by their bytes: the key of a word
// shorter than eight bytes is unique, as no word holds a zero byte.
type spWordCache [256]struct {
	key uint64
	val int
}

func (st *spStream) reset(s string, start int) {
	words := st.words
	*st = spStream{s: s, start: start, seg: start, i: start, run: start, decided: true, memoEnd: -1}
	st.words = words
}

// upTo returns the estimate of s[st.start:x]; x must not decrease from one
// call to the next.
func (st *spStream) upTo(x int) int {
	s := st.s
	// Runs are read no further than x+1: enough to know whether they end
	// by x, and it keeps each call linear in the text it adds.
	near := s[:min(len(s), x+1)]
	for st.i < x {
		i := st.i
		if !st.decided {
			st.decided = true
			if spBoundary(s, i, st.run, st.seg, st.start) {
				st.commit(i)
			}
		}
		c := spClasses[s[i]]
		j := i + 1
		switch c {
		case spSpace:
			// The commonest segments, a space and a word, one after the
			// other, go straight to spWordSegment when the space starts a
			// segment. A boundary ending the word in s also ends it in
			// s[start:x] for x up to the word's end.
			if i == st.seg {
				total, k, run := st.total, i, 0
				// Words of up to six letters, the most of them, are read
				// with the space and the byte after them in one load.
				for k+8 <= len(s) {
					b8 := spLoad64(s[k:])
					n := bits.TrailingZeros64(spNonLetters(b8>>8)) / 8 // letters after the space
					e := k + 1 + n
					if n == 0 || n == 7 || e > x || !spWordEnds(s, e) {
						break
					}
					key := b8 & (1<<(8*(n+1)) - 1)
					if c := st.words; c != nil {
						slot := &c[key*0x9e3779b97f4a7c15>>56]
						if slot.key != key {
							slot.key, slot.val = key, spShortWord(s[k:e], key)
						}
						total += slot.val
					} else {
						total += spShortWord(s[k:e], key)
					}
					k, run = e, k+1
					if e >= x || s[e] != ' ' {
						break
					}
				}
				for k+1 < x && s[k] == ' ' && spIsLetterByte(s[k+1]) {
					e := spLetterRun(near, k+2)
					if e > x || !spWordEnds(s, e) {
						break
					}
					total += spWordSegment(s, k, e)
					k, run = e, k+1
					if k >= x || s[k] != ' ' {
						break
					}
				}
				if k > i {
					st.total, st.seg, st.i, st.run = total, k, k, run
					continue
				}
			}
		case spLower, spUpper:
			j = spLetterRun(near, j)
			if i == st.seg && j <= x && spWordEnds(s, j) {
				st.total += spWordSegment(s, i, j)
				st.seg, st.i, st.run = j, j, i
				continue
			}
		case spDigit, spPunct, spHigh:
			for j < len(near) && spClasses[near[j]] == c {
				j++
			}
		}
		if j > x {
			break // x is inside this run: no boundary in s[i:x]
		}
		st.run, st.i, st.decided = i, j, false
	}
	if st.seg == x {
		return st.total
	}
	v := spSegmentBound(s[st.seg:x])
	st.memoSeg, st.memoEnd, st.memoVal = st.seg, x, v
	return st.total + v
}

// commit closes the segment s[st.seg:p] at the boundary p.
func (st *spStream) commit(p int) {
	if st.memoSeg == st.seg && st.memoEnd == p {
		st.total += st.memoVal
	} else {
		st.total += spSegmentBound(st.s[st.seg:p])
	}
	st.seg = p
}

// spLetterRun returns the end of the run of ASCII letters at s[i:], eight
// bytes at a time while it can.
func spLetterRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := spNonLetters(spLoad64(s[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) && spIsLetterByte(s[i]) {
		i++
	}
	return i
}

// spNonLetters returns the high bit of each byte of x that is not an ASCII
// letter: a byte is one if it is below 0x80 and, folded to lower case by
// setting bit 5, between 'a' and 'z'. Masking the high bits first keeps
// the additions from carrying into the next byte.
func spNonLetters(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	y := (x | 0x20*ones) &^ highs
	letters := (y + (0x80-'a')*ones) &^ (y + (0x80-'z'-1)*ones) &^ x & highs
	return letters ^ highs
}

func spIsLetterByte(b byte) bool { return (b|0x20)-'a' < 26 }

// spWordEnds reports whether a letter run ending at p ends a piece in both
// encodings: the first rule of EstimateCounter's documentation.
func spWordEnds(s string, p int) bool {
	if p == len(s) {
		return true
	}
	b := spClasses[s[p]]
	return !spIsLetter(b) && b != spHigh && s[p] != '\''
}

// spShortWord bounds w, a space and one to six ASCII letters, whose bytes
// are first (little-endian).
func spShortWord(w string, first uint64) int {
	var one bool
	switch len(w) {
	case 2:
		one = spIsPair(w[0], w[1])
	case 3:
		one = spIsTriple(w[0], w[1], w[2])
	default:
		one = spTokFind(w, first, 0)
	}
	if one {
		return 1
	}
	return spWordBound(w)
}

// spWordSegment bounds s[i:k], ASCII letters after an optional space.
func spWordSegment(s string, i, k int) int {
	w := s[i:k]
	if n := len(w); n >= 3 && n <= spTokMaxLen && !spIsTripleShape(w) {
		// spIsToken without the byte-by-byte spFirstLast: words are short,
		// and the text usually has eight bytes to read from i on.
		var first, last uint64
		switch {
		case n < 8 && i+8 <= len(s):
			first = spLoad64(s[i:]) & (1<<(8*n) - 1)
		default:
			first, last = spFirstLast(w)
		}
		if spTokFind(w, first, last) {
			return 1
		}
	} else if spIsToken(w) {
		return 1
	}
	return spWordBound(w)
}

// spBoundary reports whether position p (start < p < len(s)) is a piece
// boundary in both encodings for the text s[start:], by the rules in
// EstimateCounter's documentation. run is the start of the run of s[p-1]'s
// class that ends at p and seg the last boundary found before p.
func spBoundary(s string, p, run, seg, start int) bool {
	a, b := spClasses[s[p-1]], spClasses[s[p]]
	switch {
	case spIsLetter(a):
		// The letter run ends unless a letter, a mark or another non-ASCII
		// letter, or a contraction suffix follows.
		return spWordEnds(s, p)
	case a == spDigit:
		return b != spHigh
	case b == spDigit:
		return a != spHigh
	}
	if b == spSpace && p+1 < len(s) {
		if n := spClasses[s[p+1]]; spIsLetter(n) || n == spPunct {
			return true
		}
	}
	if b == spSpace || b == spTab {
		if spIsASCIIText(a) {
			return true
		}
		if spIsASCIISpace(a) && p+1 < len(s) && spIsASCIIText(spClasses[s[p+1]]) {
			return true // the last character of the whitespace run
		}
	}
	switch a {
	case spTab:
		return b == spPunct
	case spNewline:
		switch b {
		case spLower, spUpper:
			return true
		case spPunct:
			return s[p] != '/'
		case spSpace, spTab:
			// After the last newline of the run, if the run ends at ASCII
			// text (or at the end): the newline alternative stops there.
			q := p
			for q < len(s) && (spClasses[s[q]] == spSpace || spClasses[s[q]] == spTab) {
				q++
			}
			return q == len(s) || spIsASCIIText(spClasses[s[q]])
		}
	case spPunct:
		if spIsLetter(b) {
			// The punctuation run [run, p) is a whole piece if a space
			// starts it, or if it starts a piece and is too long to be the
			// one-character prefix of a word.
			if run > start && s[run-1] == ' ' {
				return true
			}
			return p-run >= 2 && seg == run && s[run] != '\''
		}
	}
	return false
}

// spSegmentBound bounds the tokens of seg, a whole number of pieces.
func spSegmentBound(seg string) int {
	if spIsToken(seg) {
		return 1
	}
	switch c := spClasses[seg[0]]; {
	case c == spDigit:
		if spAllOfClass(seg, spDigit) {
			return (len(seg) + 2) / 3
		}
	case seg[0] == ' ' && spAllOfClass(seg, spSpace):
		// At most two pieces, each of at most 79 spaces a single token; a
		// longer piece has at most 2*floor(m/80)+1 tokens, because two
		// adjacent tokens of fewer than 80 spaces in all would have merged.
		return min(len(seg), 2*(len(seg)/80)+2)
	case spIsLetter(c) || ((c == spSpace || c == spPunct) && seg[0] != '\'' && len(seg) > 1):
		if spAllLetters(seg[1:]) {
			return spWordBound(seg) // not a token: spIsToken said so above
		}
	}
	return spBytesBound(seg)
}

func spAllOfClass(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if spClasses[s[i]] != c {
			return false
		}
	}
	return true
}

func spAllLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !spIsLetter(spClasses[s[i]]) {
			return false
		}
	}
	return true
}

// spBytesBound is the length of s in bytes, counting each invalid UTF-8
// byte as the three bytes of the U+FFFD it is read as.
func spBytesBound(s string) int {
	if utf8.ValidString(s) {
		return len(s)
	}
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += 3
		} else {
			n += size
		}
		i += size
	}
	return n
}

// spWordBound bounds the tokens of w, ASCII letters after an optional
// space or punctuation character, which a boundary on each side makes one
// piece (two or more in o200k_base, split before an upper-case letter that
// follows a lower-case one).
//
// BPE stops merging only when no two adjacent tokens of a piece
// concatenate to a vocabulary entry, so the tokens are a way of cutting w
// into parts in which no two adjacent parts of at most three bytes
// together are a two- or three-byte string known to be a single token in
// both encodings (spIsPair, spIsTriple), unless they meet at a case change.
// The bound is the largest number of parts such a cut can have, found by
// dynamic programming over the length of the last part (1, 2 or at least
// 3; only parts of at most 3 bytes in all are constrained). Parts longer
// than 5 bytes are never needed: one of length m >= 6 cut into 3 and m-3
// leaves every adjacent pair at least 4 bytes long, so unconstrained.
func spWordBound(w string) int {
	const none = -1 << 20
	// For the cuts of w[:i] into parts: f1, f2, f3 are the most parts when
	// the last part is 1, 2, or 3 or more bytes long, at position i-1 (a)
	// and i-2 (b); g1..g5 the most with any last part at positions i-1 to
	// i-5. Position 0 is the start, with no part before it to constrain
	// the next one.
	f1a, f2a, f3a := none, none, none
	f1b, f2b, f3b := none, none, none
	g1, g2, g3, g4, g5 := 0, none, none, none, none
	for i := 1; i <= len(w); i++ {
		// A last part of one byte, w[i-1], after a part ending at i-1.
		v1 := 1
		if i > 1 {
			best := f3a
			free := spFreeJunction(w, i-1)
			if free || !spIsPair(w[i-2], w[i-1]) {
				best = max(best, f1a)
			}
			if free || i < 3 || !spIsTripleAt(w, i-3) {
				best = max(best, f2a)
			}
			v1 = best + 1
		}
		// A last part of two bytes, w[i-2:i].
		v2 := none
		if i == 2 {
			v2 = 1
		} else if i > 2 {
			best := max(f2b, f3b)
			if spFreeJunction(w, i-2) || !spIsTripleAt(w, i-3) {
				best = max(best, f1b)
			}
			v2 = best + 1
		}
		// A last part of three to five bytes, never constrained.
		v3 := max(g3, g4, g5) + 1
		f1b, f2b, f3b = f1a, f2a, f3a
		f1a, f2a, f3a = v1, v2, v3
		g1, g2, g3, g4, g5 = max(v1, v2, v3), g1, g2, g3, g4
	}
	return g1
}

// spFreeJunction reports whether parts of w meeting at j (between w[j-1]
// and w[j]) may be in different pieces: in o200k_base, where a lower-case
// letter meets an upper-case one.
func spFreeJunction(w string, j int) bool {
	return spClasses[w[j-1]] == spLower && spClasses[w[j]] == spUpper
}

// spIsTripleAt reports whether w[i:i+3] is a single token in both
// encodings, for w[i] printable and w[i+1], w[i+2] letters (as in words).
func spIsTripleAt(w string, i int) bool {
	return spIsTriple(w[i], w[i+1], w[i+2])
}

// spIsToken reports whether s is in the table of strings that both
// encodings encode as a single token. Every ASCII character is one; two
// bytes, and three that are a printable character and two letters, are
// looked up in bit sets, the rest in a hash table.
func spIsToken(s string) bool {
	switch n := len(s); {
	case n == 1:
		return s[0] < 0x80
	case n == 2:
		return spIsPair(s[0], s[1])
	case spIsTripleShape(s):
		return spIsTriple(s[0], s[1], s[2])
	case n > spTokMaxLen:
		return false
	}
	first, last := spFirstLast(s)
	return spTokFind(s, first, last)
}

// spFirstLast returns the first eight bytes of s (padded with zero bytes)
// and, if s is longer, its last eight, as little-endian integers.
func spFirstLast(s string) (first, last uint64) {
	if len(s) >= 8 {
		first = spLoad64(s)
		if len(s) > 8 {
			last = spLoad64(s[len(s)-8:])
		}
		return first, last
	}
	for i := len(s) - 1; i >= 0; i-- {
		first = first<<8 | uint64(s[i])
	}
	return first, 0
}

// spTokHash hashes a string from its length and spFirstLast.
func spTokHash(n int, first, last uint64) uint32 {
	h := (first^uint64(n))*0x9e3779b97f4a7c15 ^ last*0xc2b2ae3d27d4eb4f
	return uint32(h >> 32)
}

// spTokFind looks s up in the hash table: spTokData holds the strings of
// each bucket in turn (most frequent first), each after a byte ' '+length,
// and ends with eight bytes of padding; spTokIndex holds where each bucket
// starts, in four characters of six bits, least significant first, offset
// by '0', so that one 8-byte load gives the start and end of a bucket.
func spTokFind(s string, first, last uint64) bool {
	b := int(spTokHash(len(s), first, last) & (spTokBuckets - 1))
	x := spLoad64(spTokIndex[4*b:]) - 0x3030303030303030
	x = x&0x003f003f003f003f | x>>2&0x0fc00fc00fc00fc0 // 12 bits per 16
	x = x&0x00000fff00000fff | x>>4&0x00fff00000fff000 // 24 bits per 32
	i, hi := int(x&0xffffff), int(x>>32)
	for i < hi {
		n := int(spTokData[i] - ' ')
		i++
		if n == len(s) {
			switch x := spLoad64(spTokData[i:]); {
			case n < 8:
				if x&(1<<(8*n)-1) == first {
					return true
				}
			case x == first && (n == 8 || spLoad64(spTokData[i+n-8:]) == last):
				if n <= 16 || spTokData[i+8:i+n-8] == s[8:n-8] {
					return true
				}
			}
		}
		i += n
	}
	return false
}

// spLoad64 reads the first eight bytes of s as a little-endian integer.
func spLoad64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// spIsPair reports whether the two bytes x, y form a single token in both
// encodings.
func spIsPair(x, y byte) bool {
	return spBit(spTokPairs, int(x)<<8|int(y))
}

// spIsTripleShape reports whether s is a printable ASCII character followed
// by two ASCII letters, the triples spIsTriple knows.
func spIsTripleShape(s string) bool {
	return len(s) == 3 && s[0] >= ' ' && s[0] <= '~' && spIsLetter(spClasses[s[1]]) && spIsLetter(spClasses[s[2]])
}

// spIsTriple reports whether x, y, z, a printable ASCII character and two
// letters, form a single token in both encodings.
func spIsTriple(x, y, z byte) bool {
	return spBit(spTokTriples, spTripleIndex(x, y, z))
}

// spTripleIndex numbers the triples spIsTriple knows.
func spTripleIndex(x, y, z byte) int {
	return (int(x-' ')*52+int(spLetterIndex[y]))*52 + int(spLetterIndex[z])
}

// spLetterIndex numbers the ASCII letters A-Z, a-z from 0 to 51.
const spLetterIndex = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e" + // @A-O
	"\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x00\x00\x00\x00\x00" + // P-Z
	"\x00\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28" + // `a-o
	"\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32\x33\x00\x00\x00\x00\x00" + // p-z
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// spBit reads bit k of a bit set stored four bits per character, offset by
// '0'.
func spBit(set string, k int) bool {
	return (set[k>>2]-'0')>>(k&3)&1 != 0
}
