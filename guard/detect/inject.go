package detect

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Finding types reported by the injection detector.
const (
	// TypePromptInjection is an attempt to override the application's
	// instructions: ignore-previous phrasings, fake system messages,
	// template spoofing, system-prompt extraction, tool coercion, split
	// and encoded payloads.
	TypePromptInjection = "PROMPT_INJECTION"
	// TypeJailbreak is a role-play or persona attempt to lift the model's
	// safety rules.
	TypeJailbreak = "JAILBREAK"
)

// DefaultInjectionThreshold is the score from which a finding is
// reported when InjectionOptions.Threshold is zero. The benchmark figures
// in BENCHMARKS.md are measured at this value.
const DefaultInjectionThreshold = 0.5

// InjectionLanguages lists the languages whose common phrasings the
// injection detector knows, as ISO 639-1 codes. English is always on.
func InjectionLanguages() []string { return []string{"en", "es", "fr", "de", "pt", "it"} }

// InjectionOptions configures Injection.
type InjectionOptions struct {
	// Threshold is the lowest score reported, in (0, 1]; zero means
	// DefaultInjectionThreshold. Lower catches more and flags more
	// harmless text.
	Threshold float64
	// Untrusted selects the stricter scoring meant for content no user
	// typed: retrieved chunks, tool outputs, web pages, emails. There,
	// text that speaks to an AI reader, tells it to call a tool or
	// carries a role label is suspicious on its own, where in a user's
	// own prompt it is ordinary.
	Untrusted bool
	// Languages limits the phrasings to these codes from
	// InjectionLanguages; nil means all. English is always included.
	Languages []string
}

