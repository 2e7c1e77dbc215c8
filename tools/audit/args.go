package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Digest returns the keyed hash of tool arguments, HMAC-SHA256 under key
// of their canonical JSON, as 64 lowercase hex digits.
//
// The canonical form sorts object keys (by their bytes), removes
// insignificant whitespace, and writes strings with a fixed escaping, so
// the same arguments give the same digest whatever the key order, spacing
// or escapes the model produced. Numbers are kept as written: 1 and 1.0
// give different digests. Input that is not valid JSON gets the digest of
// its raw bytes (a canonical form is always valid JSON, so the two cannot
// collide).
//
// The hash is keyed so that low-entropy arguments (an account number, a
// yes/no) cannot be recovered from the log by hashing guesses; key must be
// a secret of at least MinKeyBytes random bytes, kept away from whoever
// reads the log. An investigator holding the key can still check whether a
// given argument value was used.
func Digest(key, args []byte) string {
	m := hmac.New(sha256.New, key)
	if c, ok := canonicalJSON(args); ok {
		m.Write(c)
	} else {
		m.Write(args)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// canonicalJSON returns the canonical form of b, or false if b is not a
// single valid JSON value.
func canonicalJSON(b []byte) ([]byte, bool) {
	if !json.Valid(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	// Valid JSON decodes; the decoder's own depth limit still applies.
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return appendCanonical(make([]byte, 0, len(b)), v), true
}

func appendCanonical(buf []byte, v any) []byte {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendCanonical(buf, x[k])
		}
		return append(buf, '}')
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendCanonical(buf, e)
		}
		return append(buf, ']')
	case string:
		return appendJSONString(buf, x)
	case json.Number:
		return append(buf, x...)
	case bool:
		return strconv.AppendBool(buf, x)
	default: // nil
		return append(buf, "null"...)
	}
}

// appendJSONString writes s as a JSON string with the minimal escaping:
// quote, backslash and control characters only. The decoder has already
// replaced invalid UTF-8, so the output is valid.
func appendJSONString(buf []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}

// Limits of Summarize.
const (
	// MaxSummaryBytes bounds the length of a summary; a longer one is cut
	// and ends in "...".
	MaxSummaryBytes = 512
	// summaryDepth is how deep objects are opened; deeper ones are shown
	// as object(n).
	summaryDepth = 3
	// maxKeyShown is the longest key name a summary shows.
	maxKeyShown = 40
)

// errSummaryFull stops a summary that has reached MaxSummaryBytes.
var errSummaryFull = errors.New("summary full")

// Summarize returns the shape of tool arguments without their values, for
// an audit record that must not hold the arguments themselves:
//
//	{"amount": 120.5, "recipient": "DE89 3704 0044 0532", "items": [1, 2, 3]}
//
// becomes
//
//	{amount:number,recipient:string(19),items:array(3)}
//
// Strings show their length in characters, arrays their number of
// elements, objects their keys in order, three levels deep (deeper ones
// show as object(n), n keys). Numbers, booleans and string contents never
// appear. A key is shown only if it looks like a field name (an ASCII
// letter or underscore, then letters, digits, '_', '-' or '.', at most 40
// bytes); any other key, such as an e-mail address used as a map key,
// shows as key(n). Input that is not valid JSON gives "invalid(n bytes)",
// empty input "empty". The result is ASCII and at most MaxSummaryBytes
// long; hostile input costs time linear in its size.
func Summarize(args []byte) string {
	if len(bytes.TrimSpace(args)) == 0 {
		return "empty"
	}
	// The same notion of valid as Digest's, nesting limit included.
	if !json.Valid(args) {
		return "invalid(" + strconv.Itoa(len(args)) + " bytes)"
	}
	s := summarizer{dec: json.NewDecoder(bytes.NewReader(args))}
	s.dec.UseNumber()
	err := s.value(0)
	if err == nil {
		// A single value and nothing after it.
		if _, err2 := s.dec.Token(); err2 != io.EOF {
			err = errors.New("trailing data")
		}
	}
	switch {
	case errors.Is(err, errSummaryFull):
		return string(s.out[:MaxSummaryBytes-3]) + "..."
	case err != nil:
		return "invalid(" + strconv.Itoa(len(args)) + " bytes)"
	}
	return string(s.out)
}

type summarizer struct {
	dec *json.Decoder
	out []byte
}

func (s *summarizer) write(parts ...string) error {
	for _, p := range parts {
		s.out = append(s.out, p...)
	}
	if len(s.out) > MaxSummaryBytes {
		return errSummaryFull
	}
	return nil
}

// value summarizes the next JSON value, depth objects deep.
func (s *summarizer) value(depth int) error {
	tok, err := s.dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			n, err := s.countElements(false)
			if err != nil {
				return err
			}
			return s.write("array(", strconv.Itoa(n), ")")
		}
		if t != '{' {
			return errors.New("unexpected delimiter")
		}
		if depth >= summaryDepth {
			n, err := s.countElements(true)
			if err != nil {
				return err
			}
			return s.write("object(", strconv.Itoa(n), ")")
		}
		if err := s.write("{"); err != nil {
			return err
		}
		for first := true; s.dec.More(); first = false {
			if !first {
				if err := s.write(","); err != nil {
					return err
				}
			}
			k, err := s.dec.Token()
			if err != nil {
				return err
			}
			key, ok := k.(string)
			if !ok {
				return errors.New("object key is not a string")
			}
			if err := s.write(summaryKey(key), ":"); err != nil {
				return err
			}
			if err := s.value(depth + 1); err != nil {
				return err
			}
		}
		if _, err := s.dec.Token(); err != nil { // the closing brace
			return err
		}
		return s.write("}")
	case string:
		return s.write("string(", strconv.Itoa(utf8.RuneCountInString(t)), ")")
	case json.Number:
		return s.write("number")
	case bool:
		return s.write("bool")
	default:
		return s.write("null")
	}
}

// countElements reads the rest of an array or object whose opening
// delimiter has been read and returns its number of elements (of members,
// for an object). It skips nested values without recursion, so deep
// nesting cannot exhaust the stack.
func (s *summarizer) countElements(object bool) (int, error) {
	n := 0
	for s.dec.More() {
		if object {
			if _, err := s.dec.Token(); err != nil { // the key
				return 0, err
			}
		}
		if err := s.skipValue(); err != nil {
			return 0, err
		}
		n++
	}
	_, err := s.dec.Token() // the closing delimiter
	return n, err
}

// skipValue reads one value. Inside a nested object the decoder returns
// keys as tokens too; they are simply read past, as only the delimiters
// matter for finding the value's end.
func (s *summarizer) skipValue() error {
	depth := 0
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// summaryKey is how a summary shows an object key.
func summaryKey(k string) string {
	if len(k) > 0 && len(k) <= maxKeyShown && isKeyStart(k[0]) {
		ok := true
		for i := 1; i < len(k); i++ {
			c := k[i]
			if !isKeyStart(c) && !(c >= '0' && c <= '9') && c != '-' && c != '.' {
				ok = false
				break
			}
		}
		if ok {
			return k
		}
	}
	return "key(" + strconv.Itoa(utf8.RuneCountInString(k)) + ")"
}

func isKeyStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
