package bm25

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
)

// Errors returned by Index methods; test with errors.Is.
var (
	// ErrEmptyID: Add was given an empty document id.
	ErrEmptyID = errors.New("bm25: empty document id")
	// ErrInvalidParams: SetParams was given k1 or b outside its range.
	ErrInvalidParams = errors.New("bm25: invalid parameters")
	// ErrFull: the index holds as many documents as it can number.
	ErrFull = errors.New("bm25: index full")
)

// Params are the two free parameters of BM25.
type Params struct {
	// K1 (>= 0) controls term-frequency saturation: 0 ignores repeats,
	// large values make the score grow almost linearly with them.
	K1 float64
	// B (0 to 1) controls length normalisation: 0 ignores document
	// length, 1 divides term frequency fully by relative length.
	B float64
}

// DefaultParams returns k1 = 0.9, b = 0.4, the defaults of Anserini's BM25
// baselines. They were tuned on TREC collections (Lin et al., SIGIR 2016,
// "Toward Reproducible Baselines") and suit short passages better than the
// textbook k1 = 1.2, b = 0.75: a chunk of a few hundred words rarely repeats
// a term often enough to need strong saturation, and chunks vary less in
// length than whole documents, so a weaker length penalty loses less.
func DefaultParams() Params { return Params{K1: 0.9, B: 0.4} }

// validate reports whether p is usable.
func (p Params) validate() error {
	if !(p.K1 >= 0) || math.IsInf(p.K1, 0) || !(p.B >= 0 && p.B <= 1) {
		return fmt.Errorf("%w: k1=%v (want finite, >= 0), b=%v (want 0 to 1)", ErrInvalidParams, p.K1, p.B)
	}
	return nil
}

// Result is one search hit.
type Result struct {
	// DocID is the id the document was added under.
	DocID string
	// Score is its BM25 score for the query (always > 0).
	Score float64
}

// deadLen marks a removed document's slot in Index.lens. No document can
// have that many tokens: each needs at least two bytes of text.
const deadLen = math.MaxUint32

// maxSlots bounds the number of document slots (ids are int32).
const maxSlots = math.MaxInt32

// termInfo is what the index knows of one term. The postings list the
// documents holding it in slot order, dead slots included until
// compaction; df counts the live ones. One struct rather than two arrays:
// adding a token touches both, with one cache miss instead of two.
type termInfo struct {
	postings []posting
	df       int32
}

// posting records that a term occurs tf times in the document in slot.
type posting struct {
	slot int32
	tf   uint32
}

// Index is an in-memory Okapi BM25 index over documents identified by
// string ids. Create one with New. It is safe for concurrent use: searches
// run in parallel with each other and are serialised with Add and Remove,
// which tokenise outside the lock.
//
// Term statistics (document count, document frequencies, average length)
// are those of the documents in this Index, so a store that serves several
// tenants must keep one Index per tenant: a shared one would let one
// tenant's documents shift another's scores and reveal, through them, which
// words the other tenant's documents use.
type Index struct {
	tok     Tokenizer
	scratch sync.Pool // *scratch, reused by Add and Search

	mu     sync.RWMutex
	params Params

	// Terms are numbered densely: terms maps a term to its number t, and
	// info[t] holds its postings and document frequency.
	terms map[string]uint32
	info  []termInfo
	// surface maps each surface form seen (a token before stemming) to
	// its term, so that stemming runs once per distinct form rather than
	// once per occurrence; nil when the tokenizer does not stem.
	surface map[string]uint32

	// Documents are numbered by slot, in order of addition. ids[slot] is
	// "" for a removed document, lens[slot] its token count (deadLen once
	// removed). The term ids of slot s are fwd[fwdStart[s]:fwdStart[s+1]]
	// (or to len(fwd) for the last slot), which lets Remove update df.
	slots    map[string]int32
	ids      []string
	lens     []uint32
	fwdStart []int
	fwd      []uint32

	live     int   // documents currently in the index
	dead     int   // removed documents whose slots compaction has not reclaimed
	totalLen int64 // tokens in live documents
}

// scratch holds per-call buffers.
type scratch struct {
	tok     tokScratch
	arena   []byte    // token bytes of the text being added or searched
	ends    []int     // token i is arena[ends[i-1]:ends[i]]
	ascii   []bool    // whether token i is ASCII, hence stemmable
	stem    []byte    // stemmer work space
	acc     []float64 // Search: score by slot, all zero between uses
	touched []int32   // Search: slots with a non-zero score
	heap    []candidate
	qids    []uint32 // Search: term ids of the query tokens
	qterms  []queryTerm
}

