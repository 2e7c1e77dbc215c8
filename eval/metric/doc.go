// Package metric holds the arithmetic of evaluation: retrieval metrics
// (recall, precision, hit rate, reciprocal rank and nDCG at a cutoff k),
// agreement between two raters (confusion matrix, accuracy, Cohen's kappa)
// and a seeded bootstrap confidence interval for a mean.
//
// Every function is pure and deterministic, allocates little and imports
// nothing but the standard library, so the package sits at the bottom of
// keel's layers: package eval builds its reports on it, and a test in any
// package may use it to check retrieval quality against published figures.
//
// # Rankings and judgements
//
// A ranking is a []string of document ids, best first. The judgements of one
// query are a Relevance map from document id to grade. A grade counts as
// relevant only when it is a positive, finite number: zero, negative, NaN
// and infinite grades, and documents absent from the map, are not relevant.
// Binary judgements use grade 1; graded ones (TREC style 0–3) use the grade.
//
// The cutoff k is the number of leading positions examined. A k larger than
// the ranking is allowed (the missing positions count as not relevant) and
// k <= 0 means the whole ranking. When a document id occurs more than once,
// only its first occurrence can count; later copies still occupy their
// positions but are not relevant, so a system cannot raise its score by
// repeating a good document. A query whose judgements hold no relevant
// document scores 0 on every metric; Average skips such queries, as
// trec_eval does.
//
// Example, for one query:
//
//	rel := metric.Relevance{"d1": 1, "d7": 1}
//	ranked := []string{"d3", "d1", "d9"}
//	metric.RecallAt(ranked, rel, 3)  // 0.5: one of the two relevant documents
//	metric.NDCGAt(ranked, rel, 10)   // (1/log2 3) / (1 + 1/log2 3) ≈ 0.3869
//
// and over a test collection:
//
//	ndcg := metric.Average(qrels, run, 10, metric.NDCGAt)
//
// # nDCG
//
// NDCGAt uses the exponential gain of Burges et al. (2005):
//
//	DCG@k  = Σ_{i=1..k} (2^{g_i} − 1) / log2(i + 1)
//	nDCG@k = DCG@k / IDCG@k
//
// where g_i is the grade at rank i (0 when not relevant) and IDCG@k is the
// DCG@k of the ideal ranking: every relevant judgement sorted by grade,
// highest first, so relevant documents the system never retrieved still
// lower the score. trec_eval (ndcg_cut) and pytrec_eval, which the BEIR
// benchmark uses, compute the same quantity with the linear gain g_i instead
// of 2^{g_i} − 1; NDCGLinearAt does that. For binary judgements (all of
// BEIR's SciFact, for instance) the two are identical, because 2^1 − 1 = 1.
//
// # Agreement and confidence
//
// NewConfusionMatrix, Accuracy and CohenKappa compare two labelings of the
// same items, such as an LLM judge against human labels. BootstrapMeanCI
// gives a percentile bootstrap interval for a mean score; it draws from a
// PCG generator seeded by the caller, so a report is reproducible to the bit
// for a given seed.
package metric
