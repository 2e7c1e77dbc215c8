package structured

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxExtractSize is the largest text, in bytes, that ExtractJSON reads and
// that a PartialParser accepts in total. A model's answer is a few
// kilobytes; text near this size is a runaway generation or hostile input,
// and refusing it bounds the work and memory one call can cost.
const MaxExtractSize = 8 << 20

// MaxExtractDepth is the deepest nesting of objects and arrays that
// ExtractJSON and PartialParser accept. No schema a model is asked to fill
// comes close; the limit bounds recursion on hostile input.
const MaxExtractDepth = 512

// ExtractError is the error ExtractJSON returns when the text holds no
// usable JSON value. Its message is written to be sent back to the model in
// a repair prompt as it is, so it has no package prefix.
type ExtractError struct {
	// Reason says what is wrong, e.g. `the JSON has a duplicate key "id"`.
	Reason string
	// Offset is the byte offset in the text where the problem is, or -1
	// when it is not at one place (empty or oversized text).
	Offset int
	// Path is the JSON path of the problem, such as $.items[2].id, when it
	// is inside a value.
	Path string
	// Truncated reports that the text ends inside the JSON value: the
	// output was cut off (often by a max-tokens limit), so asking again
	// with the same limit is unlikely to help.
	Truncated bool
}

// Error returns the reason followed by the path and byte offset when known,
// e.g. `the JSON has a duplicate key "id" at $.items[2].id (byte 57)`.
func (e *ExtractError) Error() string {
	var b strings.Builder
	b.WriteString(e.Reason)
	if e.Path != "" {
		b.WriteString(" at ")
		b.WriteString(e.Path)
	}
	if e.Offset >= 0 {
		b.WriteString(" (byte ")
		b.WriteString(strconv.Itoa(e.Offset))
		b.WriteByte(')')
	}
	return b.String()
}

// ExtractJSON finds the one JSON object or array in a model's answer and
// returns it as valid JSON.
//
// Finding it: prose before and after the value, Markdown code fences
// (``` or ~~~, with or without a language tag), a leading byte order mark
// and whitespace are skipped. The value is the first JSON object or array
// that parses; when the answer has code fences, only values inside them
// count, so a schema or example quoted in the prose does not compete with
// the answer. Brackets in prose that do not start JSON (Markdown links,
// "[see below]", "{placeholder}") are skipped. Another complete, non-empty
// value that differs from the chosen one (two different code blocks, two
// objects one after the other, a citation such as "[1]" in prose next to
// an unfenced answer) makes the answer ambiguous, which is an error; the
// same value repeated is not. An empty {} or [] is the answer only when
// there is no other value, and never makes the answer ambiguous ("[ ]" task
// boxes, "return {} when…").
//
// Repairs of common slips: trailing commas in objects and arrays; strings
// and keys in single quotes; keys that are plain identifiers (letters,
// digits, _ and $); // and /* */ comments outside strings; the Python
// literals True, False and None outside strings; typographic double quotes
// (“ ”) where a string starts, which editors and some models substitute for
// '"' (typographic single quotes are not repaired: they are apostrophes far
// more often than quotes); raw control characters such as newlines inside
// strings; and escapes JSON lacks (\' becomes ', any other unknown escape
// keeps its backslash as a literal character). Everything else is returned
// byte for byte as written: the value is not reformatted.
//
// It fails with an *ExtractError for: duplicate keys in one object
// (parsers disagree on which wins, so the answer is ambiguous); text that
// ends inside the value (Truncated is set); NaN or Infinity; a bare
// top-level scalar; no JSON at all; several different values (above); text
// longer than MaxExtractSize; nesting deeper than MaxExtractDepth; and any
// other syntax error, with the path and offset where it was found.
func ExtractJSON(text string) ([]byte, error) {
	if len(text) > MaxExtractSize {
		return nil, &ExtractError{
			Reason: fmt.Sprintf("the answer is %d bytes, over the %d-byte limit", len(text), MaxExtractSize),
			Offset: -1,
		}
	}
	// Every candidate goes into two tallies, one of all values and one of
	// the values inside code fences; the fenced one decides when there is
	// any. Only what the rule needs is kept, so hostile text with millions
	// of brackets costs no more memory than a clean answer.
	var all, fenced exTally
	inFence, skipOK := false, true
	var fenceChar byte
	// One parser, its stacks sized for the usual nesting, serves every
	// candidate.
	p := exParser{path: make([]exPathElem, 0, 16), keys: make([]string, 0, 32)}
	for i := 0; i < len(text); {
		j := strings.IndexAny(text[i:], "{[`~")
		if j < 0 {
			break
		}
		i += j
		switch c := text[i]; c {
		case '`', '~':
			n := 1
			for i+n < len(text) && text[i+n] == c {
				n++
			}
			if n >= 3 {
				switch {
				case !inFence:
					inFence, fenceChar = true, c
				case c == fenceChar:
					inFence = false
				}
			}
			i += n
		default:
			p.reset(text, i)
			p.quiet = all.firstErr != nil && (!inFence || fenced.firstErr != nil)
			ok := p.value()
			switch {
			case p.fatal:
				return nil, p.err
			case !ok && !p.committed:
				// Prose such as "[see below]": move past the openers this
				// attempt went through, which would all fail the same way.
				i = p.lastOpen + 1
				continue
			case !ok:
				all.broken(p.err)
				if inFence {
					fenced.broken(p.err)
				}
				next := -1
				if skipOK {
					next = p.skipBroken()
				}
				if next < 0 {
					// Brackets that never balance: skipping would cost a
					// scan to the end for each broken value, so stop
					// trying (this keeps ExtractJSON linear).
					skipOK = false
					next = p.errAt + 1
				}
				i = max(next, i+1)
			default:
				v := exValue{start: i, out: p.out, raw: p.src[p.mark:p.pos], err: p.sem, empty: !p.nonEmpty}
				all.add(v)
				if inFence {
					fenced.add(v)
				}
				i = p.pos
			}
		}
	}
	if fenced.seen {
		return fenced.result(text)
	}
	return all.result(text)
}

