package memstore

import "sort"

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

// topK keeps the k best rows pushed, in a min-heap on "better" (the worst
// kept row at the root).
type topK struct {
	k    int
	heap []ranked
}

func growHeaps(hs []topK, n, k int) []topK {
	if cap(hs) < n {
		hs = append(hs[:cap(hs)], make([]topK, n-cap(hs))...)
	}
	hs = hs[:n]
	for i := range hs {
		hs[i].k = k
		if cap(hs[i].heap) < k {
			hs[i].heap = make([]ranked, 0, k)
		}
		hs[i].heap = hs[i].heap[:0]
	}
	return hs
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

// sorted returns the kept rows best first, in a new slice.
func (h *topK) sorted() []ranked {
	out := append([]ranked(nil), h.heap...)
	sort.Slice(out, func(i, j int) bool { return better(out[i], out[j]) })
	return out
}

// mergeHeaps returns the k best rows of several heaps, best first.
func mergeHeaps(hs []topK, k int) []ranked {
	if len(hs) == 1 {
		return hs[0].sorted()
	}
	var all []ranked
	for i := range hs {
		all = append(all, hs[i].heap...)
	}
	sort.Slice(all, func(i, j int) bool { return better(all[i], all[j]) })
	if len(all) > k {
		all = all[:k]
	}
	return all
}
