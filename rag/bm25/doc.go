// Package bm25 is an in-memory Okapi BM25 keyword index: the lexical half of
// keel's hybrid retrieval, used by the embedded store (rag/memstore) next to
// its vector index, and usable on its own.
//
// It has three parts:
//
//   - Tokenizer: splits text into lowercase, Unicode-folded tokens, with
//     optional stop words (EnglishStopWords) and English stemming (Stem,
//     the Snowball Porter2 algorithm). No regular expressions; tokenising
//     plain ASCII text allocates nothing per token.
//   - Index: Add, Remove and Search over documents identified by string
//     ids, with exact BM25 scores (Lucene's IDF; formula on Search),
//     settable k1 and b (DefaultParams: Anserini's 0.9 and 0.4), a filter
//     applied before the top k are chosen, and safe concurrent use.
//   - Stem: the stemmer on its own.
//
// # One Index per tenant
//
// BM25 scores depend on collection statistics: how many documents there
// are, how many contain each term, their average length. An Index computes
// them over everything it holds. Keep one Index per tenant, so that one
// tenant's documents neither change another tenant's rankings nor leak,
// through scores, which words another tenant's documents contain. The
// allow filter of Search is for access rules inside a tenant (per user or
// group), not a substitute for that separation.
//
// # Example
//
//	ix := bm25.New(bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true})
//	ix.Add("kb-1", "Resetting a password requires the account email.")
//	ix.Add("kb-2", "Invoices are emailed on the first day of each month.")
//	for _, r := range ix.Search("how do I reset my password", 5, nil) {
//		fmt.Println(r.DocID, r.Score)
//	}
//
// # Memory and speed
//
// Document ids are interned: postings refer to documents by a 32-bit slot
// and store the term frequency in 32 bits, 8 bytes per (term, document)
// pair, plus 4 bytes per pair in a forward list that lets Remove update the
// statistics; each distinct word form is stemmed once, not at every
// occurrence. Removed documents are marked at once and their space
// reclaimed in bulk. 100,000 chunks of about 150 words (90 MB of text) take
// about 155 MB of heap; BenchmarkIndexSearch and BenchmarkIndexAdd measure
// speed on such a corpus.
//
// Tokenising does not segment scripts written without spaces (Chinese,
// Japanese, Thai): a run of such text is one token, so those languages
// need a segmenting tokenizer in front of this index.
package bm25
