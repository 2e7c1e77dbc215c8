package structured

import "bytes"

// PartialParser turns the text of a streamed answer, as it arrives, into a
// best-effort complete JSON document: the value so far with open strings,
// arrays and objects closed. It lets a caller show or act on a structured
// answer before the model has finished writing it.
//
// Prose and code fences before the first '{' or '[' that starts JSON are
// skipped ("[see below]" is prose, "[1]" is a JSON array); text after the
// value is complete is ignored. The JSON itself must be strict apart from
// trailing commas, raw control characters in strings and unknown escapes,
// which are repaired as ExtractJSON repairs them; other slips (single
// quotes, comments, unquoted keys) stop the parser at the last good
// snapshot. The final answer should still go through ExtractJSON, which
// also rejects duplicate keys.
//
// Each byte is examined once, apart from the few that follow a '{' or '['
// that turns out to be prose, so Write costs O(len(chunk)) amortised, and
// Snapshot costs one copy of the document. The zero value is ready to use.
// A PartialParser is not safe for concurrent use: it follows one stream.
type PartialParser struct {
	// buf holds text not yet parsed, and, until the value has shown it is
	// JSON, the text since its first '{' or '[' so that a false start can
	// be parsed again as prose.
	buf       []byte
	pos       int // next byte of buf to parse
	spanStart int // buf offset of the first '{' or '[' while not committed
	lastOpen  int // buf offset of the innermost '{' or '[' while not committed
	written   int // total bytes written, for MaxExtractSize

	out   []byte // the document so far, compact, including incomplete parts
	cut   int    // out[:cut] + closers is the snapshot
	stack []byte // the open containers, '{' or '['

	state     uint8
	committed bool // a key and ':' or a complete value has been seen
	started   bool // a top-level container is open or done
	shown     bool // a key or value has started inside it: Snapshot is ok
	closeOK   bool // in exPsKey/exPsValue: '}' or ']' may come next
	dropComma bool // ...and would follow a trailing comma to drop
	inKey     bool // the string being parsed is a key
	valStr    bool // a string value is open: the snapshot closes it
	esc       uint8
	escStart  int  // len(out) at the backslash of the escape being read
	hex       rune // value of the \u escape being read
	num       uint8
	lit       string // the literal being read
	litIdx    int
}

// Parser states.
const (
	exPsProse   = iota // before the value
	exPsKey            // expecting a key (or '}' when closeOK)
	exPsColon          // expecting ':'
	exPsValue          // expecting a value (or ']' when closeOK)
	exPsAfter          // expecting ',' or a closer
	exPsString         // in a string
	exPsNumber         // in a number
	exPsLiteral        // in true, false or null
	exPsDone           // the value is complete
	exPsFailed         // a syntax error after the value showed it is JSON
)

// Number states; the accepting ones are exNumZero, exNumInt, exNumFrac
// and exNumExp.
const (
	exNumSign     = iota // after '-'
	exNumZero            // a leading 0
	exNumInt             // integer digits
	exNumDot             // after '.'
	exNumFrac            // fraction digits
	exNumE               // after 'e'
	exNumExpSign         // after the exponent's sign
	exNumExp             // exponent digits
	exNumAccepted        // not a state: the number ended
	exNumBad             // not a state: the number is invalid
)

// Write appends the next piece of the streamed text. Text after the value
// is complete, after a syntax error, or beyond MaxExtractSize in total is
// ignored.
func (p *PartialParser) Write(chunk string) {
	if p.state == exPsDone || p.state == exPsFailed {
		return
	}
	p.written += len(chunk)
	if p.written > MaxExtractSize {
		p.fail()
		p.state = exPsFailed // even before committing: stop for good
		return
	}
	p.buf = append(p.buf, chunk...)
	p.parse()
	switch {
	case p.started && !p.committed && p.state != exPsProse:
		// Keep the text since the first opener for a re-parse, dropping
		// what precedes it once that is at least half the buffer so the
		// copying stays amortised.
		if p.spanStart > 0 && p.spanStart >= len(p.buf)/2 {
			n := copy(p.buf, p.buf[p.spanStart:])
			p.buf = p.buf[:n]
			p.pos -= p.spanStart
			p.lastOpen -= p.spanStart
			p.spanStart = 0
		}
	default:
		p.buf = p.buf[:0]
		p.pos = 0
	}
}

