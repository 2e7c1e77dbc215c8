package detect

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"unicode/utf8"
)

const (
	injRingMask = injMaxPattern - 1
	injRingObf  = 1 << 62
	// injMinB64 and injMinHex are the shortest runs worth decoding: shorter
	// ones are words, ids and hashes far more often than payloads.
	injMinB64 = 20
	injMinHex = 16
	// injMaxDepth bounds nested decoding (base64 inside base64 inside
	// rot13): each level scans at most the bytes of the one above, so the
	// total work stays linear.
	injMaxDepth = 2
	// injMinSingles is how many one-letter words in a row make a
	// letter-spaced run ("i g n o r e").
	injMinSingles = 5
	// injMergeGap joins fires of one technique that are this close, so
	// one attack gives one finding.
	injMergeGap = 64
	// injLineWindow bounds the span decoded around a rot13 or reversed
	// marker word.
	injLineWindow = 400
)

// Candidate kinds: spans decoded and scanned again after the main pass.
const (
	injCandBase64 = iota + 1
	injCandHex
	injCandRot13
	injCandReversed
	injCandSpacing
)

type injPat struct {
	concept int
	flags   int
	n       int // symbols
	lead    int // 1 when the pattern starts with a separator
}

type injSeen struct {
	ok         bool
	obf        bool
	word       int32
	start, end int32
}

type injFire struct {
	tech     string
	jail     bool
	reason   string
	score    float64
	start    int
	end      int
	wlo, whi int32
	obf      bool
	decoded  bool // found inside decoded or re-spaced text
}

type injCand struct {
	kind       int
	start, end int
}

// injScanner is the state of one scan. It lives on the caller's stack;
// nothing in it is shared.
type injScanner struct {
	e         *injEngine
	ac        *injAC
	pats      []injPat
	text      string
	untrusted bool
	depth     int

	state      uint16
	n          int // symbols fed, including the leading separator
	word       int32
	last       uint8
	pendObf    bool
	cur        int // end offset of the rune being read
	wordStartN int
	wordSkip   int // symbols of the current word skipped by the fast path
	singles    int
	singleFrom int
	singleTo   int
	// loose switches to the unanchored automaton for [looseFrom, looseTo):
	// the collapsed letters of a letter-spaced run.
	looseFrom, looseTo int

	// ring holds the offsets of the last injMaxPattern symbols, with
	// injRingObf set on symbols an obfuscator produced, so a match maps
	// back to the text.
	ring     [injMaxPattern]int64
	seen     [injNumConcepts]injSeen
	cancelAt [injNumConcepts]int

	fires []injFire
	meta  []int32 // word indexes of mention markers
	frame []int32 // word indexes of quotation frames
	cands []injCand
}

func (s *injScanner) reset() {
	s.ac = s.e.ac
	s.pats = s.e.pats
	s.state = s.ac.start
	s.n = 1
	s.last = injSymSep
	s.wordStartN = 1
	s.looseFrom, s.looseTo = -1, -1
}

