package rag

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/keel-go/keel/llm"
)

// Document is a source document as the application knows it: the unit of
// ingestion, permissions and deletion.
type Document struct {
	// ID identifies the document within its tenant.
	ID string
	// Tenant owns the document; no other tenant ever retrieves it.
	Tenant string
	// ACL says who inside the tenant may see it.
	ACL ACL
	// SourceURL and Title describe where it came from, for citations.
	SourceURL string
	Title     string
	// UpdatedAt is when the source last changed; filters can use it.
	UpdatedAt time.Time
	// Metadata holds free key/value pairs that filters can match.
	Metadata map[string]string
	// Text is the content. Chunk offsets are byte offsets into it.
	Text string
}

// ACL says which principals of a document's tenant may see it. The zero
// ACL admits nobody: access is granted, never assumed.
type ACL struct {
	// Everyone admits every principal of the tenant.
	Everyone bool
	// Users admits these user ids (llm.Principal.User).
	Users []string
	// Groups admits principals in any of these groups
	// (llm.Principal.Groups).
	Groups []string
}

// Allows reports whether p may see a document with this ACL. The tenant is
// checked separately: an ACL never admits another tenant's principal.
func (a ACL) Allows(p llm.Principal) bool {
	if a.Everyone {
		return true
	}
	if p.User != "" && slices.Contains(a.Users, p.User) {
		return true
	}
	for _, g := range p.Groups {
		if slices.Contains(a.Groups, g) {
			return true
		}
	}
	return false
}

// Clone returns a copy of a that shares no slices with it.
func (a ACL) Clone() ACL {
	return ACL{Everyone: a.Everyone, Users: slices.Clone(a.Users), Groups: slices.Clone(a.Groups)}
}

// DocumentInfo is what a store keeps about a document besides its chunks:
// everything of Document but the text, and the fingerprint of what was
// ingested.
type DocumentInfo struct {
	ID, Tenant       string
	ACL              ACL
	SourceURL, Title string
	UpdatedAt        time.Time
	Metadata         map[string]string
	// Fingerprint identifies the ingested content and how it was
	// processed (content hash, embedding model and dimensions, splitter
	// settings): the ingester skips a document whose fingerprint is
	// unchanged.
	Fingerprint string
	// Chunks counts the document's chunks.
	Chunks int
}

// Info returns d's DocumentInfo with the given fingerprint and chunk count.
func (d *Document) Info(fingerprint string, chunks int) DocumentInfo {
	return DocumentInfo{ID: d.ID, Tenant: d.Tenant, ACL: d.ACL.Clone(), SourceURL: d.SourceURL, Title: d.Title,
		UpdatedAt: d.UpdatedAt, Metadata: maps.Clone(d.Metadata), Fingerprint: fingerprint, Chunks: chunks}
}

// Chunk is a piece of a document as stored: its text, where it sits in the
// document, its vector, and the document fields that filters, permissions
// and citations need.
type Chunk struct {
	DocID  string
	Tenant string
	// Index is the chunk's position in the document, from 0.
	Index int
	// Start and End are byte offsets into Document.Text:
	// Document.Text[Start:End] == Text.
	Start, End int
	Text       string
	// Headings is the heading path of the chunk's section (Markdown), nil
	// for plain text.
	Headings []string
	// Vector is the chunk's embedding, normalised to unit length by the
	// stores that need it.
	Vector []float32

	// Copied from the document.
	ACL       ACL
	Title     string
	SourceURL string
	UpdatedAt time.Time
	Metadata  map[string]string
}

// ID returns "<doc id>#<index>", unique within a tenant.
func (c *Chunk) ID() string { return c.DocID + "#" + strconv.Itoa(c.Index) }

// withInfo returns c with the document fields of info.
func (c Chunk) withInfo(info *DocumentInfo) Chunk {
	c.DocID, c.Tenant = info.ID, info.Tenant
	c.ACL, c.Title, c.SourceURL, c.UpdatedAt = info.ACL.Clone(), info.Title, info.SourceURL, info.UpdatedAt
	c.Metadata = maps.Clone(info.Metadata)
	return c
}

// WithInfo returns chunks stamped with the document fields of info, for
// stores and ingesters that build chunks from a DocumentInfo.
func WithInfo(info *DocumentInfo, chunks []Chunk) []Chunk {
	out := make([]Chunk, len(chunks))
	for i := range chunks {
		out[i] = chunks[i].withInfo(info)
	}
	return out
}

// Clone returns a copy of info that shares no slices or maps with it.
func (info DocumentInfo) Clone() DocumentInfo {
	info.ACL = info.ACL.Clone()
	info.Metadata = maps.Clone(info.Metadata)
	return info
}