// Snapshot returns the document so far, completed: open strings, arrays
// and objects are closed; an object member whose key or value is not
// complete is left out (with its comma), and so are numbers and literals
// not yet followed by what ends them ("12" may become "123"). A string
// value being written is included up to its last complete character or
// escape. ok is false until the text has started a JSON value: a '{'
// followed by a key or '}', or a '[' followed by a value or ']'. The bytes
// are always valid JSON when ok, and are the caller's to keep.
func (p *PartialParser) Snapshot() (json []byte, ok bool) {
	if !p.started || !p.shown {
		return nil, false
	}
	doc := make([]byte, 0, p.cut+1+len(p.stack))
	doc = append(doc, p.out[:p.cut]...)
	if p.valStr {
		doc = append(doc, '"')
	}
	for i := len(p.stack) - 1; i >= 0; i-- {
		doc = append(doc, exCloser(p.stack[i]))
	}
	return doc, true
}

// Done reports whether the top-level value is complete.
func (p *PartialParser) Done() bool {
	return p.state == exPsDone
}

// Reset empties the parser for a new stream, keeping its buffers.
func (p *PartialParser) Reset() {
	*p = PartialParser{buf: p.buf[:0], out: p.out[:0], stack: p.stack[:0]}
}

func exCloser(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// fail handles a syntax error at p.pos. Before the value has shown it is
// JSON, the '{' or '[' was prose: parsing resumes as prose after the
// innermost opener (the outer ones would fail at the same place). After,
// the parser stops and keeps its last snapshot.
func (p *PartialParser) fail() {
	if p.committed || !p.started {
		p.state = exPsFailed
		return
	}
	p.pos = p.lastOpen + 1
	p.out = p.out[:0]
	p.stack = p.stack[:0]
	p.cut = 0
	p.started = false
	p.shown = false
	p.valStr = false
	p.esc = 0
	p.state = exPsProse
}

func (p *PartialParser) parse() {
	for p.pos < len(p.buf) {
		switch p.state {
		case exPsDone, exPsFailed:
			return
		case exPsProse:
			i := bytes.IndexAny(p.buf[p.pos:], "{[")
			if i < 0 {
				p.pos = len(p.buf)
				return
			}
			p.pos += i
			p.spanStart = p.pos
			p.started = true
			p.committed = false
			p.open(p.buf[p.pos])
		case exPsString:
			p.stringBytes()
		default:
			p.token(p.buf[p.pos])
		}
	}
}

// open starts a container at p.pos.
func (p *PartialParser) open(c byte) {
	if len(p.stack) >= MaxExtractDepth {
		p.fail()
		return
	}
	if !p.committed {
		p.lastOpen = p.pos
	}
	p.out = append(p.out, c)
	p.stack = append(p.stack, c)
	p.cut = len(p.out)
	p.closeOK, p.dropComma = true, false
	if c == '{' {
		p.state = exPsKey
	} else {
		p.state = exPsValue
	}
	p.pos++
}

// close ends the innermost container with c at p.pos.
func (p *PartialParser) close(c byte) {
	if len(p.stack) == 0 || exCloser(p.stack[len(p.stack)-1]) != c {
		p.fail()
		return
	}
	if p.dropComma {
		p.out = p.out[:len(p.out)-1]
	}
	p.out = append(p.out, c)
	p.stack = p.stack[:len(p.stack)-1]
	p.complete()
	p.pos++
}

// complete records that a value ended with the last byte of out.
func (p *PartialParser) complete() {
	p.cut = len(p.out)
	p.committed = true
	p.shown = true
	if len(p.stack) == 0 {
		p.state = exPsDone
	} else {
		p.state = exPsAfter
	}
}

// token handles one byte outside strings.
func (p *PartialParser) token(c byte) {
	if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
		switch p.state {
		case exPsNumber:
			p.endNumber()
		case exPsLiteral:
			p.fail()
		default:
			p.pos++
		}
		return
	}
	switch p.state {
	case exPsKey:
		switch {
		case c == '"':
			p.out = append(p.out, c)
			p.shown = true
			p.inKey = true
			p.esc = 0
			p.state = exPsString
			p.pos++
		case c == '}' && p.closeOK:
			p.close(c)
		default:
			p.fail()
		}
	case exPsColon:
		if c != ':' {
			p.fail()
			return
		}
		p.out = append(p.out, c)
		p.committed = true
		p.closeOK = false
		p.state = exPsValue
		p.pos++
	case exPsValue:
		p.value(c)
	case exPsAfter:
		switch c {
		case ',':
			p.out = append(p.out, c)
			p.closeOK, p.dropComma = true, true
			if p.stack[len(p.stack)-1] == '{' {
				p.state = exPsKey
			} else {
				p.state = exPsValue
			}
			p.pos++
		case '}', ']':
			p.dropComma = false
			p.close(c)
		default:
			p.fail()
		}
	case exPsNumber:
		switch next := exNumStep(p.num, c); next {
		case exNumAccepted:
			p.endNumber()
		case exNumBad:
			p.fail()
		default:
			p.num = next
			p.out = append(p.out, c)
			p.pos++
		}
	case exPsLiteral:
		if c != p.lit[p.litIdx] {
			p.fail()
			return
		}
		p.out = append(p.out, c)
		p.pos++
		if p.litIdx++; p.litIdx == len(p.lit) {
			p.complete()
		}
	}
}

