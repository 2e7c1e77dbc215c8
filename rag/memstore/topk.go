package memstore

import (
	"cmp"
	"slices"
)

// ranked is a row and its score.
type ranked struct {
	row   int32
	score float32
}

// better orders ranked rows: higher score first, then lower row, so that
// results do not depend on how a scan was split.
func better(a, b ranked) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.row < b.row
}

// compareRanked is better as a three-way comparison, best first, for
// slices.SortFunc (which, unlike sort.Slice, does not allocate).
func compareRanked(a, b ranked) int {
	if a.score != b.score {
		if a.score > b.score {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.row, b.row)
}

// topK keeps the k best rows pushed, in a min-heap on "better" (the worst
// kept row at the root).
type topK struct {
	k    int
	heap []ranked
}

// reset empties h and sets how many rows it keeps.
func (h *topK) reset(k int) {
	h.k = k
	if cap(h.heap) < k {
		h.heap = make([]ranked, 0, k)
	}
	h.heap = h.heap[:0]
}

func (h *topK) push(row int32, score float32) {
	x := ranked{row, score}
	if len(h.heap) < h.k {
		h.heap = append(h.heap, x)
		h.up(len(h.heap) - 1)
		return
	}
	if !better(x, h.heap[0]) {
		return
	}
	h.heap[0] = x
	h.down(0)
}

// pushRun pushes rows first, first+1, … with scores. Once the heap is
// full, a row enters only if its score is at least the worst kept one,
// so most rows of a large scan cost one compare and never touch the
// heap. (The result is push's: a NaN score, or a worst kept score of NaN,
// fails the compare as it fails better.)
func (h *topK) pushRun(first int32, scores []float32) {
	i := 0
	for ; i < len(scores) && len(h.heap) < h.k; i++ {
		h.push(first+int32(i), scores[i])
	}
	if i == len(scores) {
		return
	}
	cut := h.heap[0].score
	for ; i < len(scores); i++ {
		if s := scores[i]; s >= cut {
			h.push(first+int32(i), s)
			cut = h.heap[0].score
		}
	}
}

// pushRows pushes rows[i] with scores[i] for every i.
func (h *topK) pushRows(rows []int, scores []float32) {
	scores = scores[:len(rows)]
	for i, r := range rows {
		h.push(int32(r), scores[i])
	}
}

func (h *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h.heap[p], h.heap[i]) {
			break
		}
		h.heap[p], h.heap[i] = h.heap[i], h.heap[p]
		i = p
	}
}

func (h *topK) down(i int) {
	n := len(h.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		worst := l
		if r := l + 1; r < n && better(h.heap[l], h.heap[r]) {
			worst = r
		}
		if !better(h.heap[i], h.heap[worst]) {
			return
		}
		h.heap[i], h.heap[worst] = h.heap[worst], h.heap[i]
		i = worst
	}
}

// sortedInto appends the kept rows to dst, best first.
func (h *topK) sortedInto(dst []ranked) []ranked {
	n := len(dst)
	dst = append(dst, h.heap...)
	slices.SortFunc(dst[n:], compareRanked)
	return dst
}

// mergeHeaps returns in dst[:0] the k best rows of the workers' heaps,
// best first.
func mergeHeaps(dst []ranked, ws []worker, k int) []ranked {
	dst = dst[:0]
	for i := range ws {
		dst = append(dst, ws[i].best.heap...)
	}
	slices.SortFunc(dst, compareRanked)
	if len(dst) > k {
		dst = dst[:k]
	}
	return dst
}
