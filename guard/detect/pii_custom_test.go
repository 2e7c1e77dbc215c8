package detect

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestPIIRegex(t *testing.T) {
	// employee ids: E- and six digits whose digit sum is even
	re := regexp.MustCompile(`\bE-\d{6}\b`)
	even := func(s string) bool {
		sum := 0
		for _, c := range s[2:] {
			sum += int(c - '0')
		}
		return sum%2 == 0
	}
	tests := []struct {
		name     string
		re       *regexp.Regexp
		validate func(string) bool
		text     string
		want     []piiFound
	}{
		{"validated", re, even, "E-123456 and E-123457 and xE-111111", []piiFound{{"EMPLOYEE_ID", "E-123457"}}},
		{"no validator", re, nil, "E-123456 and E-123457", []piiFound{{"EMPLOYEE_ID", "E-123456"}, {"EMPLOYEE_ID", "E-123457"}}},
		{"empty matches skipped", regexp.MustCompile(`x*`), nil, "abxxc", []piiFound{{"EMPLOYEE_ID", "xx"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Regex("employee-id", "EMPLOYEE_ID", tt.re, tt.validate, 0.8)
			if d.Name() != "employee-id" || !slices.Equal(d.Types(), []string{"EMPLOYEE_ID"}) {
				t.Errorf("name %q types %v", d.Name(), d.Types())
			}
			got := piiScanFound(d, tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for _, f := range d.Detect(nil, tt.text) {
				if f.Score != 0.8 || f.Rule != "employee-id" {
					t.Errorf("finding %+v", f)
				}
			}
		})
	}
}

func TestPIITerms(t *testing.T) {
	tests := []struct {
		name  string
		terms []string
		fold  bool
		text  string
		want  []string
	}{
		{"whole words only", []string{"Falcon"}, false, "Project Falcon, not Falconry or falcon.", []string{"Falcon"}},
		{"case folding", []string{"project falcon"}, true, "PROJECT FALCON and Project Falcon", []string{"PROJECT FALCON", "Project Falcon"}},
		{"overlapping terms", []string{"new york", "york", "new york city"}, true, "New York City", []string{"New York City", "New York", "York"}},
		{"suffix terms", []string{"he", "she", "hers"}, false, "she said hers", []string{"she", "hers"}},
		{"empty terms ignored", []string{"", "db01"}, false, "host db01 down", []string{"db01"}},
		{"no terms", nil, false, "anything", nil},
		{"non-ascii term", []string{"Zürich"}, true, "office in zürich and ZÜRICH", []string{"zürich"}},
		{"term at text edges", []string{"ab"}, false, "ab", []string{"ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Terms("deny", "DENIED", tt.terms, tt.fold)
			var got []string
			for _, f := range Scan(tt.text, d) {
				if f.Type != "DENIED" || f.Score != 1 || f.Rule != "deny" {
					t.Errorf("finding %+v", f)
				}
				got = append(got, tt.text[f.Start:f.End])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPIIWithAllowList(t *testing.T) {
	d := WithAllowList(Email(), "support@example.com")
	if d.Name() != "email" || !slices.Equal(d.Types(), []string{TypeEmail}) {
		t.Errorf("name %q types %v", d.Name(), d.Types())
	}
	got := piiScanFound(d, "write to support@example.com or ann@example.org")
	want := []piiFound{{TypeEmail, "ann@example.org"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// a detector returning a bad span is passed through, not a panic
	bad := WithAllowList(piiBadSpans{}, "x")
	if fs := bad.Detect(nil, "abc"); len(fs) != 1 {
		t.Errorf("bad spans: %v", fs)
	}
}

type piiBadSpans struct{}

func (piiBadSpans) Name() string    { return "bad" }
func (piiBadSpans) Types() []string { return []string{"BAD"} }
func (piiBadSpans) Detect(dst []Finding, text string) []Finding {
	return append(dst, Finding{Type: "BAD", Start: 2, End: 10})
}

// BenchmarkTerms matches a 1,000-term deny-list against the benchmark
// text.
func BenchmarkTerms(b *testing.B) {
	text, _ := piiReadMixed(b)
	terms := make([]string, 0, 1000)
	for i := 0; i < 1000; i++ {
		terms = append(terms, "project-"+strings.Repeat(string(rune('a'+i%26)), 1+i/26))
	}
	terms = append(terms, "Kenji", "Tier")
	d := Terms("deny", "DENIED", terms, true)
	var dst []Finding
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Detect(dst[:0], text)
	}
}
