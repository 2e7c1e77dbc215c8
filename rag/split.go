package rag

import (
	"fmt"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Span is one chunk of a text: text[Start:End], with Start and End byte
// offsets into the text that was split. A span starts and ends with a
// character that is not white space and never cuts a UTF-8 sequence (an
// invalid byte counts as a character of its own) or a "\r\n".
type Span struct {
	Start, End int
	// Headings is the path of Markdown headings the chunk sits under,
	// outermost first (for example ["Install", "On Linux"]); nil for
	// plain text and for Markdown before its first heading. The spans of
	// one section share the slice: treat it as read-only.
	Headings []string
}

// Splitter splits a text into chunks that fit a token limit. Split never
// fails: it returns the spans in order of Start (and of End), empty for a
// text that is empty or only white space, and every character that is not
// white space is in at least one span. Implementations are safe for
// concurrent use.
type Splitter interface {
	Split(text string) []Span
}

// SplitOptions configures NewRecursiveSplitter.
type SplitOptions struct {
	// MaxTokens is the most tokens a chunk may have by Counter (required,
	// at least 1). With EstimateCounter, which never under-counts the
	// OpenAI encodings, no chunk exceeds it in cl100k_base or o200k_base
	// either. Any character must fit on its own: one character is at most
	// 4 tokens with EstimateCounter and the OpenAI encodings, and a span
	// holding a single character that alone exceeds MaxTokens is the only
	// span that can exceed it.
	MaxTokens int
	// Overlap is how many tokens of the end of a chunk the next chunk
	// repeats at its start, cut on a word boundary when the chunk has one
	// (0 <= Overlap < MaxTokens). A chunk with its overlap still fits
	// MaxTokens: the overlap shrinks, down to none, to make room.
	Overlap int
	// Counter counts tokens; nil means EstimateCounter. With another
	// counter the splitter adds up counts of pieces and then counts each
	// chunk to check it, which with ExactCounter is about 40 times slower
	// (1.5 MB/s); chunks are then also at most 64 bytes per token of
	// MaxTokens long.
	Counter TokenCounter
}

// spDefaultMaxTokens is the limit of a zero RecursiveSplitter: a common
// chunk size for embedding models with an 8,191-token input limit.
const spDefaultMaxTokens = 512

func (o SplitOptions) check() error {
	if o.MaxTokens <= 0 {
		return fmt.Errorf("rag: SplitOptions.MaxTokens must be at least 1, got %d", o.MaxTokens)
	}
	if o.Overlap < 0 || o.Overlap >= o.MaxTokens {
		return fmt.Errorf("rag: SplitOptions.Overlap must be at least 0 and less than MaxTokens (%d), got %d", o.MaxTokens, o.Overlap)
	}
	return nil
}

// RecursiveSplitter splits plain text into chunks of at most MaxTokens
// tokens, cutting at the strongest boundary that lets a chunk fill up:
// paragraphs (blank lines) first, then sentences (".", "!", "?", "…"
// before white space, and the CJK full stops "。", "！", "？"), then lines,
// then words (white space), and as a last resort characters, for a word
// too long for a chunk (a long URL or a base64 blob). A chunk ends at its
// last paragraph end that fits, if that fills at least half of MaxTokens;
// failing that at its last sentence end that does, and so on; and if no
// boundary fills half, at the last one that fits (so a short paragraph
// before a long one joins the start of the long one rather than making a
// chunk of its own). Each chunk after the first starts with up to Overlap
// tokens from the end of the one before (see SplitOptions).
//
// Use NewRecursiveSplitter to build one. The zero value splits with a
// limit of 512 tokens, no overlap and EstimateCounter. A RecursiveSplitter
// is safe for concurrent use.
type RecursiveSplitter struct {
	opts SplitOptions
}

// NewRecursiveSplitter returns a RecursiveSplitter, or an error if
// MaxTokens is below 1 or Overlap is not in [0, MaxTokens).
func NewRecursiveSplitter(opts SplitOptions) (*RecursiveSplitter, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	return &RecursiveSplitter{opts: opts}, nil
}

// Split returns the chunks of text. It never fails and never returns a
// span over the limit, except for a lone character that alone exceeds it
// (see SplitOptions.MaxTokens).
func (s *RecursiveSplitter) Split(text string) []Span {
	opts := SplitOptions{MaxTokens: spDefaultMaxTokens}
	if s != nil && s.opts.MaxTokens > 0 {
		opts = s.opts
	}
	c := spChunker{text: text, max: opts.MaxTokens, overlap: opts.Overlap, counter: opts.Counter}
	return c.split(0, len(text), nil, nil)
}

// Boundary levels, weakest first. A chunk ends at its last boundary of the
// strongest level that fits.
const (
	spLevelRune = iota
	spLevelWord
	spLevelLine
	spLevelSentence
	spLevelParagraph
	spLevels
)

// spCand is a place a chunk may end, with the tokens of the chunk up to it.
type spCand struct {
	end, level, cost int
}

// spRange is a range of byte offsets [start, end).
type spRange struct{ start, end int }

// spMaxTokenBytes caps the bytes per token of a chunk: no string of n
// bytes has an estimate below n/64 (each segment of EstimateCounter counts
// at least one token per 64 bytes: the longest single tokens it knows are
// 64 bytes), so with EstimateCounter this never cuts a chunk short; with
// another counter it caps chunks at 64 bytes per token of MaxTokens.
const spMaxTokenBytes = 64

// spProbeBytes sets the window measure looks for candidate ends in before
// measuring where it got to: spProbeBytes bytes per token of the limit,
// about twice the bytes per token of English.
const spProbeBytes = 8

// spChunker splits text[lo:hi] into chunks. It measures each chunk as it
// grows, one candidate end after another: with EstimateCounter through an
// spStream, exactly and in a single pass; with another counter by adding
// up the counts of the pieces between candidates, a guide that is then
// checked by counting the chosen chunk.
type spChunker struct {
	text    string
	max     int
	overlap int
	counter TokenCounter // nil: EstimateCounter

	// Markdown: boundaries inside fenced code blocks are demoted (blank
	// lines there do not end paragraphs), and prefix, the heading context
	// the caller will put in front of each chunk, counts toward max.
	fences     []spRange
	prefix     string
	prefixCost int

	// Scratch state for the chunk being measured.
	cands  []spCand
	stream spStream
	exact  bool // the measurements are exact counts, not a guide
	last   int  // the generic meter has counted the chunk up to last
	sum    int  // ... as sum tokens
}

// split appends the chunks of text[lo:hi] to out.
func (c *spChunker) split(lo, hi int, headings []string, out []Span) []Span {
	a := spSkipSpace(c.text, lo, hi)
	prevEnd := a // a chunk must end after prevEnd, so that every chunk adds text
	fresh := a   // the first start that repeats nothing of the previous chunk
	for a < hi {
		end, tail := c.measure(a, prevEnd, hi)
		if end < 0 && a < fresh {
			// The overlap text[a:prevEnd] is over Overlap tokens (tail), or
			// leaves no room for more: start later, where the tail should
			// fit by its measured density, or halfway to prevEnd.
			next := a + (prevEnd-a)/2
			if tail > c.overlap {
				next = prevEnd - (prevEnd-a)*c.overlap*9/(tail*10)
			}
			a = c.wordStart(max(next, a+1), fresh)
			continue
		}
		if end < 0 {
			end = c.hardSplit(a, hi)
		}
		out = append(out, Span{Start: a, End: end, Headings: headings})
		fresh = spSkipSpace(c.text, end, hi)
		if fresh >= hi {
			break
		}
		prevEnd = end
		next := fresh
		if c.overlap > 0 {
			next = c.overlapStart(a, end, fresh)
		}
		a = next
	}
	return out
}

// measure returns where the chunk starting at a ends, among its
// candidate ends after prevEnd that fit: the last one of the strongest
// level that fills at least half the limit, or failing that the last one;
// -1 if none fits. It measures the chunk up to each candidate in turn
// until one exceeds the limit, first only at line, sentence and paragraph
// ends, and at every word end only if those leave the chunk less than
// half full.
//
// When a < prevEnd (the chunk starts with an overlap), measure also checks
// that text[a:prevEnd] fits in Overlap tokens, and if not returns -1 and
// its tokens as tail.
func (c *spChunker) measure(a, prevEnd, hi int) (end, tail int) {
	// A chunk is at most spMaxTokenBytes bytes per token: no candidate
	// further away can fit, and looking no further keeps the work for a
	// chunk bounded even in a text with no boundaries.
	limit := hi
	if far := a + spMaxTokenBytes*(c.max+1); far < hi {
		limit = far
	}
	for phase := 0; phase < 2; phase++ {
		c.start(a)
		c.cands = c.cands[:0]
		var best, bestCost [spLevels]int
		for i := range best {
			best[i] = -1
		}
		checked := a >= prevEnd
		full := false // a candidate exceeded the limit
		checkOverlap := func() int {
			checked = true
			t := c.at(prevEnd) - c.prefixCost // exact with EstimateCounter
			if c.counter != nil {
				t = c.countTail(a, prevEnd)
			}
			return t
		}
		for p := a; p < limit; {
			// Look for candidates a window at a time; after a window with
			// none, measure where it ends, and stop if the chunk is full
			// already: a long word, or sentence, costs no more than it
			// takes to find out that it does not fit.
			window := min(limit, p+spProbeBytes*(c.max+1))
			var e, level int
			if phase == 0 {
				e, level, p = c.nextStrong(p, window, hi)
			} else {
				e, level, p = c.nextCand(p, window, hi)
			}
			if e < 0 {
				if window >= limit {
					break
				}
				q := spTrimSpaceRight(c.text, a, spRuneFloor(c.text, a, window))
				if !checked && q >= prevEnd {
					if t := checkOverlap(); t > c.overlap {
						return -1, t
					}
				}
				if q > prevEnd && c.at(q) > c.max {
					full = true
					break
				}
				p = window
				continue
			}
			if !checked && e >= prevEnd {
				if t := checkOverlap(); t > c.overlap {
					return -1, t
				}
			}
			cost := c.at(e)
			if cost > c.max {
				full = true
				break
			}
			c.cands = append(c.cands, spCand{end: e, level: level, cost: cost})
			if e > prevEnd {
				best[level], bestCost[level] = e, cost
				if level == spLevelParagraph && 2*cost >= c.max && !c.nextParagraphFits(a, e, cost, limit, hi) {
					full = true // the chunk is done: spare measuring the next paragraph
					break
				}
			}
		}
		end = -1
		latest := -1
		for level := spLevels - 1; level >= 0; level-- {
			if best[level] < 0 {
				continue
			}
			if end < 0 && 2*bestCost[level] >= c.max {
				end = best[level]
			}
			latest = max(latest, best[level])
		}
		if end < 0 && (!full || phase == 1) {
			end = latest
		}
		if end >= 0 && !c.exact {
			end = c.verify(a, prevEnd, end)
		}
		if end >= 0 {
			return end, 0
		}
	}
	return -1, 0
}

// nextParagraphFits predicts whether the chunk text[a:e], which ends a
// paragraph and has cost tokens, could take the next paragraph too, at its
// tokens per byte so far. When it could not, measure stops at e instead of
// measuring on until the limit, text the next chunk measures again. A
// wrong guess makes a chunk end at e, still at a paragraph end and at
// least half full.
func (c *spChunker) nextParagraphFits(a, e, cost, limit, hi int) bool {
	s := c.text[:hi]
	p := spSkipSpace(s, e, hi)
	for p < limit {
		i := strings.IndexByte(s[p:limit], '\n')
		if i < 0 {
			break
		}
		q := p + i
		r := spSkipSpace(s, q, hi)
		if r >= hi || strings.Count(s[q:r], "\n") >= 2 {
			next := spTrimSpaceRight(s, e, q)
			return cost+(next-e)*cost/(e-a) <= c.max
		}
		p = r
	}
	if limit == hi {
		next := spTrimSpaceRight(s, e, hi)
		return cost+(next-e)*cost/(e-a) <= c.max
	}
	return false
}

// verify checks the chunk text[a:end] chosen from a guide with the counter,
// stepping back to earlier candidates until one fits; -1 if none after
// prevEnd does.
func (c *spChunker) verify(a, prevEnd, end int) int {
	for i := len(c.cands) - 1; i >= 0; i-- {
		e := c.cands[i].end
		if e > end {
			continue
		}
		if e <= prevEnd {
			break
		}
		if c.fits(a, e, c.max) {
			return e
		}
	}
	return -1
}

// start begins measuring a chunk at a.
func (c *spChunker) start(a int) {
	c.exact = false
	if c.counter == nil {
		if c.stream.words == nil {
			c.stream.words = new(spWordCache)
		}
		c.stream.reset(c.text, a)
		// The estimate of prefix+chunk is the sum of the two when the
		// prefix ends a line and the chunk starts with an ASCII letter,
		// digit or punctuation other than "/": a piece boundary.
		c.exact = c.prefix == "" || c.prefixJoins(a)
		return
	}
	c.last, c.sum = a, c.prefixCost
}

// at returns the tokens of the prefix and the chunk up to x, exactly or as a
// guide (see spChunker); x never decreases between calls, and text[x-1]
// is not white space.
func (c *spChunker) at(x int) int {
	if c.counter == nil {
		return c.prefixCost + c.stream.upTo(x)
	}
	if x > c.last {
		c.sum += c.counter.CountTokens(c.text[c.last:x])
		c.last = x
	}
	return c.sum
}

// prefixJoins reports whether the estimate of prefix+text[a:] is the sum
// of the two estimates, because a piece boundary separates them.
func (c *spChunker) prefixJoins(a int) bool {
	p := c.prefix
	if p[len(p)-1] != '\n' || a >= len(c.text) {
		return false
	}
	switch b := c.text[a]; spClasses[b] {
	case spLower, spUpper, spDigit:
		return true
	case spPunct:
		return b != '/'
	}
	return false
}

// fits reports whether the prefix and text[a:end] count at most limit
// tokens, by the counter itself.
func (c *spChunker) fits(a, end, limit int) bool {
	chunk := c.text[a:end]
	if c.counter == nil {
		if c.prefix == "" {
			return spEstimate(chunk) <= limit
		}
		return spEstimate(c.prefix+chunk) <= limit
	}
	if c.prefix == "" {
		return c.counter.CountTokens(chunk) <= limit
	}
	return c.counter.CountTokens(c.prefix+chunk) <= limit
}

// wordStart returns the first word start at or after p, or fresh.
func (c *spChunker) wordStart(p, fresh int) int {
	s := c.text
	if p >= fresh {
		return fresh
	}
	if r, _ := utf8.DecodeLastRuneInString(s[:p]); !unicode.IsSpace(r) {
		// p is inside a word: go to its end.
		for p < fresh {
			r, w := spDecode(s, p)
			if unicode.IsSpace(r) {
				break
			}
			p += w
		}
	}
	return spSkipSpace(s, p, fresh)
}

// overlapStart returns where the chunk after text[a:end] starts: a word
// start whose tail up to end should fit in Overlap tokens, judged by the
// chunk's tokens per byte (measure then checks it and start later if it
// does not fit). In a chunk without word boundaries (a cut inside a long
// word) the tail starts at a character instead.
func (c *spChunker) overlapStart(a, end, fresh int) int {
	cost := -1
	for i := len(c.cands) - 1; i >= 0; i-- {
		if c.cands[i].end == end {
			cost = c.cands[i].cost - c.prefixCost
			break
		}
	}
	if cost <= 0 {
		return c.runeOverlap(a, end, fresh)
	}
	tailBytes := (end - a) * c.overlap * 9 / (cost * 10)
	w := c.wordStart(max(end-tailBytes, a+1), end)
	if w >= end {
		return fresh
	}
	return w
}

// runeOverlap returns the start of the longest tail of text[a:end], cut
// between characters, that fits in Overlap tokens, or fresh if none does.
func (c *spChunker) runeOverlap(a, end, fresh int) int {
	best := fresh
	lo, hi := a+1, end-1 // the start is in [lo, hi]
	for lo <= hi {
		mid := lo + (hi-lo)/2
		t := spRuneFloor(c.text, a, mid)
		if t <= a {
			lo = mid + 1
			continue
		}
		if c.countTail(t, end) <= c.overlap {
			best, hi = t, t-1
		} else {
			lo = mid + 1
		}
	}
	return best
}

func (c *spChunker) countTail(t, end int) int {
	if c.counter == nil {
		return spEstimate(c.text[t:end])
	}
	return c.counter.CountTokens(c.text[t:end])
}

// hardSplit cuts the word starting at a, too long for a chunk, at the
// last character boundary that fits, found by galloping then bisecting
// (token counts grow with the length, if not strictly). At least one
// character is taken, even if it alone exceeds the limit.
func (c *spChunker) hardSplit(a, hi int) int {
	e := a
	limit := min(hi, a+spMaxTokenBytes*(c.max+1))
	for e < limit {
		r, w := spDecode(c.text, e)
		if unicode.IsSpace(r) {
			break
		}
		e += w
	}
	_, first := spDecode(c.text, a)
	lo := a + first // the shortest cut
	if !c.fits(a, lo, c.max) {
		return lo
	}
	// Gallop: probe at growing distances until a probe does not fit or
	// reaches the end of the word (which does not fit, or is too far).
	hiCut := e
	for step := c.max; ; step *= 2 {
		p := spRuneFloor(c.text, a, min(a+step, e))
		if p >= e {
			break
		}
		if p > lo {
			if !c.fits(a, p, c.max) {
				hiCut = p
				break
			}
			lo = p
		}
	}
	// Bisect in (lo, hiCut): lo fits, hiCut does not (or is the word end).
	for {
		mid := spRuneFloor(c.text, a, lo+(hiCut-lo)/2)
		if mid <= lo {
			break
		}
		if c.fits(a, mid, c.max) {
			lo = mid
		} else {
			hiCut = mid
		}
	}
	return lo
}

// nextStrong returns the first candidate end after p of level line or
// above: after a sentence terminator (and closing quotes or brackets)
// followed by white space, or after a CJK full stop; or at the end of the
// last word before a line break or the end of the text. It skips from one
// byte that may start such an end to the next, which makes it much faster
// than nextCand. The results are as for nextCand.
func (c *spChunker) nextStrong(p, limit, hi int) (e, level, next int) {
	s := c.text[:hi]
	for q := p; q < limit; q++ {
		// Skip eight bytes at a time while none may start an end.
		for q+8 <= limit {
			m := spMaybeStrong(spLoad64(s[q:]))
			if m != 0 {
				q += bits.TrailingZeros64(m) / 8
				break
			}
			q += 8
		}
		if q >= limit {
			break
		}
		b := s[q]
		if !spStrongByte[b] {
			continue
		}
		var r rune
		w := 1
		if b >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[q:])
		} else {
			r = rune(b)
		}
		switch r {
		case '.', '!', '?', '…':
			e = spSkipClosers(s, q+w)
			if e == hi || spSpaceAt(s, e) {
				level, next = c.levelAt(e, hi)
				return e, c.demote(e, level), next
			}
			q = e - 1
		case '。', '！', '？':
			e = spSkipClosers(s, q+w)
			if e < hi && !spSpaceAt(s, e) {
				return e, c.demote(e, spLevelSentence), e
			}
			level, next = c.levelAt(e, hi)
			return e, c.demote(e, level), next
		case '\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029':
			// The end of the word before the line break: p is not inside
			// white space, so there is one at or after p.
			e = spTrimSpaceRight(s, p, q)
			if e > p {
				level, next = c.levelAt(e, hi)
				return e, c.demote(e, level), next
			}
			q += w - 1
		default:
			q += w - 1
		}
	}
	if limit < hi {
		return -1, 0, limit
	}
	if e = spTrimSpaceRight(s, p, hi); e > p {
		return e, c.demote(e, spLevelParagraph), hi
	}
	return -1, 0, hi
}

