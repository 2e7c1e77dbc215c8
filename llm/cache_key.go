package llm

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// The cache key
//
// A key is the hex BLAKE2b-256 of a canonical binary encoding of
// everything that changes the answer. The encoding is a fixed sequence of
// fields: strings and byte slices are written as a uvarint length and the
// bytes, lists as a uvarint count and their items, optional values as a
// presence byte and the value, floats as their IEEE 754 bits (with -0
// written as 0). Because every field has a fixed place and a length, two
// different requests cannot produce the same byte sequence (for example
// ["ab","c"] and ["a","bc"] differ in their lengths).
//
// BLAKE2b-256 (RFC 7693) rather than SHA-256: both are collision-resistant
// at the 128-bit level, and BLAKE2b runs at about 760 MB/s on the x86-64
// servers this was measured on against 270 MB/s for SHA-256, whose fast
// path needs the SHA extensions many cloud CPUs lack. Every replica of a
// service computes the same key whatever its CPU, which a per-CPU choice
// of hash would break for a shared (Redis) cache.
//
// Large parts of a request repeat from call to call (the system prompt,
// the tool definitions, earlier turns of a conversation), and hashing is
// the dominant cost of a key. So the encoding is two-level: each message,
// the tool list and the response format are encoded into a section of
// their own, and the key hashes the section's digest in its place (a
// Merkle-style construction, as collision-resistant as the hash itself).
// A keyer remembers the digests of recent sections by content, so a
// section seen recently is looked up (a map lookup and a byte comparison)
// rather than hashed again. The top level of a request that was a cache
// hit is remembered too, so a request repeated while it is hot costs no
// hash at all. The memo changes the cost of a key, never its value.
//
// The layout, in order (the key's top level):
//
//	domain      cacheKeyDomain (fixed bytes, which also version the layout)
//	scope       tenant; presence byte and user (with CacheOptions.PerUser)
//	model       string
//	prompt      presence; name, version, hash
//	messages    count; each the digest of its section:
//	              role, name; parts (count; kind byte, text, image URL,
//	              image bytes, MIME type, detail); tool calls (count; ID,
//	              name, arguments); tool call ID, refusal, reasoning;
//	              Extra (count; key and raw JSON, by sorted key)
//	tools       count; if any, the digest of the section: each tool's
//	              name, description, parameters, strict byte (in the
//	              order given)
//	tool choice mode, name
//	parallel    0 unset, 1 false, 2 true
//	format      presence; the digest of the section: type, name,
//	              description, schema, strict byte
//	sampling    temperature, top_p (optional floats), seed (optional
//	              int64), stop (count; strings), max output tokens
//	              (varint), reasoning effort
//	extra       count; key and typed value, by sorted key
//
// The semantic cache's fingerprint is the same encoding with one message
// (the last user message) left out, in its own domain.

// cacheKeyDomain starts every response key; changing the layout above
// means changing the version here, so that old entries are never read
// with a new meaning.
const cacheKeyDomain = "keel/llm/cache/response/v2\x00"

// semcacheDomain starts every semantic-cache fingerprint.
const semcacheDomain = "keel/llm/cache/semantic/v2\x00"

// Bounds of a keyer's memo of section digests. A generation holds
// cacheKeyMemoBytes of section content; when it is full it becomes the
// previous generation and a new one starts, so the memo keeps what was
// used recently in at most twice that. Sections over cacheKeyMemoMax
// (inline images) are hashed every time.
const (
	cacheKeyMemoBytes = 2 << 20
	cacheKeyMemoMax   = 64 << 10
	// cacheKeyEntryCost approximates a memo entry's overhead beyond its
	// content (map slot, string header, digest).
	cacheKeyEntryCost = 64
	// cacheKeyBufMax is the largest buffer a keyer returns to its pool.
	cacheKeyBufMax = 256 << 10
)

// cacheKeyer computes keys. The zero value works, without a memo.
type cacheKeyer struct {
	perUser bool
	memo    *cacheKeyMemo
	bufs    sync.Pool // *cacheKeyBufs
}

