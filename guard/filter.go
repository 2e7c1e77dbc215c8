// Output filters (this file and filter_*.go).
//
// An answer can do harm after the model wrote it: it can repeat the
// system prompt, carry conversation data to an attacker's server in a
// markdown image the client loads without a click, show a secret or
// personal data, or break the format a program expects. An OutputGuard
// runs a set of filters over an answer, whole (Filter) or as it streams
// (NewStream), and applies what they decide: flag a span, strip it, or
// block the answer from a point on.
//
//   - SystemPromptLeak: word n-gram overlap with the system prompt, and a
//     canary token planted in it;
//   - Exfiltration: markdown images and links, HTML src/href and bare
//     URLs whose host is not allowed or whose query string carries data;
//   - SensitiveData: secrets and personal data, found by any
//     detect.Detector values;
//   - FormatGuard: a structured answer must be one JSON value matching a
//     schema.
//
// Streaming. A filter must never let text through that it will want
// removed once it has seen more, so a StreamFilter holds text back until
// every filter can decide about it, and never more than the guard's
// Window bytes (DefaultOutputWindow, 256, unless set). Every decision is
// made on a bounded view that does not depend on how the answer was cut
// into chunks, which is what makes the streamed output identical to the
// whole-text output:
//
//   - A candidate (a URL, an n-gram, a canary, a segment of text for the
//     detectors) that starts at byte s is judged on text[s:s+Window] at
//     most. The end of the answer only counts when it falls inside that
//     view; a URL that has not ended within Window bytes of its start is
//     judged too long, which Exfiltration treats as carrying data.
//   - Filter(text) is the same machine fed the whole text at once.
//
// The text held back at any moment is at most Window bytes, so a stream
// is delayed by at most that much; text nobody could object to (no URL
// or canary prefix, n-grams already decided, complete lines) passes at
// once.

package guard

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/keel-go/keel/guard/detect"
)

// FilterAction is what an output filter does with what it finds. The
// zero value, in a filter's Action field, means the filter's default.
type FilterAction uint8

// The output filter actions, from mildest to strictest.
const (
	// FilterFlag reports the finding and leaves the text alone.
	FilterFlag FilterAction = iota + 1
	// FilterStrip removes the finding's span from the answer (the
	// guard's Replacement takes its place).
	FilterStrip
	// FilterBlock stops the answer where the finding starts: nothing
	// from there on is emitted, and the result is marked blocked.
	FilterBlock
)

var fltActionNames = [...]string{FilterFlag: "flag", FilterStrip: "strip", FilterBlock: "block"}

// String returns "flag", "strip" or "block" ("default" for zero).
func (a FilterAction) String() string {
	if a == 0 {
		return "default"
	}
	if int(a) < len(fltActionNames) {
		return fltActionNames[a]
	}
	return fmt.Sprintf("FilterAction(%d)", uint8(a))
}

