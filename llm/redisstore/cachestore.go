package redisstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keel-go/keel/llm"
)

// DefaultCachePrefix is the key prefix of a CacheStore whose options give
// none.
const DefaultCachePrefix = "keel:cache:"

// cacheEntryVersion is the version of the stored response encoding. An
// entry of another version is a miss, so a fleet running two versions of
// keel during a rollout never misreads an entry.
const cacheEntryVersion = 1

// CacheStoreOptions configure a CacheStore.
type CacheStoreOptions struct {
	// Prefix is prepended to every key; DefaultCachePrefix when empty.
	// Give each application (or environment) its own prefix when several
	// share a Redis.
	Prefix string
}

// CacheStore is an llm.CacheStore and llm.EmbedCacheStore in Redis,
// shared by every process that uses the same server and prefix: one
// replica's answers and vectors are every replica's hits. It is safe for
// concurrent use.
//
// A response is stored as a compact JSON document (SET with PX for the
// TTL); a vector as its float32 values in little-endian order. Batches of
// vectors are read and written in one pipeline, which go-redis splits by
// hash slot on Redis Cluster, so the store works there too.
type CacheStore struct {
	client redis.UniversalClient
	prefix string
}

var (
	_ llm.CacheStore      = (*CacheStore)(nil)
	_ llm.EmbedCacheStore = (*CacheStore)(nil)
)

// NewCacheStore returns a CacheStore that keeps its entries in client's
// Redis. The client stays the caller's to configure and close; create it
// with ContextTimeoutEnabled so that the cache's StoreTimeout bounds every
// call.
func NewCacheStore(client redis.UniversalClient, opts CacheStoreOptions) *CacheStore {
	if opts.Prefix == "" {
		opts.Prefix = DefaultCachePrefix
	}
	return &CacheStore{client: client, prefix: opts.Prefix}
}

// Get implements llm.CacheStore. An entry that cannot be decoded is an
// error of kind llm.KindBadResponse; an entry of another encoding version
// is a miss.
func (s *CacheStore) Get(ctx context.Context, key string) (*llm.Response, bool, error) {
	b, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeError(err)
	}
	return decodeResponse(b)
}

// Set implements llm.CacheStore.
func (s *CacheStore) Set(ctx context.Context, key string, resp *llm.Response, ttl time.Duration) error {
	if resp == nil {
		return &llm.Error{Kind: llm.KindInvalidRequest, Provider: "redis", Message: "redisstore: CacheStore.Set with a nil response"}
	}
	b, err := encodeResponse(resp)
	if err != nil {
		return &llm.Error{Kind: llm.KindInvalidRequest, Provider: "redis", Message: "redisstore: cannot encode the response", Err: err}
	}
	if err := s.client.Set(ctx, s.prefix+key, b, max(ttl, 0)).Err(); err != nil {
		return storeError(err)
	}
	return nil
}

// Delete implements llm.CacheStore.
func (s *CacheStore) Delete(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		return storeError(err)
	}
	return nil
}

// GetVectors implements llm.EmbedCacheStore, in one pipeline of GETs. An
// entry whose length is not a multiple of four bytes is an error of kind
// llm.KindBadResponse.
func (s *CacheStore) GetVectors(ctx context.Context, keys []string) ([][]float32, error) {
	if len(keys) == 0 {
		return [][]float32{}, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, key := range keys {
		cmds[i] = pipe.Get(ctx, s.prefix+key)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeError(err)
	}
	out := make([][]float32, len(keys))
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, storeError(err)
		}
		v, ok := decodeVector(b)
		if !ok {
			return nil, &llm.Error{Kind: llm.KindBadResponse, Provider: "redis", Message: "redisstore: a cached vector has a length that is not a multiple of 4 bytes"}
		}
		out[i] = v
	}
	return out, nil
}

