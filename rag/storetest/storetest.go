package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
)

// Options says what a backend promises beyond the common contract.
type Options struct {
	// Exact: vector search returns exactly the top k of what the
	// principal may see (an exhaustive scan). Otherwise (an approximate
	// index) recall@10 against exact search must reach MinRecall.
	Exact bool
	// MinRecall is the recall@10 an approximate backend must reach on
	// filtered queries; 0 means 0.95.
	MinRecall float64
	// Scale multiplies the size of the isolation property test's corpus
	// (1 when 0): backends that are slow to load (a single-session test
	// server) may shrink it.
	Scale float64
}

// Open returns an empty store for vectors of dim dimensions; the suite
// calls it once per subtest and closes nothing (register cleanups on t).
type Open func(t *testing.T, dim int) rag.Store

// Run runs the contract against the stores open returns.
func Run(t *testing.T, open Open, opts Options) {
	if opts.MinRecall == 0 {
		opts.MinRecall = 0.95
	}
	if opts.Scale == 0 {
		opts.Scale = 1
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t, 4)) })
	t.Run("ReplaceIsAtomic", func(t *testing.T) { testReplaceAtomic(t, open(t, 4)) })
	t.Run("UpdateKeepsVectors", func(t *testing.T) { testUpdate(t, open(t, 4)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open(t, 4)) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, open(t, 4)) })
	t.Run("KeywordRanks", func(t *testing.T) { testKeywordRanks(t, open(t, 4)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open(t, 4)) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open(t, 16), opts) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open(t, 4)) })
}

var (
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alice  = llm.Principal{Tenant: "acme", User: "alice", Groups: []string{"support"}}
	bob    = llm.Principal{Tenant: "acme", User: "bob"}
	mallet = llm.Principal{Tenant: "globex", User: "alice", Groups: []string{"support"}}
)

// doc builds a document's info and chunks, one chunk per text, with
// vectors from vec.
func doc(tenant, id string, acl rag.ACL, meta map[string]string, updated time.Time, texts []string, vec func(i int) []float32) (rag.DocumentInfo, []rag.Chunk) {
	info := rag.DocumentInfo{ID: id, Tenant: tenant, ACL: acl, Title: "Title of " + id, SourceURL: "https://docs.example.com/" + id,
		UpdatedAt: updated, Metadata: meta, Fingerprint: "fp-" + id, Chunks: len(texts)}
	var chunks []rag.Chunk
	off := 0
	for i, text := range texts {
		chunks = append(chunks, rag.Chunk{Index: i, Start: off, End: off + len(text), Text: text, Vector: vec(i)})
		off += len(text) + 1
	}
	return info, chunks
}

func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ids(hits []rag.Hit) []string {
	out := make([]string, len(hits))
	for i := range hits {
		out[i] = hits[i].Chunk.ID()
	}
	return out
}

func testRoundTrip(t *testing.T, s rag.Store) {
	ctx := context.Background()
	info, chunks := doc("acme", "guide", rag.ACL{Everyone: true}, map[string]string{"lang": "en"}, t0,
		[]string{"Reset your password from the login page.", "Contact support for billing questions."},
		func(i int) []float32 { return unit(1, float32(i), 0, 0) })
	chunks[1].Headings = []string{"Help", "Billing"}
	must(t, s.Replace(ctx, info, chunks))
	got, err := s.Document(ctx, "acme", "guide")
	must(t, err)
	if got.Fingerprint != "fp-guide" || got.Chunks != 2 || got.Title != info.Title || !got.UpdatedAt.Equal(t0) || got.Metadata["lang"] != "en" || !got.ACL.Everyone {
		t.Errorf("document %+v", got)
	}
	back, err := s.Chunks(ctx, "acme", "guide")
	must(t, err)
	if len(back) != 2 {
		t.Fatalf("%d chunks", len(back))
	}
	for i, c := range back {
		w := chunks[i]
		if c.DocID != "guide" || c.Tenant != "acme" || c.Index != i || c.Start != w.Start || c.End != w.End || c.Text != w.Text ||
			c.Title != info.Title || c.SourceURL != info.SourceURL || !slices.Equal(c.Headings, w.Headings) {
			t.Errorf("chunk %d: %+v", i, c)
		}
		if cosine(c.Vector, w.Vector) < 0.999 {
			t.Errorf("chunk %d: vector %v, want %v", i, c.Vector, w.Vector)
		}
	}
	docs, err := s.Documents(ctx, "acme")
	must(t, err)
	if len(docs) != 1 || docs[0].ID != "guide" {
		t.Errorf("documents %+v", docs)
	}
	if docs, _ := s.Documents(ctx, "globex"); len(docs) != 0 {
		t.Errorf("another tenant lists %+v", docs)
	}
	if _, err := s.Document(ctx, "globex", "guide"); !errors.Is(err, rag.ErrNotFound) {
		t.Errorf("another tenant's Document: %v, want ErrNotFound", err)
	}
	// The same user and groups in another tenant see nothing.
	if hits, err := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: mallet, K: 5}, Vector: chunks[0].Vector}); err != nil || len(hits) != 0 {
		t.Errorf("another tenant's principal: %v, %v", ids(hits), err)
	}
	if hits, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: mallet, K: 5}, Text: "password"}); err != nil || len(hits) != 0 {
		t.Errorf("another tenant's principal, keywords: %v, %v", ids(hits), err)
	}
	if _, err := s.Chunks(ctx, "acme", "missing"); !errors.Is(err, rag.ErrNotFound) {
		t.Errorf("Chunks of a missing document: %v", err)
	}
}

