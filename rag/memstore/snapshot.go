package memstore

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/keel-go/keel/rag"
)

// snapshotMagic starts every snapshot; the version changes with the
// format, and Load refuses versions it does not know.
const snapshotMagic = "keel/memstore/v1"

// snapshotHeader is the first record of a snapshot.
type snapshotHeader struct {
	Magic string
	Dim   int
	Docs  int
}

// snapshotDoc is one document and its chunks (with vectors).
type snapshotDoc struct {
	Info   rag.DocumentInfo
	Chunks []rag.Chunk
}

// Save writes every tenant's documents and chunks to w. It holds each
// tenant's read lock while it copies that tenant, so a snapshot is
// consistent per tenant; searches continue meanwhile.
func (s *Store) Save(ctx context.Context, w io.Writer) error {
	s.mu.RLock()
	names := make([]string, 0, len(s.tenants))
	for name := range s.tenants {
		names = append(names, name)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	var docs []snapshotDoc
	for _, name := range names {
		infos, err := s.Documents(ctx, name)
		if err != nil {
			return err
		}
		for _, info := range infos {
			chunks, err := s.Chunks(ctx, name, info.ID)
			if errors.Is(err, rag.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return err
			}
			docs = append(docs, snapshotDoc{Info: info, Chunks: chunks})
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	bw := bufio.NewWriter(w)
	enc := gob.NewEncoder(bw)
	if err := enc.Encode(snapshotHeader{Magic: snapshotMagic, Dim: s.opts.Dim, Docs: len(docs)}); err != nil {
		return fmt.Errorf("memstore: save: %w", err)
	}
	for i := range docs {
		if err := enc.Encode(&docs[i]); err != nil {
			return fmt.Errorf("memstore: save: %w", err)
		}
	}
	return bw.Flush()
}

// Load reads a snapshot written by Save into a new Store with opts (whose
// Dim must match the snapshot's, or be 0 to take it). Indexes are rebuilt.
func Load(ctx context.Context, r io.Reader, opts Options) (*Store, error) {
	dec := gob.NewDecoder(bufio.NewReader(r))
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("memstore: load: not a snapshot: %w", err)
	}
	if h.Magic != snapshotMagic {
		return nil, fmt.Errorf("memstore: load: unknown snapshot format %q", h.Magic)
	}
	if h.Dim <= 0 || h.Docs < 0 {
		return nil, fmt.Errorf("memstore: load: bad header %+v", h)
	}
	if opts.Dim == 0 {
		opts.Dim = h.Dim
	}
	if opts.Dim != h.Dim {
		return nil, fmt.Errorf("memstore: load: snapshot has %d dimensions, options %d", h.Dim, opts.Dim)
	}
	s := New(opts)
	for i := 0; i < h.Docs; i++ {
		var d snapshotDoc
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("memstore: load: document %d of %d: %w", i+1, h.Docs, err)
		}
		if err := s.Replace(ctx, d.Info, d.Chunks); err != nil {
			return nil, fmt.Errorf("memstore: load: %w", err)
		}
	}
	return s, nil
}