// New returns an empty Index that tokenises documents and queries with tok
// and scores with DefaultParams.
func New(tok Tokenizer) *Index {
	ix := &Index{
		tok:    tok,
		params: DefaultParams(),
		terms:  make(map[string]uint32),
		slots:  make(map[string]int32),
	}
	if tok.Stem {
		ix.surface = make(map[string]uint32)
	}
	return ix
}

// Tokenizer returns the tokenizer the index was created with.
func (ix *Index) Tokenizer() Tokenizer { return ix.tok }

// SetParams changes k1 and b. Scores are computed at query time from the
// stored term frequencies, so this takes effect on the next Search without
// reindexing. It returns ErrInvalidParams if K1 is negative or not finite or
// B is outside [0, 1].
func (ix *Index) SetParams(p Params) error {
	if err := p.validate(); err != nil {
		return err
	}
	ix.mu.Lock()
	ix.params = p
	ix.mu.Unlock()
	return nil
}

// Params returns the current k1 and b.
func (ix *Index) Params() Params {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.params
}

// Len returns the number of documents in the index.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live
}

func (ix *Index) getScratch() *scratch {
	if s, ok := ix.scratch.Get().(*scratch); ok {
		return s
	}
	return new(scratch)
}

// maxPooledText is the largest token arena a pooled scratch keeps: one
// huge document must not pin its size in memory for later calls.
const maxPooledText = 1 << 20

func (ix *Index) putScratch(s *scratch) {
	if cap(s.arena) > maxPooledText {
		return
	}
	ix.scratch.Put(s)
}

// tokenize fills s.arena, s.ends and s.ascii with the surface forms of
// the tokens of text (not yet stemmed; see termOf).
func (ix *Index) tokenize(s *scratch, text string) {
	s.arena, s.ends, s.ascii = s.arena[:0], s.ends[:0], s.ascii[:0]
	ix.tok.scanSurface(text, &s.tok, func(tok []byte, ascii bool) {
		s.arena = append(s.arena, tok...)
		s.ends = append(s.ends, len(s.arena))
		s.ascii = append(s.ascii, ascii)
	})
}

// findTerm returns the term of a surface token, if the index has it.
// Callers hold mu.
func (ix *Index) findTerm(s *scratch, tok []byte, ascii bool) (term []byte, t uint32, ok bool) {
	if ix.surface != nil {
		if t, ok := ix.surface[string(tok)]; ok {
			return nil, t, true
		}
	}
	term = tok
	if ix.tok.Stem && ascii {
		s.stem = append(s.stem[:0], tok...)
		term = stemASCII(s.stem)
	}
	t, ok = ix.terms[string(term)]
	return term, t, ok
}

// termOf returns the term of a surface token, adding it to the dictionary
// if it is new. Callers hold mu for writing.
func (ix *Index) termOf(s *scratch, tok []byte, ascii bool) uint32 {
	term, t, ok := ix.findTerm(s, tok, ascii)
	if ok && term == nil {
		return t // a known surface form
	}
	if !ok {
		t = uint32(len(ix.info))
		ix.terms[string(term)] = t
		ix.info = append(ix.info, termInfo{})
	}
	if ix.surface != nil {
		ix.surface[string(tok)] = t
	}
	return t
}

// Add indexes text under docID, replacing any document already indexed
// under that id. The document's length is its number of tokens (stop words
// excluded). It returns ErrEmptyID for an empty id.
func (ix *Index) Add(docID, text string) error {
	if docID == "" {
		return ErrEmptyID
	}
	s := ix.getScratch()
	defer ix.putScratch(s)
	ix.tokenize(s, text)

	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old, ok := ix.slots[docID]; ok {
		ix.removeSlot(old)
		ix.maybeCompact()
	}
	if len(ix.ids) >= maxSlots {
		ix.compact()
		if len(ix.ids) >= maxSlots {
			return fmt.Errorf("%w: %d documents", ErrFull, ix.live)
		}
	}
	slot := int32(len(ix.ids))
	id := strings.Clone(docID) // do not pin the caller's larger string
	ix.fwdStart = append(ix.fwdStart, len(ix.fwd))
	start := 0
	for i, end := range s.ends {
		t := ix.termOf(s, s.arena[start:end], s.ascii[i])
		start = end
		// This document has the highest slot, so if it already holds the
		// term, its posting is the last one.
		ti := &ix.info[t]
		if n := len(ti.postings); n > 0 && ti.postings[n-1].slot == slot {
			ti.postings[n-1].tf++
			continue
		}
		ti.postings = append(ti.postings, posting{slot: slot, tf: 1})
		ti.df++
		ix.fwd = append(ix.fwd, t)
	}
	ix.slots[id] = slot
	ix.ids = append(ix.ids, id)
	ix.lens = append(ix.lens, uint32(len(s.ends)))
	ix.live++
	ix.totalLen += int64(len(s.ends))
	return nil
}

