package llm

import (
	"iter"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// TokenPrice is the price of one token in pico-dollars (10⁻¹² US dollars),
// which is the same number as micro-dollars per million tokens: $2.50 per
// million tokens is TokenPrice(2_500_000). Every public list price (down to
// fractions of a cent per million tokens) is a whole number in this unit, so
// prices are exact and costs are computed in integers.
type TokenPrice int64

// PerMillion returns the TokenPrice of usd dollars per million tokens,
// rounded to the nearest unit. Negative, NaN and infinite prices give 0.
func PerMillion(usd float64) TokenPrice {
	if !(usd > 0) || math.IsInf(usd, 1) {
		return 0
	}
	return TokenPrice(min(math.Round(usd*1e6), math.MaxInt64/2))
}

// PerToken returns the TokenPrice of usd dollars per token (the unit of
// LiteLLM's price map), rounded to the nearest unit. Negative, NaN and
// infinite prices give 0.
func PerToken(usd float64) TokenPrice { return PerMillion(usd * 1e6) }

// DollarsPerMillion returns p in US dollars per million tokens.
func (p TokenPrice) DollarsPerMillion() float64 { return float64(p) / 1e6 }

// NanoUSD is an amount of money in nano-dollars (10⁻⁹ US dollars). Budgets,
// spend counters and reports keep money in it, as integers, so that sums
// over millions of calls are exact and never drift as float sums do; an
// int64 holds ±9.2 billion dollars. A call's cost is computed exactly in
// pico-dollars and rounded once to the nearest nano-dollar, an error of at
// most half a nano-dollar per call (half a dollar per billion calls).
type NanoUSD int64

// USD returns the NanoUSD of usd dollars, rounded to the nearest
// nano-dollar and clamped to the range of NanoUSD; NaN gives 0.
func USD(usd float64) NanoUSD {
	switch n := math.Round(usd * 1e9); {
	case n != n:
		return 0
	case n >= math.MaxInt64:
		return math.MaxInt64
	case n <= math.MinInt64:
		return math.MinInt64
	default:
		return NanoUSD(n)
	}
}

// Dollars returns n in US dollars.
func (n NanoUSD) Dollars() float64 { return float64(n) / 1e9 }

// String formats n as dollars with up to nine decimals and no trailing
// zeros beyond the cents: "$0.05", "$1.234567891", "-$2.10".
func (n NanoUSD) String() string {
	var b []byte
	u := uint64(n)
	if n < 0 {
		b = append(b, '-')
		u = -u
	}
	b = append(b, '$')
	b = strconv.AppendUint(b, u/1e9, 10)
	frac := strconv.AppendUint(nil, 1e9+u%1e9, 10)[1:] // nine digits
	end := len(frac)
	for end > 2 && frac[end-1] == '0' {
		end--
	}
	b = append(b, '.')
	b = append(b, frac[:end]...)
	return string(b)
}

// Price is what one model charges per token. Zero fields take the
// documented default, so a table needs only the prices a model actually
// distinguishes.
type Price struct {
	// Input is the price of a prompt token that is neither read from nor
	// written to the provider's prompt cache. For an embedding model it is
	// the price of an embedded token.
	Input TokenPrice
	// CachedInput is the price of a prompt token read from the provider's
	// prompt cache (Usage.CachedInputTokens); zero means Input (no
	// discount known).
	CachedInput TokenPrice
	// CacheWrite is the price of a prompt token written to the prompt
	// cache (Usage.CacheWriteTokens, Anthropic's cache creation); zero
	// means Input.
	CacheWrite TokenPrice
	// Output is the price of a generated token.
	Output TokenPrice
	// Reasoning is the price of a reasoning token (Usage.ReasoningTokens,
	// part of the output) when the model prices them apart; zero means
	// Output, as for OpenAI's models.
	Reasoning TokenPrice
	// Mode is the kind of model, as in LiteLLM's map: "chat",
	// "embedding", "responses", "completion" and so on. Costs do not
	// depend on it.
	Mode string
}

func (p Price) cachedInput() TokenPrice { return priceOr(p.CachedInput, p.Input) }
func (p Price) cacheWrite() TokenPrice  { return priceOr(p.CacheWrite, p.Input) }
func (p Price) reasoning() TokenPrice   { return priceOr(p.Reasoning, p.Output) }

// priceOr returns v, or def when v is zero.
func priceOr(v, def TokenPrice) TokenPrice {
	if v == 0 {
		return def
	}
	return v
}

// PriceTable maps model names to prices. It is immutable once built (the
// methods that change it return a new table), so one table can be shared by
// any number of goroutines. The zero value is an empty table.
//
// Lookup finds a model by its exact name first and then by a normalised
// name, in this order:
//
//  1. the exact name ("gpt-4o-2024-05-13");
//  2. without a leading "openai/" ("openai/gpt-4o" → "gpt-4o");
//  3. without a dated snapshot suffix, "-YYYY-MM-DD" or "-YYYYMMDD"
//     ("gpt-4o-mini-2024-07-18" → "gpt-4o-mini"), with and then without
//     the prefix.
//
// So a snapshot is priced as its base model unless the table lists it
// itself, as the defaults do for snapshots priced differently.
type PriceTable struct {
	m map[string]Price
}

// NewPriceTable returns a table holding a copy of prices.
func NewPriceTable(prices map[string]Price) PriceTable {
	return PriceTable{m: maps.Clone(prices)}
}

// WithPrices returns a copy of t in which prices are added or replace
// t's entries of the same name. t is unchanged.
func (t PriceTable) WithPrices(prices map[string]Price) PriceTable {
	m := make(map[string]Price, len(t.m)+len(prices))
	maps.Copy(m, t.m)
	maps.Copy(m, prices)
	return PriceTable{m: m}
}

// Merge returns a copy of t with every entry of o added, o's winning
// where both name a model: DefaultPrices().Merge(loaded) keeps the
// defaults for what loaded lacks.
func (t PriceTable) Merge(o PriceTable) PriceTable { return t.WithPrices(o.m) }

// Len returns the number of models in t.
func (t PriceTable) Len() int { return len(t.m) }

// All returns every model name and price of t, in name order.
func (t PriceTable) All() iter.Seq2[string, Price] {
	return func(yield func(string, Price) bool) {
		for _, name := range slices.Sorted(maps.Keys(t.m)) {
			if !yield(name, t.m[name]) {
				return
			}
		}
	}
}

// Lookup returns the price of model, found by exact and then normalised
// name as described on PriceTable, and whether there is one.
func (t PriceTable) Lookup(model string) (Price, bool) {
	if p, ok := t.m[model]; ok {
		return p, true
	}
	if len(t.m) == 0 || model == "" {
		return Price{}, false
	}
	bare, prefixed := strings.CutPrefix(model, "openai/")
	if prefixed {
		if p, ok := t.m[bare]; ok {
			return p, true
		}
	}
	if base, ok := priceCutSnapshotDate(model); ok {
		if p, ok := t.m[base]; ok {
			return p, true
		}
		if prefixed {
			if p, ok := t.m[base[len("openai/"):]]; ok {
				return p, true
			}
		}
	}
	return Price{}, false
}

// priceCutSnapshotDate removes a trailing "-YYYY-MM-DD" or "-YYYYMMDD" whose
// year starts with 20.
func priceCutSnapshotDate(model string) (string, bool) {
	for _, pattern := range [...]string{"-20dd-dd-dd", "-20dddddd"} {
		n := len(model) - len(pattern)
		if n <= 0 {
			continue
		}
		ok := true
		for i := range len(pattern) {
			c := model[n+i]
			if pattern[i] == 'd' && (c < '0' || c > '9') || pattern[i] != 'd' && c != pattern[i] {
				ok = false
				break
			}
		}
		if ok {
			return model[:n], true
		}
	}
	return "", false
}

// PricesAsOf is the date of the list prices in DefaultPrices (checked
// against LiteLLM's price map of that date).
const PricesAsOf = "2026-02-24"

// DefaultPrices returns the public list prices of current OpenAI models
// as of PricesAsOf, for standard (not batch, flex or priority) processing.
//
// They are defaults to get started, not a source of truth: prices change
// and contracts differ. Override them in code (WithPrices), or load a
// maintained map with LoadLiteLLMPrices and Merge it over these.
func DefaultPrices() PriceTable {
	chat := func(in, cached, out float64) Price {
		return Price{Input: PerMillion(in), CachedInput: PerMillion(cached), Output: PerMillion(out), Mode: "chat"}
	}
	embed := func(in float64) Price { return Price{Input: PerMillion(in), Mode: "embedding"} }
	return PriceTable{m: map[string]Price{
		"gpt-4o":            chat(2.50, 1.25, 10.00),
		"gpt-4o-2024-05-13": chat(5.00, 0, 15.00), // the first snapshot, dearer than gpt-4o
		"gpt-4o-mini":       chat(0.15, 0.075, 0.60),
		"gpt-4.1":           chat(2.00, 0.50, 8.00),
		"gpt-4.1-mini":      chat(0.40, 0.10, 1.60),
		"gpt-4.1-nano":      chat(0.10, 0.025, 0.40),
		"o1":                chat(15.00, 7.50, 60.00),
		"o3":                chat(2.00, 0.50, 8.00),
		"o3-mini":           chat(1.10, 0.55, 4.40),
		"o4-mini":           chat(1.10, 0.275, 4.40),
		"gpt-5":             chat(1.25, 0.125, 10.00),
		"gpt-5-mini":        chat(0.25, 0.025, 2.00),
		"gpt-5-nano":        chat(0.05, 0.005, 0.40),
		"gpt-5.1":           chat(1.25, 0.125, 10.00),
		"gpt-5.2":           chat(1.75, 0.175, 14.00),

		"text-embedding-3-small": embed(0.02),
		"text-embedding-3-large": embed(0.13),
		"text-embedding-ada-002": embed(0.10),
	}}
}