func testReplaceAtomic(t *testing.T, s rag.Store) {
	ctx := context.Background()
	info, chunks := doc("acme", "faq", rag.ACL{Everyone: true}, nil, t0,
		[]string{"old alpha", "old beta", "old gamma"}, func(i int) []float32 { return unit(1, 0, 0, float32(i)) })
	must(t, s.Replace(ctx, info, chunks))
	info2, chunks2 := doc("acme", "faq", rag.ACL{Everyone: true}, nil, t0.Add(time.Hour),
		[]string{"new alpha"}, func(int) []float32 { return unit(0, 1, 0, 0) })
	info2.Fingerprint = "fp-faq-2"
	// Readers running during replaces see the old document or the new
	// one, never a mix and never nothing.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mixed error
	var once sync.Once
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			hits, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: alice, K: 10}, Text: "alpha beta gamma"})
			if err != nil {
				once.Do(func() { mixed = err })
				return
			}
			olds, news := 0, 0
			for _, h := range hits {
				if strings.HasPrefix(h.Chunk.Text, "old") {
					olds++
				} else {
					news++
				}
			}
			if (olds > 0 && news > 0) || (olds == 0 && news == 0) {
				once.Do(func() { mixed = fmt.Errorf("a search saw %d old and %d new chunks", olds, news) })
				return
			}
		}
	})
	for i := range 20 {
		if i%2 == 0 {
			must(t, s.Replace(ctx, info2, chunks2))
		} else {
			must(t, s.Replace(ctx, info, chunks))
		}
	}
	must(t, s.Replace(ctx, info2, chunks2))
	close(stop)
	wg.Wait()
	if mixed != nil {
		t.Fatal(mixed)
	}
	back, err := s.Chunks(ctx, "acme", "faq")
	must(t, err)
	if len(back) != 1 || back[0].Text != "new alpha" {
		t.Fatalf("after replace: %+v", back)
	}
	if got, _ := s.Document(ctx, "acme", "faq"); got.Fingerprint != "fp-faq-2" || got.Chunks != 1 {
		t.Errorf("document after replace %+v", got)
	}
}

func testUpdate(t *testing.T, s rag.Store) {
	ctx := context.Background()
	info, chunks := doc("acme", "plan", rag.ACL{Users: []string{"alice"}}, map[string]string{"team": "a"}, t0,
		[]string{"roadmap for the quarter"}, func(int) []float32 { return unit(0, 0, 1, 0) })
	must(t, s.Replace(ctx, info, chunks))
	q := rag.VectorQuery{Query: rag.Query{Principal: bob, K: 5}, Vector: unit(0, 0, 1, 0)}
	if hits, _ := s.VectorSearch(ctx, q); len(hits) != 0 {
		t.Fatalf("bob sees %v before the ACL change", ids(hits))
	}
	info.ACL = rag.ACL{Users: []string{"alice", "bob"}}
	info.Metadata = map[string]string{"team": "b"}
	info.Title = "Renamed"
	must(t, s.Update(ctx, info))
	hits, err := s.VectorSearch(ctx, q)
	must(t, err)
	if len(hits) != 1 || hits[0].Chunk.Title != "Renamed" || hits[0].Chunk.Metadata["team"] != "b" || cosine(hits[0].Chunk.Vector, chunks[0].Vector) < 0.999 {
		t.Fatalf("after update: %+v", hits)
	}
	if err := s.Update(ctx, rag.DocumentInfo{ID: "missing", Tenant: "acme"}); !errors.Is(err, rag.ErrNotFound) {
		t.Errorf("update of a missing document: %v", err)
	}
}

