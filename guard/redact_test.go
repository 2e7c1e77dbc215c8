package guard_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard"
	"github.com/keel-go/keel/guard/detect"
)

func TestRedactorModes(t *testing.T) {
	key := []byte("test key, not a secret")
	r, err := guard.NewRedactor(guard.RedactConfig{
		Default: guard.RedactRule{Mode: guard.RedactPseudonymize},
		Types: map[string]guard.RedactRule{
			"EMAIL":       {Mode: guard.RedactHash},
			"PHONE":       {Mode: guard.RedactMask},
			"CREDIT_CARD": {Mode: guard.RedactMask, Keep: 4, Label: "CARD"},
			"NAME":        {Label: "PERSON"},
		},
		HashKey: key,
	})
	if err != nil {
		t.Fatal(err)
	}
	text := "ann@example.com +44 20 7946 0958 4111111111111111 Ann"
	findings := append(detect.Scan(text, redEmail, redPhone, redCard), detect.Finding{Type: "NAME", Start: 50, End: 53})
	v := r.NewVault()
	got := v.Redact(text, findings)
	want := regexp.MustCompile(`^<EMAIL:[0-9a-f]{8}> <PHONE> \*\*\*\*1111 <PERSON_1>$`)
	if !want.MatchString(got) {
		t.Fatalf("Redact = %q, want it to match %s", got, want)
	}
	// Only pseudonyms are restored; masked and hashed values are gone.
	if back := v.Restore(got); back != strings.Replace(got, "<PERSON_1>", "Ann", 1) {
		t.Errorf("Restore = %q", back)
	}
	if v.Len() != 1 {
		t.Errorf("Len = %d, want 1: only pseudonyms are kept", v.Len())
	}

	// A hash is the same in another request (vault) with the same key,
	// and different under another key or for another value.
	hashOf := func(r *guard.Redactor, email string) string {
		return r.NewVault().Redact(email, detect.Scan(email, redEmail))
	}
	h1 := hashOf(r, "ann@example.com")
	// The hash is the documented one: HMAC-SHA256 of label, NUL, value.
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("EMAIL\x00ann@example.com"))
	if want := "<EMAIL:" + hex.EncodeToString(mac.Sum(nil))[:8] + ">"; h1 != want {
		t.Errorf("hash = %q, want %q", h1, want)
	}
	if h2 := hashOf(r, "ann@example.com"); h1 != h2 || !strings.HasPrefix(got, h1) {
		t.Errorf("hash not stable: %q, %q, in %q", h1, h2, got)
	}
	if h := hashOf(r, "bob@example.com"); h == h1 {
		t.Errorf("two values hash to %q", h)
	}
	r2, err := guard.NewRedactor(guard.RedactConfig{Default: guard.RedactRule{Mode: guard.RedactHash}, HashKey: []byte("other"), HashDigits: 16})
	if err != nil {
		t.Fatal(err)
	}
	if h := hashOf(r2, "ann@example.com"); h == h1 || len(h) != len("<EMAIL:>")+16 {
		t.Errorf("under another key and 16 digits: %q (first key: %q)", h, h1)
	}
}

func TestRedactMask(t *testing.T) {
	tests := []struct {
		name  string
		keep  int
		value string
		want  string
	}{
		{"whole", 0, "4111111111111111", "<CARD>"},
		{"last four", 4, "4111111111111111", "****1111"},
		{"never more than half", 4, "123456", "****456"},
		{"short value", 4, "1", "<CARD>"},
		{"runes, not bytes", 2, "Zoë Łukasz", "****sz"},
		{"multi-byte tail", 3, "añoñoño", "****oño"},
		{"no angle brackets shown", 5, "abcdef<A_1>", "*****A_1*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := guard.NewRedactor(guard.RedactConfig{Default: guard.RedactRule{Mode: guard.RedactMask, Keep: tt.keep, Label: "CARD"}})
			if err != nil {
				t.Fatal(err)
			}
			got := r.NewVault().Redact(tt.value, []detect.Finding{{Type: "X", Start: 0, End: len(tt.value)}})
			if got != tt.want {
				t.Errorf("mask(%q, keep %d) = %q, want %q", tt.value, tt.keep, got, tt.want)
			}
		})
	}
}

func TestNewRedactorErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  guard.RedactConfig
		want string // in the error; "" means no error
	}{
		{"zero value", guard.RedactConfig{}, ""},
		{"hash without key", guard.RedactConfig{Types: map[string]guard.RedactRule{"SSN": {Mode: guard.RedactHash}}}, "HashKey is empty"},
		{"unknown mode", guard.RedactConfig{Default: guard.RedactRule{Mode: 9}}, "unknown redaction mode 9"},
		{"negative keep", guard.RedactConfig{Default: guard.RedactRule{Mode: guard.RedactMask, Keep: -1}}, "Keep is -1"},
		{"lower-case label", guard.RedactConfig{Types: map[string]guard.RedactRule{"E": {Label: "email"}}}, `label "email"`},
		{"label that reads as numbered", guard.RedactConfig{Default: guard.RedactRule{Label: "IPV4_2"}}, `label "IPV4_2"`},
		{"label too long", guard.RedactConfig{Default: guard.RedactRule{Label: strings.Repeat("A", 49)}}, "at most 48"},
		{"digits out of range", guard.RedactConfig{HashDigits: 65}, "HashDigits is 65"},
		{"several problems at once", guard.RedactConfig{HashDigits: 2, Default: guard.RedactRule{Keep: -2}}, "Keep is -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := guard.NewRedactor(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want == "" && r == nil:
				t.Fatal("nil Redactor without an error")
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}

	t.Run("config copied", func(t *testing.T) {
		cfg := guard.RedactConfig{Types: map[string]guard.RedactRule{"X": {Mode: guard.RedactMask}}}
		r, err := guard.NewRedactor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Types["X"] = guard.RedactRule{Mode: guard.RedactPseudonymize}
		if got := r.NewVault().Redact("abc", []detect.Finding{{Type: "X", Start: 0, End: 3}}); got != "<X>" {
			t.Errorf("Redact = %q: a change to the config reached the Redactor", got)
		}
	})
}

func TestRedactModeText(t *testing.T) {
	for _, m := range []guard.RedactMode{guard.RedactPseudonymize, guard.RedactMask, guard.RedactHash} {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back guard.RedactMode
		if err := json.Unmarshal(b, &back); err != nil || back != m {
			t.Errorf("%v: round trip gave %v, %v", m, back, err)
		}
	}
	var m guard.RedactMode
	if err := m.UnmarshalText([]byte("MASK")); err != nil || m != guard.RedactMask {
		t.Errorf("UnmarshalText(MASK) = %v, %v", m, err)
	}
	if err := m.UnmarshalText([]byte("encrypt")); err == nil {
		t.Error("UnmarshalText accepted an unknown mode")
	}
	if _, err := guard.RedactMode(7).MarshalText(); err == nil {
		t.Error("MarshalText accepted an unknown mode")
	}
	if s := guard.RedactMode(7).String(); s != "RedactMode(7)" {
		t.Errorf("String = %q", s)
	}
}
