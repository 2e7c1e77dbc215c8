package detect

import (
	"regexp"
	"slices"
	"testing"
)

// piiCheckFindings fails the test when a finding has a span outside the
// text, an empty span, a score outside [0, 1] or a type d does not list.
func piiCheckFindings(t *testing.T, d Detector, text string, fs []Finding) {
	t.Helper()
	types := d.Types()
	for _, f := range fs {
		if f.Start < 0 || f.End > len(text) || f.Start >= f.End {
			t.Fatalf("%s: span [%d,%d) in %d bytes", d.Name(), f.Start, f.End, len(text))
		}
		if f.Score < 0 || f.Score > 1 {
			t.Fatalf("%s: score %v", d.Name(), f.Score)
		}
		if !slices.Contains(types, f.Type) || f.Rule == "" {
			t.Fatalf("%s: finding %+v not of its types %v", d.Name(), f, types)
		}
	}
}

func piiFuzzSeeds(f *testing.F) {
	for _, s := range []string{
		"", "@", "::", ":::", "+", "(", "-----BEGIN ", "-----BEGIN RSA PRIVATE KEY-----\nAAAA",
		"a@b.co", "http://", "https://u:p@[::1]:80/x?y#z", "(415) 555-0132", "+1 (415) 555-0132",
		"4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "078-05-1123", "2001:db8::1.", "::ffff:1.2.3.4/96",
		"00:1A:2B:3C:4D:5E", "0012.3456.789a", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "bc1", "0x",
		"born 12 March 1985", "DOB: 1/2/85", "221 Baker St., Springfield, IL 62704-1234",
		"password: x", "key is ", "Authorization: Bearer ", "eyJ.eyJ.", "sk-", "xoxb-", "glpat-",
		secJWTToken, secPEMBlock, "\xff\xfe@\x00:\x80", "a.b.c.d.e.f.g.h", "1.1.1.1.1.1.1.1.1",
	} {
		f.Add(s)
	}
}

// FuzzPIIScanner runs the full scanner and every PII and secret detector
// over arbitrary bytes: none may panic, and every finding must have a
// valid span, score and type.
func FuzzPIIScanner(f *testing.F) {
	piiFuzzSeeds(f)
	all, err := NewScanner(ScannerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	possible, err := NewScanner(ScannerOptions{PhoneLeniency: PhonePossible, ContextWindow: -1})
	if err != nil {
		f.Fatal(err)
	}
	ds := append([]Detector{all, possible}, append(PII(), Secrets()...)...)
	f.Fuzz(func(t *testing.T, text string) {
		for _, d := range ds {
			piiCheckFindings(t, d, text, d.Detect(nil, text))
		}
	})
}

// FuzzPIICustom runs the custom detectors (a term list built from the
// input itself, a regular expression with a validator, an allow-list)
// over arbitrary bytes.
func FuzzPIICustom(f *testing.F) {
	piiFuzzSeeds(f)
	re := regexp.MustCompile(`[A-Z]{2}\d+`)
	f.Fuzz(func(t *testing.T, text string) {
		var terms []string
		for i := 0; i+3 <= len(text) && len(terms) < 8; i += 3 {
			terms = append(terms, text[i:i+3])
		}
		ds := []Detector{
			Terms("t", "T", terms, false),
			Terms("tf", "T", terms, true),
			Regex("r", "R", re, func(s string) bool { return len(s)%2 == 0 }, 0.5),
			WithAllowList(Email(), text),
		}
		for _, d := range ds {
			piiCheckFindings(t, d, text, d.Detect(nil, text))
		}
	})
}
