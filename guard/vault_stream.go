package guard

import (
	"strings"
	"unicode/utf8"
)

// StreamRestorer restores placeholders in text that arrives in chunks,
// such as the deltas of a streamed answer. A placeholder may be split
// across chunks ("<EMA" then "IL_1>"): Write holds back the end of a chunk
// that could be the start of a placeholder, never more than the longest
// placeholder of the vault less one byte, and emits it with the next
// chunk, restored or as it was. It never emits part of a placeholder.
// Everything Write and Flush return, concatenated, equals Restore (or
// RestoreJSON) of everything written.
//
// Get one from Vault.NewStreamRestorer or Vault.NewJSONStreamRestorer. A
// StreamRestorer serves one stream and is not safe for concurrent use;
// the Vault behind it is. Redact the whole request before the answer
// starts: a vault that is still empty when a chunk arrives lets the chunk
// pass as it is, and a JSON restorer then loses track of where strings
// are.
type StreamRestorer struct {
	v       *Vault
	json    bool
	st      vaultLexState
	pending string
}

// NewStreamRestorer returns a StreamRestorer with the rules of Restore,
// for streamed text shown to a person.
func (v *Vault) NewStreamRestorer() *StreamRestorer {
	return &StreamRestorer{v: v}
}

// NewJSONStreamRestorer returns a StreamRestorer with the rules of
// RestoreJSON, for a streamed structured answer or streamed tool-call
// arguments. Besides a split placeholder it may hold back an escape
// sequence cut by the end of a chunk (a lone backslash, or \u003c and
// \u003e cut short), so at most 10 bytes more than NewStreamRestorer.
func (v *Vault) NewJSONStreamRestorer() *StreamRestorer {
	return &StreamRestorer{v: v, json: true}
}

// Write restores chunk and returns what can be emitted now.
func (s *StreamRestorer) Write(chunk string) string {
	in := chunk
	if s.pending != "" {
		in = s.pending + chunk
		s.pending = ""
	}
	out, stop := s.v.restore(in, s.json, &s.st, false)
	if stop < len(in) {
		s.pending = in[stop:]
		if len(in) > 256 {
			// Held bytes are few: copy them rather than pin a large
			// chunk until the next Write.
			s.pending = strings.Clone(s.pending)
		}
	}
	return out
}

// Flush returns the text still held back, restored where it completes a
// placeholder and as it is otherwise: call it at the end of the stream.
// The restorer is then ready for a new stream.
func (s *StreamRestorer) Flush() string {
	in := s.pending
	s.pending = ""
	out, _ := s.v.restore(in, s.json, &s.st, true)
	s.st = vaultLexState{}
	return out
}

// Held returns how many bytes the restorer holds back now, waiting for
// the next chunk.
func (s *StreamRestorer) Held() int { return len(s.pending) }

// vaultLexState is what a JSON restore carries from one chunk to the next.
type vaultLexState struct {
	// inString says the text so far ends inside a JSON string.
	inString bool
}

// The outcomes of vaultMatchAt.
const (
	vaultNoMatch = iota
	vaultMatched
	vaultNeedMore
)

// restore is the one restore loop behind Restore, RestoreJSON and the
// stream restorers. It restores text from lexer state st and returns the
// result and the offset where it stopped: len(text) when final, otherwise
// possibly the start of a placeholder or escape that the end of text cuts
// short, which the caller must present again with what follows. When
// nothing is restored the result is a substring of text, allocating
// nothing.
func (v *Vault) restore(text string, jsonMode bool, st *vaultLexState, final bool) (string, int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if len(v.values) == 0 {
		// Most requests hold nothing to pseudonymize: pass text through.
		return text, len(text)
	}
	maxLen := v.maxLen

	var b strings.Builder
	changed := false
	last := 0 // text[last:i] is still to be copied to b
	replace := func(from, to int, value string, quoted bool) {
		if !changed {
			changed = true
			// Values are usually longer than their placeholders: room
			// for a quarter more saves most regrowth.
			b.Grow(len(text) + len(text)/4 + 2*len(value) + 2)
		}
		b.WriteString(text[last:from])
		switch {
		case !jsonMode:
			b.WriteString(value)
		case quoted:
			b.WriteByte('"')
			vaultWriteJSONEscaped(&b, value)
			b.WriteByte('"')
		default:
			vaultWriteJSONEscaped(&b, value)
		}
		last = to
	}

	i, stop := 0, len(text)
scan:
	for i < len(text) {
		if jsonMode {
			i = vaultNextJSONSpecial(text, i, st.inString)
		} else if j := strings.IndexByte(text[i:], '<'); j >= 0 {
			i += j
		} else {
			i = len(text)
		}
		if i == len(text) {
			break
		}
		switch c := text[i]; {
		case c == '"':
			st.inString = !st.inString
			i++
			continue
		case c == '\n':
			// A JSON string cannot hold a raw newline: the text is not
			// valid JSON here, so resynchronise at the line.
			st.inString = false
			i++
			continue
		}
		// text[i] is '<', or '\\' inside a JSON string.
		res, end, key := vaultMatchAt(text, i, jsonMode && st.inString, maxLen, final)
		if res == vaultNeedMore {
			stop = i
			break scan
		}
		if res == vaultMatched {
			if value, ok := v.values[key]; ok {
				replace(i, end, value, jsonMode && !st.inString)
				i = end
				continue
			}
		}
		if text[i] == '\\' {
			// An escape that is not a placeholder: skip it whole, so
			// an escaped quote does not end the string. A backslash
			// that ends the text is held until the next chunk says
			// what it escapes.
			if i+1 >= len(text) && !final {
				stop = i
				break scan
			}
			i = min(i+2, len(text))
			continue
		}
		i++
	}
	if !changed {
		return text[:stop], stop
	}
	b.WriteString(text[last:stop])
	return b.String(), stop
}