// value handles the first byte of a value.
func (p *PartialParser) value(c byte) {
	p.shown = true // undone by fail when c is not one
	switch {
	case c == '{' || c == '[':
		p.open(c)
	case c == '"':
		p.out = append(p.out, c)
		p.cut = len(p.out) // "" is already usable
		p.inKey = false
		p.valStr = true
		p.esc = 0
		p.state = exPsString
		p.pos++
	case c == '-' || c >= '0' && c <= '9':
		p.num = exNumStep(exNumSign, c)
		if c == '-' {
			p.num = exNumSign
		}
		p.out = append(p.out, c)
		p.state = exPsNumber
		p.pos++
	case c == 't' || c == 'f' || c == 'n':
		switch c {
		case 't':
			p.lit = "true"
		case 'f':
			p.lit = "false"
		default:
			p.lit = "null"
		}
		p.litIdx = 1
		p.out = append(p.out, c)
		p.state = exPsLiteral
		p.pos++
	case (c == ']' || c == '}') && p.closeOK:
		p.close(c)
	default:
		p.fail()
	}
}

// endNumber completes a number at a delimiter, which is parsed next.
func (p *PartialParser) endNumber() {
	switch p.num {
	case exNumZero, exNumInt, exNumFrac, exNumExp:
		p.complete()
	default:
		p.fail()
	}
}

// exNumStep is the number grammar's transition on c from state s.
func exNumStep(s uint8, c byte) uint8 {
	digit := c >= '0' && c <= '9'
	switch s {
	case exNumSign:
		switch {
		case c == '0':
			return exNumZero
		case digit:
			return exNumInt
		}
		return exNumBad
	case exNumZero, exNumInt:
		switch {
		case digit && s == exNumInt:
			return exNumInt
		case digit:
			return exNumBad // a leading zero
		case c == '.':
			return exNumDot
		case c == 'e' || c == 'E':
			return exNumE
		}
	case exNumDot, exNumFrac:
		switch {
		case digit:
			return exNumFrac
		case s == exNumDot:
			return exNumBad
		case c == 'e' || c == 'E':
			return exNumE
		}
	case exNumE:
		switch {
		case digit:
			return exNumExp
		case c == '+' || c == '-':
			return exNumExpSign
		}
		return exNumBad
	case exNumExpSign, exNumExp:
		switch {
		case digit:
			return exNumExp
		case s == exNumExpSign:
			return exNumBad
		}
	}
	if c == ',' || c == ']' || c == '}' {
		return exNumAccepted
	}
	return exNumBad
}

