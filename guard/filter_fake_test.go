package guard

import (
	"regexp"

	"github.com/keel-go/keel/guard/detect"
)

// fltRegexpDetector is a small fake detector: every match of re is a
// finding of typ. The real PII and secret detectors live in guard/detect.
type fltRegexpDetector struct {
	typ   string
	re    *regexp.Regexp
	score float64
}

func (d fltRegexpDetector) Name() string    { return "fake-" + d.typ }
func (d fltRegexpDetector) Types() []string { return []string{d.typ} }
func (d fltRegexpDetector) Detect(dst []detect.Finding, text string) []detect.Finding {
	for _, m := range d.re.FindAllStringIndex(text, -1) {
		dst = append(dst, detect.Finding{Type: d.typ, Start: m[0], End: m[1], Score: d.score, Rule: "fake"})
	}
	return dst
}

var (
	fltEmailDetector  = fltRegexpDetector{typ: "EMAIL_ADDRESS", re: regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`), score: 0.9}
	fltSecretDetector = fltRegexpDetector{typ: "STRIPE_KEY", re: regexp.MustCompile(`sk_live_[A-Za-z0-9]{8,}`), score: 1}
	fltWeakDetector   = fltRegexpDetector{typ: "MAYBE_NAME", re: regexp.MustCompile(`\bJo\w*`), score: 0.2}
)

// fltBrokenDetector reports spans outside its input, as a faulty
// detector might; the guard must ignore them.
type fltBrokenDetector struct{}

func (fltBrokenDetector) Name() string    { return "broken" }
func (fltBrokenDetector) Types() []string { return []string{"BROKEN"} }
func (fltBrokenDetector) Detect(dst []detect.Finding, text string) []detect.Finding {
	return append(dst,
		detect.Finding{Type: "BROKEN", Start: -5, End: 2, Score: 1},
		detect.Finding{Type: "BROKEN", Start: 0, End: len(text) + 10, Score: 1},
		detect.Finding{Type: "BROKEN", Start: 3, End: 3, Score: 1},
	)
}