// spStrongByte marks the bytes that may start a sentence terminator or a
// line break: ASCII ones, and the lead bytes of U+0085, U+2026, U+2028,
// U+2029, the CJK full stop U+3002 and the fullwidth "！" and "？". A line
// that ends with a lone "\r", "\v" or "\f" is not found by nextStrong (the
// rarer line ends are left out to keep the scan fast), only by nextCand.
var spStrongByte = [256]bool{'.': true, '!': true, '?': true, '\n': true,
	0xC2: true, 0xE2: true, 0xE3: true, 0xEF: true}

// spMaybeStrong returns a word with the high bit set in the first byte of x
// that is '.', '!', '?', '\n' or not ASCII, and maybe in later bytes;
// callers check that byte with spStrongByte.
func spMaybeStrong(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// A byte of v is zero where x has the byte sought, and (v-ones)&^v then
	// sets its high bit (the borrow can set bits above a true match too).
	d, e, q, n := x^'.'*ones, x^'!'*ones, x^'?'*ones, x^'\n'*ones
	return (x | (d-ones)&^d | (e-ones)&^e | (q-ones)&^q | (n-ones)&^n) & highs
}

// spSpaceAt reports whether s[p] starts a white space character.
func spSpaceAt(s string, p int) bool {
	r, _ := spDecode(s, p)
	return unicode.IsSpace(r)
}