// exValue is a structurally complete JSON value found in the text: out
// (repaired so far, nil when nothing was) followed by raw.
type exValue struct {
	start int
	out   []byte
	raw   string
	err   *ExtractError // duplicate key or NaN
	empty bool          // {} or [] with only whitespace or comments inside
}

func (v exValue) bytes() []byte {
	b := make([]byte, 0, len(v.out)+len(v.raw))
	return append(append(b, v.out...), v.raw...)
}

// exTally applies the selection rule documented on ExtractJSON to the
// candidates as they are found.
type exTally struct {
	seen      bool          // any candidate, complete or not
	firstErr  *ExtractError // of the first broken candidate
	empty     exValue       // the first empty value, when hasEmpty
	answer    exValue       // the first non-empty value, when hasAnswer
	ans       []byte        // its bytes
	hasEmpty  bool
	hasAnswer bool
	values    int  // non-empty values without errors, the answer included
	differs   bool // a value differs from the answer...
	differAt  int  // ...first at this offset
	decoded   any  // the answer, decoded once for comparisons
}

func (t *exTally) broken(err *ExtractError) {
	t.seen = true
	if t.firstErr == nil {
		t.firstErr = err
	}
}

func (t *exTally) add(v exValue) {
	t.seen = true
	switch {
	case v.empty:
		if !t.hasEmpty {
			t.empty, t.hasEmpty = v, true
		}
	case !t.hasAnswer:
		t.answer, t.hasAnswer = v, true
		t.ans = v.bytes()
		t.values = 1
	case v.err == nil:
		t.values++
		if !t.differs && !t.same(v) {
			t.differs, t.differAt = true, v.start
		}
	}
}

