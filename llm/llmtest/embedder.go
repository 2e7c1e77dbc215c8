package llmtest

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/keel-go/keel/llm"
)

// DefaultDimensions is the vector size of an Embedder whose Dimensions is
// zero.
const DefaultDimensions = 256

// Embedder is a deterministic fake llm.Embedder that needs no network and
// no model. A text's vector is built by feature hashing: the character
// 3-grams of the lower-cased, white-space-normalised text and its words
// (split at anything but letters and digits) are hashed, with a hashed
// sign, into a fixed number of dimensions, and the vector is L2-normalised.
// Texts that share words and word pieces therefore have a high cosine
// similarity, unrelated texts one near zero, and the same text always gets
// the same vector, on every platform.
//
// Like a provider it rejects empty strings with kind
// llm.KindInvalidRequest; an empty Inputs list gets an empty response, as
// from llm/openai, which makes no call for it. It honours EmbedRequest.Dimensions (any
// positive size), reports usage with a token estimate (about four
// characters per token), and records every request.
//
// The zero value is ready to use; set Dimensions before the first call. An
// Embedder is safe for concurrent use and must not be copied after use.
type Embedder struct {
	// Dimensions is the size of the vectors returned when a request does
	// not ask for one; zero means DefaultDimensions.
	Dimensions int

	mu       sync.Mutex
	requests []*llm.EmbedRequest
}

var _ llm.Embedder = (*Embedder)(nil)

// NewEmbedder returns an Embedder with DefaultDimensions.
func NewEmbedder() *Embedder { return &Embedder{} }

// Embed implements llm.Embedder.
func (e *Embedder) Embed(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	if req == nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Provider: Provider, Message: "llmtest: nil embed request"}
	}
	rec := &llm.EmbedRequest{
		Model:      req.Model,
		Inputs:     slices.Clone(req.Inputs),
		Dimensions: req.Dimensions,
		Principal:  req.Principal,
		Feature:    req.Feature,
	}
	rec.Principal.Roles = slices.Clone(req.Principal.Roles)
	rec.Principal.Groups = slices.Clone(req.Principal.Groups)
	e.mu.Lock()
	e.requests = append(e.requests, rec)
	e.mu.Unlock()

	if err := ctx.Err(); err != nil {
		return nil, llm.TransportError(Provider, req.Model, err)
	}
	invalid := func(msg string) error {
		return &llm.Error{Kind: llm.KindInvalidRequest, Provider: Provider, Model: req.Model, Status: 400, Message: msg}
	}
	dim := e.Dimensions
	if dim <= 0 {
		dim = DefaultDimensions
	}
	switch {
	case req.Dimensions < 0:
		return nil, invalid(fmt.Sprintf("llmtest: dimensions must be positive, got %d", req.Dimensions))
	case req.Dimensions > 0:
		dim = req.Dimensions
	}
	resp := &llm.EmbedResponse{
		Vectors:  make([][]float32, len(req.Inputs)),
		Model:    req.Model,
		Provider: Provider,
	}
	if resp.Model == "" {
		resp.Model = "llmtest-embedding"
	}
	for i, in := range req.Inputs {
		if in == "" {
			return nil, invalid(fmt.Sprintf("llmtest: input %d is empty", i))
		}
		resp.Vectors[i] = embed(in, dim)
		resp.Usage.InputTokens += estimateTokens(in)
	}
	return resp, nil
}

// Calls returns the number of Embed calls received.
func (e *Embedder) Calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.requests)
}

// Requests returns copies of the requests received, in arrival order.
func (e *Embedder) Requests() []*llm.EmbedRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*llm.EmbedRequest, len(e.requests))
	for i, r := range e.requests {
		c := *r
		c.Inputs = slices.Clone(r.Inputs)
		out[i] = &c
	}
	return out
}

// Feature weights: whole words count for more than word pieces, so that
// sharing a word matters more than sharing a few letters.
const (
	gramWeight = 1.0
	wordWeight = 2.0
)

// embed returns the L2-normalised hashed-feature vector of text.
func embed(text string, dim int) []float32 {
	norm := lowerFields(text)
	acc := make([]float64, dim)
	add := func(kind byte, feature string, w float64) {
		h := fnv.New64a()
		h.Write([]byte{kind})
		h.Write([]byte(feature))
		sum := h.Sum64()
		idx := (sum & 0x7fffffffffffffff) % uint64(dim)
		if sum>>63 == 1 {
			w = -w
		}
		acc[idx] += w
	}
	runes := []rune(" " + norm + " ")
	for i := 0; i+3 <= len(runes); i++ {
		add('c', string(runes[i:i+3]), gramWeight)
	}
	words := strings.FieldsFunc(norm, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, w := range words {
		add('w', w, wordWeight)
	}
	var sq float64
	for _, x := range acc {
		sq += x * x
	}
	out := make([]float32, dim)
	if sq == 0 {
		// Only reachable for text that normalises to nothing (white
		// space); give it a fixed unit vector rather than a zero one.
		out[0] = 1
		return out
	}
	n := math.Sqrt(sq)
	for i, x := range acc {
		out[i] = float32(x / n)
	}
	return out
}
