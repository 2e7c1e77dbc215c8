package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on a condition, so hostile policy text costs little to reject.
const (
	maxConditionLen = 2048 // bytes
	maxDepth        = 32   // nested parentheses and !
	maxPathLen      = 32   // steps in one path
	maxIndex        = 1 << 20
)

// tokKind is the kind of a lexical token of a condition.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNum
	tStr
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tDot
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tAnd
	tOr
	tNot
)

// String names a token kind for error messages.
func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "end of condition"
	case tIdent:
		return "name"
	case tNum:
		return "number"
	case tStr:
		return "string"
	}
	for _, p := range [...]struct {
		k tokKind
		s string
	}{{tLParen, "("}, {tRParen, ")"}, {tLBrack, "["}, {tRBrack, "]"}, {tComma, ","}, {tDot, "."},
		{tEq, "=="}, {tNe, "!="}, {tLt, "<"}, {tLe, "<="}, {tGt, ">"}, {tGe, ">="},
		{tAnd, "&&"}, {tOr, "||"}, {tNot, "!"}} {
		if p.k == k {
			return strconv.Quote(p.s)
		}
	}
	return "token"
}

type token struct {
	kind tokKind
	text string // identifier, number text or unquoted string
	pos  int    // byte offset in the condition
}

// describe names a token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tIdent:
		return strconv.Quote(t.text)
	case tNum:
		return "number " + t.text
	case tStr:
		return "string " + strconv.Quote(t.text)
	}
	return t.kind.String()
}

// condError is a syntax or type error in a condition, at a byte offset.
type condError struct {
	pos int
	msg string
}

func (e *condError) Error() string {
	return fmt.Sprintf("at character %d: %s", e.pos+1, e.msg)
}

func errAt(pos int, format string, args ...any) error {
	return &condError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// lex splits a condition into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], pos: i})
			i = j
			continue
		case isDigit(c) || (c == '-' && i+1 < len(src) && isDigit(src[i+1])):
			j := i + 1
			for j < len(src) && (isDigit(src[j]) || src[j] == '.' || src[j] == 'e' || src[j] == 'E' ||
				((src[j] == '+' || src[j] == '-') && (src[j-1] == 'e' || src[j-1] == 'E'))) {
				j++
			}
			for j < len(src) && isIdentPart(src[j]) {
				j++ // report 12ab as one malformed number
			}
			text := src[i:j]
			if !isJSONNumber(text) {
				return nil, errAt(i, "malformed number %q", text)
			}
			toks = append(toks, token{kind: tNum, text: text, pos: i})
			i = j
			continue
		case c == '\'' || c == '"':
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, errAt(i, "%v", err)
			}
			toks = append(toks, token{kind: tStr, text: s, pos: i})
			i += n
			continue
		}
		k, n := punct(src[i:])
		if n == 0 {
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, errAt(i, "unexpected character %q", r)
		}
		toks = append(toks, token{kind: k, pos: i})
		i += n
	}
	toks = append(toks, token{kind: tEOF, pos: len(src)})
	return toks, nil
}

// isJSONNumber reports whether s is a number in JSON syntax (no leading
// zeros, no leading +).
func isJSONNumber(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if len(digits) > 1 && digits[0] == '0' && isDigit(digits[1]) {
		return false
	}
	_, ok := parseDec([]byte(s))
	return ok
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isIdentPart allows '-' inside names (there is no subtraction), so
// argument names such as first-name need no brackets.
func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '-' }

func punct(s string) (tokKind, int) {
	two := ""
	if len(s) >= 2 {
		two = s[:2]
	}
	switch two {
	case "==":
		return tEq, 2
	case "!=":
		return tNe, 2
	case "<=":
		return tLe, 2
	case ">=":
		return tGe, 2
	case "&&":
		return tAnd, 2
	case "||":
		return tOr, 2
	}
	switch s[0] {
	case '(':
		return tLParen, 1
	case ')':
		return tRParen, 1
	case '[':
		return tLBrack, 1
	case ']':
		return tRBrack, 1
	case ',':
		return tComma, 1
	case '.':
		return tDot, 1
	case '<':
		return tLt, 1
	case '>':
		return tGt, 1
	case '!':
		return tNot, 1
	}
	return 0, 0
}

// lexString reads a quoted string at the start of s. A backslash escapes
// the quote or a backslash; any other backslash is kept, so regular
// expressions such as '\d+\.\d+' are written as they are.
func lexString(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated string")
}

// parser is a recursive-descent parser over the tokens of one condition.
type parser struct {
	toks  []token
	i     int
	depth int
	lists map[string]*valueSet
}