// same reports whether v holds the same value as the answer (a repeat).
func (t *exTally) same(v exValue) bool {
	if v.out == nil && string(t.ans) == v.raw {
		return true
	}
	b := v.bytes()
	if bytes.Equal(t.ans, b) {
		return true
	}
	if t.decoded == nil {
		t.decoded, _ = exDecode(t.ans)
	}
	vb, err := exDecode(b)
	return err == nil && reflect.DeepEqual(t.decoded, vb)
}

func (t *exTally) result(text string) ([]byte, error) {
	switch {
	case t.hasAnswer && t.answer.err != nil:
		return nil, t.answer.err
	case t.hasAnswer && t.differs:
		return nil, &ExtractError{
			Reason: fmt.Sprintf("the answer holds %d JSON values that are not all the same; expected exactly one", t.values),
			Offset: t.differAt,
		}
	case t.hasAnswer:
		return t.ans, nil
	case t.hasEmpty && t.empty.err != nil:
		return nil, t.empty.err
	case t.hasEmpty:
		return t.empty.bytes(), nil
	case t.firstErr != nil:
		return nil, t.firstErr
	}
	return nil, exNoJSON(text)
}

// exNoJSON explains why text without a JSON object or array is unusable.
func exNoJSON(text string) *ExtractError {
	t := strings.TrimSpace(strings.TrimPrefix(text, "\uFEFF"))
	if t == "" {
		return &ExtractError{Reason: "the answer is empty; expected a JSON object or array", Offset: -1}
	}
	if s := exStripFence(t); s != "" && json.Valid([]byte(s)) {
		kind := "number"
		switch s[0] {
		case '"':
			kind = "string"
		case 't', 'f':
			kind = "boolean"
		case 'n':
			kind = "null"
		}
		return &ExtractError{
			Reason: "the answer is a bare JSON " + kind + "; expected a JSON object or array",
			Offset: strings.Index(text, s),
		}
	}
	return &ExtractError{Reason: "the answer holds no JSON object or array", Offset: -1}
}

// exStripFence returns the inside of a text that is one code fence, or the
// text itself.
func exStripFence(t string) string {
	if !strings.HasPrefix(t, "```") && !strings.HasPrefix(t, "~~~") {
		return t
	}
	c := t[0]
	t = strings.TrimLeft(t, string(c))
	if nl := strings.IndexByte(t, '\n'); nl >= 0 {
		t = t[nl+1:]
	} else {
		t = strings.TrimLeft(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	}
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(t), string(c)))
}

func exDecode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// exParser is a recursive-descent parser of lenient JSON that writes the
// repaired value as it goes: text that needs no repair is copied in one
// piece at the end, so a clean value costs no copy until then.
type exParser struct {
	src   string
	pos   int
	depth int

	out  []byte // repaired text of src[start:mark]; nil while nothing was repaired
	mark int    // src[mark:pos] is still to be copied to out

	committed bool // the text has shown it is JSON (a key and ':', or a complete element)
	lastOpen  int  // offset of the innermost '{' or '[' opened before committing

	path []exPathElem
	keys []string // keys of the open objects, innermost last

	err      *ExtractError // the error that stopped the parse (nil when quiet)
	errAt    int           // its offset
	errTrunc bool          // it is a truncation
	fatal    bool          // err ends the whole extraction (nesting limit)
	sem      *ExtractError // first duplicate key or NaN: the value parses but is rejected

	nonEmpty bool // the outermost container has a member
	quiet    bool // errors need no message: an earlier one is kept
}

// exPathElem is one step of a JSON path: an array index when index >= 0,
// an object key when index is exPathKey, nothing yet (the object's key is
// still to come) when it is exPathNoKey.
type exPathElem struct {
	key   string
	index int
}

const (
	exPathKey   = -1
	exPathNoKey = -2
)

// exSmallObject is the member count up to which duplicate keys are found
// by a linear scan; larger objects switch to a map so that hostile input
// with many keys stays linear.
const exSmallObject = 16

// reset prepares p to parse a candidate at src[start], keeping the
// capacity of its stacks.
func (p *exParser) reset(src string, start int) {
	*p = exParser{src: src, pos: start, mark: start, lastOpen: start, path: p.path[:0], keys: p.keys[:0]}
}