// run reads the text once: folds it to symbols, drives the automaton,
// evaluates rules around matches and notes spans worth decoding.
func (s *injScanner) run() {
	nrm := s.e.norm
	text := s.text
	b64s := 0
	next := len(text) + 1
	if s.looseFrom >= 0 {
		next = s.looseFrom
	}
	delta := s.ac.delta
	ring := &s.ring
	for i := 0; i < len(text); {
		if i >= next {
			next = s.switchAC(i)
			delta = s.ac.delta
		}
		// Fast path: ASCII letters, digits and separators, the bulk of any
		// text. The automaton state lives in locals until something
		// needs the scanner: a match, the end of a word, a long run.
		if f := nrm.fast[text[i]]; f&injFastSlow == 0 && !s.pendObf {
			st, n, last := s.state, s.n, s.last
			for {
				k := f & injFastSym
				if k == injSymSep {
					if f&injFastB64 == 0 {
						if i-b64s >= injMinHex {
							s.state, s.n, s.last = st, n, last
							s.addRun(b64s, i)
						}
						b64s = i + 1
					}
					if last != injSymSep {
						if n-s.wordStartN+s.wordSkip == 1 || s.singles != 0 {
							s.n = n
							s.endWord(i)
						} else {
							s.wordStartN, s.wordSkip = n+1, 0
						}
						t := delta[int(st)*injAlpha]
						st = t & injStateMask
						ring[n&injRingMask] = int64(i)
						n++
						s.word++
						last = injSymSep
						if t&injOutFlag != 0 {
							s.state, s.n, s.last, s.cur = st, n, last, i+1
							s.match()
						}
					}
					i++
				} else {
					t := delta[int(st)*injAlpha+int(k)]
					st = t & injStateMask
					ring[n&injRingMask] = int64(i) | int64(f&injFastLeet)<<(62-6)
					n++
					last = k
					i++
					if t&injOutFlag != 0 {
						s.state, s.n, s.last, s.cur = st, n, last, i
						s.match()
					}
					if st == 0 {
						// Every pattern starts at a word boundary, so once
						// the automaton is back at its root inside a word
						// the rest of the word cannot matter: skip it. Most
						// words of ordinary text leave the trie after a
						// letter or two.
						for i < len(text) && i < next {
							if g := nrm.fast[text[i]]; g&injFastSlow != 0 || g&injFastSym == injSymSep {
								break
							}
							i++
							s.wordSkip++
						}
					}
				}
				if i >= len(text) || i >= next {
					break
				}
				if f = nrm.fast[text[i]]; f&injFastSlow != 0 {
					break
				}
			}
			s.state, s.n, s.last = st, n, last
			continue
		}
		c := text[i]
		if c < utf8.RuneSelf {
			if !nrm.b64[c] {
				if i-b64s >= injMinHex {
					s.addRun(b64s, i)
				}
				b64s = i + 1
			}
			s.cur = i + 1
			s.emit(nrm.ascii[c], i, nrm.leet[c])
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if i-b64s >= injMinHex {
			s.addRun(b64s, i)
		}
		b64s = i + size
		s.cur = i + size
		v := nrm.fold(r)
		obf := v&injFoldObf != 0
		switch v >> 16 & 0xff {
		case injFoldLetters:
			s.emit(uint8(v), i, obf)
			if s2 := uint8(v >> 8); s2 != 0 {
				s.emit(s2, i, obf)
			}
		case injFoldSep:
			s.emit(injSymSep, i, false)
		case injFoldX:
			s.emit(injSymX, i, false)
		case injFoldASCII:
			if k := nrm.ascii[byte(v)]; k < injAlpha {
				s.emit(k, i, true)
			}
		case injFoldApos:
			s.emit(injClsApos, i, false)
		default: // invisible
			if obf {
				s.pendObf = true
			}
		}
		i += size
	}
	if len(text)-b64s >= injMinHex {
		s.addRun(b64s, len(text))
	}
	s.cur = len(text)
	s.emit(injSymSep, len(text), false)
	s.flushSingles()
}

// switchAC enters or leaves the loose region and returns the next offset
// at which to switch.
func (s *injScanner) switchAC(i int) int {
	s.emit(injSymSep, i, false)
	if i == s.looseFrom {
		s.ac, s.pats = s.e.loose, s.e.loosePats
		s.state = 0
		return s.looseTo
	}
	s.ac, s.pats = s.e.ac, s.e.pats
	s.state = s.ac.start
	return len(s.text) + 1
}

func (s *injScanner) emit(k uint8, off int, obf bool) {
	switch {
	case k == injSymSep:
		if s.last == injSymSep {
			return
		}
		s.endWord(off)
		s.feed(injSymSep, off, false)
	case k < injSymColon:
		s.feed(k, off, obf || s.pendObf)
		s.pendObf = false
	case k == injClsApos:
		if s.last != injSymSep && (s.n-s.wordStartN+s.wordSkip <= 2 || off > 0 && (s.text[off-1] == 'l' || s.text[off-1] == 'L')) {
			s.endWord(off)
			s.feed(injSymSep, off, false)
		}
	case k < injAlpha:
		if s.last != injSymSep {
			s.endWord(off)
			s.feed(injSymSep, off, false)
		}
		s.flushSingles()
		s.feed(k, off, false)
		s.feed(injSymSep, s.cur, false)
		s.wordStartN = s.n
		s.wordSkip = 0
	}
}

// endWord tracks runs of one-letter words, the shape of letter-spaced
// text.
func (s *injScanner) endWord(off int) {
	if s.n-s.wordStartN+s.wordSkip == 1 {
		if s.singles == 0 {
			s.singleFrom = int(s.ring[(s.n-1)&injRingMask] &^ injRingObf)
		}
		s.singles++
		s.singleTo = off
	} else {
		s.flushSingles()
	}
	s.wordStartN = s.n + 1
	s.wordSkip = 0
}

func (s *injScanner) flushSingles() {
	if s.singles >= injMinSingles && s.depth < injMaxDepth {
		s.cands = append(s.cands, injCand{injCandSpacing, s.singleFrom, s.singleTo})
	}
	s.singles = 0
}

func (s *injScanner) feed(sym uint8, off int, obf bool) {
	t := s.ac.delta[int(s.state)*injAlpha+int(sym)]
	s.state = t & injStateMask
	v := int64(off)
	if obf {
		v |= injRingObf
	}
	s.ring[s.n&injRingMask] = v
	s.n++
	if sym == injSymSep && s.last < injSymColon && s.last != injSymSep {
		s.word++
	}
	s.last = sym
	if t&injOutFlag != 0 {
		s.match()
	}
}

// match handles every pattern ending at the current symbol.
func (s *injScanner) match() {
	ac := s.ac
	for _, p := range ac.outs[ac.outStart[s.state]:ac.outStart[s.state+1]] {
		pat := &s.pats[p]
		first := s.n - pat.n + pat.lead
		if first < 0 {
			continue
		}
		start := int(s.ring[first&injRingMask] &^ injRingObf)
		end := s.cur
		if s.last == injSymSep && pat.n > 1 {
			end = int(s.ring[(s.n-1)&injRingMask] &^ injRingObf)
		}
		if end < start {
			end = start
		}
		obf := false
		for k := first; k < s.n; k++ {
			obf = obf || s.ring[k&injRingMask]&injRingObf != 0
		}
		if pat.flags&injPLineStart != 0 && !injAtLineStart(s.text, start) {
			continue
		}
		if pat.flags&injPQuoteAfter != 0 && !injQuoteAfter(s.text, end) {
			continue
		}
		if pat.flags&injPCancel != 0 {
			s.cancelAt[pat.concept] = s.n
			continue
		}
		if s.cancelAt[pat.concept] == s.n {
			continue
		}
		s.concept(pat.concept, start, end, obf, 0)
	}
}

func (s *injScanner) concept(c, start, end int, obf bool, depth int) {
	s.seen[c] = injSeen{ok: true, obf: obf, word: s.word, start: int32(start), end: int32(end)}
	switch c {
	case injCMeta:
		s.meta = append(s.meta, s.word)
	case injCFrame:
		s.frame = append(s.frame, s.word)
	case injCRot13:
		s.addLine(injCandRot13, start, end)
	case injCReversed:
		s.addLine(injCandReversed, start, end)
	}
	for _, ri := range s.e.byConcept[c] {
		r := &s.e.rules[ri]
		if r.ordered && r.need[len(r.need)-1] != c {
			continue
		}
		st, en, ob, wlo := start, end, obf, s.word
		ok := true
		for _, x := range r.need {
			if x == c {
				continue
			}
			sx := &s.seen[x]
			if !sx.ok || s.word-sx.word > int32(r.window) || r.ordered && int(sx.start) > start {
				ok = false
				break
			}
			st = min(st, int(sx.start))
			en = max(en, int(sx.end))
			ob = ob || sx.obf
			wlo = min(wlo, sx.word)
		}
		if !ok {
			continue
		}
		if r.derive != 0 {
			if depth < 3 {
				s.concept(r.derive, st, en, ob, depth+1)
			}
			continue
		}
		score := r.score
		if s.untrusted {
			score = r.strict
		}
		s.fire(injFire{tech: r.tech, jail: r.jailbrk, reason: r.reason, score: score, start: st, end: en, wlo: wlo, whi: s.word, obf: ob})
	}
}

// fire records a rule match, merged with a nearby one of the same
// technique.
func (s *injScanner) fire(f injFire) {
	for i := len(s.fires) - 1; i >= 0 && i >= len(s.fires)-8; i-- {
		g := &s.fires[i]
		if g.tech != f.tech || f.start > g.end+injMergeGap || f.end < g.start-injMergeGap {
			continue
		}
		g.start, g.end = min(g.start, f.start), max(g.end, f.end)
		g.wlo, g.whi = min(g.wlo, f.wlo), max(g.whi, f.whi)
		g.obf = g.obf || f.obf
		g.decoded = g.decoded || f.decoded
		if f.score > g.score {
			g.score, g.reason, g.jail = f.score, f.reason, f.jail
		}
		return
	}
	s.fires = append(s.fires, f)
}

// addRun considers a run of base64 (or hex) alphabet bytes for decoding.
func (s *injScanner) addRun(from, to int) {
	if s.depth >= injMaxDepth {
		return
	}
	// A key=value prefix ("data=", "payload=") is not part of the
	// payload; trailing '=' is base64 padding.
	if k := strings.LastIndexByte(strings.TrimRight(s.text[from:to], "="), '='); k >= 0 {
		from += k + 1
	}
	run := s.text[from:to]
	if injIsHex(run) {
		if len(run) >= injMinHex {
			s.cands = append(s.cands, injCand{injCandHex, from, to})
		}
		return
	}
	if len(run) < injMinB64 {
		return
	}
	// A run of plain lowercase letters is a long word, not base64.
	upper, lower, digit := false, false, false
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	if upper && lower || digit && (upper || lower) {
		s.cands = append(s.cands, injCand{injCandBase64, from, to})
	}
}

func (s *injScanner) addLine(kind, start, end int) {
	if s.depth >= injMaxDepth {
		return
	}
	from := start
	for from > 0 && start-from < injLineWindow && s.text[from-1] != '\n' {
		from--
	}
	to := end
	for to < len(s.text) && to-end < injLineWindow && s.text[to] != '\n' {
		to++
	}
	s.cands = append(s.cands, injCand{kind, from, to})
}

// decodeAll decodes each candidate span once and scans the result one
// level deeper. Candidates are made disjoint first, so the decoded bytes
// at one level never exceed the text.
func (s *injScanner) decodeAll() {
	if len(s.cands) == 0 {
		return
	}
	slices.SortStableFunc(s.cands, func(a, b injCand) int { return a.start - b.start })
	kept := s.cands[:0]
	for _, c := range s.cands {
		if n := len(kept); n > 0 && c.start < kept[n-1].end {
			continue
		}
		kept = append(kept, c)
	}
	for _, c := range kept {
		s.decode(c)
	}
}

func (s *injScanner) decode(c injCand) {
	span := s.text[c.start:c.end]
	var inner string
	var how string
	switch c.kind {
	case injCandHex:
		run := strings.TrimPrefix(strings.TrimPrefix(span, "0x"), "0X")
		b, err := hex.DecodeString(run[:len(run)&^1])
		if err != nil {
			return
		}
		inner, how = string(b), "hex-encoded text "
	case injCandBase64:
		run := strings.TrimRight(span, "=")
		if len(run)%4 == 1 {
			run = run[:len(run)-1]
		}
		enc := base64.RawStdEncoding
		if strings.ContainsAny(run, "-_") {
			enc = base64.RawURLEncoding
		}
		b, err := enc.DecodeString(run)
		if err != nil {
			return
		}
		inner, how = string(b), "base64-encoded text "
	case injCandRot13:
		inner, how = injRot13(span), "rot13-encoded text "
	case injCandReversed:
		inner, how = injReverse(span), "reversed text "
	case injCandSpacing:
		s.respace(c)
		return
	}
	if !injLooksLikeText(inner) {
		return
	}
	sub := injScanner{e: s.e, text: inner, untrusted: s.untrusted, depth: s.depth + 1}
	sub.reset()
	sub.run()
	sub.decodeAll()
	sub.finish()
	for _, f := range sub.fires {
		if f.score < 0.3 {
			continue
		}
		reason := how + "that " + f.reason
		if f.tech == injTEncoded {
			reason = how + "wrapping " + f.reason
		}
		s.fire(injFire{tech: injTEncoded, jail: f.jail, reason: reason, score: min(1, f.score+0.1),
			start: c.start, end: c.end, wlo: s.word, whi: s.word, obf: true, decoded: true})
	}
}

// respace scans a letter-spaced run with its spaces removed, between up
// to injLineWindow/2 bytes of its context read as usual.
func (s *injScanner) respace(c injCand) {
	from := max(0, c.start-injLineWindow/2)
	to := min(len(s.text), c.end+injLineWindow/2)
	var b strings.Builder
	b.WriteString(s.text[from:c.start])
	b.WriteByte(' ')
	lf := b.Len()
	for _, r := range s.text[c.start:c.end] {
		v := s.e.norm.fold(r)
		if r < utf8.RuneSelf {
			if k := s.e.norm.ascii[r]; k != injSymSep && k < injSymColon {
				b.WriteRune(r)
			}
			continue
		}
		if v>>16&0xff == injFoldLetters || v>>16&0xff == injFoldX {
			b.WriteRune(r)
		}
	}
	lt := b.Len()
	b.WriteByte(' ')
	b.WriteString(s.text[c.end:to])
	sub := injScanner{e: s.e, text: b.String(), untrusted: s.untrusted, depth: s.depth + 1}
	sub.reset()
	sub.looseFrom, sub.looseTo = lf, lt
	sub.run()
	sub.finish()
	for _, f := range sub.fires {
		if f.end <= lf || f.start >= lt {
			continue // seen by the outer scan already
		}
		st, en := c.start, c.end
		if f.start < lf {
			st = from + f.start
		}
		if f.end > lt {
			en = c.end + (f.end - lt - 1)
		}
		s.fire(injFire{tech: f.tech, jail: f.jail, reason: f.reason + ", with its letters spaced apart", score: min(1, f.score+0.1),
			start: max(0, st), end: min(len(s.text), max(en, st)), wlo: s.word, whi: s.word, obf: true, decoded: true})
	}
}

// finish applies the context rules to every fire: a phrase quoted as an
// example is a mention, not an attack; a phrase next to words about
// attacks is probably a question about them; obfuscation is a tell.
func (s *injScanner) finish() {
	for i := range s.fires {
		f := &s.fires[i]
		if !f.decoded {
			near := func(ws []int32, before, after int32) bool {
				k, _ := slices.BinarySearch(ws, f.wlo-before)
				return k < len(ws) && ws[k] <= f.whi+after
			}
			switch {
			case !f.obf && injQuoted(s.text, f.start, f.end) && (near(s.frame, 12, 6) || near(s.meta, 15, 15)):
				if s.untrusted {
					f.score *= 0.5
				} else {
					f.score *= 0.35
				}
			case !f.obf && near(s.meta, 15, 15):
				if s.untrusted {
					f.score -= 0.1
				} else {
					f.score -= 0.35
				}
			}
		}
		if f.obf {
			f.score += 0.15
			if !f.decoded {
				f.reason += ", written with look-alike, leetspeak or hidden characters"
			}
		}
		f.score = max(0, min(1, f.score))
	}
}

func injAtLineStart(text string, start int) bool {
	for i := start - 1; i >= 0 && start-i <= 24; i-- {
		switch c := text[i]; {
		case c == '\n' || c == '\r':
			return true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= utf8.RuneSelf:
			return false
		}
	}
	return start <= 24 && !strings.ContainsFunc(text[:start], func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= utf8.RuneSelf
	})
}