// vaultNextJSONSpecial returns the offset of the first byte from i on
// that the JSON lexer acts on: a quote or '<', and inside a string also a
// backslash or a newline; len(text) when there is none.
func vaultNextJSONSpecial(text string, i int, inString bool) int {
	for ; i < len(text); i++ {
		switch text[i] {
		case '"', '<':
			return i
		case '\\', '\n':
			if inString {
				return i
			}
		}
	}
	return i
}

// vaultMatchAt looks for a placeholder at text[i], where text[i] is '<',
// or '\\' when escapes are allowed (inside a JSON string, where < and >
// may be written \u003c and \u003e). It returns vaultMatched with the
// end of the match and the placeholder in its plain form, vaultNoMatch,
// or, when not final and text ends before the answer is known,
// vaultNeedMore. Nothing longer than maxLen in plain form can match.
func vaultMatchAt(text string, i int, escapes bool, maxLen int, final bool) (res, end int, key string) {
	j := i
	plain := true
	switch {
	case text[j] == '<':
		j++
	case escapes:
		switch vaultHasEscape(text[j:], 'c') {
		case vaultNoMatch:
			return vaultNoMatch, 0, ""
		case vaultNeedMore:
			if final {
				return vaultNoMatch, 0, ""
			}
			return vaultNeedMore, 0, ""
		}
		j += 6
		plain = false
	default:
		return vaultNoMatch, 0, ""
	}
	mid := j
	for {
		// The bound comes first, so that text cut off after more than
		// any placeholder could hold is not held back.
		if j-mid > maxLen-2 {
			return vaultNoMatch, 0, ""
		}
		if j >= len(text) {
			if final {
				return vaultNoMatch, 0, ""
			}
			return vaultNeedMore, 0, ""
		}
		c := text[j]
		if c == '>' {
			end = j + 1
			break
		}
		if c == '\\' && escapes {
			switch vaultHasEscape(text[j:], 'e') {
			case vaultNoMatch:
				return vaultNoMatch, 0, ""
			case vaultNeedMore:
				if final {
					return vaultNoMatch, 0, ""
				}
				return vaultNeedMore, 0, ""
			}
			end = j + 6
			plain = false
			break
		}
		if j == mid {
			if c < 'A' || c > 'Z' {
				return vaultNoMatch, 0, ""
			}
		} else if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return vaultNoMatch, 0, ""
		}
		j++
	}
	if !vaultNumbered(text[mid:j]) {
		return vaultNoMatch, 0, ""
	}
	if plain {
		return vaultMatched, end, text[i:end]
	}
	return vaultMatched, end, "<" + text[mid:j] + ">"
}

// vaultHasEscape reports whether s starts with \u003c (last 'c') or
// \u003e (last 'e'), either case: vaultMatched, vaultNoMatch, or
// vaultNeedMore when s is a proper prefix of one.
func vaultHasEscape(s string, last byte) int {
	const pre = `\u003`
	for k := range 6 {
		if k >= len(s) {
			return vaultNeedMore
		}
		c := s[k]
		if k < 5 {
			if c != pre[k] {
				return vaultNoMatch
			}
		} else if c|0x20 != last {
			return vaultNoMatch
		}
	}
	return vaultMatched
}

// vaultWriteJSONEscaped writes s to b escaped for the inside of a JSON
// string: quote, backslash and control characters escaped, U+2028 and
// U+2029 escaped for JavaScript, invalid UTF-8 written as \ufffd.
func vaultWriteJSONEscaped(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b.WriteString(s[start:])
}