// parseCondition compiles one condition. lists holds the named lists the
// condition may refer to.
func parseCondition(src string, lists map[string]*valueSet) (expr, error) {
	if len(src) > maxConditionLen {
		return expr{}, fmt.Errorf("condition is longer than %d bytes", maxConditionLen)
	}
	if !utf8.ValidString(src) {
		return expr{}, errors.New("condition is not valid UTF-8")
	}
	if strings.TrimSpace(src) == "" {
		return expr{}, errors.New("condition is empty")
	}
	toks, err := lex(src)
	if err != nil {
		return expr{}, err
	}
	p := &parser{toks: toks, lists: lists}
	e, err := p.or()
	if err != nil {
		return expr{}, err
	}
	if t := p.peek(); t.kind != tEOF {
		return expr{}, errAt(t.pos, "unexpected %s", t.describe())
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) expect(k tokKind) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, errAt(t.pos, "expected %s, found %s", k, t.describe())
	}
	return t, nil
}

func (p *parser) or() (expr, error) {
	return p.chain(tOr, opOr, p.and)
}

func (p *parser) and() (expr, error) {
	return p.chain(tAnd, opAnd, p.unary)
}

// chain parses sub { sep sub } into one n-ary node.
func (p *parser) chain(sep tokKind, op opKind, sub func() (expr, error)) (expr, error) {
	first, err := sub()
	if err != nil {
		return expr{}, err
	}
	if p.peek().kind != sep {
		return first, nil
	}
	kids := []expr{first}
	for p.peek().kind == sep {
		p.next()
		e, err := sub()
		if err != nil {
			return expr{}, err
		}
		kids = append(kids, e)
	}
	return expr{op: op, kids: kids}, nil
}

func (p *parser) unary() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	t := p.peek()
	if p.depth > maxDepth {
		return expr{}, errAt(t.pos, "nested deeper than %d levels", maxDepth)
	}
	switch {
	case t.kind == tNot:
		p.next()
		e, err := p.unary()
		if err != nil {
			return expr{}, err
		}
		return expr{op: opNot, kids: []expr{e}}, nil
	case t.kind == tLParen:
		p.next()
		e, err := p.or()
		if err != nil {
			return expr{}, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return expr{}, err
		}
		return e, nil
	case t.kind == tIdent && t.text == "exists" && p.toks[p.i+1].kind == tLParen:
		p.next()
		p.next()
		at := p.peek()
		o, err := p.operand()
		if err != nil {
			return expr{}, err
		}
		if o.src == srcLit || o.src == srcSet {
			return expr{}, errAt(at.pos, "exists takes a path, such as exists(ticket.id)")
		}
		if _, err := p.expect(tRParen); err != nil {
			return expr{}, err
		}
		return expr{op: opExists, l: o}, nil
	}
	return p.comparison()
}

// comparison parses operand op operand and checks that the operation
// makes sense for the operands, so that a mistake is reported when the
// policy loads rather than silently never matching.
func (p *parser) comparison() (expr, error) {
	lt := p.peek()
	l, err := p.operand()
	if err != nil {
		return expr{}, err
	}
	opTok := p.next()
	var op opKind
	switch opTok.kind {
	case tEq:
		op = opEq
	case tNe:
		op = opNe
	case tLt:
		op = opLt
	case tLe:
		op = opLe
	case tGt:
		op = opGt
	case tGe:
		op = opGe
	case tIdent:
		switch opTok.text {
		case "in":
			op = opIn
		case "not":
			if t := p.next(); t.kind != tIdent || t.text != "in" {
				return expr{}, errAt(t.pos, `expected "in" after "not", found %s`, t.describe())
			}
			op = opNotIn
		case "contains":
			op = opContains
		case "matches":
			op = opMatches
		default:
			return expr{}, errAt(opTok.pos, "expected an operator (== != < <= > >= in, not in, contains, matches), found %s", opTok.describe())
		}
	default:
		if opTok.kind == tEOF {
			return expr{}, errAt(opTok.pos, "a condition compares two values, such as amount <= 100; found only %s", lt.describe())
		}
		return expr{}, errAt(opTok.pos, "expected an operator (== != < <= > >= in, not in, contains, matches), found %s", opTok.describe())
	}
	rt := p.peek()
	r, err := p.operand()
	if err != nil {
		return expr{}, err
	}
	e := expr{op: op, l: l, r: r}
	if err := checkTypes(&e, lt.pos, rt); err != nil {
		return expr{}, err
	}
	return e, nil
}

func isConst(o *operand) bool { return o.src == srcLit || o.src == srcSet }