func testDelete(t *testing.T, s rag.Store) {
	ctx := context.Background()
	info, chunks := doc("acme", "old", rag.ACL{Everyone: true}, nil, t0, []string{"obsolete pricing"}, func(int) []float32 { return unit(1, 1, 0, 0) })
	must(t, s.Replace(ctx, info, chunks))
	must(t, s.Delete(ctx, "acme", "old"))
	must(t, s.Delete(ctx, "acme", "old")) // again: not an error
	if hits, _ := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: alice, K: 5}, Text: "pricing"}); len(hits) != 0 {
		t.Errorf("deleted document found: %v", ids(hits))
	}
	if hits, _ := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: alice, K: 5}, Vector: unit(1, 1, 0, 0)}); len(hits) != 0 {
		t.Errorf("deleted document found by vector: %v", ids(hits))
	}
	if _, err := s.Document(ctx, "acme", "old"); !errors.Is(err, rag.ErrNotFound) {
		t.Errorf("Document after delete: %v", err)
	}
}

func testBadInput(t *testing.T, s rag.Store) {
	ctx := context.Background()
	for name, q := range map[string]rag.Query{
		"no principal": {K: 5},
		"user only":    {Principal: llm.Principal{User: "alice"}, K: 5},
		"zero k":       {Principal: alice},
		"negative k":   {Principal: alice, K: -1},
		"empty In":     {Principal: alice, K: 5, Filter: rag.Filter{In: map[string][]string{"lang": nil}}},
	} {
		if _, err := s.VectorSearch(ctx, rag.VectorQuery{Query: q, Vector: unit(1, 0, 0, 0)}); err == nil {
			t.Errorf("%s: vector search succeeded", name)
		}
		if _, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: q, Text: "x"}); err == nil {
			t.Errorf("%s: keyword search succeeded", name)
		}
	}
	if _, err := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: alice, K: 5}, Vector: []float32{1, 0}}); err == nil {
		t.Error("a query vector of the wrong dimensions was accepted")
	}
	info, chunks := doc("acme", "d", rag.ACL{Everyone: true}, nil, t0, []string{"x"}, func(int) []float32 { return []float32{1, 0} })
	if err := s.Replace(ctx, info, chunks); err == nil {
		t.Error("a chunk vector of the wrong dimensions was accepted")
	}
	info, chunks = doc("", "d", rag.ACL{Everyone: true}, nil, t0, []string{"x"}, func(int) []float32 { return unit(1, 0, 0, 0) })
	if err := s.Replace(ctx, info, chunks); !errors.Is(err, rag.ErrNoPrincipal) {
		t.Errorf("a document without a tenant: %v", err)
	}
	if hits, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: alice, K: 5}, Text: ""}); err != nil || len(hits) != 0 {
		t.Errorf("empty keyword query: %v, %v", hits, err)
	}
}

// Keyword ranks, not scores, are compared: backends score differently.
func testKeywordRanks(t *testing.T, s rag.Store) {
	ctx := context.Background()
	texts := map[string]string{
		"refund":   "How to request a refund for a damaged parcel. Refunds are paid within five days.",
		"shipping": "Shipping times for parcels inside the EU are two to four days.",
		"password": "Reset your password from the account page.",
	}
	for id, text := range texts {
		info, chunks := doc("acme", id, rag.ACL{Everyone: true}, nil, t0, []string{text}, func(int) []float32 { return unit(1, 0, 0, 0) })
		must(t, s.Replace(ctx, info, chunks))
	}
	for _, tt := range []struct {
		query string
		first string
		none  []string // documents that must not match at all
	}{
		{"refund damaged parcel", "refund#0", []string{"password#0"}},
		{"password reset", "password#0", []string{"refund#0", "shipping#0"}},
		{"shipping times", "shipping#0", []string{"password#0"}},
	} {
		hits, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: alice, K: 3}, Text: tt.query})
		must(t, err)
		got := ids(hits)
		if len(got) == 0 || got[0] != tt.first {
			t.Errorf("%q: ranked %v, want %s first", tt.query, got, tt.first)
		}
		for _, n := range tt.none {
			if slices.Contains(got, n) {
				t.Errorf("%q: %s matched", tt.query, n)
			}
		}
		for i := 1; i < len(hits); i++ {
			if hits[i].Score > hits[i-1].Score {
				t.Errorf("%q: scores not descending: %v", tt.query, hits)
			}
		}
	}
}

