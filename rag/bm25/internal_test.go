package bm25

import "testing"

// TestScanAllocations: tokenising with reused scratch space allocates
// nothing, folding, stemming and stop words included (the property the
// index's ingestion speed rests on).
func TestScanAllocations(t *testing.T) {
	text := "The patients, treated with Antibiotics in 2019, showed fewer infections than controls."
	tok := Tokenizer{StopWords: EnglishStopWords(), Stem: true}
	var sc tokScratch
	n := 0
	emit := func([]byte) { n++ }
	allocs := testing.AllocsPerRun(100, func() {
		tok.scan(text, &sc, emit)
		tok.scan("Les élèves naïfs étudièrent à Zürich", &sc, emit)
	})
	if allocs != 0 {
		t.Errorf("scan allocated %v times per run, want 0", allocs)
	}
	if n == 0 {
		t.Fatal("no tokens")
	}
}
