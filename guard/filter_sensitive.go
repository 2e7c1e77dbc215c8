package guard

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/keel-go/keel/guard/detect"
)

// SensitiveData finds secrets and personal data in an answer with any
// detect.Detector values: the package's PII and secret detectors, or a
// team's own.
//
// So that a stream can decide within the window, the answer is cut into
// segments and each segment is scanned on its own: a segment runs to the
// end of its line when the line ends within Window bytes; otherwise it
// takes Window bytes and ends after the last space or tab among them,
// or, with none, at the last whole character. Detectors see a line's
// context (a "password:" label and its value on one line), but a value
// that spans lines, such as a PEM block, is seen line by line, and one
// longer than Window bytes without spaces in pieces.
//
// Findings keep the detector's type, rule, score and reason. Overlapping
// findings are resolved with detect.Resolve.
type SensitiveData struct {
	// Detectors find the values; at least one is required.
	Detectors []detect.Detector
	// MinScore drops findings that score lower; 0 keeps them all.
	MinScore float64
	// Action is FilterStrip unless set; all three actions are supported.
	Action FilterAction
}

// Name returns "sensitive_data".
func (SensitiveData) Name() string { return "sensitive_data" }

// Check implements OutputFilter.
func (f SensitiveData) Check(text string) ([]OutputFinding, error) { return fltCheck(f, text) }

type fltSensitive struct {
	name      string
	window    int
	action    FilterAction
	detectors []detect.Detector
	minScore  float64
}

func (f SensitiveData) compile(window int) (fltCompiled, error) {
	name := f.Name()
	action, err := fltAction(name, f.Action, FilterStrip, FilterFlag, FilterStrip, FilterBlock)
	if err != nil {
		return nil, err
	}
	if len(f.Detectors) == 0 {
		return nil, fmt.Errorf("guard: %s: no detectors", name)
	}
	for i, d := range f.Detectors {
		if d == nil {
			return nil, fmt.Errorf("guard: %s: detector %d is nil", name, i)
		}
	}
	if !(f.MinScore >= 0 && f.MinScore <= 1) {
		return nil, errors.New("guard: " + name + ": MinScore must be in [0, 1]")
	}
	return &fltSensitive{name: name, window: window, action: action,
		detectors: append([]detect.Detector(nil), f.Detectors...), minScore: f.MinScore}, nil
}

func (c *fltSensitive) scanner() fltScanner { return &fltSensitiveScanner{c: c} }

type fltSensitiveScanner struct {
	c   *fltSensitive
	seg int // start of the next segment
	buf []detect.Finding
}

func (s *fltSensitiveScanner) advance(dst []OutputFinding, text string, final bool) ([]OutputFinding, int) {
	for s.seg < len(text) {
		end, ok := fltSegmentEnd(text, s.seg, s.c.window, final)
		if !ok {
			return dst, s.seg
		}
		dst = s.scan(dst, text, s.seg, end)
		s.seg = end
	}
	return dst, len(text)
}

// fltSegmentEnd returns the end of the segment that starts at g, or
// false when more text is needed to tell. It reads text[g:g+window] at
// most, and the end of the text only when it falls within that view.
func fltSegmentEnd(text string, g, window int, final bool) (int, bool) {
	lim := min(len(text), g+window)
	if k := strings.IndexByte(text[g:lim], '\n'); k >= 0 {
		return g + k + 1, true
	}
	if lim < g+window {
		return len(text), final
	}
	if k := strings.LastIndexAny(text[g:lim], " \t"); k >= 0 {
		return g + k + 1, true
	}
	// No space: cut before a character the window splits.
	j := lim - 1
	for j > g && !utf8.RuneStart(text[j]) {
		j--
	}
	if j > g && !utf8.FullRuneInString(text[j:lim]) {
		return j, true
	}
	return lim, true
}

func (s *fltSensitiveScanner) scan(dst []OutputFinding, text string, g, end int) []OutputFinding {
	seg := text[g:end]
	s.buf = s.buf[:0]
	for _, d := range s.c.detectors {
		s.buf = d.Detect(s.buf, seg)
	}
	// Keep only sound spans, so a faulty detector cannot make the guard
	// cut text outside the segment or panic.
	kept := s.buf[:0]
	for _, f := range s.buf {
		if f.Start >= 0 && f.Start < f.End && f.End <= len(seg) && f.Score >= s.c.minScore {
			kept = append(kept, f)
		}
	}
	for _, f := range detect.Resolve(kept) {
		f.Start += g
		f.End += g
		if f.Reason == "" {
			f.Reason = fmt.Sprintf("%s in the answer", f.Type)
		}
		dst = append(dst, OutputFinding{Finding: f, Filter: s.c.name, Action: s.c.action})
	}
	return dst
}