// Remove deletes the document indexed under docID and reports whether
// there was one. Statistics change at once; the space of removed documents
// is reclaimed in bulk once they make up a fifth of the slots, so Remove
// costs time proportional to the document's distinct terms, amortised.
func (ix *Index) Remove(docID string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	slot, ok := ix.slots[docID]
	if !ok {
		return false
	}
	ix.removeSlot(slot)
	ix.maybeCompact()
	return true
}

// maybeCompact compacts once removed documents make up a fifth of the
// slots (at least 64 of them), or when none is left: each compaction costs
// time proportional to the index, paid for by the removals since the last.
// Callers hold mu for writing.
func (ix *Index) maybeCompact() {
	if ix.dead > 0 && (ix.live == 0 || (ix.dead >= 64 && ix.dead*4 >= ix.live+ix.dead)) {
		ix.compact()
	}
}

// fwdEnd returns the end of slot's term ids in fwd.
func (ix *Index) fwdEnd(slot int32) int {
	if int(slot)+1 < len(ix.fwdStart) {
		return ix.fwdStart[slot+1]
	}
	return len(ix.fwd)
}

// removeSlot marks slot dead and takes it out of the statistics; its
// postings stay until compact. Callers hold mu for writing.
func (ix *Index) removeSlot(slot int32) {
	for _, t := range ix.fwd[ix.fwdStart[slot]:ix.fwdEnd(slot)] {
		ix.info[t].df--
	}
	delete(ix.slots, ix.ids[slot])
	ix.ids[slot] = ""
	ix.totalLen -= int64(ix.lens[slot])
	ix.lens[slot] = deadLen
	ix.live--
	ix.dead++
}

// compact renumbers the live documents and the terms they use, dropping
// dead postings, terms no live document holds, and the space of both.
// Callers hold mu for writing.
func (ix *Index) compact() {
	newSlot := make([]int32, len(ix.ids))
	next := int32(0)
	for s, id := range ix.ids {
		if id == "" {
			newSlot[s] = -1
			continue
		}
		newSlot[s] = next
		next++
	}

	newTerm := make([]uint32, len(ix.info))
	info := make([]termInfo, 0, len(ix.info))
	for t, ti := range ix.info {
		if ti.df == 0 {
			newTerm[t] = math.MaxUint32
			continue
		}
		kept := make([]posting, 0, ti.df)
		for _, p := range ti.postings {
			if ns := newSlot[p.slot]; ns >= 0 {
				kept = append(kept, posting{slot: ns, tf: p.tf})
			}
		}
		newTerm[t] = uint32(len(info))
		info = append(info, termInfo{postings: kept, df: ti.df})
	}
	// New maps rather than deletes: Go maps never shrink.
	terms := make(map[string]uint32, len(info))
	for term, t := range ix.terms {
		if nt := newTerm[t]; nt != math.MaxUint32 {
			terms[term] = nt
		}
	}
	if ix.surface != nil {
		surface := make(map[string]uint32, len(ix.surface))
		for form, t := range ix.surface {
			if nt := newTerm[t]; nt != math.MaxUint32 {
				surface[form] = nt
			}
		}
		ix.surface = surface
	}
	slots := make(map[string]int32, ix.live)

	ids := make([]string, 0, ix.live)
	lens := make([]uint32, 0, ix.live)
	fwdStart := make([]int, 0, ix.live)
	fwd := make([]uint32, 0, len(ix.fwd))
	for s, id := range ix.ids {
		if id == "" {
			continue
		}
		fwdStart = append(fwdStart, len(fwd))
		for _, t := range ix.fwd[ix.fwdStart[s]:ix.fwdEnd(int32(s))] {
			fwd = append(fwd, newTerm[t])
		}
		slots[id] = newSlot[s]
		ids = append(ids, id)
		lens = append(lens, ix.lens[s])
	}
	ix.terms, ix.slots = terms, slots
	ix.info = info
	ix.ids, ix.lens, ix.fwdStart, ix.fwd = ids, lens, fwdStart, slices.Clip(fwd)
	ix.dead = 0
}

// candidate is an entry of Search's top-k heap.
type candidate struct {
	score float64
	slot  int32
}

