package llm_test

import (
	"math"
	"testing"

	"github.com/keel-go/keel/llm"
)

func TestPriceUnits(t *testing.T) {
	for _, tc := range []struct {
		got, want llm.TokenPrice
	}{
		{llm.PerMillion(2.50), 2_500_000},
		{llm.PerMillion(0.005), 5_000},
		{llm.PerMillion(0.0025), 2_500},
		{llm.PerToken(2.5e-06), 2_500_000},
		{llm.PerToken(1.25e-07), 125_000},
		{llm.PerToken(5e-09), 5_000},
		{llm.PerToken(4.6875e-09), 4_688}, // sub-pico prices round to the nearest unit
		{llm.PerMillion(-1), 0},
		{llm.PerMillion(math.NaN()), 0},
		{llm.PerMillion(math.Inf(1)), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("got %d, want %d", tc.got, tc.want)
		}
	}
	if got := llm.PerMillion(2.5).DollarsPerMillion(); got != 2.5 {
		t.Errorf("DollarsPerMillion = %v, want 2.5", got)
	}
	for _, tc := range []struct {
		n    llm.NanoUSD
		want string
	}{
		{0, "$0.00"},
		{50_000_000, "$0.05"},
		{1_234_567_891, "$1.234567891"},
		{1_500_000_000, "$1.50"},
		{-2_100_000_000, "-$2.10"},
		{1, "$0.000000001"},
		{math.MinInt64, "-$9223372036.854775808"},
	} {
		if got := tc.n.String(); got != tc.want {
			t.Errorf("NanoUSD(%d).String() = %q, want %q", int64(tc.n), got, tc.want)
		}
	}
	for _, tc := range []struct {
		usd  float64
		want llm.NanoUSD
	}{
		{0.1, 100_000_000},
		{50, 50_000_000_000},
		{1e-10, 0},
		{math.NaN(), 0},
		{1e300, math.MaxInt64},
		{-1e300, math.MinInt64},
	} {
		if got := llm.USD(tc.usd); got != tc.want {
			t.Errorf("USD(%v) = %d, want %d", tc.usd, got, tc.want)
		}
	}
	if got := llm.USD(0.1).Dollars(); got != 0.1 {
		t.Errorf("Dollars = %v, want 0.1", got)
	}
}

func TestPriceTableLookup(t *testing.T) {
	table := llm.DefaultPrices()
	gpt4o, _ := table.Lookup("gpt-4o")
	mini, _ := table.Lookup("gpt-4o-mini")
	first, _ := table.Lookup("gpt-4o-2024-05-13")
	if gpt4o.Input != llm.PerMillion(2.5) || mini.Input != llm.PerMillion(0.15) || first.Input != llm.PerMillion(5) {
		t.Fatalf("defaults: gpt-4o %+v, mini %+v, 2024-05-13 %+v", gpt4o, mini, first)
	}
	for _, tc := range []struct {
		model string
		want  llm.Price
		ok    bool
	}{
		{"gpt-4o", gpt4o, true},
		{"openai/gpt-4o", gpt4o, true},
		{"gpt-4o-2024-08-06", gpt4o, true},
		{"gpt-4o-20240806", gpt4o, true},
		{"openai/gpt-4o-2024-11-20", gpt4o, true},
		{"gpt-4o-2024-05-13", first, true}, // listed: priced as itself
		{"openai/gpt-4o-2024-05-13", first, true},
		{"gpt-4o-mini-2024-07-18", mini, true},
		{"gpt-4o-mini-2024-07", llm.Price{}, false}, // not a date
		{"gpt-4o-1999-01-01", llm.Price{}, false},   // not a 20xx date
		{"azure/gpt-4o", llm.Price{}, false},        // only openai/ is stripped
		{"GPT-4O", llm.Price{}, false},
		{"", llm.Price{}, false},
		{"-2024-08-06", llm.Price{}, false},
	} {
		got, ok := table.Lookup(tc.model)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v, %v", tc.model, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := (llm.PriceTable{}).Lookup("gpt-4o"); ok {
		t.Error("the zero table knows gpt-4o")
	}
}

func TestPriceTableWithPricesAndMerge(t *testing.T) {
	base := llm.DefaultPrices()
	n := base.Len()
	custom := llm.Price{Input: llm.PerMillion(1), Output: llm.PerMillion(2)}
	over := base.WithPrices(map[string]llm.Price{"gpt-4o": custom, "my-model": custom})
	if p, _ := base.Lookup("gpt-4o"); p == custom || base.Len() != n {
		t.Fatal("WithPrices changed the original table")
	}
	if p, _ := over.Lookup("gpt-4o"); p != custom {
		t.Fatalf("override: %+v", p)
	}
	if over.Len() != n+1 {
		t.Fatalf("Len = %d, want %d", over.Len(), n+1)
	}
	merged := llm.NewPriceTable(map[string]llm.Price{"my-model": {Input: 7}}).Merge(over)
	if p, _ := merged.Lookup("my-model"); p != custom {
		t.Fatalf("Merge: the argument should win, got %+v", p)
	}
	src := map[string]llm.Price{"x": custom}
	tab := llm.NewPriceTable(src)
	src["x"] = llm.Price{}
	if p, _ := tab.Lookup("x"); p != custom {
		t.Fatal("NewPriceTable keeps a reference to its argument")
	}
	var names []string
	for name := range merged.All() {
		names = append(names, name)
	}
	if len(names) != merged.Len() || names[0] > names[1] {
		t.Fatalf("All: %d names, first %q, %q", len(names), names[0], names[1])
	}
}