// edit replaces src[from:to] with repl in the output. Edits come in
// increasing order of from.
func (p *exParser) edit(from, to int, repl string) {
	p.out = append(p.out, p.src[p.mark:from]...)
	p.out = append(p.out, repl...)
	p.mark = to
}

func (p *exParser) pathString() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, e := range p.path {
		switch {
		case e.index == exPathNoKey:
		case e.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		case exIsIdent(e.key):
			b.WriteByte('.')
			b.WriteString(e.key)
		default:
			k, _ := json.Marshal(e.key)
			b.WriteByte('[')
			b.Write(k)
			b.WriteByte(']')
		}
	}
	return b.String()
}

// syntax reports a syntax error at offset at. The message is built only
// when it may be shown: not for prose that merely looked like JSON, nor
// when an earlier error already holds the place (quiet).
func (p *exParser) syntax(at int, msg func() string) bool {
	if !p.committed {
		return false // prose, not a broken value
	}
	p.errAt = at
	if !p.quiet {
		p.err = &ExtractError{Reason: "the JSON is invalid: " + msg(), Offset: at, Path: p.pathString()}
	}
	return false
}

// unexpected reports a syntax error at offset at: what was expected there
// and what was found.
func (p *exParser) unexpected(at int, expected string) bool {
	return p.syntax(at, func() string { return expected + ", found " + p.found(at) })
}

// truncated reports that the text ends inside what started at offset at.
func (p *exParser) truncated(at int, what string) bool {
	p.committed = true // the end of the text is never prose to skip
	p.errAt, p.errTrunc = at, true
	if !p.quiet {
		p.err = &ExtractError{Reason: "the JSON is truncated: the text ends inside " + what, Offset: at, Path: p.pathString(), Truncated: true}
	}
	return false
}

// truncatedIn reports that the text ends inside the container opened at
// offset open, whose path is p.path[:top].
func (p *exParser) truncatedIn(open, top int, what string) bool {
	p.path = p.path[:top]
	return p.truncated(open, what)
}

// semantic records an error that leaves the value parseable (a duplicate
// key, NaN): parsing goes on to find where the value ends, and only the
// first such error is kept, so its message is built only then.
func (p *exParser) semantic(at int, reason func() string) {
	if p.sem == nil {
		p.sem = &ExtractError{Reason: reason(), Offset: at, Path: p.pathString()}
	}
}

// found describes the text at i for an error message.
func (p *exParser) found(i int) string {
	if i >= len(p.src) {
		return "the end of the text"
	}
	r, _ := utf8.DecodeRuneInString(p.src[i:])
	if r < 0x20 || r == utf8.RuneError {
		return fmt.Sprintf("%q", p.src[i:i+1])
	}
	return "'" + string(r) + "'"
}

// skipSpace skips JSON whitespace and comments, removing the comments.
func (p *exParser) skipSpace() bool {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		case '/':
			end, ok := exCommentEnd(p.src, p.pos)
			if end < 0 {
				return true // a lone '/': the caller reports it
			}
			if !ok {
				return p.truncated(p.pos, "a /* comment")
			}
			from, repl := p.pos, ""
			if p.src[p.pos+1] == '*' {
				repl = " " // keeps the tokens on either side apart
			} else {
				// The spaces before a line comment would be left at the
				// end of the line.
				for from > p.mark && (p.src[from-1] == ' ' || p.src[from-1] == '\t') {
					from--
				}
			}
			p.edit(from, end, repl)
			p.pos = end
		default:
			return true
		}
	}
	return true
}

// exCommentEnd returns the end of the comment starting at s[i] == '/', -1
// when none starts there, and ok=false for an unterminated block comment.
func exCommentEnd(s string, i int) (end int, ok bool) {
	if i+1 >= len(s) {
		return -1, true
	}
	switch s[i+1] {
	case '/':
		if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 {
			return i + nl, true
		}
		return len(s), true
	case '*':
		if e := strings.Index(s[i+2:], "*/"); e >= 0 {
			return i + 2 + e + 2, true
		}
		return len(s), false
	}
	return -1, true
}

