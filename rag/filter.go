package rag

import (
	"errors"
	"slices"
	"time"
)

// Filter narrows a search to chunks whose document matches every
// condition set; the zero Filter matches everything the principal may
// see.
type Filter struct {
	// Equals requires metadata key = value, for each pair.
	Equals map[string]string
	// In requires the metadata key's value to be one of the values, for
	// each key.
	In map[string][]string
	// DocIDs, when set, admits only these documents.
	DocIDs []string
	// UpdatedFrom and UpdatedBefore bound the document's UpdatedAt to
	// [UpdatedFrom, UpdatedBefore); a zero time leaves that side open.
	UpdatedFrom, UpdatedBefore time.Time
}

// IsZero reports whether f matches everything.
func (f *Filter) IsZero() bool {
	return len(f.Equals) == 0 && len(f.In) == 0 && len(f.DocIDs) == 0 && f.UpdatedFrom.IsZero() && f.UpdatedBefore.IsZero()
}

// Validate reports a filter that can match nothing by mistake.
func (f *Filter) Validate() error {
	for k, vs := range f.In {
		if len(vs) == 0 {
			return errors.New("rag: filter: In[" + k + "] lists no values")
		}
	}
	if !f.UpdatedFrom.IsZero() && !f.UpdatedBefore.IsZero() && !f.UpdatedFrom.Before(f.UpdatedBefore) {
		return errors.New("rag: filter: UpdatedFrom is not before UpdatedBefore")
	}
	return nil
}

// Matches reports whether c's document meets f.
func (f *Filter) Matches(c *Chunk) bool {
	for k, v := range f.Equals {
		if got, ok := c.Metadata[k]; !ok || got != v {
			return false
		}
	}
	for k, vs := range f.In {
		if got, ok := c.Metadata[k]; !ok || !slices.Contains(vs, got) {
			return false
		}
	}
	if len(f.DocIDs) > 0 && !slices.Contains(f.DocIDs, c.DocID) {
		return false
	}
	if !f.UpdatedFrom.IsZero() && c.UpdatedAt.Before(f.UpdatedFrom) {
		return false
	}
	if !f.UpdatedBefore.IsZero() && !c.UpdatedAt.Before(f.UpdatedBefore) {
		return false
	}
	return true
}
