package guard

import (
	"strconv"
	"strings"
	"sync"

	"github.com/keel-go/keel/guard/detect"
)

// Vault holds the placeholders of one request and the values behind them.
// It redacts what the request sends (Redact, RedactMessages) and restores
// what the model answers (Restore, RestoreJSON, RestoreResponse, the
// stream restorers).
//
// Placeholders read <LABEL_N>: N counts the values of each label from 1 in
// order of first appearance, and the same value of the same label always
// gets the same placeholder, in every message of the request. Numbering is
// deterministic, so the same request redacts to the same text and a cache
// below the guard still hits.
//
// Text in the input that already has the shape of a placeholder
// (<WORD_7>, whoever wrote it) is treated as a value too: it is replaced
// by a placeholder of the vault whose value is that text. The model
// therefore only ever sees placeholders the vault issued, and an echo of
// such text is restored to the text itself, never to another value that
// happens to have the same number.
//
// A Vault is safe for concurrent use. It holds the original values, so it
// must live no longer than the request; its String method does not print
// them.
type Vault struct {
	r *Redactor

	mu sync.RWMutex
	// byKey maps a value (with its label and mode) to its replacement.
	byKey map[vaultKey]string
	// values maps a placeholder to its value.
	values map[string]string
	// next is the last number used per label.
	next map[string]int
	// maxLen is the length of the longest placeholder.
	maxLen int
}

type vaultKey struct {
	label, value string
	mode         RedactMode
}

// NewVault returns an empty Vault that pseudonymizes every finding, with
// the finding type as the label. Use Redactor.NewVault for other rules.
func NewVault() *Vault {
	return &Vault{r: &Redactor{hashDigits: DefaultHashDigits}}
}

// NewVault returns an empty Vault that redacts with r's rules. Create one
// per request.
func (r *Redactor) NewVault() *Vault {
	return &Vault{r: r}
}

// Len returns how many placeholders the vault has issued.
func (v *Vault) Len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.values)
}

// Lookup returns the value behind a placeholder such as "<EMAIL_1>".
func (v *Vault) Lookup(placeholder string) (value string, ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	value, ok = v.values[placeholder]
	return value, ok
}

// String describes the vault without its values, so that logging it by
// mistake leaks nothing.
func (v *Vault) String() string {
	return "guard.Vault{" + strconv.Itoa(v.Len()) + " placeholders}"
}

// GoString is String, for %#v.
func (v *Vault) GoString() string { return v.String() }

// Redact returns text with the findings replaced as the vault's rules say
// and with any text that already has the shape of a placeholder replaced
// by a placeholder of its own (see Vault). Findings may overlap and come
// in any order: they are resolved with detect.Resolve, and findings whose
// span is not inside text are ignored. A finding that overlaps text shaped
// like a placeholder wins over it.
func (v *Vault) Redact(text string, findings []detect.Finding) string {
	return v.redact(text, findings, false)
}

// redSpan is one replacement: a resolved finding, or text shaped like a
// placeholder (literal).
type redSpan struct {
	start, end int
	typ        string
	literal    bool
}

// redact implements Redact. With quote set, each replacement is written
// as a JSON string ("<EMAIL_1>"), for text outside the strings of a JSON
// document.
func (v *Vault) redact(text string, findings []detect.Finding, quote bool) string {
	resolved := findings
	if !vaultDisjoint(text, findings) {
		valid := findings[:0:0]
		for _, f := range findings {
			if f.Start >= 0 && f.Start < f.End && f.End <= len(text) {
				valid = append(valid, f)
			}
		}
		resolved = nil
		if len(valid) > 0 {
			resolved = detect.Resolve(valid)
		}
	}
	spans := vaultMergeLiterals(text, resolved)
	if len(spans) == 0 {
		return text
	}

	var b strings.Builder
	b.Grow(len(text) + 8*len(spans))
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byKey == nil {
		// Sized for this text, so the first call does not grow them.
		v.byKey = make(map[vaultKey]string, len(spans))
		v.values = make(map[string]string, len(spans))
		v.next = make(map[string]int)
	}
	last := 0
	for _, s := range spans {
		b.WriteString(text[last:s.start])
		rep := v.replacementLocked(text[s.start:s.end], s)
		if quote {
			b.WriteByte('"')
			b.WriteString(rep) // replacements need no JSON escaping
			b.WriteByte('"')
		} else {
			b.WriteString(rep)
		}
		last = s.end
	}
	b.WriteString(text[last:])
	return b.String()
}

// vaultDisjoint reports whether findings are already what Resolve would
// return for text: inside it, sorted, and not overlapping, as when the
// caller resolved them.
func vaultDisjoint(text string, findings []detect.Finding) bool {
	end := 0
	for _, f := range findings {
		if f.Start < end || f.Start >= f.End || f.End > len(text) {
			return false
		}
		end = f.End
	}
	return true
}