// peekIs reports whether the first byte after whitespace and comments
// from i is c, without editing anything.
func (p *exParser) peekIs(i int, c byte) bool {
	for i < len(p.src) {
		switch p.src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		case '/':
			end, ok := exCommentEnd(p.src, i)
			if end < 0 || !ok {
				return false
			}
			i = end
		default:
			return p.src[i] == c
		}
	}
	return false
}

func (p *exParser) value() bool {
	if !p.skipSpace() {
		return false
	}
	if p.pos >= len(p.src) {
		return p.truncated(p.pos, "a value that has not started")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"' || c == '\'' || exSmartQuote(p.src, p.pos):
		_, ok := p.str(false)
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case exIsIdentStart(c) || c == '+':
		return p.word(p.pos)
	default:
		return p.unexpected(p.pos, "expected a value")
	}
}

// enter opens a container at p.pos.
func (p *exParser) enter() bool {
	p.depth++
	if p.depth > MaxExtractDepth {
		p.err = &ExtractError{
			Reason: fmt.Sprintf("the JSON nests objects and arrays deeper than %d levels", MaxExtractDepth),
			Offset: p.pos,
		}
		p.fatal = true
		return false
	}
	if !p.committed {
		p.lastOpen = p.pos
	}
	p.pos++
	return true
}

func (p *exParser) object() bool {
	open := p.pos
	if !p.enter() {
		return false
	}
	base := len(p.keys)
	var seen map[string]struct{}
	p.path = append(p.path, exPathElem{index: exPathNoKey})
	top := len(p.path) - 1
	n := 0
	for ; ; n++ {
		if !p.skipSpace() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncatedIn(open, top, "an object")
		}
		c := p.src[p.pos]
		if c == '}' {
			if n == 0 {
				p.committed = true
			}
			break
		}
		if n > 0 {
			if c != ',' {
				return p.unexpected(p.pos, "expected ',' or '}' after an object member")
			}
			if p.peekIs(p.pos+1, '}') {
				p.edit(p.pos, p.pos+1, "") // trailing comma
			}
			p.pos++
			p.path[top].index = exPathNoKey
			if !p.skipSpace() {
				return false
			}
			if p.pos >= len(p.src) {
				return p.truncatedIn(open, top, "an object")
			}
			c = p.src[p.pos]
			if c == '}' {
				break
			}
		}
		keyAt := p.pos
		var key string
		switch {
		case c == '"' || c == '\'' || exSmartQuote(p.src, p.pos):
			k, ok := p.str(true)
			if !ok {
				return false
			}
			key = k
		case exIsIdentStart(c):
			j := p.pos + 1
			for j < len(p.src) && exIsIdentByte(p.src[j]) {
				j++
			}
			key = p.src[p.pos:j]
			p.edit(p.pos, j, `"`+key+`"`)
			p.pos = j
		default:
			return p.unexpected(p.pos, "expected a key in double quotes")
		}
		p.path[top] = exPathElem{key: key, index: exPathKey}
		if !p.skipSpace() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncatedIn(open, top, "an object")
		}
		if p.src[p.pos] != ':' {
			return p.syntax(p.pos, func() string {
				return fmt.Sprintf("expected ':' after the key %q, found %s", key, p.found(p.pos))
			})
		}
		p.pos++
		p.committed = true
		if p.isDup(base, seen, key) {
			p.semantic(keyAt, func() string { return fmt.Sprintf("the JSON has a duplicate key %q", key) })
		}
		p.keys = append(p.keys, key)
		if len(p.keys)-base > exSmallObject {
			if seen == nil {
				seen = make(map[string]struct{}, 2*exSmallObject)
				for _, k := range p.keys[base:] {
					seen[k] = struct{}{}
				}
			} else {
				seen[key] = struct{}{}
			}
		}
		if !p.value() {
			return false
		}
	}
	p.pos++
	p.keys = p.keys[:base]
	p.path = p.path[:top]
	p.nonEmpty = n > 0
	p.depth--
	return true
}