// cacheKeyBufs are the scratch buffers of one key computation (the top
// level and the section being encoded) and its result.
type cacheKeyBufs struct {
	top, sec cacheKeyBuf
	// last is the section of the last message, which the memo learns
	// only for a request that repeats (see release).
	last      cacheKeyBuf
	lastSum   [cacheKeySize]byte
	sum       [cacheKeySize]byte
	known     bool // the memo's current generation holds the top level
	lastKnown bool // it holds last, or there is none to learn
}

func newCacheKeyer(perUser bool) *cacheKeyer {
	return &cacheKeyer{perUser: perUser, memo: &cacheKeyMemo{}}
}

// key returns the hex key of req.
func (k *cacheKeyer) key(req *Request) string {
	b := k.compute(req, cacheKeyDomain, -1)
	key := cacheKeyHex(&b.sum)
	k.release(b, false)
	return key
}

// sum returns the digest of req's encoding in domain, leaving out the
// message at index skip (none when skip is negative).
func (k *cacheKeyer) sum(req *Request, domain string, skip int) [cacheKeySize]byte {
	b := k.compute(req, domain, skip)
	sum := b.sum
	k.release(b, false)
	return sum
}

// cacheKeySize is the size of a key's digest.
const cacheKeySize = blake2b.Size256

// cacheKeySum returns the digest of b (see the comment on the layout for
// why BLAKE2b-256).
func cacheKeySum(b []byte) [cacheKeySize]byte { return blake2b.Sum256(b) }

func cacheKeyHex(sum *[cacheKeySize]byte) string {
	var dst [2 * cacheKeySize]byte
	hex.Encode(dst[:], sum[:])
	return string(dst[:])
}

// release returns b to the pool. With remember, the memo learns the
// digest of b's top level, so that the same request's next key skips its
// last hash too. Cache remembers the requests that were hits: a repeated
// request is what a hit is, while a miss is often a request never seen
// again, not worth the memo's room.
func (k *cacheKeyer) release(b *cacheKeyBufs, remember bool) {
	if remember && !b.lastKnown {
		k.memo.put(b.last, b.lastSum)
	}
	if remember && !b.known {
		k.memo.put(b.top, b.sum)
	}
	if cap(b.top) <= cacheKeyBufMax && cap(b.sec) <= cacheKeyBufMax && cap(b.last) <= cacheKeyBufMax {
		k.bufs.Put(b)
	}
}

// compute encodes req in domain, leaving out the message at index skip
// (none when skip is negative), into pooled buffers, and sets their sum.
// The caller releases them.
func (k *cacheKeyer) compute(req *Request, domain string, skip int) *cacheKeyBufs {
	if req == nil {
		req = &Request{}
	}
	b, _ := k.bufs.Get().(*cacheKeyBufs)
	if b == nil {
		b = &cacheKeyBufs{top: make(cacheKeyBuf, 0, 512), sec: make(cacheKeyBuf, 0, 2048), last: make(cacheKeyBuf, 0, 1024)}
	}
	top := b.top[:0]
	top = append(top, domain...)
	top.str(req.Principal.Tenant)
	if k.perUser {
		top = append(top, 1)
		top.str(req.Principal.User)
	} else {
		top = append(top, 0)
	}
	top.str(req.Model)
	if p := req.Prompt; p != nil {
		top = append(top, 1)
		top.str(p.Name)
		top.str(p.Version)
		top.str(p.Hash)
	} else {
		top = append(top, 0)
	}

	n := len(req.Messages)
	if skip >= 0 && skip < n {
		n--
	}
	top.uint(uint64(n))
	sec := b.sec
	last := len(req.Messages) - 1
	b.lastKnown = true
	for i := range req.Messages {
		if i == skip {
			continue
		}
		if i == last {
			// The memo learns the last message only when the request
			// proves to repeat (release with remember): it is usually a
			// new question, seen once, and copying every one into the memo
			// costs more than hashing it again if the conversation goes on.
			b.last = b.last[:0]
			b.last.message(&req.Messages[i])
			b.lastSum, b.lastKnown = k.memo.digestKnown(b.last)
			top = append(top, b.lastSum[:]...)
			continue
		}
		sec = sec[:0]
		sec.message(&req.Messages[i])
		d := k.memo.digest(sec)
		top = append(top, d[:]...)
	}

	top.uint(uint64(len(req.Tools)))
	if len(req.Tools) > 0 {
		sec = sec[:0]
		for i := range req.Tools {
			t := &req.Tools[i]
			sec.str(t.Name)
			sec.str(t.Description)
			sec.bytes(t.Parameters)
			sec.bool(t.Strict)
		}
		d := k.memo.digest(sec)
		top = append(top, d[:]...)
	}
	top.str(string(req.ToolChoice.Mode))
	top.str(req.ToolChoice.Name)
	switch {
	case req.ParallelToolCalls == nil:
		top = append(top, 0)
	case !*req.ParallelToolCalls:
		top = append(top, 1)
	default:
		top = append(top, 2)
	}
	if rf := req.ResponseFormat; rf != nil {
		sec = sec[:0]
		sec.str(string(rf.Type))
		sec.str(rf.Name)
		sec.str(rf.Description)
		sec.bytes(rf.Schema)
		sec.bool(rf.Strict)
		d := k.memo.digest(sec)
		top = append(top, 1)
		top = append(top, d[:]...)
	} else {
		top = append(top, 0)
	}

	top.float(req.Temperature)
	top.float(req.TopP)
	if req.Seed != nil {
		top = append(top, 1)
		top = binary.BigEndian.AppendUint64(top, uint64(*req.Seed))
	} else {
		top = append(top, 0)
	}
	top.uint(uint64(len(req.Stop)))
	for _, s := range req.Stop {
		top.str(s)
	}
	top = binary.AppendVarint(top, int64(req.MaxOutputTokens))
	top.str(string(req.ReasoningEffort))
	top.uint(uint64(len(req.Extra)))
	if len(req.Extra) > 0 {
		for _, key := range slices.Sorted(maps.Keys(req.Extra)) {
			top.str(key)
			top.value(req.Extra[key])
		}
	}

	b.top, b.sec = top, sec
	// The memo knows the top level of a request that was a hit recently:
	// then the last hash is skipped too.
	var ok bool
	if b.sum, b.known, ok = k.memo.get(top); !ok {
		b.sum = cacheKeySum(top)
	}
	return b
}

