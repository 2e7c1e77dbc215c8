package guard

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/keel-go/keel/guard/detect"
)

// redactJSON redacts a JSON document such as tool-call arguments: each
// string (keys included) is decoded, scanned and redacted as text, then
// written back JSON-escaped, so the detectors see "O'Brien" rather than
// its escaped form and the vault keeps the real value. Text between
// strings is scanned as it is. In valid JSON that text holds numbers,
// true, false and null: one that a finding touches is replaced whole by a
// placeholder written as a JSON string (a card number written as a JSON
// number becomes "<CREDIT_CARD_1>"), so valid JSON stays valid. In
// invalid JSON each finding there is replaced by its placeholder, quoted.
// Strings are found by the lexical rules of RestoreJSON, so the two agree
// on what is inside a string, for invalid JSON too.
func (v *Vault) redactJSON(doc string, scan func(string) []detect.Finding) string {
	valid := json.Valid([]byte(doc))
	var b strings.Builder
	changed := false
	last := 0
	flush := func(upTo int) {
		if !changed {
			changed = true
			b.Grow(len(doc) + 16)
		}
		b.WriteString(doc[last:upTo])
	}
	for i := 0; i < len(doc); {
		k := strings.IndexByte(doc[i:], '"')
		outEnd := len(doc)
		if k >= 0 {
			outEnd = i + k
		}
		if seg := doc[i:outEnd]; seg != "" {
			fs := vaultScan(scan, seg)
			if valid && len(fs) > 0 {
				fs = vaultWholeTokens(seg, fs)
			}
			if r := v.redact(seg, fs, true); r != seg {
				flush(i)
				b.WriteString(r)
				last = outEnd
			}
		}
		if k < 0 {
			break
		}
		contentEnd, end, terminated := vaultStringEnd(doc, outEnd)
		content := doc[outEnd+1 : contentEnd]
		decoded := vaultUnescape(content)
		if r := v.redact(decoded, vaultScan(scan, decoded), false); r != decoded {
			flush(outEnd)
			b.WriteByte('"')
			vaultWriteJSONEscaped(&b, r)
			if terminated {
				b.WriteByte('"')
			}
			last = end
		}
		i = end
	}
	if !changed {
		return doc
	}
	b.WriteString(doc[last:])
	return b.String()
}

// vaultWholeTokens turns findings in the text between the strings of a
// valid JSON document into findings over the whole tokens they touch
// (numbers, true, false, null), each with the type of the best finding
// that touches it.
func vaultWholeTokens(seg string, fs []detect.Finding) []detect.Finding {
	// Resolved findings do not overlap, so they are sorted by end as well
	// as by start, and one pass over tokens and findings together does.
	fs = detect.Resolve(fs)
	var out []detect.Finding
	p := 0
	for i := 0; i < len(seg); {
		if vaultJSONStructural(seg[i]) {
			i++
			continue
		}
		j := i
		for j < len(seg) && !vaultJSONStructural(seg[j]) {
			j++
		}
		for p < len(fs) && fs[p].End <= i {
			p++
		}
		best := -1
		for k := p; k < len(fs) && fs[k].Start < j; k++ {
			if fs[k].End > i && (best < 0 || fs[k].Score > fs[best].Score) {
				best = k
			}
		}
		if best >= 0 {
			out = append(out, detect.Finding{Type: fs[best].Type, Start: i, End: j, Score: fs[best].Score, Rule: fs[best].Rule})
		}
		i = j
	}
	return out
}

// vaultJSONStructural reports whether c separates tokens in JSON.
func vaultJSONStructural(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ':', '[', ']', '{', '}':
		return true
	}
	return false
}

func vaultScan(scan func(string) []detect.Finding, s string) []detect.Finding {
	if scan == nil || s == "" {
		return nil
	}
	return scan(s)
}

// vaultStringEnd finds the end of the JSON string whose opening quote is
// at doc[open]: the offset where its content ends, the offset after it
// (past the closing quote), and whether it was closed. Like the restore
// lexer it ends an unclosed string at a raw newline.
func vaultStringEnd(doc string, open int) (contentEnd, end int, terminated bool) {
	for j := open + 1; j < len(doc); {
		switch doc[j] {
		case '"':
			return j, j + 1, true
		case '\\':
			j += 2
		case '\n':
			return j, j, false
		default:
			j++
		}
	}
	return len(doc), len(doc), false
}

// vaultUnescape decodes the content of a JSON string. It is lenient, as
// the strings it reads may come from invalid JSON: an unknown escape is
// kept as it is, and a lone surrogate becomes U+FFFD.
func vaultUnescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			i++
			continue
		}
		switch e := s[i+1]; e {
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
			r, ok := vaultHex4(s[i+2:])
			if !ok {
				b = append(b, c, e)
				break
			}
			n := 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if strings.HasPrefix(s[i+6:], `\u`) {
					r2, ok2 = vaultHex4(s[i+8:])
				}
				if d := utf16.DecodeRune(r, r2); ok2 && d != utf8.RuneError {
					r, n = d, 12
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
			i += n
			continue
		default:
			b = append(b, c, e)
		}
		i += 2
	}
	return string(b)
}

// vaultHex4 decodes four hex digits at the start of s.
func vaultHex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
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