// spTrimSpaceRight returns the end of s[lo:e] without its trailing white
// space.
func spTrimSpaceRight(s string, lo, e int) int {
	for e > lo {
		if b := s[e-1]; b < utf8.RuneSelf {
			if spASCIISpace[b] == 0 {
				return e
			}
			e--
			continue
		}
		r, w := utf8.DecodeLastRuneInString(s[lo:e])
		if !unicode.IsSpace(r) {
			return e
		}
		e -= w
	}
	return e
}

// nextCand returns the first candidate end after p: the end of the next
// run of non-space characters, or a CJK full stop inside one; its level;
// and where to continue looking. e is -1 if there is none before limit.
func (c *spChunker) nextCand(p, limit, hi int) (e, level, next int) {
	s := c.text[:hi]
	p = spSkipSpace(s, p, hi)
	if p >= limit {
		return -1, 0, hi
	}
	for p < hi {
		if p >= limit {
			return -1, 0, hi
		}
		b := s[p]
		if b < utf8.RuneSelf {
			if spASCIISpace[b] != 0 {
				break
			}
			p++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[p:])
		if unicode.IsSpace(r) {
			break
		}
		p += w
		if r == '。' || r == '！' || r == '？' {
			p = spSkipClosers(s, p)
			if p < hi {
				if r2, _ := spDecode(s, p); !unicode.IsSpace(r2) {
					return p, c.demote(p, spLevelSentence), p
				}
			}
		}
	}
	level, next = c.levelAt(p, hi)
	return p, c.demote(p, level), next
}

