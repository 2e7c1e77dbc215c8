package detect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/keel-go/keel/internal/shareddata"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// piiPresidioDifferences lists every Presidio case this package answers
// differently on purpose, with the reason, keyed by type and text (phone
// cases with a leniency carry it in the text, "... [leniency 2]").
// TestPresidioCases fails on a failing case missing from this table and
// on a listed case that passes, so the table stays exact.
//
// | type | case | Presidio | here | reason |
// |------|------|----------|------|--------|
// | none | | | | all 553 cases of the nine types pass |
//
// Two behaviours were chosen to agree with Presidio rather than found to
// differ, and are documented on the detectors:
//
//   - A URL enclosed in a matching pair of quotes is reported with the
//     quotes ("'https://x.io/'"), rule "url-quoted".
//   - Presidio's phone cases set libphonenumber's leniency; they run here
//     with the matching PhoneLeniency (piiPresidioLeniency). At Presidio's
//     default leniency and at PhoneValid the results are the same.
func piiPresidioDifferences() []struct{ typ, text, reason string } {
	return nil
}

// piiPresidioFiles maps the Presidio test files whose cases run here to the
// finding type they test.
func piiPresidioFiles() map[string]string {
	return map[string]string{
		"test_credit_card_recognizer.py": TypeCreditCard,
		"test_email_recognizer.py":       TypeEmail,
		"test_iban_recognizer.py":        TypeIBAN,
		"test_ip_recognizer.py":          TypeIPAddress,
		"test_phone_recognizer.py":       TypePhone,
		"test_us_ssn_recognizer.py":      TypeUSSSN,
		"test_url_recognizer.py":         TypeURL,
		"test_crypto_recognizer.py":      TypeCrypto,
		"test_mac_recognizer.py":         TypeMACAddress,
	}
}

type piiPresidioRow struct {
	SourceFile string `json:"source_file"`
	Case       struct {
		Text              *string  `json:"text"`
		IBAN              *string  `json:"iban"`
		ExpectedLen       int      `json:"expected_len"`
		ExpectedPositions [][2]int `json:"expected_positions"`
		ExpectedRes       [][2]int `json:"expected_res"`
		Leniency          *int     `json:"leniency"`
	} `json:"case"`
}

// piiPresidioData finds the Presidio recognizer cases (see
// internal/shareddata).
func piiPresidioData(t *testing.T) string {
	t.Helper()
	return shareddata.File(t, "presidio-recognizer-cases/recognizer_cases.jsonl", "see shared/data/presidio-recognizer-cases/README.md")
}

// piiPresidioLeniency maps libphonenumber's leniency levels (Presidio's
// default is 1, VALID) to PhoneLeniency.
func piiPresidioLeniency(l *int) PhoneLeniency {
	if l == nil {
		return PhoneValid
	}
	switch *l {
	case 0:
		return PhonePossible
	case 2:
		return PhoneStrictGrouping
	case 3:
		return PhoneExactGrouping
	}
	return PhoneValid
}

// TestPresidioCases runs every case of Presidio's recognizer tests for
// the types this package covers and checks the count of findings and,
// where the case gives them, their exact spans. At least 95% of each
// type's cases must pass; each failure must be a listed difference.
func TestPresidioCases(t *testing.T) {
	f, err := os.Open(piiPresidioData(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := piiPresidioFiles()
	known := map[[2]string]string{}
	for _, d := range piiPresidioDifferences() {
		known[[2]string{d.typ, d.text}] = d.reason
	}
	seen := map[[2]string]bool{}
	type tally struct{ pass, total int }
	rates := map[string]*tally{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row piiPresidioRow
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		typ, ok := files[filepath.Base(row.SourceFile)]
		if !ok {
			continue
		}
		c := row.Case
		text := ""
		switch {
		case c.Text != nil:
			text = *c.Text
		case c.IBAN != nil:
			text = *c.IBAN
		default:
			t.Fatalf("case without text: %s", sc.Bytes())
		}
		want := c.ExpectedPositions
		if want == nil {
			want = c.ExpectedRes
		}
		s, err := NewScanner(ScannerOptions{Types: []string{typ}, PhoneLeniency: piiPresidioLeniency(c.Leniency)})
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]int
		for _, f := range Scan(text, s) {
			if f.Type == typ {
				got = append(got, [2]int{f.Start, f.End})
			}
		}
		pass := len(got) == c.ExpectedLen
		if pass && len(want) > 0 {
			w := slices.Clone(want)
			slices.SortFunc(w, func(a, b [2]int) int { return a[0] - b[0] })
			pass = slices.Equal(got, w)
		}
		r := rates[typ]
		if r == nil {
			r = &tally{}
			rates[typ] = r
		}
		r.total++
		key := [2]string{typ, text}
		if c.Leniency != nil {
			key[1] = fmt.Sprintf("%s [leniency %d]", text, *c.Leniency)
		}
		seen[key] = true
		if pass {
			r.pass++
			if reason, ok := known[key]; ok {
				t.Errorf("%s %q passes but is listed as a difference (%s)", typ, key[1], reason)
			}
			continue
		}
		if _, ok := known[key]; !ok {
			t.Errorf("%s %q: got %v, want %d findings %v", typ, key[1], got, c.ExpectedLen, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for key := range known {
		if !seen[key] {
			t.Errorf("listed difference %s %q is not a case", key[0], key[1])
		}
	}
	types := make([]string, 0, len(rates))
	for typ := range rates {
		types = append(types, typ)
	}
	slices.Sort(types)
	if len(types) != len(files) {
		t.Errorf("ran cases of %d types, want %d", len(types), len(files))
	}
	for _, typ := range types {
		r := rates[typ]
		rate := 100 * float64(r.pass) / float64(r.total)
		t.Logf("%s: %d/%d (%.1f%%)", typ, r.pass, r.total, rate)
		if rate < 95 {
			t.Errorf("%s: pass rate %.1f%% below 95%%", typ, rate)
		}
	}
}
