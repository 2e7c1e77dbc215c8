package guard_test

import (
	"regexp"
	"strings"

	"github.com/keel-go/keel/guard/detect"
)

// The detectors of these tests are small fakes, so the tests of redaction
// depend on no real detector.

// redRegexpDetector reports every match of re as a finding of typ.
type redRegexpDetector struct {
	typ string
	re  *regexp.Regexp
}

func (d redRegexpDetector) Name() string    { return strings.ToLower(d.typ) }
func (d redRegexpDetector) Types() []string { return []string{d.typ} }
func (d redRegexpDetector) Detect(dst []detect.Finding, text string) []detect.Finding {
	for _, m := range d.re.FindAllStringIndex(text, -1) {
		dst = append(dst, detect.Finding{Type: d.typ, Start: m[0], End: m[1], Score: 0.9, Rule: d.Name()})
	}
	return dst
}

// redTermDetector reports every occurrence of each term, with the type
// given for it: arbitrary values (quotes, backslashes, any Unicode) that
// no pattern would find.
type redTermDetector struct {
	terms map[string]string // term -> type
}

func (d redTermDetector) Name() string { return "terms" }
func (d redTermDetector) Types() []string {
	var out []string
	for _, t := range d.terms {
		out = append(out, t)
	}
	return out
}
func (d redTermDetector) Detect(dst []detect.Finding, text string) []detect.Finding {
	for term, typ := range d.terms {
		if term == "" {
			continue
		}
		for off := 0; ; {
			k := strings.Index(text[off:], term)
			if k < 0 {
				break
			}
			start := off + k
			dst = append(dst, detect.Finding{Type: typ, Start: start, End: start + len(term), Score: 1, Rule: "term"})
			off = start + 1
		}
	}
	return dst
}

// redEmail and redPhone are rough patterns, good enough for tests.
var (
	redEmail = redRegexpDetector{typ: "EMAIL", re: regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)}
	redPhone = redRegexpDetector{typ: "PHONE", re: regexp.MustCompile(`\+[0-9]{1,3}(?: [0-9]{2,4}){2,4}\b`)}
	redCard  = redRegexpDetector{typ: "CREDIT_CARD", re: regexp.MustCompile(`\b4[0-9]{15}\b`)}
)

// redScan returns a scan function over detectors.
func redScan(ds ...detect.Detector) func(string) []detect.Finding {
	return func(text string) []detect.Finding { return detect.Scan(text, ds...) }
}

// redPlaceholderRE matches anything of the shape of a placeholder.
var redPlaceholderRE = regexp.MustCompile(`<[A-Z][A-Z0-9_]*_[0-9]+>`)