// levelAt returns the level of a word end at e, with the end of the white
// space after it: a blank line in that space (or the end of the text)
// ends a paragraph, a sentence terminator before e a sentence, a line
// break a line.
func (c *spChunker) levelAt(e, hi int) (level, next int) {
	s := c.text[:hi]
	breaks, p := 0, e
	for p < hi {
		b := s[p]
		if b < utf8.RuneSelf {
			if spASCIISpace[b] == 0 {
				break
			}
			if b == '\n' || b == '\v' || b == '\f' || (b == '\r' && (p+1 >= hi || s[p+1] != '\n')) {
				breaks++
			}
			p++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[p:])
		if !unicode.IsSpace(r) {
			break
		}
		switch r {
		case '\u0085', '\u2028':
			breaks++
		case '\u2029':
			breaks += 2
		}
		p += w
	}
	switch {
	case breaks >= 2 || p >= hi:
		return spLevelParagraph, p
	case spEndsSentence(s, e):
		return spLevelSentence, p
	case breaks == 1:
		return spLevelLine, p
	}
	return spLevelWord, p
}

// demote lowers the level of a boundary inside a fenced code block: there
// a blank line does not end a paragraph, nor a full stop a sentence.
func (c *spChunker) demote(e, level int) int {
	for _, f := range c.fences {
		if e > f.start && e < f.end {
			switch level {
			case spLevelParagraph:
				return spLevelLine
			case spLevelSentence:
				return spLevelWord
			}
		}
	}
	return level
}

