package detect

import (
	"cmp"
	"slices"
)

// Finding is one thing a detector found in a text.
type Finding struct {
	// Type is what was found, in upper snake case: an entity such as
	// "EMAIL_ADDRESS", "CREDIT_CARD", "AWS_ACCESS_KEY", or an attack
	// such as "PROMPT_INJECTION".
	Type string
	// Start and End are byte offsets: text[Start:End] is the finding.
	Start, End int
	// Score is the confidence in [0, 1]; context words, checksums and
	// validators raise or lower it.
	Score float64
	// Rule names the pattern or rule that matched, for audits and
	// tuning ("email", "luhn", "ignore-previous").
	Rule string
	// Reason says why, in words and without the sensitive text, where a
	// rule alone does not (injection findings, for example).
	Reason string
}

// Len returns End - Start.
func (f Finding) Len() int { return f.End - f.Start }

// Detector finds things in text. Detect appends its findings to dst and
// returns the extended slice, so a set of detectors shares one slice and
// a scan allocates little. A Detector must be safe for concurrent use,
// must never panic on any input (invalid UTF-8 included), and must run in
// time linear in len(text).
type Detector interface {
	// Name identifies the detector in policies and events.
	Name() string
	// Types lists the finding types it can report.
	Types() []string
	// Detect appends the findings in text to dst.
	Detect(dst []Finding, text string) []Finding
}

// Scan runs every detector over text and returns the findings sorted by
// Start (then longest first).
func Scan(text string, detectors ...Detector) []Finding {
	var out []Finding
	for _, d := range detectors {
		out = d.Detect(out, text)
	}
	Sort(out)
	return out
}

// Sort orders findings by Start, longer first at the same Start, then by
// Type, so results are deterministic.
func Sort(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		if c := cmp.Compare(b.End, a.End); c != 0 {
			return c
		}
		return cmp.Compare(a.Type, b.Type)
	})
}

// Resolve returns findings that do not overlap, sorted by Start: the set
// to redact, where two findings cannot both be replaced. Sweeping by
// Start, a finding that overlaps the last one kept replaces it when it
// scores higher, or scores the same and is longer. It runs in
// O(n log n).
func Resolve(fs []Finding) []Finding {
	sorted := slices.Clone(fs)
	Sort(sorted)
	kept := sorted[:0]
	for _, f := range sorted {
		if n := len(kept); n > 0 && f.Start < kept[n-1].End {
			if last := kept[n-1]; f.Score > last.Score || (f.Score == last.Score && f.Len() > last.Len()) {
				kept[n-1] = f
			}
			continue
		}
		kept = append(kept, f)
	}
	return kept
}
