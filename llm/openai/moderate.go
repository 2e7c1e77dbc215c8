package openai

import (
	"context"
	"encoding/json"
	"net/http"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/keel-go/keel/llm"
)

// Moderate classifies each input with OpenAI's moderation endpoint and
// returns one result per input, in input order. Categories and scores are
// read from the raw JSON of the response, so categories OpenAI adds later
// are reported under their API names ("harassment/threatening",
// "self-harm/intent", ...) without a change to this package. An empty input
// list returns an empty response without a call.
func (c *Client) Moderate(ctx context.Context, req *llm.ModerationRequest) (*llm.ModerationResponse, error) {
	if req == nil {
		return nil, c.invalid("", "nil moderation request")
	}
	model := req.Model
	if model == "" {
		model = c.cfg.defaultModerateModel
	}
	out := &llm.ModerationResponse{Model: model, Provider: c.cfg.provider, Results: []llm.ModerationResult{}}
	if len(req.Inputs) == 0 {
		return out, nil
	}
	var p oai.ModerationNewParams
	p.Input.OfStringArray = req.Inputs
	if model != "" {
		p.Model = oai.ModerationModel(model)
	}
	var httpResp *http.Response
	var raw []byte
	if _, err := c.mod.New(ctx, p, option.WithResponseInto(&httpResp), option.WithResponseBodyInto(&raw)); err != nil {
		return nil, c.mapError(ctx, err, httpResp, model)
	}
	var res oai.ModerationNewResponse
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, c.badJSON(model, httpResp, err)
	}
	if res.Model != "" {
		out.Model = res.Model
	}
	if len(res.Results) != len(req.Inputs) {
		e := &llm.Error{Kind: llm.KindBadResponse, Provider: c.cfg.provider, Model: out.Model,
			Message: "moderation response does not have one result per input"}
		if httpResp != nil {
			e.RequestID = llm.RequestIDFrom(httpResp.Header)
		}
		return nil, e
	}
	out.Results = make([]llm.ModerationResult, len(res.Results))
	for i := range res.Results {
		m := &res.Results[i]
		r := &out.Results[i]
		r.Flagged = m.Flagged
		r.Categories = boolMap(m.Categories.RawJSON())
		r.Scores = floatMap(m.CategoryScores.RawJSON())
	}
	return out, nil
}

// boolMap decodes a JSON object of booleans; values that are not booleans
// (null) count as false.
func boolMap(raw string) map[string]bool {
	var m map[string]json.RawMessage
	if raw == "" || json.Unmarshal([]byte(raw), &m) != nil {
		return map[string]bool{}
	}
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = string(v) == "true"
	}
	return out
}

// floatMap decodes a JSON object of numbers; values that are not numbers
// are left out.
func floatMap(raw string) map[string]float64 {
	var m map[string]json.RawMessage
	if raw == "" || json.Unmarshal([]byte(raw), &m) != nil {
		return map[string]float64{}
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		var f float64
		if string(v) != "null" && json.Unmarshal(v, &f) == nil {
			out[k] = f
		}
	}
	return out
}