func isPrincipalList(o *operand) bool { return o.src == srcRoles || o.src == srcGroups }

// checkTypes rejects comparisons that could never hold, or that hold for
// every call, at load time.
func checkTypes(e *expr, lpos int, rt token) error {
	l, r := &e.l, &e.r
	if isConst(l) && isConst(r) {
		return errAt(lpos, "both sides are constants; a path into the arguments is written without quotes")
	}
	if l.src == srcSet {
		return errAt(lpos, `a list can only follow "in" or "not in"`)
	}
	switch e.op {
	case opEq, opNe:
		if r.src == srcSet {
			return errAt(rt.pos, `compare with a list using "in"`)
		}
		if isPrincipalList(l) || isPrincipalList(r) {
			return errAt(lpos, `principal.roles and principal.groups are lists: use "contains" or "in"`)
		}
	case opLt, opLe, opGt, opGe:
		if r.src == srcSet || isPrincipalList(l) || isPrincipalList(r) {
			return errAt(lpos, "only numbers and strings can be ordered")
		}
		for _, o := range []*operand{l, r} {
			if o.src == srcLit && o.v.k != kNum && o.v.k != kStr {
				return errAt(lpos, "only numbers and strings can be ordered")
			}
		}
	case opIn, opNotIn:
		if r.src == srcLit || r.src == srcTenant || r.src == srcUser || r.src == srcTool {
			return errAt(rt.pos, `"in" needs a list: [a, b], lists.name, principal.roles or an argument that is an array`)
		}
	case opContains:
		if r.src == srcSet {
			return errAt(rt.pos, `"contains" takes one value; to test against a list use "in"`)
		}
		if l.src == srcLit {
			return errAt(lpos, `"contains" needs a path on the left: an array or a string argument, principal.roles or principal.groups`)
		}
	case opMatches:
		if r.src != srcLit || r.v.k != kStr {
			return errAt(rt.pos, `"matches" needs a regular expression as a quoted string`)
		}
		if l.src == srcLit || isPrincipalList(l) {
			return errAt(lpos, `"matches" needs a string path on the left`)
		}
		// Anchored, so that 'a@acme\.com' cannot be satisfied by
		// 'a@acme.com.evil.example'.
		re, err := regexp.Compile(`^(?:` + r.v.s + `)$`)
		if err != nil {
			return errAt(rt.pos, "bad regular expression: %v", err)
		}
		e.re = re
	}
	return nil
}

// reserved reports the words that cannot start a path; an argument with
// such a name is written args.name.
func reserved(word string) bool {
	switch word {
	case "true", "false", "null", "in", "not", "contains", "matches", "exists":
		return true
	}
	return false
}

func (p *parser) operand() (operand, error) {
	t := p.next()
	switch t.kind {
	case tNum:
		n, ok := newNumber(t.text)
		if !ok {
			return operand{}, errAt(t.pos, "malformed number %q", t.text)
		}
		return operand{src: srcLit, v: val{k: kNum, nk: numLit, lit: n}}, nil
	case tStr:
		return operand{src: srcLit, v: val{k: kStr, s: t.text}}, nil
	case tLBrack:
		return p.listLiteral(t)
	case tIdent:
	default:
		return operand{}, errAt(t.pos, "expected a value or a path, found %s", t.describe())
	}
	switch t.text {
	case "true", "false":
		return operand{src: srcLit, v: val{k: kBool, b: t.text == "true"}}, nil
	case "null":
		return operand{src: srcLit, v: val{k: kNull}}, nil
	case "tool":
		return operand{src: srcTool}, nil
	case "principal":
		f, err := p.field(t)
		if err != nil {
			return operand{}, err
		}
		switch f.text {
		case "tenant":
			return operand{src: srcTenant}, nil
		case "user":
			return operand{src: srcUser}, nil
		case "roles":
			return operand{src: srcRoles}, nil
		case "groups":
			return operand{src: srcGroups}, nil
		}
		return operand{}, errAt(f.pos, "principal has tenant, user, roles and groups, not %q", f.text)
	case "lists":
		f, err := p.field(t)
		if err != nil {
			return operand{}, err
		}
		set, ok := p.lists[f.text]
		if !ok {
			return operand{}, errAt(f.pos, "unknown list %q", f.text)
		}
		return operand{src: srcSet, set: set}, nil
	case "args":
		if k := p.peek().kind; k != tDot && k != tLBrack {
			return operand{}, errAt(t.pos, "args needs a field, such as args.amount")
		}
		if p.peek().kind == tLBrack && p.toks[p.i+1].kind == tNum {
			return operand{}, errAt(t.pos, "args is an object: write args.name or args['name']")
		}
		return p.path(nil, t)
	}
	if reserved(t.text) {
		return operand{}, errAt(t.pos, "%q is a keyword; an argument with that name is written args.%s", t.text, t.text)
	}
	return p.path([]seg{{key: t.text}}, t)
}