// cacheKeyBuf appends the encoding's fields.
type cacheKeyBuf []byte

func (b *cacheKeyBuf) uint(v uint64) { *b = binary.AppendUvarint(*b, v) }

func (b *cacheKeyBuf) str(s string) {
	*b = binary.AppendUvarint(*b, uint64(len(s)))
	*b = append(*b, s...)
}

func (b *cacheKeyBuf) bytes(p []byte) {
	*b = binary.AppendUvarint(*b, uint64(len(p)))
	*b = append(*b, p...)
}

func (b *cacheKeyBuf) bool(v bool) {
	if v {
		*b = append(*b, 1)
	} else {
		*b = append(*b, 0)
	}
}

// float writes an optional float: a presence byte and its bits, with -0
// written as 0 (the same value to a provider).
func (b *cacheKeyBuf) float(p *float64) {
	if p == nil {
		*b = append(*b, 0)
		return
	}
	v := *p
	if v == 0 {
		v = 0
	}
	*b = append(*b, 1)
	*b = binary.BigEndian.AppendUint64(*b, math.Float64bits(v))
}

// message writes a message's section.
func (b *cacheKeyBuf) message(m *Message) {
	b.str(string(m.Role))
	b.str(m.Name)
	b.uint(uint64(len(m.Parts)))
	for i := range m.Parts {
		p := &m.Parts[i]
		*b = append(*b, byte(p.Kind))
		b.str(p.Text)
		b.str(p.ImageURL)
		b.bytes(p.ImageData)
		b.str(p.MIMEType)
		b.str(p.ImageDetail)
	}
	b.uint(uint64(len(m.ToolCalls)))
	for i := range m.ToolCalls {
		tc := &m.ToolCalls[i]
		b.str(tc.ID)
		b.str(tc.Name)
		b.str(tc.Arguments)
	}
	b.str(m.ToolCallID)
	b.str(m.Refusal)
	b.str(m.Reasoning)
	b.uint(uint64(len(m.Extra)))
	if len(m.Extra) > 0 {
		for _, k := range slices.Sorted(maps.Keys(m.Extra)) {
			b.str(k)
			b.bytes(m.Extra[k])
		}
	}
}