func (p *exParser) isDup(base int, seen map[string]struct{}, key string) bool {
	if seen != nil {
		_, dup := seen[key]
		return dup
	}
	for _, k := range p.keys[base:] {
		if k == key {
			return true
		}
	}
	return false
}

func (p *exParser) array() bool {
	open := p.pos
	if !p.enter() {
		return false
	}
	p.path = append(p.path, exPathElem{index: 0})
	top := len(p.path) - 1
	n := 0
	for ; ; n++ {
		if !p.skipSpace() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncatedIn(open, top, "an array")
		}
		c := p.src[p.pos]
		if c == ']' {
			if n == 0 {
				p.committed = true
			}
			break
		}
		if n > 0 {
			if c != ',' {
				return p.unexpected(p.pos, "expected ',' or ']' after an array element")
			}
			if p.peekIs(p.pos+1, ']') {
				p.edit(p.pos, p.pos+1, "") // trailing comma
			}
			p.pos++
			if !p.skipSpace() {
				return false
			}
			if p.pos >= len(p.src) {
				return p.truncatedIn(open, top, "an array")
			}
			if p.src[p.pos] == ']' {
				break
			}
		}
		p.path[top].index = n
		if !p.value() {
			return false
		}
		p.committed = true
	}
	p.pos++
	p.path = p.path[:top]
	p.nonEmpty = n > 0
	p.depth--
	return true
}

// str parses a string at p.pos opened by a double quote, a single quote or
// “ and repairs it when needed. With wantKey it returns the decoded string.
func (p *exParser) str(wantKey bool) (string, bool) {
	start := p.pos
	quote, qlen := p.src[start], 1
	if quote != '"' && quote != '\'' {
		quote, qlen = 0, 3 // typographic: closed by ” (or “)
	}
	rewrite := quote != '"'
	escaped := false
	i := start + qlen
	for {
		// Most bytes are plain content: skip them in a tight loop.
		for i < len(p.src) {
			if c := p.src[i]; c < 0x20 || c == '\\' || c == quote || c == 0xE2 {
				break
			}
			i++
		}
		if i >= len(p.src) {
			return "", p.truncated(start, "a string")
		}
		c := p.src[i]
		if quote != 0 && c == quote || quote == 0 && exSmartQuote(p.src, i) {
			break
		}
		switch {
		case c == '\\':
			escaped = true
			n := exEscapeLen(p.src, i)
			if n < 0 {
				return "", p.truncated(start, "a string")
			}
			if n == 0 {
				// \' becomes ', any other unknown escape a literal backslash
				// (exRequote).
				rewrite = true
				n = 1
				if p.src[i+1] == '\'' {
					n = 2
				}
			}
			i += n
			continue
		case c < 0x20:
			rewrite = true
		}
		i++
	}
	content := p.src[start+qlen : i]
	end := i + qlen
	var enc string
	if rewrite {
		enc = exRequote(content)
		p.edit(start, end, enc)
	}
	p.pos = end
	if !wantKey || !rewrite && !escaped {
		return content, true
	}
	if enc == "" {
		enc = p.src[start:end]
	}
	var s string
	if err := json.Unmarshal([]byte(enc), &s); err != nil {
		return content, true // unreachable: enc is valid; the raw text is a fine key
	}
	return s, true
}

// exEscapeLen returns the length of the valid JSON escape at s[i] == '\\',
// 0 when it is not a valid escape, and -1 when s ends before it could be
// told.
func exEscapeLen(s string, i int) int {
	if i+1 >= len(s) {
		return -1
	}
	switch s[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		for k := i + 2; k < i+6; k++ {
			if k >= len(s) {
				return -1
			}
			if !exIsHex(s[k]) {
				return 0
			}
		}
		return 6
	}
	return 0
}