// spEndsSentence reports whether s[:e] ends with a sentence terminator,
// possibly followed by closing quotes and brackets.
func spEndsSentence(s string, e int) bool {
	for e > 0 {
		if b := s[e-1]; b < utf8.RuneSelf && b != '.' && b != '!' && b != '?' &&
			b != '"' && b != '\'' && b != ')' && b != ']' && b != '}' {
			return false // the common case, decided without decoding
		}
		r, w := utf8.DecodeLastRuneInString(s[:e])
		switch r {
		case '.', '!', '?', '…', '。', '！', '？':
			return true
		case '"', '\'', ')', ']', '}', '»', '”', '’', '」', '』', '）':
			e -= w
		default:
			return false
		}
	}
	return false
}

// spSkipClosers skips closing quotes and brackets after a CJK full stop.
func spSkipClosers(s string, p int) int {
	for p < len(s) {
		r, w := utf8.DecodeRuneInString(s[p:])
		switch r {
		case '"', '\'', ')', ']', '}', '»', '”', '’', '」', '』', '）':
			p += w
		default:
			return p
		}
	}
	return p
}

// spASCIISpace marks the ASCII characters unicode.IsSpace reports.
var spASCIISpace = [utf8.RuneSelf]byte{'\t': 1, '\n': 1, '\v': 1, '\f': 1, '\r': 1, ' ': 1}