// SetVectors implements llm.EmbedCacheStore, in one pipeline of SETs.
func (s *CacheStore) SetVectors(ctx context.Context, keys []string, vectors [][]float32, ttl time.Duration) error {
	if len(keys) != len(vectors) {
		return &llm.Error{Kind: llm.KindInvalidRequest, Provider: "redis", Message: "redisstore: SetVectors needs one vector per key"}
	}
	pipe := s.client.Pipeline()
	n := 0
	for i, key := range keys {
		if vectors[i] == nil {
			continue
		}
		pipe.Set(ctx, s.prefix+key, encodeVector(vectors[i]), max(ttl, 0))
		n++
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return storeError(err)
	}
	return nil
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(b []byte) ([]float32, bool) {
	if len(b)%4 != 0 {
		return nil, false
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, true
}

// cachedResponse is the stored form of a response's answer (see
// llm.CacheStore): short names and empty fields left out, to keep entries
// small. Message.Extra values are stored as bytes (base64 in the JSON), so
// they round-trip exactly even when they are not valid JSON.
type cachedResponse struct {
	V         int           `json:"v"`
	Message   cachedMessage `json:"m"`
	Finish    string        `json:"f,omitempty"`
	Usage     *cachedUsage  `json:"u,omitempty"`
	Model     string        `json:"mo,omitempty"`
	Provider  string        `json:"p,omitempty"`
	RequestID string        `json:"id,omitempty"`
}

type cachedMessage struct {
	Role       string            `json:"r,omitempty"`
	Name       string            `json:"n,omitempty"`
	Parts      []cachedPart      `json:"c,omitempty"`
	ToolCalls  []cachedToolCall  `json:"tc,omitempty"`
	ToolCallID string            `json:"tci,omitempty"`
	Refusal    string            `json:"rf,omitempty"`
	Reasoning  string            `json:"rs,omitempty"`
	Extra      map[string][]byte `json:"x,omitempty"`
}

type cachedPart struct {
	Kind       uint8  `json:"k,omitempty"`
	Text       string `json:"t,omitempty"`
	ImageURL   string `json:"u,omitempty"`
	ImageData  []byte `json:"d,omitempty"`
	MIMEType   string `json:"mt,omitempty"`
	Detail     string `json:"dt,omitempty"`
	Provenance uint8  `json:"pv,omitempty"`
	Source     string `json:"s,omitempty"`
}

type cachedToolCall struct {
	ID        string `json:"i,omitempty"`
	Name      string `json:"n,omitempty"`
	Arguments string `json:"a,omitempty"`
}

type cachedUsage struct {
	Input      int `json:"i,omitempty"`
	Output     int `json:"o,omitempty"`
	CachedIn   int `json:"ci,omitempty"`
	CacheWrite int `json:"cw,omitempty"`
	Reasoning  int `json:"r,omitempty"`
}

func encodeResponse(r *llm.Response) ([]byte, error) {
	m := &r.Message
	c := cachedResponse{
		V:         cacheEntryVersion,
		Finish:    string(r.FinishReason),
		Model:     r.Model,
		Provider:  r.Provider,
		RequestID: r.RequestID,
		Message: cachedMessage{
			Role:       string(m.Role),
			Name:       m.Name,
			ToolCallID: m.ToolCallID,
			Refusal:    m.Refusal,
			Reasoning:  m.Reasoning,
		},
	}
	if len(m.Extra) > 0 {
		c.Message.Extra = make(map[string][]byte, len(m.Extra))
		for k, v := range m.Extra {
			c.Message.Extra[k] = v
		}
	}
	if u := r.Usage; u != (llm.Usage{}) {
		c.Usage = &cachedUsage{u.InputTokens, u.OutputTokens, u.CachedInputTokens, u.CacheWriteTokens, u.ReasoningTokens}
	}
	if len(m.Parts) > 0 {
		c.Message.Parts = make([]cachedPart, len(m.Parts))
		for i, p := range m.Parts {
			c.Message.Parts[i] = cachedPart{
				Kind: uint8(p.Kind), Text: p.Text, ImageURL: p.ImageURL, ImageData: p.ImageData,
				MIMEType: p.MIMEType, Detail: p.ImageDetail, Provenance: uint8(p.Provenance), Source: p.Source,
			}
		}
	}
	if len(m.ToolCalls) > 0 {
		c.Message.ToolCalls = make([]cachedToolCall, len(m.ToolCalls))
		for i, tc := range m.ToolCalls {
			c.Message.ToolCalls[i] = cachedToolCall(tc)
		}
	}
	return json.Marshal(&c)
}

func decodeResponse(b []byte) (*llm.Response, bool, error) {
	var c cachedResponse
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, false, &llm.Error{Kind: llm.KindBadResponse, Provider: "redis", Message: "redisstore: undecodable cache entry", Err: err}
	}
	if c.V != cacheEntryVersion {
		return nil, false, nil
	}
	cm := &c.Message
	r := &llm.Response{
		FinishReason: llm.FinishReason(c.Finish),
		Model:        c.Model,
		Provider:     c.Provider,
		RequestID:    c.RequestID,
		Message: llm.Message{
			Role:       llm.Role(cm.Role),
			Name:       cm.Name,
			ToolCallID: cm.ToolCallID,
			Refusal:    cm.Refusal,
			Reasoning:  cm.Reasoning,
		},
	}
	if len(cm.Extra) > 0 {
		r.Message.Extra = make(map[string]json.RawMessage, len(cm.Extra))
		for k, v := range cm.Extra {
			r.Message.Extra[k] = v
		}
	}
	if u := c.Usage; u != nil {
		r.Usage = llm.Usage{InputTokens: u.Input, OutputTokens: u.Output, CachedInputTokens: u.CachedIn,
			CacheWriteTokens: u.CacheWrite, ReasoningTokens: u.Reasoning}
	}
	if len(cm.Parts) > 0 {
		r.Message.Parts = make([]llm.Part, len(cm.Parts))
		for i, p := range cm.Parts {
			r.Message.Parts[i] = llm.Part{
				Kind: llm.PartKind(p.Kind), Text: p.Text, ImageURL: p.ImageURL, ImageData: p.ImageData,
				MIMEType: p.MIMEType, ImageDetail: p.Detail, Provenance: llm.Provenance(p.Provenance), Source: p.Source,
			}
		}
	}
	if len(cm.ToolCalls) > 0 {
		r.Message.ToolCalls = make([]llm.ToolCall, len(cm.ToolCalls))
		for i, tc := range cm.ToolCalls {
			r.Message.ToolCalls[i] = llm.ToolCall(tc)
		}
	}
	return r, true, nil
}