func TestPriceCost(t *testing.T) {
	openai := llm.Price{Input: llm.PerMillion(2.50), CachedInput: llm.PerMillion(1.25), Output: llm.PerMillion(10)}
	anthropic := llm.Price{Input: llm.PerMillion(3), CachedInput: llm.PerMillion(0.30), CacheWrite: llm.PerMillion(3.75), Output: llm.PerMillion(15)}
	gemini := llm.Price{Input: llm.PerMillion(0.30), Output: llm.PerMillion(0.60), Reasoning: llm.PerMillion(2.50)}
	for _, tc := range []struct {
		name  string
		price llm.Price
		usage llm.Usage
		want  llm.NanoUSD
	}{
		{"plain", openai, llm.Usage{InputTokens: 1000, OutputTokens: 100}, 2_500_000 + 1_000_000},
		{"cached discount", openai, llm.Usage{InputTokens: 1000, CachedInputTokens: 600, OutputTokens: 100},
			400*2500 + 600*1250 + 100*10000},
		{"all cached", openai, llm.Usage{InputTokens: 1000, CachedInputTokens: 1000}, 1000 * 1250},
		{"cached beyond input is clamped", openai, llm.Usage{InputTokens: 10, CachedInputTokens: 50}, 10 * 1250},
		{"no cached price: billed as input", llm.Price{Input: llm.PerMillion(5)}, llm.Usage{InputTokens: 100, CachedInputTokens: 100}, 100 * 5000},
		{"cache write premium", anthropic, llm.Usage{InputTokens: 3000, CachedInputTokens: 1000, CacheWriteTokens: 1500, OutputTokens: 10},
			500*3000 + 1000*300 + 1500*3750 + 10*15000},
		{"cache write without a price: billed as input", openai, llm.Usage{InputTokens: 100, CacheWriteTokens: 100}, 100 * 2500},
		{"reasoning at output price", openai, llm.Usage{OutputTokens: 500, ReasoningTokens: 400}, 500 * 10000},
		{"reasoning at its own price", gemini, llm.Usage{InputTokens: 100, OutputTokens: 500, ReasoningTokens: 400},
			100*300 + 100*600 + 400*2500},
		{"reasoning beyond output is clamped", gemini, llm.Usage{OutputTokens: 10, ReasoningTokens: 99}, 10 * 2500},
		{"negative counts count as zero", openai, llm.Usage{InputTokens: -5, OutputTokens: -1, CachedInputTokens: -3}, 0},
		{"rounds to the nearest nano-dollar", llm.Price{Input: 150}, llm.Usage{InputTokens: 3}, 0}, // 450 pico
		{"rounds half up", llm.Price{Input: 500}, llm.Usage{InputTokens: 1}, 1},
		{"saturates", llm.Price{Output: math.MaxInt64 / 2}, llm.Usage{OutputTokens: math.MaxInt32}, 9_223_372_036_854_776},
		{"zero usage", openai, llm.Usage{}, 0},
	} {
		if got := tc.price.Cost(tc.usage); got != tc.want {
			t.Errorf("%s: Cost = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestPriceTableCost(t *testing.T) {
	table := llm.DefaultPrices()
	usd, ok := table.Cost("gpt-4o-mini-2024-07-18", llm.Usage{InputTokens: 10_000, CachedInputTokens: 4_000, OutputTokens: 500})
	if want := (6000*0.15 + 4000*0.075 + 500*0.60) / 1e6; !ok || math.Abs(usd-want) > 1e-12 {
		t.Fatalf("Cost = %v, %v; want %v", usd, ok, want)
	}
	if usd, ok := table.Cost("no-such-model", llm.Usage{InputTokens: 100}); ok || usd != 0 {
		t.Fatalf("unknown model: %v, %v", usd, ok)
	}
	if c, ok := table.CostNano("o3", llm.Usage{InputTokens: 1, OutputTokens: 1}); !ok || c != 2000+8000 {
		t.Fatalf("CostNano = %d, %v", c, ok)
	}
	if usd, ok := table.EmbedCost("text-embedding-3-small", 1_000_000); !ok || usd != 0.02 {
		t.Fatalf("EmbedCost = %v, %v; want 0.02", usd, ok)
	}
	if usd, ok := table.EmbedCost("text-embedding-3-large", 500); !ok || usd != 500*0.13/1e6 {
		t.Fatalf("EmbedCost = %v, %v", usd, ok)
	}
	if _, ok := table.EmbedCost("nope", 5); ok {
		t.Fatal("EmbedCost knows an unknown model")
	}
}