// replacementLocked returns what replaces value; v.mu must be held.
func (v *Vault) replacementLocked(value string, s redSpan) string {
	var rule RedactRule
	if s.literal {
		rule = RedactRule{Mode: RedactPseudonymize, Label: vaultLiteralLabel(value)}
	} else {
		rule = v.r.rule(s.typ)
	}
	if rule.Mode == RedactMask {
		return v.r.mask(rule, value)
	}
	key := vaultKey{label: rule.Label, value: value, mode: rule.Mode}
	if rep, ok := v.byKey[key]; ok {
		return rep
	}
	// The vault outlives the text it was given; do not pin a large input
	// in memory for one small value.
	key.value = strings.Clone(value)
	var rep string
	if rule.Mode == RedactHash {
		rep = v.r.hash(rule, value)
	} else {
		v.next[rule.Label]++
		rep = "<" + rule.Label + "_" + strconv.Itoa(v.next[rule.Label]) + ">"
		v.values[rep] = key.value
		v.maxLen = max(v.maxLen, len(rep))
	}
	v.byKey[key] = rep
	return rep
}

// vaultLiteralLabel returns the label under which text shaped like a
// placeholder is itself pseudonymized: its own label when that is a valid
// one, so <EMAIL_7> becomes another <EMAIL_N> and the model still reads it
// as an e-mail placeholder.
func vaultLiteralLabel(literal string) string {
	label := literal[1:strings.LastIndexByte(literal, '_')]
	if redIsLabel(label) {
		return label
	}
	return "PLACEHOLDER"
}

// vaultMergeLiterals returns the resolved findings together with the
// placeholder-shaped text that no finding overlaps, sorted by start.
func vaultMergeLiterals(text string, resolved []detect.Finding) []redSpan {
	var spans []redSpan
	if len(resolved) > 0 {
		spans = make([]redSpan, 0, len(resolved))
	}
	fi := 0
	emitUpTo := func(pos int) {
		for fi < len(resolved) && resolved[fi].Start < pos {
			f := resolved[fi]
			spans = append(spans, redSpan{start: f.Start, end: f.End, typ: f.Type})
			fi++
		}
	}
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '<')
		if j < 0 {
			break
		}
		start := i + j
		end, ok := vaultLiteralAt(text, start)
		if !ok {
			i = start + 1
			continue
		}
		i = end
		emitUpTo(start)
		// Skip the literal when a finding overlaps it: the finding
		// replaces what it covers, and what is left of the literal has
		// lost an angle bracket or more, so no longer looks like one.
		if n := len(spans); n > 0 && !spans[n-1].literal && spans[n-1].end > start {
			continue
		}
		if fi < len(resolved) && resolved[fi].Start < end {
			continue
		}
		spans = append(spans, redSpan{start: start, end: end, literal: true})
	}
	emitUpTo(len(text) + 1)
	return spans
}

// vaultLiteralAt reports whether text[start:] begins with something of
// the shape of a placeholder, <[A-Z][A-Z0-9_]*_[0-9]+>, of any length,
// and returns its end.
func vaultLiteralAt(text string, start int) (end int, ok bool) {
	j := start + 1
	if j >= len(text) || text[j] < 'A' || text[j] > 'Z' {
		return 0, false
	}
	for j++; j < len(text); j++ {
		c := text[j]
		if c == '>' {
			return j + 1, vaultNumbered(text[start+1 : j])
		}
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return 0, false
		}
	}
	return 0, false
}

// vaultNumbered reports whether the inside of a placeholder-shaped token
// ends in _ and digits, with something before the underscore.
func vaultNumbered(mid string) bool {
	k := len(mid)
	for k > 0 && mid[k-1] >= '0' && mid[k-1] <= '9' {
		k--
	}
	return k < len(mid) && k >= 2 && mid[k-1] == '_'
}

// Restore returns text with every placeholder of the vault replaced by its
// value, as it is: for text shown to a person. Placeholders the vault did
// not issue, and values that themselves contain placeholder-shaped text,
// are left as they are (each value is inserted once, never restored
// again). Use RestoreJSON for text that will be parsed as JSON.
func (v *Vault) Restore(text string) string {
	var st vaultLexState
	out, _ := v.restore(text, false, &st, true)
	return out
}

// RestoreJSON returns a JSON document, a model's structured answer or a
// tool call's arguments, with every placeholder of the vault replaced by
// its value, JSON-escaped, so that the value stays inside the one string
// that held its placeholder whatever quotes, backslashes or control
// characters it contains. Placeholders in keys are restored too, and so
// are placeholders written with the escapes \u003c and \u003e that some
// JSON encoders use for < and >.
//
// Valid JSON comes back valid, with the same structure. Text that is not
// valid JSON (prose around a fenced answer, a stream cut off mid-value,
// arguments a model got wrong) is restored by the same lexical rules,
// which never fail: inside anything that lexes as a JSON string (from a
// double quote to the next unescaped one, or to the end of the line,
// since a JSON string cannot hold a raw newline) a value is escaped as
// above, and a placeholder outside any string becomes a complete JSON
// string ("bob@example.com" with its quotes), so no restored value can
// ever add structure to the document.
//
// A value with bytes that are not valid UTF-8 cannot be written in JSON;
// they come back as U+FFFD, as encoding/json would write them.
func (v *Vault) RestoreJSON(doc string) string {
	var st vaultLexState
	out, _ := v.restore(doc, true, &st, true)
	return out
}