// The type tags of Request.Extra values.
const (
	cacheValNil byte = iota
	cacheValString
	cacheValBool
	cacheValInt
	cacheValUint
	cacheValFloat
	cacheValRaw
	cacheValJSON
	cacheValOther
)

// value writes a Request.Extra value with a type tag. Common scalar types
// are written directly; anything else as its JSON encoding (which sorts
// map keys), or, if it has none, as its %#v text. Two values that a
// provider would send identically may get different keys (1 and 1.0);
// that costs a cache hit, never a wrong answer.
func (b *cacheKeyBuf) value(v any) {
	switch x := v.(type) {
	case nil:
		*b = append(*b, cacheValNil)
	case string:
		*b = append(*b, cacheValString)
		b.str(x)
	case bool:
		*b = append(*b, cacheValBool)
		b.bool(x)
	case int:
		*b = append(*b, cacheValInt)
		*b = binary.AppendVarint(*b, int64(x))
	case int32:
		*b = append(*b, cacheValInt)
		*b = binary.AppendVarint(*b, int64(x))
	case int64:
		*b = append(*b, cacheValInt)
		*b = binary.AppendVarint(*b, x)
	case uint:
		*b = append(*b, cacheValUint)
		b.uint(uint64(x))
	case uint32:
		*b = append(*b, cacheValUint)
		b.uint(uint64(x))
	case uint64:
		*b = append(*b, cacheValUint)
		b.uint(x)
	case float32:
		*b = append(*b, cacheValFloat)
		f := float64(x)
		b.float(&f)
	case float64:
		*b = append(*b, cacheValFloat)
		b.float(&x)
	case json.RawMessage:
		*b = append(*b, cacheValRaw)
		b.bytes(x)
	case []byte:
		*b = append(*b, cacheValRaw)
		b.bytes(x)
	default:
		if j, err := json.Marshal(v); err == nil {
			*b = append(*b, cacheValJSON)
			b.bytes(j)
		} else {
			*b = append(*b, cacheValOther)
			b.str(fmt.Sprintf("%T %#v", v, v))
		}
	}
}

// cacheKeyMemo remembers the digests of recently seen sections, keyed by
// their content, in two generations (see the constants above). A nil memo
// hashes every section. It is safe for concurrent use.
type cacheKeyMemo struct {
	mu        sync.RWMutex
	cur, prev map[string][cacheKeySize]byte
	curBytes  int
}

// digest returns the digest of sec, and remembers it.
func (m *cacheKeyMemo) digest(sec []byte) [cacheKeySize]byte {
	d, cur, ok := m.get(sec)
	if !ok {
		d = cacheKeySum(sec)
	}
	if !cur {
		m.put(sec, d)
	}
	return d
}

// digestKnown returns the digest of sec, and whether the memo's current
// generation holds it. It learns sec only if the previous generation held
// it (a promotion, as digest does).
func (m *cacheKeyMemo) digestKnown(sec []byte) ([cacheKeySize]byte, bool) {
	d, cur, ok := m.get(sec)
	if !ok {
		return cacheKeySum(sec), false
	}
	if !cur {
		m.put(sec, d)
	}
	return d, true
}

// get returns the remembered digest of sec, and whether it is in the
// current generation (or is not to be remembered at all).
func (m *cacheKeyMemo) get(sec []byte) (d [cacheKeySize]byte, cur, ok bool) {
	if m == nil || len(sec) > cacheKeyMemoMax {
		return d, true, false
	}
	m.mu.RLock()
	d, ok = m.cur[string(sec)]
	cur = ok
	if !ok {
		d, ok = m.prev[string(sec)]
	}
	m.mu.RUnlock()
	return d, cur, ok
}

// put remembers d as the digest of sec in the current generation, which
// becomes the previous one when it is full.
func (m *cacheKeyMemo) put(sec []byte, d [cacheKeySize]byte) {
	if m == nil || len(sec) > cacheKeyMemoMax {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[string(sec)]; ok {
		return
	}
	cost := len(sec) + cacheKeyEntryCost
	if m.cur == nil || m.curBytes+cost > cacheKeyMemoBytes {
		m.prev, m.cur, m.curBytes = m.cur, make(map[string][cacheKeySize]byte), 0
	}
	m.cur[string(sec)] = d
	m.curBytes += cost
}