func testFilters(t *testing.T, s rag.Store) {
	ctx := context.Background()
	for i, lang := range []string{"en", "de", "fr", "en"} {
		id := fmt.Sprintf("d%d", i)
		info, chunks := doc("acme", id, rag.ACL{Everyone: true}, map[string]string{"lang": lang, "kind": "faq"}, t0.Add(time.Duration(i)*24*time.Hour),
			[]string{"parcel delivery question " + id}, func(int) []float32 { return unit(1, float32(i)/10, 0, 0) })
		must(t, s.Replace(ctx, info, chunks))
	}
	for _, tt := range []struct {
		name   string
		filter rag.Filter
		want   []string
	}{
		{"equals", rag.Filter{Equals: map[string]string{"lang": "en"}}, []string{"d0#0", "d3#0"}},
		{"in", rag.Filter{In: map[string][]string{"lang": {"de", "fr"}}}, []string{"d1#0", "d2#0"}},
		{"equals and in", rag.Filter{Equals: map[string]string{"kind": "faq"}, In: map[string][]string{"lang": {"fr", "xx"}}}, []string{"d2#0"}},
		{"missing key", rag.Filter{Equals: map[string]string{"team": "a"}}, nil},
		{"doc ids", rag.Filter{DocIDs: []string{"d1", "d3"}}, []string{"d1#0", "d3#0"}},
		{"time range", rag.Filter{UpdatedFrom: t0.Add(24 * time.Hour), UpdatedBefore: t0.Add(3 * 24 * time.Hour)}, []string{"d1#0", "d2#0"}},
		{"from only", rag.Filter{UpdatedFrom: t0.Add(3 * 24 * time.Hour)}, []string{"d3#0"}},
	} {
		q := rag.Query{Principal: alice, K: 10, Filter: tt.filter}
		vh, err := s.VectorSearch(ctx, rag.VectorQuery{Query: q, Vector: unit(1, 0, 0, 0)})
		must(t, err)
		kh, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: q, Text: "parcel delivery"})
		must(t, err)
		for name, got := range map[string][]string{"vector": ids(vh), "keyword": ids(kh)} {
			sort.Strings(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s, %s search: %v, want %v", tt.name, name, got, tt.want)
			}
		}
	}
}

