package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
)

// LoadLiteLLMPrices reads a price table in the format of LiteLLM's
// model_prices_and_context_window.json, the price map many teams already
// maintain (github.com/BerriAI/litellm). The map is a JSON object keyed by
// model name; per model it reads
//
//	input_cost_per_token             → Price.Input
//	cache_read_input_token_cost      → Price.CachedInput
//	cache_creation_input_token_cost  → Price.CacheWrite
//	output_cost_per_token            → Price.Output
//	output_cost_per_reasoning_token  → Price.Reasoning
//	mode                             → Price.Mode ("chat", "embedding", ...)
//
// in US dollars per token, and ignores every other field (context windows,
// batch, flex and priority prices, tiered prices above 200k tokens, per
// image or per second prices). The "sample_spec" entry, which documents
// the format, is skipped, and so are entries with neither an input nor an
// output price per token (image or audio models priced otherwise). Prices
// may be JSON numbers, numeric strings ("2.5e-06"), null or missing (a
// missing or null price takes the Price default). Prices are rounded to
// the nearest pico-dollar per token.
//
// The JSON must be well formed: a syntax error, an entry that is not an
// object, or a price that is negative or not a number fails the load with
// an *Error of kind KindInvalidRequest naming the entry and the byte
// offset. Keys are used as they are ("azure/gpt-4o" and "gpt-4o" are
// different entries); PriceTable's lookup normalises "openai/" prefixes
// and snapshot dates.
func LoadLiteLLMPrices(r io.Reader) (PriceTable, error) {
	dec := json.NewDecoder(r)
	fail := func(entry, msg string, err error) (PriceTable, error) {
		var b strings.Builder
		b.WriteString("llm: LiteLLM price map")
		if entry != "" {
			b.WriteString(": entry ")
			b.WriteString(strconv.Quote(entry))
		}
		b.WriteString(" at byte ")
		b.WriteString(strconv.FormatInt(dec.InputOffset(), 10))
		b.WriteString(": ")
		b.WriteString(msg)
		if err != nil {
			b.WriteString(": ")
			b.WriteString(err.Error())
		}
		return PriceTable{}, &Error{Kind: KindInvalidRequest, Message: b.String(), Err: err}
	}
	tok, err := dec.Token()
	if err != nil {
		return fail("", "reading the opening brace", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fail("", "the map must be a JSON object", nil)
	}
	m := make(map[string]Price)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("", "reading a model name", err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(name, "reading the entry", err)
		}
		if name == "sample_spec" {
			continue
		}
		p, ok, err := priceParseLiteLLMEntry(raw)
		if err != nil {
			return fail(name, "bad entry", err)
		}
		if ok {
			m[name] = p
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fail("", "reading the closing brace", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("more JSON after the map")
		}
		return fail("", "trailing data", err)
	}
	return PriceTable{m: m}, nil
}

// priceLiteLLMEntry holds the fields LoadLiteLLMPrices reads, raw so that
// numbers, strings and nulls can all be accepted.
type priceLiteLLMEntry struct {
	Input      json.RawMessage `json:"input_cost_per_token"`
	Output     json.RawMessage `json:"output_cost_per_token"`
	CacheRead  json.RawMessage `json:"cache_read_input_token_cost"`
	CacheWrite json.RawMessage `json:"cache_creation_input_token_cost"`
	Reasoning  json.RawMessage `json:"output_cost_per_reasoning_token"`
	Mode       json.RawMessage `json:"mode"`
}

// priceParseLiteLLMEntry returns the price of one entry, and false when the
// entry has no per-token input or output price.
func priceParseLiteLLMEntry(raw json.RawMessage) (Price, bool, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return Price{}, false, errors.New("not a JSON object")
	}
	var e priceLiteLLMEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return Price{}, false, err
	}
	var p Price
	var present [5]bool
	var err error
	for i, f := range [...]struct {
		name string
		raw  json.RawMessage
		dst  *TokenPrice
	}{
		{"input_cost_per_token", e.Input, &p.Input},
		{"output_cost_per_token", e.Output, &p.Output},
		{"cache_read_input_token_cost", e.CacheRead, &p.CachedInput},
		{"cache_creation_input_token_cost", e.CacheWrite, &p.CacheWrite},
		{"output_cost_per_reasoning_token", e.Reasoning, &p.Reasoning},
	} {
		if *f.dst, present[i], err = priceLiteLLMValue(f.raw); err != nil {
			return Price{}, false, errors.New(f.name + ": " + err.Error())
		}
	}
	if !present[0] && !present[1] {
		return Price{}, false, nil
	}
	var mode string
	if json.Unmarshal(e.Mode, &mode) == nil {
		p.Mode = mode
	}
	return p, true, nil
}

// priceLiteLLMValue parses a price in dollars per token: a JSON number, a
// numeric string, or null/absent (present false).
func priceLiteLLMValue(raw json.RawMessage) (TokenPrice, bool, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		return 0, false, nil
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, false, err
		}
		s = strings.TrimSpace(str)
		if s == "" {
			return 0, false, nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil:
		return 0, false, errors.New("not a number: " + strconv.Quote(s))
	case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
		return 0, false, errors.New("not a finite, non-negative price: " + s)
	}
	return PerToken(v), true, nil
}
