package llm_test

import (
	"errors"
	"github.com/keel-go/keel/internal/shareddata"
	"os"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
)

const budgetLiteLLMInline = `{
  "sample_spec": {
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "max_input_tokens": "max input tokens, if the provider specifies it",
    "mode": "one of: chat, embedding, completion"
  },
  "gpt-4o": {
    "input_cost_per_token": 2.5e-06,
    "cache_read_input_token_cost": 1.25e-06,
    "output_cost_per_token": 1e-05,
    "litellm_provider": "openai",
    "max_input_tokens": 128000,
    "mode": "chat",
    "supports_vision": true
  },
  "claude-sonnet-4-5": {
    "input_cost_per_token": "3e-06",
    "cache_creation_input_token_cost": " 3.75e-06 ",
    "cache_read_input_token_cost": 3e-07,
    "output_cost_per_token": 1.5e-05,
    "output_cost_per_reasoning_token": null,
    "mode": "chat"
  },
  "gemini-2.5-flash": {
    "input_cost_per_token": 3e-07,
    "output_cost_per_token": 2.5e-06,
    "output_cost_per_reasoning_token": 2.5e-06,
    "mode": "chat"
  },
  "text-embedding-3-small": {
    "input_cost_per_token": 2e-08,
    "output_cost_per_token": 0,
    "mode": "embedding"
  },
  "free-model": {"input_cost_per_token": 0, "output_cost_per_token": "", "mode": null},
  "dall-e-3": {"input_cost_per_pixel": 4e-08, "output_cost_per_token": null, "mode": "image_generation"},
  "weird-mode": {"input_cost_per_token": 1e-06, "mode": 7}
}`

func TestLoadLiteLLMPrices(t *testing.T) {
	table, err := llm.LoadLiteLLMPrices(strings.NewReader(budgetLiteLLMInline))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]llm.Price{
		"gpt-4o": {Input: 2_500_000, CachedInput: 1_250_000, Output: 10_000_000, Mode: "chat"},
		"claude-sonnet-4-5": {Input: 3_000_000, CachedInput: 300_000, CacheWrite: 3_750_000, Output: 15_000_000,
			Mode: "chat"},
		"gemini-2.5-flash":       {Input: 300_000, Output: 2_500_000, Reasoning: 2_500_000, Mode: "chat"},
		"text-embedding-3-small": {Input: 20_000, Mode: "embedding"},
		"free-model":             {},
		"weird-mode":             {Input: 1_000_000},
	}
	if table.Len() != len(want) {
		var names []string
		for n := range table.All() {
			names = append(names, n)
		}
		t.Fatalf("loaded %d models %v, want %d (sample_spec and dall-e-3 skipped)", table.Len(), names, len(want))
	}
	for name, w := range want {
		if got, ok := table.Lookup(name); !ok || got != w {
			t.Errorf("%s: %+v, %v; want %+v", name, got, ok, w)
		}
	}
	// The loaded table prices like any other, normalisation included.
	if usd, ok := table.Cost("openai/gpt-4o-2024-08-06", llm.Usage{InputTokens: 1000, CachedInputTokens: 1000}); !ok || usd != 0.00125 {
		t.Errorf("Cost = %v, %v", usd, ok)
	}
}

func TestLoadLiteLLMPricesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       []string // in the message
	}{
		{"empty", ``, []string{"opening brace", "EOF"}},
		{"not an object", `[1, 2]`, []string{"must be a JSON object"}},
		{"syntax error", `{"gpt-4o": {"input_cost_per_token": 1e-6,}}`, []string{`entry "gpt-4o"`, "at byte", "invalid character"}},
		{"truncated", `{"gpt-4o": {"input_cost_per_token": 1e-6}`, []string{"closing brace"}},
		{"entry not an object", `{"gpt-4o": 5}`, []string{`entry "gpt-4o"`, "not a JSON object"}},
		{"bad number string", `{"m": {"input_cost_per_token": "cheap"}}`, []string{`entry "m"`, "input_cost_per_token", `not a number: "cheap"`}},
		{"negative", `{"m": {"output_cost_per_token": -1e-6}}`, []string{"output_cost_per_token", "non-negative"}},
		{"infinite string", `{"m": {"output_cost_per_token": "Inf"}}`, []string{"finite"}},
		{"bad type", `{"m": {"output_cost_per_token": true}}`, []string{"not a number"}},
		{"trailing data", `{"m": {"input_cost_per_token": 1e-6}} {}`, []string{"trailing data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := llm.LoadLiteLLMPrices(strings.NewReader(tc.json))
			if !errors.Is(err, llm.KindInvalidRequest) {
				t.Fatalf("err = %v, want kind invalid_request", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// budgetSharedData returns the path of a file in the shared data folder
// (see internal/shareddata).
func budgetSharedData(t *testing.T, rel string) string {
	t.Helper()
	return shareddata.File(t, rel, "")
}

func budgetLoadSharedLiteLLM(t *testing.T) llm.PriceTable {
	t.Helper()
	f, err := os.Open(budgetSharedData(t, "litellm-prices/model_prices_and_context_window.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := llm.LoadLiteLLMPrices(f)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// The shared copy is LiteLLM's map as published on 2026-02-24.
func TestLoadLiteLLMPricesSharedCopy(t *testing.T) {
	table := budgetLoadSharedLiteLLM(t)
	modes := map[string]int{}
	for _, p := range table.All() {
		modes[p.Mode]++
	}
	// 1,886 of the map's 1,998 chat entries have a price per token; the
	// others are priced per character, per image or not at all.
	if modes["chat"] != 1886 || modes["embedding"] < 50 {
		t.Fatalf("loaded %d chat and %d embedding models, want 1886 and at least 50 (modes %v)", modes["chat"], modes["embedding"], modes)
	}
	if _, ok := table.Lookup("sample_spec"); ok {
		t.Error("sample_spec was loaded")
	}
	for _, tc := range []struct {
		model string
		want  llm.Price
	}{
		{"gpt-4o", llm.Price{Input: llm.PerMillion(2.50), CachedInput: llm.PerMillion(1.25), Output: llm.PerMillion(10), Mode: "chat"}},
		{"openai/gpt-4o-mini-2024-07-18", llm.Price{Input: llm.PerMillion(0.15), CachedInput: llm.PerMillion(0.075), Output: llm.PerMillion(0.60), Mode: "chat"}},
		{"gpt-4o-2024-05-13", llm.Price{Input: llm.PerMillion(5), Output: llm.PerMillion(15), Mode: "chat"}},
		{"claude-sonnet-4-5", llm.Price{Input: llm.PerMillion(3), CachedInput: llm.PerMillion(0.30), CacheWrite: llm.PerMillion(3.75), Output: llm.PerMillion(15), Mode: "chat"}},
		{"gemini-2.5-flash", llm.Price{Input: llm.PerMillion(0.30), CachedInput: llm.PerMillion(0.03), Output: llm.PerMillion(2.50), Reasoning: llm.PerMillion(2.50), Mode: "chat"}},
		{"text-embedding-3-small", llm.Price{Input: llm.PerMillion(0.02), Mode: "embedding"}},
	} {
		if got, ok := table.Lookup(tc.model); !ok || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.model, got, ok, tc.want)
		}
	}
}

// The dated defaults agree with LiteLLM's map of the same date.
func TestDefaultPricesMatchLiteLLM(t *testing.T) {
	litellm := budgetLoadSharedLiteLLM(t)
	for name, p := range llm.DefaultPrices().All() {
		l, ok := litellm.Lookup(name)
		if !ok {
			t.Errorf("%s: not in LiteLLM's map", name)
			continue
		}
		if p != l {
			t.Errorf("%s: default %+v, LiteLLM %+v", name, p, l)
		}
	}
}