// Validate reports options Injection would have to correct: a threshold
// outside [0, 1] or an unknown language.
func (o InjectionOptions) Validate() error {
	var errs []error
	if math.IsNaN(o.Threshold) || o.Threshold < 0 || o.Threshold > 1 {
		errs = append(errs, fmt.Errorf("detect: injection threshold %v is outside [0, 1]", o.Threshold))
	}
	for _, l := range o.Languages {
		if !slices.Contains(InjectionLanguages(), l) {
			errs = append(errs, fmt.Errorf("detect: injection language %q is not one of %s", l, strings.Join(InjectionLanguages(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// InjectionDetector scores text for prompt-injection and jailbreak
// attempts. It is a Detector; Score gives a verdict for a whole text.
// Build it once with Injection and share it: construction compiles the
// keyword automaton (a few milliseconds), scanning allocates little.
type InjectionDetector struct {
	e         *injEngine
	threshold float64
	untrusted bool
}

// Injection returns a detector for instruction-override attempts. It
// reads the text once through a folding step that undoes the usual
// disguises (case, accents, look-alike letters from other scripts,
// fullwidth and mathematical letters, leetspeak digits, zero-width and
// bidi controls, Unicode tag characters), matches phrasings in the
// languages of InjectionLanguages with one keyword automaton, and scores
// combinations of them found within a few words of each other. Spans
// that look encoded (base64, hex, rot13, reversed words) or
// letter-spaced are decoded and scanned again, to a bounded depth.
//
// Each finding's Rule is the technique: "ignore-previous", "role-play"
// (reported as TypeJailbreak), "fake-system", "template-spoofing",
// "reveal-system-prompt", "tool-coercion", "payload-splitting" or
// "encoded-payload"; its Reason says why without quoting the text.
//
// Invalid options are corrected rather than refused (a threshold outside
// [0, 1] becomes the default, unknown languages are ignored); call
// InjectionOptions.Validate to reject them instead.
func Injection(opts InjectionOptions) *InjectionDetector {
	th := opts.Threshold
	if math.IsNaN(th) || th <= 0 || th > 1 {
		th = DefaultInjectionThreshold
	}
	e, err := newInjEngine(opts.Languages)
	if err != nil {
		// The patterns are fixed at compile time and a test builds them
		// all; an error here is a bug in this package.
		panic(err)
	}
	return &InjectionDetector{e: e, threshold: th, untrusted: opts.Untrusted}
}

// Name returns "injection".
func (d *InjectionDetector) Name() string { return "injection" }

// Types returns TypePromptInjection and TypeJailbreak.
func (d *InjectionDetector) Types() []string { return []string{TypePromptInjection, TypeJailbreak} }

// Detect appends a finding for every technique found in text with a
// score at or above the threshold.
func (d *InjectionDetector) Detect(dst []Finding, text string) []Finding {
	fires := d.scan(text)
	for _, f := range fires {
		if f.score >= d.threshold {
			dst = append(dst, f.finding())
		}
	}
	return dst
}

// Score returns a verdict for the whole text, the highest score of any
// technique in [0, 1] (0 when nothing matched at all), with the findings
// at or above the threshold.
func (d *InjectionDetector) Score(text string) (float64, []Finding) {
	fires := d.scan(text)
	var top float64
	var out []Finding
	for _, f := range fires {
		top = max(top, f.score)
		if f.score >= d.threshold {
			out = append(out, f.finding())
		}
	}
	Sort(out)
	return top, out
}

func (f *injFire) finding() Finding {
	typ := TypePromptInjection
	if f.jail {
		typ = TypeJailbreak
	}
	return Finding{Type: typ, Start: f.start, End: f.end, Score: math.Round(f.score*1000) / 1000, Rule: f.tech, Reason: f.reason}
}

// scan runs the whole pipeline and returns the fires with their final
// scores. Signals of different techniques in one text corroborate each
// other: each fire's score is combined with half of the best score of
// every other technique present.
func (d *InjectionDetector) scan(text string) []injFire {
	s := injScanner{e: d.e, text: text, untrusted: d.untrusted}
	s.reset()
	s.run()
	s.decodeAll()
	s.finish()
	if len(s.fires) < 2 {
		return s.fires
	}
	var best [8]float64
	idx := func(tech string) int {
		switch tech {
		case injTIgnore:
			return 0
		case injTRolePlay:
			return 1
		case injTFakeSystem:
			return 2
		case injTTemplate:
			return 3
		case injTReveal:
			return 4
		case injTTool:
			return 5
		case injTSplit:
			return 6
		}
		return 7
	}
	for _, f := range s.fires {
		best[idx(f.tech)] = max(best[idx(f.tech)], f.score)
	}
	for i := range s.fires {
		f := &s.fires[i]
		rest := 1 - f.score
		for t, b := range best {
			if t != idx(f.tech) && b >= 0.2 {
				rest *= 1 - 0.5*b
			}
		}
		if boosted := 1 - rest; boosted > f.score+1e-9 {
			if f.score < d.threshold && boosted >= d.threshold {
				f.reason += ", alongside other injection signals"
			}
			f.score = boosted
		}
	}
	return s.fires
}

// injEngine is everything built once per detector: tables, automata,
// rules. It is read-only after construction.
type injEngine struct {
	norm      *injNorm
	ac        *injAC
	loose     *injAC // the same patterns without word anchors, for letter-spaced text
	pats      []injPat
	loosePats []injPat
	rules     []injRule
	byConcept [injNumConcepts][]int
}

func newInjEngine(langs []string) (*injEngine, error) {
	e := &injEngine{norm: newInjNorm(), rules: injRules()}
	on := func(l string) bool {
		return l == "" || l == "en" || langs == nil || slices.Contains(langs, l)
	}
	var syms, loose [][]uint8
	add := func(concept, flags int, phrase string) {
		stem := strings.HasSuffix(phrase, "*")
		phrase = strings.TrimSuffix(phrase, "*")
		sy := e.norm.symbols(phrase, stem)
		syms = append(syms, sy)
		e.pats = append(e.pats, injPat{concept: concept, flags: flags, n: len(sy), lead: 1})
		l := slices.Clone(sy[1:])
		for len(l) > 1 && l[len(l)-1] == injSymSep {
			l = l[:len(l)-1]
		}
		loose = append(loose, l)
		e.loosePats = append(e.loosePats, injPat{concept: concept, flags: flags &^ injPLineStart &^ injPQuoteAfter, n: len(l)})
	}
	for _, g := range injGroups() {
		if !on(g.lang) {
			continue
		}
		for _, p := range strings.Split(g.phrases, ";") {
			add(g.concept, g.flags, p)
		}
	}
	for _, m := range injRotMarkers() {
		add(injCRot13, 0, injRot13(m)+"*")
		add(injCReversed, 0, injReverse(m)+"*")
	}
	var err error
	if e.ac, err = newInjAC(syms, func(p int) bool { return e.pats[p].flags&injPCancel != 0 }); err != nil {
		return nil, err
	}
	if e.loose, err = newInjAC(loose, func(p int) bool { return e.loosePats[p].flags&injPCancel != 0 }); err != nil {
		return nil, err
	}
	for i, r := range e.rules {
		for _, c := range r.need {
			e.byConcept[c] = append(e.byConcept[c], i)
		}
	}
	return e, nil
}
