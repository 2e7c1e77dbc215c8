package llmtest

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/keel-go/keel/llm"
)

// FlagThreshold is the score at or above which a Moderator flags a
// category.
const FlagThreshold = 0.5

// Moderator is a fake llm.Moderator. It scores each input against every
// category in Terms: an input containing none of a category's terms
// (case-insensitive substring match on white-space-normalised text) scores
// 0, one occurrence 0.75, and each further occurrence brings the score
// closer to 1 (1 - 0.25^n). Score, when set, adds categories and scores of
// its own (clamped to [0,1]); where both give a category, the higher score
// wins. A category is flagged when its score reaches FlagThreshold, and an
// input is flagged when any category is.
//
// The zero value flags nothing. Set the fields before the first call and do
// not change them afterwards. A Moderator is safe for concurrent use and
// must not be copied after use.
type Moderator struct {
	// Terms maps a category name ("harassment", "violence/graphic", ...)
	// to the terms that trigger it.
	Terms map[string][]string
	// Score, if set, returns category scores for one input.
	Score func(input string) map[string]float64

	mu       sync.Mutex
	requests []*llm.ModerationRequest
}

var _ llm.Moderator = (*Moderator)(nil)

// NewModerator returns a Moderator flagging the given terms per category.
// The map is copied.
func NewModerator(terms map[string][]string) *Moderator {
	m := &Moderator{Terms: make(map[string][]string, len(terms))}
	for c, ts := range terms {
		m.Terms[c] = slices.Clone(ts)
	}
	return m
}

// Moderate implements llm.Moderator.
func (m *Moderator) Moderate(ctx context.Context, req *llm.ModerationRequest) (*llm.ModerationResponse, error) {
	if req == nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Provider: Provider, Message: "llmtest: nil moderation request"}
	}
	rec := *req
	rec.Inputs = slices.Clone(req.Inputs)
	rec.Principal.Roles = slices.Clone(req.Principal.Roles)
	rec.Principal.Groups = slices.Clone(req.Principal.Groups)
	m.mu.Lock()
	m.requests = append(m.requests, &rec)
	m.mu.Unlock()

	if err := ctx.Err(); err != nil {
		return nil, llm.TransportError(Provider, req.Model, err)
	}
	resp := &llm.ModerationResponse{
		Results:  make([]llm.ModerationResult, len(req.Inputs)),
		Model:    req.Model,
		Provider: Provider,
	}
	if resp.Model == "" {
		resp.Model = "llmtest-moderation"
	}
	for i, in := range req.Inputs {
		resp.Results[i] = m.moderate(in)
	}
	return resp, nil
}

func (m *Moderator) moderate(input string) llm.ModerationResult {
	scores := make(map[string]float64, len(m.Terms))
	text := lowerFields(input)
	for category, terms := range m.Terms {
		n := 0
		for _, t := range terms {
			if t = lowerFields(t); t != "" {
				n += strings.Count(text, t)
			}
		}
		scores[category] = 1 - math.Pow(0.25, float64(n))
	}
	if m.Score != nil {
		for category, s := range m.Score(input) {
			if math.IsNaN(s) {
				s = 0
			}
			s = min(max(s, 0), 1)
			if old, ok := scores[category]; !ok || s > old {
				scores[category] = s
			}
		}
	}
	res := llm.ModerationResult{Categories: make(map[string]bool, len(scores)), Scores: scores}
	for category, s := range scores {
		flagged := s >= FlagThreshold
		res.Categories[category] = flagged
		res.Flagged = res.Flagged || flagged
	}
	return res
}

// Calls returns the number of Moderate calls received.
func (m *Moderator) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.requests)
}

// Requests returns copies of the requests received, in arrival order.
func (m *Moderator) Requests() []*llm.ModerationRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*llm.ModerationRequest, len(m.requests))
	for i, r := range m.requests {
		c := *r
		c.Inputs = slices.Clone(r.Inputs)
		out[i] = &c
	}
	return out
}
