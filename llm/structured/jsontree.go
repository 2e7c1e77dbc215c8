package structured

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// parseTree parses doc as one strict JSON value (RFC 8259) into the value
// types jsonschema/v6 validates: map[string]any, []any, string,
// json.Number, bool and nil. It is the fast path's parser, written for
// speed rather than for messages: it reports only whether doc parsed, and
// callers fall back to encoding/json for an exact error. It refuses, so
// that the fallback decides, everything where encoding/json's result could
// differ from a plain reading: invalid UTF-8 (which encoding/json would
// replace), lone surrogate escapes, duplicate keys (encoding/json keeps the
// last), and nesting deeper than maxTreeDepth.
//
// Strings without escapes are slices of doc, so they cost no allocation;
// a decoded value that keeps any such string keeps doc alive.
func parseTree(doc string) (any, bool) {
	p := treeParser{src: doc}
	p.space()
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.i == len(p.src)
}

// maxTreeDepth bounds nesting in the fast path; deeper documents go to
// encoding/json, which has its own limit.
const maxTreeDepth = 1000

// treeParser is the state of one parseTree call.
type treeParser struct {
	src string
	i   int
	// stack holds the elements of the arrays and objects being parsed,
	// and keys the keys of the objects, so each container is allocated
	// once, at its final size.
	stack []any
	keys  []string
}

func (p *treeParser) space() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *treeParser) value(depth int) (any, bool) {
	if p.i >= len(p.src) {
		return nil, false
	}
	switch c := p.src[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, ok := p.string()
		if !ok {
			return nil, false
		}
		return s, true
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *treeParser) literal(word string) bool {
	if len(p.src)-p.i < len(word) || p.src[p.i:p.i+len(word)] != word {
		return false
	}
	p.i += len(word)
	return true
}

func (p *treeParser) object(depth int) (any, bool) {
	if depth > maxTreeDepth {
		return nil, false
	}
	p.i++ // {
	base, kbase := len(p.stack), len(p.keys)
	p.space()
	if p.i < len(p.src) && p.src[p.i] == '}' {
		p.i++
		return map[string]any{}, true
	}
	for {
		if p.i >= len(p.src) || p.src[p.i] != '"' {
			return nil, false
		}
		k, ok := p.string()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		p.stack = append(p.stack, v)
		p.keys = append(p.keys, k)
		p.space()
		if p.i >= len(p.src) {
			return nil, false
		}
		switch p.src[p.i] {
		case ',':
			p.i++
			p.space()
			continue
		case '}':
			p.i++
			n := len(p.stack) - base
			m := make(map[string]any, n)
			for j, k := range p.keys[kbase:] {
				m[k] = p.stack[base+j]
			}
			clear(p.stack[base:])
			p.stack, p.keys = p.stack[:base], p.keys[:kbase]
			// A repeated key leaves fewer entries than pairs.
			return m, len(m) == n
		}
		return nil, false
	}
}

func (p *treeParser) array(depth int) (any, bool) {
	if depth > maxTreeDepth {
		return nil, false
	}
	p.i++ // [
	base := len(p.stack)
	p.space()
	if p.i < len(p.src) && p.src[p.i] == ']' {
		p.i++
		return []any{}, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		p.stack = append(p.stack, v)
		p.space()
		if p.i >= len(p.src) {
			return nil, false
		}
		switch p.src[p.i] {
		case ',':
			p.i++
			p.space()
			continue
		case ']':
			p.i++
			a := make([]any, len(p.stack)-base)
			copy(a, p.stack[base:])
			clear(p.stack[base:])
			p.stack = p.stack[:base]
			return a, true
		}
		return nil, false
	}
}

// string parses a string at p.i (which is '"').
func (p *treeParser) string() (string, bool) {
	start := p.i + 1
	for j := start; j < len(p.src); j++ {
		c := p.src[j]
		switch {
		case c == '"':
			p.i = j + 1
			return p.src[start:j], true
		case c == '\\':
			return p.escaped(start, j)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(p.src[j:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			j += size - 1
		}
	}
	return "", false
}

// escaped finishes a string that has escapes; the plain prefix is
// src[start:j].
func (p *treeParser) escaped(start, j int) (string, bool) {
	b := make([]byte, 0, j-start+16)
	b = append(b, p.src[start:j]...)
	for j < len(p.src) {
		c := p.src[j]
		switch {
		case c == '"':
			p.i = j + 1
			return string(b), true
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(p.src[j:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			b = append(b, p.src[j:j+size]...)
			j += size
		case c != '\\':
			b = append(b, c)
			j++
		default:
			if j+1 >= len(p.src) {
				return "", false
			}
			switch e := p.src[j+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(p.src, j+2)
				if !ok {
					return "", false
				}
				j += 6
				if utf16.IsSurrogate(r) {
					// Only a proper pair is taken; encoding/json replaces a
					// lone half, which the fallback handles.
					if j+1 >= len(p.src) || p.src[j] != '\\' || p.src[j+1] != 'u' {
						return "", false
					}
					r2, ok := hex4(p.src, j+2)
					if !ok {
						return "", false
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return "", false
					}
					j += 6
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", false
			}
			j += 2
		}
	}
	return "", false
}

// hex4 reads four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number parses a number literal with JSON's grammar.
func (p *treeParser) number() (any, bool) {
	s, i := p.src, p.i
	start := i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return nil, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return nil, false
		}
	}
	p.i = i
	return json.Number(s[start:i]), true
}
