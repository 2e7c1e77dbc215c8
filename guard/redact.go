package guard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// RedactMode says how a redacted value is replaced.
type RedactMode uint8

// The redaction modes. The zero value pseudonymizes, the only mode whose
// values come back in the answer.
const (
	// RedactPseudonymize replaces a value with a placeholder <LABEL_N>
	// that the Vault restores in the answer. N counts the values of each
	// label in order of first appearance, and the same value always gets
	// the same placeholder within a Vault.
	RedactPseudonymize RedactMode = iota
	// RedactMask replaces a value with <LABEL>, or, when the rule keeps
	// trailing characters, with "****" followed by them. It cannot be
	// undone.
	RedactMask
	// RedactHash replaces a value with <LABEL:hex>, where hex is the
	// start of the HMAC-SHA256, under RedactConfig.HashKey, of the label,
	// a NUL byte and the value: stable across requests and processes that
	// share the key, so logs can be joined on it, and not reversible
	// without the key.
	RedactHash
)

// String returns "pseudonymize", "mask" or "hash".
func (m RedactMode) String() string {
	switch m {
	case RedactPseudonymize:
		return "pseudonymize"
	case RedactMask:
		return "mask"
	case RedactHash:
		return "hash"
	default:
		return fmt.Sprintf("RedactMode(%d)", uint8(m))
	}
}

