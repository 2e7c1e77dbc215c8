package guard

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm/structured"
)

// FormatGuard checks a structured answer: the text must be exactly one
// JSON value (whitespace around it allowed, no code fences, no prose),
// valid UTF-8, and, when Schema is set, match it (Schema.Validate).
//
// The syntax is checked byte by byte as the answer streams: the first
// byte that cannot continue a JSON text is a finding of rule
// "json-syntax" there, so a blocked stream stops at the last byte that
// could still have been valid JSON. The rest (a truncated value, invalid
// UTF-8, rule "json-incomplete" or "utf8"; the schema, rule "schema")
// can only be judged at the end: the finding is then empty, at the end
// of the text, and blocks after everything was emitted (the stream's
// Flush reports it). A structured answer should not be used before the
// stream ends anyway. FormatGuard holds nothing back. The type of its
// findings is "FORMAT_INVALID".
//
// It checks the answer as the model wrote it, before other filters strip
// spans; give the guard a Replacement that is valid inside a JSON string
// (or none) when both run on structured answers.
type FormatGuard struct {
	// Schema, when set, is the schema the value must match.
	Schema *structured.Schema
	// MaxDepth bounds the nesting of arrays and objects; 0 means 512.
	MaxDepth int
	// Action is FilterBlock unless set; FilterFlag is the other choice.
	Action FilterAction
}

// Name returns "format".
func (FormatGuard) Name() string { return "format" }

// Check implements OutputFilter.
func (f FormatGuard) Check(text string) ([]OutputFinding, error) { return fltCheck(f, text) }

type fltFormat struct {
	name     string
	action   FilterAction
	schema   *structured.Schema
	maxDepth int
}

func (f FormatGuard) compile(int) (fltCompiled, error) {
	name := f.Name()
	action, err := fltAction(name, f.Action, FilterBlock, FilterFlag, FilterBlock)
	if err != nil {
		return nil, err
	}
	d := f.MaxDepth
	if d == 0 {
		d = 512
	}
	if d < 1 {
		return nil, fmt.Errorf("guard: %s: MaxDepth %d: want at least 1", name, f.MaxDepth)
	}
	return &fltFormat{name: name, action: action, schema: f.Schema, maxDepth: d}, nil
}

func (c *fltFormat) scanner() fltScanner { return &fltFormatScanner{c: c} }

type fltFormatScanner struct {
	c      *fltFormat
	pos    int
	json   fltJSON
	failed bool
}

func (s *fltFormatScanner) advance(dst []OutputFinding, text string, final bool) ([]OutputFinding, int) {
	for ; s.pos < len(text) && !s.failed; s.pos++ {
		if s.json.state == fltJString && s.json.esc == 0 {
			// Most of a structured answer is string content: skip to
			// the next byte that means something.
			for s.pos < len(text) {
				if b := text[s.pos]; b == '"' || b == '\\' || b < 0x20 {
					break
				}
				s.pos++
			}
			if s.pos == len(text) {
				break
			}
		}
		if why := s.json.step(text[s.pos], s.c.maxDepth); why != "" {
			s.failed = true
			dst = s.finding(dst, s.pos, s.pos+1, "json-syntax", why)
		}
	}
	s.pos = len(text)
	if final && !s.failed {
		s.failed = true // judged once
		switch {
		case !s.json.complete():
			dst = s.finding(dst, len(text), len(text), "json-incomplete", "the answer ends before its JSON value does")
		case !utf8.ValidString(text):
			dst = s.finding(dst, len(text), len(text), "utf8", "the answer is not valid UTF-8")
		case s.c.schema != nil:
			if err := s.c.schema.Validate([]byte(text)); err != nil {
				dst = s.finding(dst, len(text), len(text), "schema", fltSchemaReason(err))
			}
		}
	}
	return dst, len(text)
}

func (s *fltFormatScanner) finding(dst []OutputFinding, start, end int, rule, reason string) []OutputFinding {
	return append(dst, OutputFinding{
		Finding: detect.Finding{Type: "FORMAT_INVALID", Start: start, End: end, Score: 1, Rule: rule, Reason: reason},
		Filter:  s.c.name, Action: s.c.action,
	})
}

// fltSchemaReason says where the answer fails the schema without
// quoting it (messages may hold values from the answer).
func fltSchemaReason(err error) string {
	var ve *structured.ValidationError
	if errors.As(err, &ve) {
		paths := make([]string, 0, len(ve.Problems))
		for i, p := range ve.Problems {
			if i == 8 {
				paths = append(paths, "...")
				break
			}
			path := p.Path
			if path == "" {
				path = "/"
			}
			paths = append(paths, fltShow(path))
		}
		return "the answer does not match the schema at " + strings.Join(paths, ", ")
	}
	var dk *structured.DuplicateKeyError
	if errors.As(err, &dk) {
		return "the answer repeats a key in an object"
	}
	return "the answer is not a JSON value the schema accepts"
}

// fltJSON checks JSON syntax one byte at a time (RFC 8259), without
// building anything; its memory is the nesting stack.
type fltJSON struct {
	stack []byte // '{' or '[' per open container
	state uint8
	esc   uint8 // in a string: 1 after '\', 2-5 reading \u hex digits
	lit   string
	litAt int
	key   bool // the string being read is an object key
}

// The states of fltJSON.
const (
	fltJValue      = iota // a value must come (the start)
	fltJValueOrEnd        // after '[': a value or ']'
	fltJKeyOrEnd          // after '{': a key or '}'
	fltJKey               // after ',' in an object: a key
	fltJColon             // after a key
	fltJAfterValue        // after a value in a container: ',' or the closer
	fltJDone              // after the top-level value: only whitespace
	fltJString            // in a string
	fltJLiteral           // in true, false or null
	fltJNumMinus          // after '-'
	fltJNumZero           // after a leading 0
	fltJNumInt            // in the integer digits
	fltJNumDot            // after '.'
	fltJNumFrac           // in the fraction digits
	fltJNumE              // after 'e'
	fltJNumESign          // after the exponent's sign
	fltJNumExp            // in the exponent digits
)

func fltJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// complete reports whether the bytes so far are one whole JSON value.
func (j *fltJSON) complete() bool {
	switch j.state {
	case fltJDone:
		return true
	case fltJNumZero, fltJNumInt, fltJNumFrac, fltJNumExp:
		return len(j.stack) == 0
	}
	return false
}

// step reads one byte; it returns why the byte cannot continue a JSON
// text, or "".
func (j *fltJSON) step(b byte, maxDepth int) string {
	switch j.state {
	case fltJString:
		return j.stringByte(b)
	case fltJLiteral:
		if b != j.lit[j.litAt] {
			return "a malformed literal"
		}
		if j.litAt++; j.litAt == len(j.lit) {
			j.endValue()
		}
		return ""
	case fltJNumMinus, fltJNumZero, fltJNumInt, fltJNumDot, fltJNumFrac, fltJNumE, fltJNumESign, fltJNumExp:
		ok, end := j.numberByte(b)
		if ok {
			return ""
		}
		if !end {
			return "a malformed number"
		}
		j.endValue()
		return j.step(b, maxDepth)
	}
	if fltJSONSpace(b) {
		return ""
	}
	switch j.state {
	case fltJDone:
		return "text after the JSON value"
	case fltJColon:
		if b != ':' {
			return "a missing ':' after an object key"
		}
		j.state = fltJValue
		return ""
	case fltJAfterValue:
		top := j.stack[len(j.stack)-1]
		switch {
		case b == ',' && top == '{':
			j.state = fltJKey
		case b == ',':
			j.state = fltJValue
		case b == '}' && top == '{', b == ']' && top == '[':
			j.stack = j.stack[:len(j.stack)-1]
			j.endValue()
		default:
			return "a missing ',' or closing bracket"
		}
		return ""
	case fltJKeyOrEnd, fltJKey:
		if b == '}' && j.state == fltJKeyOrEnd {
			j.stack = j.stack[:len(j.stack)-1]
			j.endValue()
			return ""
		}
		if b != '"' {
			return "an object key that is not a string"
		}
		j.state, j.key = fltJString, true
		return ""
	case fltJValueOrEnd:
		if b == ']' {
			j.stack = j.stack[:len(j.stack)-1]
			j.endValue()
			return ""
		}
	}
	// A value starts.
	switch b {
	case '{', '[':
		if len(j.stack) >= maxDepth {
			return "nesting deeper than the limit"
		}
		j.stack = append(j.stack, b)
		if b == '{' {
			j.state = fltJKeyOrEnd
		} else {
			j.state = fltJValueOrEnd
		}
	case '"':
		j.state, j.key = fltJString, false
	case 't':
		j.state, j.lit, j.litAt = fltJLiteral, "true", 1
	case 'f':
		j.state, j.lit, j.litAt = fltJLiteral, "false", 1
	case 'n':
		j.state, j.lit, j.litAt = fltJLiteral, "null", 1
	case '-':
		j.state = fltJNumMinus
	case '0':
		j.state = fltJNumZero
	default:
		if '1' <= b && b <= '9' {
			j.state = fltJNumInt
			return ""
		}
		return "a byte that cannot start a JSON value"
	}
	return ""
}

// endValue moves past a complete value.
func (j *fltJSON) endValue() {
	if len(j.stack) == 0 {
		j.state = fltJDone
	} else {
		j.state = fltJAfterValue
	}
}

func (j *fltJSON) stringByte(b byte) string {
	switch {
	case j.esc == 1:
		switch b {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j.esc = 0
		case 'u':
			j.esc = 2
		default:
			return "a malformed escape in a string"
		}
	case j.esc >= 2:
		if !('0' <= b && b <= '9' || 'a' <= b|0x20 && b|0x20 <= 'f') {
			return "a malformed \\u escape in a string"
		}
		if j.esc++; j.esc == 6 {
			j.esc = 0
		}
	case b == '\\':
		j.esc = 1
	case b == '"':
		if j.key {
			j.state = fltJColon
		} else {
			j.endValue()
		}
	case b < 0x20:
		return "a control character in a string"
	}
	return ""
}

// numberByte reads b in a number: ok when b continues it; end when the
// number is complete and b belongs to what follows.
func (j *fltJSON) numberByte(b byte) (ok, end bool) {
	digit := '0' <= b && b <= '9'
	switch j.state {
	case fltJNumMinus:
		switch {
		case b == '0':
			j.state = fltJNumZero
		case digit:
			j.state = fltJNumInt
		default:
			return false, false
		}
	case fltJNumZero, fltJNumInt:
		switch {
		case digit && j.state == fltJNumInt:
		case b == '.':
			j.state = fltJNumDot
		case b == 'e' || b == 'E':
			j.state = fltJNumE
		case digit:
			return false, false // a leading zero
		default:
			return false, true
		}
	case fltJNumDot:
		if !digit {
			return false, false
		}
		j.state = fltJNumFrac
	case fltJNumFrac:
		switch {
		case digit:
		case b == 'e' || b == 'E':
			j.state = fltJNumE
		default:
			return false, true
		}
	case fltJNumE:
		switch {
		case b == '+' || b == '-':
			j.state = fltJNumESign
		case digit:
			j.state = fltJNumExp
		default:
			return false, false
		}
	case fltJNumESign:
		if !digit {
			return false, false
		}
		j.state = fltJNumExp
	case fltJNumExp:
		if !digit {
			return false, true
		}
	}
	return true, false
}