// spSkipSpace returns the first position in s[p:hi] that is not white
// space, or hi.
func spSkipSpace(s string, p, hi int) int {
	for p < hi {
		b := s[p]
		if b < utf8.RuneSelf {
			if spASCIISpace[b] == 0 {
				return p
			}
			p++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[p:hi])
		if !unicode.IsSpace(r) {
			return p
		}
		p += w
	}
	return hi
}

// spDecode decodes the character at s[p], an invalid byte counting as one
// character of width 1.
func spDecode(s string, p int) (rune, int) {
	if b := s[p]; b < utf8.RuneSelf {
		return rune(b), 1
	}
	return utf8.DecodeRuneInString(s[p:])
}

// spRuneFloor returns the last character boundary at or before p and
// not before lo, a boundary itself. Decoding forward never takes a byte
// that is not a UTF-8 continuation byte (10xxxxxx) into an earlier
// character, so such a byte starts one; a continuation byte starts one
// only if the nearest such byte before it, within three, does not decode
// to a character that covers it (invalid text decodes byte by byte). Of
// any four consecutive positions one is a boundary.
func spRuneFloor(s string, lo, p int) int {
	if p >= len(s) {
		return len(s)
	}
	for q := p; q > lo; q-- {
		if spRuneBoundary(s, lo, q) {
			return q
		}
	}
	return lo
}

func spRuneBoundary(s string, lo, q int) bool {
	if utf8.RuneStart(s[q]) {
		return true
	}
	for l := q - 1; l >= lo && l >= q-3; l-- {
		if utf8.RuneStart(s[l]) {
			_, w := utf8.DecodeRuneInString(s[l:])
			return l+w <= q
		}
	}
	return true
}
