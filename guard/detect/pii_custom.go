package detect

import (
	"regexp"
	"slices"
)

// Custom detectors: a regular expression with a validator, a term list
// (which is also how a policy writes a deny-list), and an allow-list
// wrapper around any detector.

// Regex returns a detector reporting each match of re in text as a
// finding of type typ with the given score and the detector's name as
// its rule. When validate is not nil, only matches for which it returns
// true are reported (a checksum, a range check). Empty matches are never
// reported. Go's regexp runs in time linear in the text, so the detector
// does too, as long as validate is linear in the match.
func Regex(name, typ string, re *regexp.Regexp, validate func(string) bool, score float64) Detector {
	return &piiRegex{name: name, typ: typ, re: re, validate: validate, score: score}
}

type piiRegex struct {
	name, typ string
	re        *regexp.Regexp
	validate  func(string) bool
	score     float64
}

func (r *piiRegex) Name() string    { return r.name }
func (r *piiRegex) Types() []string { return []string{r.typ} }

func (r *piiRegex) Detect(dst []Finding, text string) []Finding {
	for _, m := range r.re.FindAllStringIndex(text, -1) {
		if m[0] == m[1] {
			continue
		}
		if r.validate != nil && !r.validate(text[m[0]:m[1]]) {
			continue
		}
		dst = append(dst, Finding{Type: r.typ, Start: m[0], End: m[1], Score: r.score, Rule: r.name})
	}
	return dst
}

// Terms returns a detector reporting every occurrence of the terms as a
// finding of type typ, score 1 and the detector's name as its rule: a
// deny-list ("Project Falcon", an internal host name, a customer's name).
// A term matches only as a whole word: the bytes on either side of it are
// not ASCII letters, digits or '_' (or the text ends), so "Falcon" does
// not match inside "Falconry". With caseFold, ASCII letters match in
// either case. Overlapping terms are all reported; Resolve picks among
// them. Matching is Aho–Corasick: one pass, linear in the text for a
// given term list. Empty terms are ignored.
func Terms(name, typ string, terms []string, caseFold bool) Detector {
	t := &piiTerms{name: name, typ: typ, fold: caseFold}
	t.build(terms)
	return t
}

type piiTerms struct {
	name, typ string
	fold      bool
	// the automaton: node 0 is the root; root has a dense transition
	// table, other nodes sorted edge lists
	root  [256]int32
	nodes []piiTermNode
}

type piiTermNode struct {
	edges []piiTermEdge // sorted by byte
	fail  int32
	out   int32 // length of the term ending here, or 0
	dict  int32 // nearest node on the fail chain with out > 0, or -1
}

type piiTermEdge struct {
	b    byte
	next int32
}

func (t *piiTerms) key(c byte) byte {
	if t.fold && c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (t *piiTerms) child(n int32, c byte) int32 {
	if n == 0 {
		return t.root[c]
	}
	e := t.nodes[n].edges
	k, ok := slices.BinarySearchFunc(e, c, func(x piiTermEdge, c byte) int { return int(x.b) - int(c) })
	if !ok {
		return -1
	}
	return e[k].next
}

func (t *piiTerms) build(terms []string) {
	t.nodes = []piiTermNode{{dict: -1}}
	for c := range t.root {
		t.root[c] = -1
	}
	for _, term := range terms {
		if term == "" {
			continue
		}
		n := int32(0)
		for i := 0; i < len(term); i++ {
			c := t.key(term[i])
			next := t.child(n, c)
			if next < 0 {
				next = int32(len(t.nodes))
				t.nodes = append(t.nodes, piiTermNode{dict: -1})
				if n == 0 {
					t.root[c] = next
				} else {
					e := t.nodes[n].edges
					k, _ := slices.BinarySearchFunc(e, c, func(x piiTermEdge, c byte) int { return int(x.b) - int(c) })
					t.nodes[n].edges = slices.Insert(e, k, piiTermEdge{c, next})
				}
			}
			n = next
		}
		t.nodes[n].out = int32(len(term))
	}
	// failure links, breadth first
	queue := make([]int32, 0, len(t.nodes))
	for c := range t.root {
		if r := t.root[c]; r > 0 {
			t.nodes[r].fail = 0
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range t.nodes[n].edges {
			f := t.nodes[n].fail
			for {
				if g := t.child(f, e.b); g >= 0 {
					t.nodes[e.next].fail = g
					break
				}
				if f == 0 {
					t.nodes[e.next].fail = 0
					break
				}
				f = t.nodes[f].fail
			}
			fn := t.nodes[e.next].fail
			if t.nodes[fn].out > 0 {
				t.nodes[e.next].dict = fn
			} else {
				t.nodes[e.next].dict = t.nodes[fn].dict
			}
			queue = append(queue, e.next)
		}
	}
}

func (t *piiTerms) Name() string    { return t.name }
func (t *piiTerms) Types() []string { return []string{t.typ} }

func (t *piiTerms) Detect(dst []Finding, text string) []Finding {
	if len(t.nodes) == 1 {
		return dst
	}
	n := int32(0)
	for i := 0; i < len(text); i++ {
		c := t.key(text[i])
		for {
			if g := t.child(n, c); g >= 0 {
				n = g
				break
			}
			if n == 0 {
				break
			}
			n = t.nodes[n].fail
		}
		end := i + 1
		if end < len(text) && piiIsWordByte(text[end]) {
			continue
		}
		for m := n; m > 0; m = t.nodes[m].dict {
			if l := int(t.nodes[m].out); l > 0 {
				start := end - l
				if start == 0 || !piiIsWordByte(text[start-1]) {
					dst = append(dst, Finding{Type: t.typ, Start: start, End: end, Score: 1, Rule: t.name})
				}
			}
			if t.nodes[m].dict < 0 {
				break
			}
		}
	}
	return dst
}

// WithAllowList returns d without the findings whose text is exactly
// one of values: the company's own support address, a public demo card
// number, a documentation IP range. The returned detector keeps d's name
// and types.
func WithAllowList(d Detector, values ...string) Detector {
	allow := make(map[string]struct{}, len(values))
	for _, v := range values {
		allow[v] = struct{}{}
	}
	return &piiAllow{d: d, allow: allow}
}

type piiAllow struct {
	d     Detector
	allow map[string]struct{}
}

func (a *piiAllow) Name() string    { return a.d.Name() }
func (a *piiAllow) Types() []string { return a.d.Types() }

func (a *piiAllow) Detect(dst []Finding, text string) []Finding {
	base := len(dst)
	dst = a.d.Detect(dst, text)
	kept := dst[:base]
	for _, f := range dst[base:] {
		if f.Start >= 0 && f.End <= len(text) && f.Start <= f.End {
			if _, ok := a.allow[text[f.Start:f.End]]; ok {
				continue
			}
		}
		kept = append(kept, f)
	}
	return kept
}
