package openai

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"golang.org/x/sync/errgroup"

	"github.com/keel-go/keel/llm"
)

// Embed returns one vector per input, in input order.
//
// Inputs are split into batches that respect the API's limits per request:
// at most 2048 inputs and at most 300,000 tokens, counted as bytes (an
// upper bound on tokens), both adjustable with WithEmbedBatch. Batches are
// sent concurrently, at most WithEmbedConcurrency at a time; the first
// failure cancels the others and is returned as an *llm.Error. Vectors are
// placed by the index the server returns, and the usage of all batches is
// summed. An empty input list returns an empty response without a call.
func (c *Client) Embed(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	if req == nil {
		return nil, c.invalid("", "nil embed request")
	}
	model := req.Model
	if model == "" {
		model = c.cfg.defaultEmbedModel
	}
	out := &llm.EmbedResponse{Model: model, Provider: c.cfg.provider, Vectors: make([][]float32, len(req.Inputs))}
	if len(req.Inputs) == 0 {
		return out, nil
	}
	if model == "" {
		return nil, c.invalid("", "no embedding model: set EmbedRequest.Model or WithDefaultEmbeddingModel")
	}
	if req.Dimensions < 0 {
		return nil, c.invalid(model, "negative Dimensions")
	}

	batches := embedBatches(req.Inputs, c.cfg.embedInputs, c.cfg.embedTokens)
	usages := make([]llm.Usage, len(batches))
	models := make([]string, len(batches))
	if len(batches) == 1 {
		u, m, err := c.embedBatch(ctx, req, model, batches[0], out.Vectors)
		if err != nil {
			return nil, err
		}
		usages[0], models[0] = u, m
	} else {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(c.cfg.embedConcurrency)
		for i, b := range batches {
			g.Go(func() error {
				u, m, err := c.embedBatch(gctx, req, model, b, out.Vectors)
				if err != nil {
					return err
				}
				usages[i], models[i] = u, m
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	for i := range usages {
		out.Usage = out.Usage.Add(usages[i])
	}
	if models[0] != "" {
		out.Model = models[0]
	}
	return out, nil
}

// batch is the half-open range [lo, hi) of the inputs.
type batch struct{ lo, hi int }

// embedBatches cuts inputs into consecutive batches of at most maxInputs
// inputs and at most maxBytes bytes. An input longer than maxBytes gets a
// batch of its own (the server will judge it).
func embedBatches(inputs []string, maxInputs, maxBytes int) []batch {
	var out []batch
	lo, size := 0, 0
	for i, s := range inputs {
		if i > lo && (i-lo >= maxInputs || size+len(s) > maxBytes) {
			out = append(out, batch{lo, i})
			lo, size = i, 0
		}
		size += len(s)
	}
	return append(out, batch{lo, len(inputs)})
}

// embedBatch embeds inputs[b.lo:b.hi] into vectors[b.lo:b.hi].
func (c *Client) embedBatch(ctx context.Context, req *llm.EmbedRequest, model string, b batch, vectors [][]float32) (llm.Usage, string, error) {
	p := oai.EmbeddingNewParams{
		Model:          model,
		EncodingFormat: oai.EmbeddingNewParamsEncodingFormatFloat,
	}
	p.Input.OfArrayOfStrings = req.Inputs[b.lo:b.hi]
	if req.Dimensions > 0 {
		p.Dimensions = param.NewOpt(int64(req.Dimensions))
	}
	var httpResp *http.Response
	var raw []byte
	if _, err := c.emb.New(ctx, p, option.WithResponseInto(&httpResp), option.WithResponseBodyInto(&raw)); err != nil {
		return llm.Usage{}, "", c.mapError(ctx, err, httpResp, model)
	}
	var res oai.CreateEmbeddingResponse
	if err := json.Unmarshal(raw, &res); err != nil {
		return llm.Usage{}, "", c.badJSON(model, httpResp, err)
	}
	n := b.hi - b.lo
	bad := func(msg string) error {
		e := &llm.Error{Kind: llm.KindBadResponse, Provider: c.cfg.provider, Model: model, Message: msg}
		if httpResp != nil {
			e.RequestID = llm.RequestIDFrom(httpResp.Header)
		}
		return e
	}
	if len(res.Data) != n {
		return llm.Usage{}, "", bad("embeddings response has " + strconv.Itoa(len(res.Data)) +
			" vectors for " + strconv.Itoa(n) + " inputs")
	}
	dst := vectors[b.lo:b.hi]
	for i := range res.Data {
		d := &res.Data[i]
		if d.Index < 0 || int(d.Index) >= n || dst[d.Index] != nil {
			return llm.Usage{}, "", bad("embeddings response has a missing or repeated index")
		}
		v := make([]float32, len(d.Embedding))
		for j, f := range d.Embedding {
			v[j] = float32(f)
		}
		dst[d.Index] = v
	}
	return llm.Usage{InputTokens: int(res.Usage.PromptTokens)}, res.Model, nil
}