// exRequote returns content as a valid double-quoted JSON string: '"' and
// control characters are escaped, \' becomes ', and a backslash that does
// not start a valid escape becomes a literal backslash.
func exRequote(content string) string {
	b := make([]byte, 0, len(content)+8)
	b = append(b, '"')
	for i := 0; i < len(content); {
		c := content[i]
		switch {
		case c == '\\':
			n := exEscapeLen(content, i)
			switch {
			case n > 0:
				b = append(b, content[i:i+n]...)
				i += n
			case i+1 < len(content) && content[i+1] == '\'':
				b = append(b, '\'')
				i += 2
			default:
				b = append(b, '\\', '\\')
				i++
			}
			continue
		case c == '"':
			b = append(b, '\\', '"')
		case c < 0x20:
			b = exAppendControl(b, c)
		default:
			b = append(b, c)
		}
		i++
	}
	return string(append(b, '"'))
}

// exAppendControl appends the JSON escape of control character c.
func exAppendControl(b []byte, c byte) []byte {
	switch c {
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	}
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
}

func (p *exParser) number() bool {
	start := p.pos
	s := p.src
	i := start
	if s[i] == '-' {
		i++
		if i < len(s) && (exIsIdentStart(s[i])) {
			return p.word(start)
		}
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	bad := func() bool {
		if i >= len(s) {
			return p.truncated(start, "a number")
		}
		j := i
		for j < len(s) && !exIsDelim(s[j]) {
			j++
		}
		return p.syntax(start, func() string { return strconv.Quote(s[start:j]) + " is not a valid number" })
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return bad()
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return bad()
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return bad()
		}
	}
	if i < len(s) && !exIsDelim(s[i]) {
		return bad()
	}
	p.pos = i
	return true
}

// word parses an unquoted word starting at start (p.pos, or the sign
// before it).
func (p *exParser) word(start int) bool {
	i := start
	if p.src[i] == '-' || p.src[i] == '+' {
		i++
	}
	for i < len(p.src) && exIsIdentByte(p.src[i]) {
		i++
	}
	w := p.src[start:i]
	switch w {
	case "true", "false", "null":
	case "True":
		p.edit(start, i, "true")
	case "False":
		p.edit(start, i, "false")
	case "None":
		p.edit(start, i, "null")
	case "NaN", "-NaN", "+NaN", "Infinity", "-Infinity", "+Infinity":
		p.semantic(start, func() string {
			return "the JSON has " + w + ", which is not a valid JSON number (use null or a number)"
		})
	default:
		if i >= len(p.src) {
			for _, lit := range []string{"true", "false", "null", "True", "False", "None", "NaN", "Infinity", "-Infinity"} {
				if strings.HasPrefix(lit, w) {
					return p.truncated(start, "the word "+strconv.Quote(w))
				}
			}
		}
		return p.syntax(start, func() string { return strconv.Quote(w) + " is not a JSON value (strings need double quotes)" })
	}
	p.pos = i
	return true
}

// skipBroken returns where to go on scanning after a value that failed with
// a syntax error: past the containers still open at the error when their
// brackets balance later, so that a nested value of the broken one is not
// taken for the answer; -1 when they never balance.
func (p *exParser) skipBroken() int {
	at := p.errAt
	if p.errTrunc {
		return len(p.src)
	}
	depth := p.depth
	for i := at; i < len(p.src); i++ {
		switch p.src[i] {
		case '"':
			for i++; i < len(p.src) && p.src[i] != '"'; i++ {
				if p.src[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

func exIsDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ']', '}', '/':
		return true
	}
	return false
}

func exIsHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func exIsIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

func exIsIdentByte(c byte) bool {
	return exIsIdentStart(c) || c >= '0' && c <= '9'
}

func exIsIdent(s string) bool {
	if s == "" || !exIsIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !exIsIdentByte(s[i]) {
			return false
		}
	}
	return true
}

// exSmartQuote reports whether s[i:] starts with “ or ”.
func exSmartQuote(s string, i int) bool {
	return i+2 < len(s) && s[i] == 0xE2 && s[i+1] == 0x80 && (s[i+2] == 0x9C || s[i+2] == 0x9D)
}