// MarshalText implements encoding.TextMarshaler, so policies written as
// JSON or YAML name modes by their String.
func (m RedactMode) MarshalText() ([]byte, error) {
	if m > RedactHash {
		return nil, fmt.Errorf("guard: unknown redaction mode %d", uint8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: it accepts
// "pseudonymize", "mask" and "hash", in any case.
func (m *RedactMode) UnmarshalText(text []byte) error {
	switch strings.ToLower(string(text)) {
	case "pseudonymize", "pseudonymise":
		*m = RedactPseudonymize
	case "mask":
		*m = RedactMask
	case "hash":
		*m = RedactHash
	default:
		return fmt.Errorf("guard: unknown redaction mode %q (want pseudonymize, mask or hash)", text)
	}
	return nil
}

// RedactRule says how the values of one finding type are redacted.
type RedactRule struct {
	// Mode is how a value is replaced.
	Mode RedactMode
	// Label names the type in placeholders: "EMAIL" gives <EMAIL_1>. It
	// is upper-case ASCII letters, digits and underscores, starts with a
	// letter, and has no digit right after an underscore (so that <LABEL>
	// never reads as a numbered placeholder). Empty means the finding
	// type made into such a label: "e-mail" gives E_MAIL.
	Label string
	// Keep is how many trailing characters (runes) RedactMask shows after
	// "****", for values such as card numbers that people recognise by
	// their end. It never shows more than half of a value. Zero masks the
	// whole value as <LABEL>.
	Keep int
}

// DefaultHashDigits is how many hex digits of the HMAC a hashed value
// shows when RedactConfig.HashDigits is zero: 32 bits, enough to tell
// apart the values that meet in a day of logs, short enough to read.
const DefaultHashDigits = 8

// redMaxLabel bounds a label's length, which bounds the longest
// placeholder and so the text a stream restorer may hold back.
const redMaxLabel = 48

// RedactConfig configures a Redactor. The zero value pseudonymizes every
// type with labels taken from the finding types.
type RedactConfig struct {
	// Default is the rule for finding types not in Types.
	Default RedactRule
	// Types holds the rule of each finding type, keyed by detect.Finding
	// Type ("EMAIL_ADDRESS").
	Types map[string]RedactRule
	// HashKey keys the HMAC of RedactHash. It is required when a rule
	// hashes: an unkeyed hash of a phone number or a card number is
	// reversed by trying every candidate. Keep it with the other secrets
	// of the service, not in the policy file.
	HashKey []byte
	// HashDigits is how many hex digits of the HMAC are shown, from 4 to
	// 64; zero means DefaultHashDigits.
	HashDigits int
}

// Redactor applies a RedactConfig. It is immutable and safe for
// concurrent use: build one per policy and create a Vault from it for
// each request.
type Redactor struct {
	def        RedactRule
	types      map[string]RedactRule
	hashKey    []byte
	hashDigits int
}

// NewRedactor checks cfg and returns a Redactor for it. It copies what it
// keeps, so cfg may be changed afterwards without effect.
func NewRedactor(cfg RedactConfig) (*Redactor, error) {
	var errs []error
	hashes := false
	check := func(name string, r RedactRule) {
		if r.Mode > RedactHash {
			errs = append(errs, fmt.Errorf("guard: %s: unknown redaction mode %d", name, uint8(r.Mode)))
		}
		if r.Mode == RedactHash {
			hashes = true
		}
		if r.Keep < 0 {
			errs = append(errs, fmt.Errorf("guard: %s: Keep is %d, want 0 or more", name, r.Keep))
		}
		if r.Label != "" && redSanitizeLabel(r.Label) != r.Label {
			errs = append(errs, fmt.Errorf("guard: %s: label %q must be upper-case letters, digits and underscores, "+
				"start with a letter, be at most %d bytes, and have no part after an underscore that starts with a digit",
				name, r.Label, redMaxLabel))
		}
	}
	check("default rule", cfg.Default)
	types := make(map[string]RedactRule, len(cfg.Types))
	for typ, r := range cfg.Types {
		check(fmt.Sprintf("rule for %q", typ), r)
		types[typ] = r
	}
	if hashes && len(cfg.HashKey) == 0 {
		errs = append(errs, errors.New("guard: a rule hashes values but HashKey is empty"))
	}
	digits := cfg.HashDigits
	if digits == 0 {
		digits = DefaultHashDigits
	}
	if digits < 4 || digits > 64 {
		errs = append(errs, fmt.Errorf("guard: HashDigits is %d, want 4 to 64", cfg.HashDigits))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Redactor{
		def:        cfg.Default,
		types:      types,
		hashKey:    append([]byte(nil), cfg.HashKey...),
		hashDigits: digits,
	}, nil
}

// rule returns the rule of a finding type, with its label resolved.
func (r *Redactor) rule(typ string) RedactRule {
	rule, ok := r.types[typ]
	if !ok {
		rule = r.def
	}
	if rule.Label == "" {
		rule.Label = redSanitizeLabel(typ)
	}
	return rule
}

// mask returns the masked form of value under rule.
func (r *Redactor) mask(rule RedactRule, value string) string {
	keep := min(rule.Keep, utf8.RuneCountInString(value)/2)
	if keep <= 0 {
		return "<" + rule.Label + ">"
	}
	start := len(value)
	for range keep {
		_, w := utf8.DecodeLastRuneInString(value[:start])
		start -= w
	}
	// Angle brackets in the shown part could make the result look like a
	// placeholder, which a restore would then act on.
	tail := strings.NewReplacer("<", "*", ">", "*").Replace(value[start:])
	return "****" + tail
}

// hash returns the hashed form of value under rule.
func (r *Redactor) hash(rule RedactRule, value string) string {
	m := hmac.New(sha256.New, r.hashKey)
	m.Write([]byte(rule.Label))
	m.Write([]byte{0})
	m.Write([]byte(value))
	sum := hex.EncodeToString(m.Sum(nil))
	return "<" + rule.Label + ":" + sum[:r.hashDigits] + ">"
}

// redSanitizeLabel turns a finding type into a placeholder label: ASCII
// letters upper-cased, digits and underscores kept, anything else an
// underscore, a leading non-letter prefixed with X, and an underscore
// dropped where the part after it starts with a digit, so that <LABEL> of
// a mask can never read as a numbered placeholder. It returns s itself
// when s is already a label, without allocating.
func redSanitizeLabel(s string) string {
	if redIsLabel(s) {
		return s
	}
	out := make([]byte, 0, min(len(s)+1, redMaxLabel))
	for i := 0; i < len(s) && len(out) < redMaxLabel; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		default:
			c = '_'
		}
		if len(out) == 0 && (c < 'A' || c > 'Z') {
			out = append(out, 'X')
		}
		if c >= '0' && c <= '9' && out[len(out)-1] == '_' {
			// Drop the underscore: "IPV4_2" would read as label IPV4,
			// number 2.
			out = out[:len(out)-1]
		}
		out = append(out, c)
	}
	if len(out) > redMaxLabel {
		out = out[:redMaxLabel]
	}
	if len(out) == 0 {
		return "REDACTED"
	}
	return string(out)
}

// redIsLabel reports whether s is a valid label: 1 to redMaxLabel bytes
// of A-Z, 0-9 and _, starting with a letter, with no digit right after an
// underscore.
func redIsLabel(s string) bool {
	if s == "" || len(s) > redMaxLabel || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9':
			if s[i-1] == '_' {
				return false
			}
		default:
			return false
		}
	}
	return true
}