// field reads ".name" after principal or lists.
func (p *parser) field(after token) (token, error) {
	if _, err := p.expect(tDot); err != nil {
		return token{}, err
	}
	f := p.next()
	if f.kind != tIdent {
		return token{}, errAt(f.pos, "expected a name after %s., found %s", after.text, f.describe())
	}
	return f, nil
}

// path reads the rest of an argument path: .name, ["name"] or [index].
func (p *parser) path(segs []seg, start token) (operand, error) {
	for {
		switch p.peek().kind {
		case tDot:
			p.next()
			f := p.next()
			if f.kind != tIdent {
				return operand{}, errAt(f.pos, "expected a field name after \".\", found %s", f.describe())
			}
			segs = append(segs, seg{key: f.text})
		case tLBrack:
			p.next()
			k := p.next()
			switch k.kind {
			case tStr:
				segs = append(segs, seg{key: k.text})
			case tNum:
				n, err := strconv.Atoi(k.text)
				if err != nil || n < 0 || n > maxIndex {
					return operand{}, errAt(k.pos, "an index is a whole number from 0 to %d", maxIndex)
				}
				segs = append(segs, seg{idx: n, isIdx: true})
			default:
				return operand{}, errAt(k.pos, "expected an index or a quoted key, found %s", k.describe())
			}
			if _, err := p.expect(tRBrack); err != nil {
				return operand{}, err
			}
		default:
			if len(segs) == 0 {
				return operand{}, errAt(start.pos, "args needs a field, such as args.amount")
			}
			return operand{src: srcArg, path: segs}, nil
		}
		if len(segs) > maxPathLen {
			return operand{}, errAt(start.pos, "path has more than %d steps", maxPathLen)
		}
	}
}

// listLiteral reads [lit, lit, ...] after the opening bracket.
func (p *parser) listLiteral(open token) (operand, error) {
	var items []any
	if p.peek().kind == tRBrack {
		p.next()
		return operand{src: srcSet, set: &valueSet{}}, nil
	}
	for {
		t := p.next()
		switch {
		case t.kind == tStr:
			items = append(items, t.text)
		case t.kind == tNum:
			items = append(items, numLiteral(t.text))
		case t.kind == tIdent && (t.text == "true" || t.text == "false"):
			items = append(items, t.text == "true")
		case t.kind == tIdent && t.text == "null":
			items = append(items, nil)
		default:
			return operand{}, errAt(t.pos, "a list literal holds strings, numbers, true, false or null; found %s", t.describe())
		}
		sep := p.next()
		if sep.kind == tRBrack {
			break
		}
		if sep.kind != tComma {
			return operand{}, errAt(sep.pos, `expected "," or "]" in the list opened at character %d, found %s`, open.pos+1, sep.describe())
		}
	}
	set, err := newValueSet(items)
	if err != nil {
		return operand{}, errAt(open.pos, "%v", err)
	}
	return operand{src: srcSet, set: set}, nil
}

// numLiteral marks a number literal inside a list literal, so newValueSet
// parses it exactly.
type numLiteral string

// newValueSet prepares a list of scalars for membership tests. Numbers may
// be Go numbers, json.Number or numLiteral.
func newValueSet(items []any) (*valueSet, error) {
	s := &valueSet{}
	for i, it := range items {
		switch v := it.(type) {
		case nil:
			s.hasNull = true
		case bool:
			if v {
				s.hasTrue = true
			} else {
				s.hasFals = true
			}
		case string:
			s.strList = append(s.strList, v)
		case numLiteral:
			n, ok := newNumber(string(v))
			if !ok {
				return nil, fmt.Errorf("item %d: malformed number %q", i, string(v))
			}
			s.nums = append(s.nums, val{k: kNum, nk: numLit, lit: n})
		default:
			n, ok := numberOf(it)
			if !ok {
				return nil, fmt.Errorf("item %d: %T is not a string, number, bool or null", i, it)
			}
			s.nums = append(s.nums, val{k: kNum, nk: numLit, lit: n})
		}
	}
	if len(s.strList) > setMapThreshold {
		s.strs = make(map[string]struct{}, len(s.strList))
		for _, v := range s.strList {
			s.strs[v] = struct{}{}
		}
	}
	return s, nil
}