// MarshalText encodes the action by name, for policies kept as data.
func (a FilterAction) MarshalText() ([]byte, error) {
	if a > FilterBlock {
		return nil, fmt.Errorf("guard: unknown filter action %d", uint8(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText decodes "flag", "strip", "block" or "default".
func (a *FilterAction) UnmarshalText(text []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(text)))
	if s == "default" || s == "" {
		*a = 0
		return nil
	}
	for i, n := range fltActionNames {
		if n != "" && n == s {
			*a = FilterAction(i)
			return nil
		}
	}
	return fmt.Errorf("guard: unknown filter action %q (want flag, strip or block)", text)
}

// OutputFinding is one thing an output filter found in an answer. Start
// and End are byte offsets in the answer as the model wrote it.
type OutputFinding struct {
	detect.Finding
	// Filter is the Name of the filter that found it.
	Filter string
	// Action is what the guard does about it.
	Action FilterAction
}

// OutputFilter is one check an OutputGuard runs over answers. The
// filters are plain configuration values (SystemPromptLeak,
// Exfiltration, SensitiveData, FormatGuard); NewOutputGuard validates
// and compiles them once. The set is closed because every filter must
// keep the guarantees StreamFilter documents; custom checks plug in as
// detect.Detector values of a SensitiveData.
type OutputFilter interface {
	// Name identifies the filter in findings, policies and events.
	Name() string
	// Check runs the filter alone over a whole answer and returns all it
	// finds, sorted by Start, with the default window; an invalid
	// configuration is an error. An OutputGuard is faster for repeated
	// use and applies the actions.
	Check(text string) ([]OutputFinding, error)

	compile(window int) (fltCompiled, error)
}

// fltCompiled is a validated filter, immutable and shared by streams.
type fltCompiled interface {
	scanner() fltScanner
}

// fltScanner is one filter's state over one answer.
type fltScanner interface {
	// advance reads text, everything written so far (all of it when
	// final), appends to dst the findings it can now decide, and
	// returns its frontier: every finding that starts before the
	// frontier has been reported, in this call or an earlier one. A
	// finding is only reported once, is never reported starting before
	// an earlier frontier, and depends on the text alone, not on how it
	// arrived. The frontier never moves back, is at least
	// len(text)-window, and is len(text) when final.
	advance(dst []OutputFinding, text string, final bool) ([]OutputFinding, int)
}

// DefaultOutputWindow is the window an OutputGuard uses when none is set:
// long enough for most URLs and for 8 words of a system prompt, short
// enough to delay a stream by about 60 tokens at most.
const DefaultOutputWindow = 256

// The bounds of OutputGuardOptions.Window.
const (
	fltMinWindow = 32
	fltMaxWindow = 1 << 20
)

// OutputGuardOptions configures NewOutputGuard.
type OutputGuardOptions struct {
	// Window is how many bytes a stream may hold back while the filters
	// decide, and how far past its start any candidate is judged; 0
	// means DefaultOutputWindow. It must be between 32 and 1 MiB.
	Window int
	// Replacement is written in place of each stripped span (adjacent
	// or overlapping spans count as one); empty removes them silently.
	Replacement string
}

// OutputGuard runs output filters over answers. It is immutable and safe
// for concurrent use; a StreamFilter from NewStream serves one answer.
type OutputGuard struct {
	window      int
	replacement string
	filters     []fltCompiled
}

// NewOutputGuard validates and compiles filters.
func NewOutputGuard(opts OutputGuardOptions, filters ...OutputFilter) (*OutputGuard, error) {
	w := opts.Window
	if w == 0 {
		w = DefaultOutputWindow
	}
	if w < fltMinWindow || w > fltMaxWindow {
		return nil, fmt.Errorf("guard: output window %d: want %d to %d bytes", w, fltMinWindow, fltMaxWindow)
	}
	g := &OutputGuard{window: w, replacement: opts.Replacement}
	for i, f := range filters {
		if f == nil {
			return nil, fmt.Errorf("guard: output filter %d is nil", i)
		}
		c, err := f.compile(w)
		if err != nil {
			return nil, err
		}
		g.filters = append(g.filters, c)
	}
	return g, nil
}

// Window returns the guard's window in bytes.
func (g *OutputGuard) Window() int { return g.window }

// OutputResult is what an OutputGuard makes of a whole answer.
type OutputResult struct {
	// Text is the answer with stripped spans replaced, cut where a block
	// starts.
	Text string
	// Blocked reports that a filter blocked the answer; Text then holds
	// only what came before the blocking finding.
	Blocked bool
	// Findings lists, sorted by Start, the findings the guard acted on
	// or flagged, the blocking one last: nothing after it is reported.
	Findings []OutputFinding
}

// Filter runs the filters over a whole answer. The result is exactly
// what a StreamFilter emits for the same text, however it is chunked.
func (g *OutputGuard) Filter(text string) OutputResult {
	s := g.NewStream()
	s.text = text
	out := s.step(true)
	s.flushed = true
	return OutputResult{Text: out, Blocked: s.blocked, Findings: s.found}
}

// NewStream returns a StreamFilter for one streamed answer.
func (g *OutputGuard) NewStream() *StreamFilter {
	s := &StreamFilter{g: g, scanners: make([]fltScanner, len(g.filters))}
	for i, f := range g.filters {
		s.scanners[i] = f.scanner()
	}
	return s
}

// StreamFilter filters one answer as it streams. Feed it the text in
// chunks with Write and finish with Flush; the concatenation of what they
// return equals OutputGuard.Filter of the whole text, and no returned
// text is ever something the filters remove once they see more.
//
// It holds text back only while some filter cannot decide about it, and
// never more than the guard's Window bytes (see Held). That bound holds
// because every filter judges a candidate that starts at byte s (a URL,
// an n-gram, a canary, a segment of text for the detectors) on
// text[s:s+Window] at most, and counts the end of the answer only when
// it falls inside that view; the whole-text Filter judges the same way,
// which is why both give the same result however the text is chunked.
// Each filter's documentation says what this means for it (a URL that
// does not end within Window bytes, for one, counts as carrying data).
//
// It keeps the whole answer, which FormatGuard validates at the end. It
// is not safe for concurrent use.
type StreamFilter struct {
	g        *OutputGuard
	scanners []fltScanner
	buf      strings.Builder // the answer so far, when streaming
	text     string          // the answer so far
	done     int             // text[:done] is emitted or removed
	skip     int             // text[:skip] is inside stripped spans
	stripped bool            // a span has been stripped (skip is meaningful)
	pending  []OutputFinding // reported, not yet applied
	found    []OutputFinding // applied
	// What one step emits: a single piece is returned as a substring
	// of the answer, without copying; more are joined in out.
	first   string
	pieces  int
	out     []byte
	blocked bool
	flushed bool
}

// Write adds a chunk of the answer and returns the text that is now
// safe to pass on (possibly empty), and whether the answer is blocked.
// Once blocked, or after Flush, it returns nothing more.
func (s *StreamFilter) Write(chunk string) (emit string, blocked bool) {
	if s.blocked || s.flushed {
		return "", s.blocked
	}
	s.buf.WriteString(chunk)
	s.text = s.buf.String()
	return s.step(false), s.blocked
}

// Flush ends the answer and returns the rest of the text that may be
// passed on, and whether the answer is blocked (FormatGuard, for one,
// can only tell at the end).
func (s *StreamFilter) Flush() (emit string, blocked bool) {
	if s.blocked || s.flushed {
		return "", s.blocked
	}
	s.flushed = true
	return s.step(true), s.blocked
}

// Held returns how many bytes of the answer are held back: written but
// neither emitted nor known to be removed (nothing once the answer is
// blocked or flushed). It never exceeds the guard's Window.
func (s *StreamFilter) Held() int {
	if s.blocked || s.flushed {
		return 0
	}
	return len(s.text) - s.done
}

// Blocked reports whether a filter blocked the answer.
func (s *StreamFilter) Blocked() bool { return s.blocked }

// Findings returns the findings applied so far, sorted by Start; after
// Flush, the same list Filter returns.
func (s *StreamFilter) Findings() []OutputFinding { return slices.Clone(s.found) }

// step runs the scanners over the text so far and emits what they have
// all decided about.
func (s *StreamFilter) step(final bool) string {
	frontier := len(s.text)
	for _, sc := range s.scanners {
		var f int
		s.pending, f = sc.advance(s.pending, s.text, final)
		frontier = min(frontier, f)
	}
	if final {
		frontier = len(s.text)
	}
	slices.SortFunc(s.pending, fltCompareFindings)
	s.first, s.pieces = "", 0
	n := 0
	for ; n < len(s.pending); n++ {
		f := s.pending[n]
		if f.Start >= frontier && !final {
			break
		}
		s.emitTo(f.Start)
		s.found = append(s.found, f)
		switch f.Action {
		case FilterBlock:
			s.blocked = true
			s.pending = s.pending[:0]
			return s.emitted()
		case FilterStrip:
			if f.End <= f.Start {
				continue
			}
			if !s.stripped || f.Start > s.skip {
				s.emit(s.g.replacement)
			}
			s.stripped = true
			s.skip = max(s.skip, f.End)
		}
	}
	s.pending = s.pending[:copy(s.pending, s.pending[n:])]
	s.emitTo(frontier)
	return s.emitted()
}

// emit adds a piece to what the step emits.
func (s *StreamFilter) emit(piece string) {
	switch {
	case piece == "":
		return
	case s.pieces == 0:
		s.first = piece
	case s.pieces == 1:
		s.out = append(append(s.out[:0], s.first...), piece...)
	default:
		s.out = append(s.out, piece...)
	}
	s.pieces++
}

// emitted returns what the step emitted.
func (s *StreamFilter) emitted() string {
	if s.pieces <= 1 {
		return s.first
	}
	return string(s.out)
}

// emitTo passes on text[done:p], less what is stripped.
func (s *StreamFilter) emitTo(p int) {
	if p <= s.done {
		return
	}
	if s.skip > s.done {
		s.done = min(s.skip, p)
	}
	if p > s.done {
		s.emit(s.text[s.done:p])
		s.done = p
	}
}

// fltCompareFindings orders findings by Start, blocks first at the same
// Start (so nothing is emitted for a strip a block cuts off), then longer
// first; the rest only makes the order total.
func fltCompareFindings(a, b OutputFinding) int {
	if c := cmp.Compare(a.Start, b.Start); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Action, a.Action); c != 0 {
		return c
	}
	if c := cmp.Compare(b.End, a.End); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Filter, b.Filter); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return cmp.Compare(a.Rule, b.Rule)
}

// fltCheck implements OutputFilter.Check: the filter alone, over the
// whole text, every finding.
func fltCheck(f OutputFilter, text string) ([]OutputFinding, error) {
	c, err := f.compile(DefaultOutputWindow)
	if err != nil {
		return nil, err
	}
	out, _ := c.scanner().advance(nil, text, true)
	slices.SortFunc(out, fltCompareFindings)
	return out, nil
}

// fltAction returns a, or def when a is zero, and checks a is one the
// filter supports.
func fltAction(name string, a, def FilterAction, allowed ...FilterAction) (FilterAction, error) {
	if a == 0 {
		return def, nil
	}
	if !slices.Contains(allowed, a) {
		return 0, fmt.Errorf("guard: %s: action %s is not supported", name, a)
	}
	return a, nil
}