// testIsolation is the property test: random tenants, ACLs, filters and
// queries; no hit ever violates its tenant, ACL or filter, and the top k
// is exactly (Exact) or nearly (recall) the top k of what is visible.
func testIsolation(t *testing.T, s rag.Store, opts Options) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	const dim = 16
	tenants := []string{"t0", "t1", "t2"}
	users := []string{"u0", "u1", "u2", "u3"}
	groups := []string{"g0", "g1"}
	langs := []string{"en", "de", "fr"}
	words := strings.Fields("parcel refund invoice password shipping account order delivery damaged billing login support warranty")
	ndocs := int(120 * opts.Scale)
	var all []rag.Chunk
	for d := range ndocs {
		tenant := tenants[rng.IntN(len(tenants))]
		var acl rag.ACL
		switch rng.IntN(4) {
		case 0:
			acl.Everyone = true
		case 1:
			acl.Users = []string{users[rng.IntN(len(users))]}
		case 2:
			acl.Groups = []string{groups[rng.IntN(len(groups))]}
		}
		meta := map[string]string{"lang": langs[rng.IntN(len(langs))]}
		n := 1 + rng.IntN(3)
		texts := make([]string, n)
		for i := range texts {
			var b strings.Builder
			for range 6 {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			texts[i] = strings.TrimSpace(b.String())
		}
		info, chunks := doc(tenant, fmt.Sprintf("doc%03d", d), acl, meta, t0.Add(time.Duration(rng.IntN(30))*24*time.Hour), texts,
			func(int) []float32 { return randomUnit(rng, dim) })
		must(t, s.Replace(ctx, info, chunks))
		all = append(all, rag.WithInfo(&info, chunks)...)
	}
	var recallSum float64
	var recallN int
	for qi := range 60 {
		p := llm.Principal{Tenant: tenants[rng.IntN(len(tenants))], User: users[rng.IntN(len(users))]}
		if rng.IntN(2) == 0 {
			p.Groups = []string{groups[rng.IntN(len(groups))]}
		}
		var f rag.Filter
		switch rng.IntN(3) {
		case 1:
			f.Equals = map[string]string{"lang": langs[rng.IntN(len(langs))]}
		case 2:
			f.UpdatedFrom = t0.Add(time.Duration(rng.IntN(20)) * 24 * time.Hour)
		}
		q := rag.Query{Principal: p, K: 10, Filter: f}
		vec := randomUnit(rng, dim)
		vh, err := s.VectorSearch(ctx, rag.VectorQuery{Query: q, Vector: vec})
		must(t, err)
		kh, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: q, Text: words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]})
		must(t, err)
		for _, h := range append(slices.Clone(vh), kh...) {
			c := h.Chunk
			if c.Tenant != p.Tenant {
				t.Fatalf("query %d: tenant %s saw a chunk of %s", qi, p.Tenant, c.Tenant)
			}
			if !c.ACL.Allows(p) {
				t.Fatalf("query %d: %+v saw %s, ACL %+v", qi, p, c.ID(), c.ACL)
			}
			if !q.Filter.Matches(&c) {
				t.Fatalf("query %d: filter %+v let %s through", qi, q.Filter, c.ID())
			}
		}
		// The exact answer: every visible chunk, by similarity.
		var visible []rag.Hit
		for i := range all {
			if q.Visible(&all[i]) {
				visible = append(visible, rag.Hit{Chunk: all[i], Score: cosine(all[i].Vector, vec)})
			}
		}
		sort.SliceStable(visible, func(i, j int) bool { return visible[i].Score > visible[j].Score })
		want := visible[:min(10, len(visible))]
		if len(vh) != len(want) && opts.Exact {
			t.Fatalf("query %d: %d hits, want %d (visible: %d)", qi, len(vh), len(want), len(visible))
		}
		if opts.Exact {
			for i := range want {
				if math.Abs(vh[i].Score-want[i].Score) > 1e-4 {
					t.Fatalf("query %d: hit %d %s (%.5f), want %s (%.5f)", qi, i, vh[i].Chunk.ID(), vh[i].Score, want[i].Chunk.ID(), want[i].Score)
				}
			}
		} else if len(want) > 0 {
			wantIDs := ids(want)
			found := 0
			for _, id := range ids(vh) {
				if slices.Contains(wantIDs, id) {
					found++
				}
			}
			recallSum += float64(found) / float64(len(want))
			recallN++
		}
	}
	if !opts.Exact && recallN > 0 {
		if r := recallSum / float64(recallN); r < opts.MinRecall {
			t.Errorf("recall@10 on filtered queries %.3f, want at least %.2f", r, opts.MinRecall)
		} else {
			t.Logf("recall@10 on filtered queries: %.3f over %d queries", r, recallN)
		}
	}
}

func testConcurrent(t *testing.T, s rag.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				id := fmt.Sprintf("w%d-%d", w, i%3)
				info, chunks := doc("acme", id, rag.ACL{Everyone: true}, nil, t0, []string{"concurrent parcel " + id},
					func(int) []float32 { return unit(1, float32(w), float32(i), 0) })
				if err := s.Replace(ctx, info, chunks); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: alice, K: 3}, Vector: unit(1, 0, 0, 0)}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: alice, K: 3}, Text: "parcel"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	docs, err := s.Documents(ctx, "acme")
	must(t, err)
	if len(docs) != 12 {
		t.Errorf("%d documents after concurrent replaces, want 12", len(docs))
	}
}

func randomUnit(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return unit(v...)
}

func cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return -2
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