// stringBytes parses string content from p.pos: runs of plain bytes are
// copied at once.
func (p *PartialParser) stringBytes() {
	for p.pos < len(p.buf) && p.state == exPsString {
		if p.esc > 0 {
			p.escape(p.buf[p.pos])
			continue
		}
		i := p.pos
		for i < len(p.buf) {
			if c := p.buf[i]; c == '"' || c == '\\' || c < 0x20 {
				break
			}
			i++
		}
		if i > p.pos {
			p.out = append(p.out, p.buf[p.pos:i]...)
			p.pos = i
			p.piece()
		}
		if i == len(p.buf) {
			return
		}
		switch c := p.buf[i]; {
		case c == '"':
			p.out = append(p.out, c)
			p.pos++
			if p.inKey {
				p.inKey = false
				p.state = exPsColon
			} else {
				p.valStr = false
				p.complete()
			}
		case c == '\\':
			p.escStart = len(p.out)
			p.out = append(p.out, c)
			p.esc = 1
			p.pos++
		default:
			p.out = exAppendControl(p.out, c)
			p.pos++
			p.piece()
		}
	}
}

// piece records that string content up to the end of out is complete,
// except for a UTF-8 sequence the next chunk will finish.
func (p *PartialParser) piece() {
	if !p.inKey {
		p.cut = len(p.out) - exIncompleteRune(p.out)
	}
}

// escape handles byte c of the escape being read (p.esc: 1 after the
// backslash, 2 to 5 in the hex digits of \u).
func (p *PartialParser) escape(c byte) {
	if p.esc == 1 {
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			p.out = append(p.out, c)
			p.esc = 0
			p.pos++
			p.piece()
		case 'u':
			p.out = append(p.out, c)
			p.esc = 2
			p.hex = 0
			p.pos++
		case '\'':
			p.out = append(p.out[:p.escStart], c)
			p.esc = 0
			p.pos++
			p.piece()
		default:
			// Not an escape: a literal backslash; c is content.
			p.out = append(p.out, '\\')
			p.esc = 0
		}
		return
	}
	if !exIsHex(c) {
		// \u without four hex digits: a literal backslash, and the
		// digits so far and c are content.
		p.out = append(p.out, 0)
		copy(p.out[p.escStart+1:], p.out[p.escStart:])
		p.out[p.escStart] = '\\'
		p.esc = 0
		return
	}
	p.hex = p.hex<<4 | rune(exHexVal(c))
	p.out = append(p.out, c)
	p.pos++
	if p.esc++; p.esc == 6 {
		p.esc = 0
		if p.hex < 0xD800 || p.hex > 0xDBFF {
			p.piece()
		}
		// A high surrogate waits for its low half (or whatever comes
		// next) before the snapshot includes it.
	}
}

func exHexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// exIncompleteRune returns how many bytes at the end of b are the start of
// a UTF-8 sequence that is not complete yet.
func exIncompleteRune(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c >= 0x80 && c < 0xC0 {
			continue // a continuation byte: look further back
		}
		need := 0 // ASCII, or not a valid start byte: nothing to wait for
		switch {
		case c >= 0xC0 && c < 0xE0:
			need = 2
		case c >= 0xE0 && c < 0xF0:
			need = 3
		case c >= 0xF0 && c < 0xF8:
			need = 4
		}
		if k < need {
			return k
		}
		return 0
	}
	return 0
}
