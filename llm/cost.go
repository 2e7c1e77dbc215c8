package llm

import (
	"math"
	"math/bits"
)

// Cost returns what usage u costs at p, exactly: prompt tokens read from
// the provider's cache at CachedInput, those written to it at CacheWrite,
// the rest of the prompt at Input, reasoning tokens at Reasoning and the
// rest of the output at Output (zero prices taking their defaults, see
// Price). Counts are clamped to be consistent (no negative counts; no more
// cached, written or reasoning tokens than the totals they are part of).
// The sum is computed in pico-dollars and rounded once to the nearest
// nano-dollar; it saturates rather than overflows.
func (p Price) Cost(u Usage) NanoUSD {
	in := max(u.InputTokens, 0)
	cached := min(max(u.CachedInputTokens, 0), in)
	written := min(max(u.CacheWriteTokens, 0), in-cached)
	out := max(u.OutputTokens, 0)
	reasoning := min(max(u.ReasoningTokens, 0), out)
	var pico pricePico
	pico.add(in-cached-written, p.Input)
	pico.add(cached, p.cachedInput())
	pico.add(written, p.cacheWrite())
	pico.add(out-reasoning, p.Output)
	pico.add(reasoning, p.reasoning())
	return pico.nano()
}

// inputCost returns what n prompt tokens cost at p's plain input price.
func (p Price) inputCost(n int) NanoUSD {
	var pico pricePico
	pico.add(max(n, 0), p.Input)
	return pico.nano()
}

// maxCost returns the most in prompt tokens and out generated tokens may
// cost at p: every prompt token at the dearer of Input and CacheWrite,
// every output token at the dearer of Output and Reasoning.
func (p Price) maxCost(in, out int) NanoUSD {
	var pico pricePico
	pico.add(max(in, 0), max(p.Input, p.cacheWrite()))
	pico.add(max(out, 0), max(p.Output, p.reasoning()))
	return pico.nano()
}

// pricePico is a saturating sum of pico-dollars.
type pricePico uint64

const pricePicoMax = math.MaxInt64

func (s *pricePico) add(tokens int, price TokenPrice) {
	if tokens <= 0 || price <= 0 {
		return
	}
	hi, lo := bits.Mul64(uint64(tokens), uint64(price))
	if hi != 0 || lo > pricePicoMax || uint64(*s)+lo > pricePicoMax {
		*s = pricePicoMax
		return
	}
	*s += pricePico(lo)
}

// nano rounds the sum to the nearest nano-dollar.
func (s pricePico) nano() NanoUSD { return NanoUSD((uint64(s) + 500) / 1000) }

// Cost returns what a call to model with usage u costs, in US dollars,
// and whether t knows model (see PriceTable for how names are matched).
// An unknown model costs 0. See Price.Cost for how each kind of token is
// priced; CostNano gives the exact amount.
func (t PriceTable) Cost(model string, u Usage) (usd float64, known bool) {
	c, ok := t.CostNano(model, u)
	return c.Dollars(), ok
}

// CostNano is Cost in exact nano-dollars.
func (t PriceTable) CostNano(model string, u Usage) (NanoUSD, bool) {
	p, ok := t.Lookup(model)
	if !ok {
		return 0, false
	}
	return p.Cost(u), true
}

// EmbedCost returns what embedding tokens input tokens with model costs,
// in US dollars, and whether t knows model. Embedding models charge their
// Input price per token (EmbedResponse.Usage.InputTokens).
func (t PriceTable) EmbedCost(model string, tokens int) (usd float64, known bool) {
	p, ok := t.Lookup(model)
	if !ok {
		return 0, false
	}
	return p.inputCost(tokens).Dollars(), true
}