// Search returns the k documents that score highest for query, best first;
// ties are broken by document id, so results are deterministic. allow, if
// not nil, filters documents before the top k are chosen, so the caller
// gets k allowed documents whenever that many match; it is called at most
// once per document, only for documents that would enter the current top
// k, while the index is read-locked, so it must not call Add or Remove on
// this index. Documents that share no term with the query are never
// returned. Search returns nil when k <= 0 or nothing matches.
//
// The score of document D for query Q is
//
//	Σ_{t ∈ Q} qtf(t) · IDF(t) · tf(t,D)·(k1 + 1) / (tf(t,D) + k1·(1 − b + b·|D|/avgdl))
//	IDF(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//
// where qtf(t) counts t in the query, tf(t,D) in D, |D| is D's token count,
// avgdl the mean over the N documents of the index, and df(t) the number of
// them holding t. The IDF is Lucene's: unlike Robertson's original
// ln((N − df + 0.5)/(df + 0.5)) it never goes negative for a term in more
// than half the documents. Lucene itself drops the constant factor
// (k1 + 1), which does not change the ranking, and stores |D| rounded to
// one byte; this index keeps exact lengths.
func (ix *Index) Search(query string, k int, allow func(docID string) bool) []Result {
	if k <= 0 {
		return nil
	}
	s := ix.getScratch()
	ix.tokenize(s, query)
	if len(s.ends) == 0 {
		ix.putScratch(s)
		return nil
	}

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.live == 0 {
		ix.putScratch(s)
		return nil
	}
	if len(s.acc) < len(ix.ids) {
		s.acc = make([]float64, len(ix.ids)+len(ix.ids)/8)
	}
	acc, touched := s.acc, s.touched[:0]

	n := float64(ix.live)
	k1, b := ix.params.K1, ix.params.B
	avgdl := float64(ix.totalLen) / n
	var c0, c1 float64 // k1·(1 − b + b·|D|/avgdl) = c0 + c1·|D|
	c0 = k1 * (1 - b)
	if avgdl > 0 {
		c1 = k1 * b / avgdl
	}

	for _, t := range ix.queryTerms(s) {
		ti := &ix.info[t.id]
		df := float64(ti.df)
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		w := float64(t.qtf) * idf * (k1 + 1)
		for _, p := range ti.postings {
			dl := ix.lens[p.slot]
			if dl == deadLen {
				continue
			}
			tf := float64(p.tf)
			a := acc[p.slot]
			if a == 0 {
				touched = append(touched, p.slot)
			}
			acc[p.slot] = a + w*tf/(tf+c0+c1*float64(dl))
		}
	}

	// Top k by a min-heap whose root is the weakest kept candidate.
	h := s.heap[:0]
	for _, slot := range touched {
		score := acc[slot]
		acc[slot] = 0 // leave the accumulator clean for the next search
		c := candidate{score: score, slot: slot}
		if len(h) == k && !ix.better(c, h[0]) {
			continue
		}
		if allow != nil && !allow(ix.ids[slot]) {
			continue
		}
		if len(h) < k {
			h = append(h, c)
			ix.siftUp(h, len(h)-1)
		} else {
			h[0] = c
			ix.siftDown(h, 0)
		}
	}
	slices.SortFunc(h, func(a, b candidate) int {
		if ix.better(a, b) {
			return -1
		}
		return 1 // slots are distinct, so never equal
	})
	var out []Result
	if len(h) > 0 {
		out = make([]Result, len(h))
		for i, c := range h {
			out[i] = Result{DocID: ix.ids[c.slot], Score: c.score}
		}
	}
	s.touched, s.heap = touched[:0], h[:0]
	ix.putScratch(s)
	return out
}

// queryTerm is a distinct query term present in the index.
type queryTerm struct {
	id  uint32
	qtf int
}

// queryTerms maps the tokens in s to the distinct known terms that live
// documents hold, counting repeats. Terms come out in term-id order, which
// fixes the order scores are summed in.
func (ix *Index) queryTerms(s *scratch) []queryTerm {
	ids := s.qids[:0]
	start := 0
	for i, end := range s.ends {
		_, t, ok := ix.findTerm(s, s.arena[start:end], s.ascii[i])
		start = end
		if ok && ix.info[t].df > 0 {
			ids = append(ids, t)
		}
	}
	slices.Sort(ids)
	qs := s.qterms[:0]
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j] == ids[i] {
			j++
		}
		qs = append(qs, queryTerm{id: ids[i], qtf: j - i})
		i = j
	}
	s.qids, s.qterms = ids, qs
	return qs
}

// better reports whether a ranks above b: higher score, then smaller id.
func (ix *Index) better(a, b candidate) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return cmp.Less(ix.ids[a.slot], ix.ids[b.slot])
}

// siftUp and siftDown maintain h as a min-heap under better: the root is
// the candidate every other one beats.
func (ix *Index) siftUp(h []candidate, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !ix.better(h[parent], h[i]) {
			return
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
}

func (ix *Index) siftDown(h []candidate, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		worst := l
		if r := l + 1; r < len(h) && ix.better(h[l], h[r]) {
			worst = r
		}
		if !ix.better(h[i], h[worst]) {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}
