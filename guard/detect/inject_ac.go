package detect

import "fmt"

// injAC is an Aho–Corasick automaton compiled to a full transition table
// over the normalised alphabet: one table load per symbol, whatever the
// number of patterns. States are numbered breadth-first, so the shallow
// states ordinary text keeps visiting sit together in cache, and each
// transition carries injOutFlag when its target has outputs, which turns
// "did anything match here" into a bit test in the scanning loop.
type injAC struct {
	delta    []uint16 // delta[state*injAlpha+sym]: target | injOutFlag
	outStart []int32  // outputs of state s: outs[outStart[s]:outStart[s+1]]
	outs     []uint16 // pattern indexes
	start    uint16   // the state after one separator: where every scan begins
}

const (
	injOutFlag   = 1 << 15
	injStateMask = injOutFlag - 1
)

// injMaxPattern bounds a pattern's length in symbols; the scanner keeps
// the offsets of this many recent symbols to map a match back to the
// text.
const injMaxPattern = 64

// newInjAC builds the automaton for pats (symbol sequences). cancelFirst
// reports whether a pattern's outputs must be seen before the others
// ending at the same place.
func newInjAC(pats [][]uint8, cancelFirst func(int) bool) (*injAC, error) {
	type node struct {
		next [injAlpha]int32
		fail int32
		out  []uint16
	}
	total := 1
	for _, p := range pats {
		total += len(p)
	}
	nodes := make([]node, 1, total) // a trie has at most one node per symbol
	for i := range nodes[0].next {
		nodes[0].next[i] = -1
	}
	newNode := func() int32 {
		var nd node
		for i := range nd.next {
			nd.next[i] = -1
		}
		nodes = append(nodes, nd)
		return int32(len(nodes) - 1)
	}
	for pi, p := range pats {
		if len(p) == 0 || len(p) > injMaxPattern {
			return nil, fmt.Errorf("detect: injection pattern %d has %d symbols, want 1 to %d", pi, len(p), injMaxPattern)
		}
		s := int32(0)
		for _, sym := range p {
			if nodes[s].next[sym] < 0 {
				nx := newNode()
				nodes[s].next[sym] = nx
			}
			s = nodes[s].next[sym]
		}
		nodes[s].out = append(nodes[s].out, uint16(pi))
	}
	if len(nodes) >= injOutFlag || len(pats) >= 1<<16 {
		return nil, fmt.Errorf("detect: injection automaton has %d states, more than a uint16 holds", len(nodes))
	}
	// Breadth-first: failure links, inherited outputs, full transitions.
	queue := make([]int32, 0, len(nodes))
	for sym := range injAlpha {
		if nx := nodes[0].next[sym]; nx >= 0 {
			nodes[nx].fail = 0
			queue = append(queue, nx)
		} else {
			nodes[0].next[sym] = 0
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		f := nodes[s].fail
		nodes[s].out = append(nodes[s].out, nodes[f].out...)
		for sym := range injAlpha {
			nx := nodes[s].next[sym]
			if nx < 0 {
				nodes[s].next[sym] = nodes[f].next[sym]
				continue
			}
			nodes[nx].fail = nodes[f].next[sym]
			queue = append(queue, nx)
		}
	}
	// Renumber breadth-first: the root, then the queue order.
	order := make([]int32, len(nodes))
	for i, s := range queue {
		order[s] = int32(i + 1)
	}
	a := &injAC{
		delta:    make([]uint16, len(nodes)*injAlpha),
		outStart: make([]int32, len(nodes)+1),
	}
	byNew := make([]int32, len(nodes))
	for s := range nodes {
		byNew[order[s]] = int32(s)
		for sym := range injAlpha {
			nx := nodes[s].next[sym]
			v := uint16(order[nx])
			if len(nodes[nx].out) != 0 {
				v |= injOutFlag
			}
			a.delta[int(order[s])*injAlpha+sym] = v
		}
	}
	for ns := range nodes {
		a.outStart[ns] = int32(len(a.outs))
		out := nodes[byNew[ns]].out
		for _, p := range out {
			if cancelFirst(int(p)) {
				a.outs = append(a.outs, p)
			}
		}
		for _, p := range out {
			if !cancelFirst(int(p)) {
				a.outs = append(a.outs, p)
			}
		}
	}
	a.outStart[len(nodes)] = int32(len(a.outs))
	a.start = a.delta[int(order[0])*injAlpha+injSymSep] & injStateMask
	return a, nil
}
