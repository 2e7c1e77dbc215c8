package memstore_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/keel-go/keel/rag"
)

// corpus is a seeded synthetic corpus: tenants, ACLs, texts and vectors.
type corpus struct {
	dim     int
	rng     *rand.Rand
	docs    []corpusDoc
	queries [][]float32
}

type corpusDoc struct {
	info   rag.DocumentInfo
	chunks []rag.Chunk
}

var corpusWords = strings.Fields("parcel refund invoice password shipping account order delivery damaged billing login support warranty " +
	"return label tracking courier address payment card bank transfer discount coupon subscription cancel upgrade plan device")

// newCorpus builds docs documents of chunksPer chunks with vectors of dim
// dimensions, spread over tenants tenants ("t0"...).
func newCorpus(seed uint64, docs, chunksPer, dim, tenants int) *corpus {
	c := &corpus{dim: dim, rng: rand.New(rand.NewPCG(seed, 7))}
	for d := range docs {
		tenant := fmt.Sprintf("t%d", d%tenants)
		acl := rag.ACL{Everyone: d%3 != 0, Users: []string{fmt.Sprintf("u%d", d%4)}, Groups: []string{fmt.Sprintf("g%d", d%2)}}
		info := rag.DocumentInfo{ID: fmt.Sprintf("doc%06d", d), Tenant: tenant, ACL: acl, Title: "Doc " + fmt.Sprint(d), Chunks: chunksPer}
		chunks := make([]rag.Chunk, chunksPer)
		off := 0
		for i := range chunks {
			text := c.text(20)
			chunks[i] = rag.Chunk{Index: i, Start: off, End: off + len(text), Text: text, Vector: c.vector()}
			off += len(text) + 1
		}
		c.docs = append(c.docs, corpusDoc{info: info, chunks: chunks})
	}
	return c
}

func (c *corpus) text(words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(corpusWords[c.rng.IntN(len(corpusWords))])
	}
	return b.String()
}

func (c *corpus) vector() []float32 {
	v := make([]float32, c.dim)
	var n float64
	for i := range v {
		x := c.rng.NormFloat64()
		v[i] = float32(x)
		n += x * x
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}

// query returns the i-th query vector, generated on first use.
func (c *corpus) query(i int) []float32 {
	for len(c.queries) <= i {
		c.queries = append(c.queries, c.vector())
	}
	return c.queries[i]
}