func injQuoteAfter(text string, end int) bool {
	for i := end; i < len(text) && i-end < 4; i++ {
		switch text[i] {
		case '\'', '"', '`':
			return true
		case ' ', '\t', '=':
		default:
			return false
		}
	}
	return false
}

// injQuoted reports whether text[start:end] sits between quotation marks
// on one line.
func injQuoted(text string, start, end int) bool {
	open := false
	for i := start - 1; i >= 0 && start-i <= 160; i-- {
		c := text[i]
		if c == '\n' {
			break
		}
		if injIsQuote(text, i) {
			open = true
			break
		}
	}
	if !open {
		return false
	}
	for i := end; i < len(text) && i-end <= 160; i++ {
		if text[i] == '\n' {
			return false
		}
		if injIsQuote(text, i) {
			return true
		}
	}
	return false
}

// injIsQuote reports whether text[i] starts a quotation mark; an
// apostrophe between letters ("don't") is not one.
func injIsQuote(text string, i int) bool {
	switch text[i] {
	case '"', '`':
		return true
	case '\'':
		before := i > 0 && injIsAlnum(text[i-1])
		after := i+1 < len(text) && injIsAlnum(text[i+1])
		return !(before && after)
	case 0xE2: // “ ” ‘ ’ « » are E2 80 9x / C2 Ax
		return i+2 < len(text) && text[i+1] == 0x80 && text[i+2] >= 0x98 && text[i+2] <= 0x9F
	case 0xC2:
		return i+1 < len(text) && (text[i+1] == 0xAB || text[i+1] == 0xBB)
	}
	return false
}

func injIsAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func injIsHex(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// injLooksLikeText accepts decoded bytes that read as text: valid UTF-8
// with few control characters and at least a few letters.
func injLooksLikeText(s string) bool {
	if len(s) < 8 || !utf8.ValidString(s) {
		return false
	}
	ctrl, letters := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 && c != '\n' && c != '\r' && c != '\t', c == 0x7f:
			ctrl++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		}
	}
	return ctrl*20 <= len(s) && letters*2 >= len(s)
}

func injRot13(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		}
	}
	return string(b)
}

func injReverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}
