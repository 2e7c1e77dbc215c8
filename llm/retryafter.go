package llm

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps any parsed wait: a header asking for more than a day
// is treated as that day, so arithmetic on it cannot overflow.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads how long a provider asked the client to wait, from
// the first of these headers that parses:
//
//   - Retry-After-Ms: milliseconds, possibly fractional.
//   - Retry-After: seconds (integer or fractional) or an HTTP date,
//     relative to now.
//   - X-Ratelimit-Reset-Requests / X-Ratelimit-Reset-Tokens: Go-style
//     durations ("1s", "6m0s", "20ms") saying when each rate-limit bucket
//     refills. OpenAI sends them on every metered response, so a bucket's
//     reset is used only when its X-Ratelimit-Remaining-* header is "0" or
//     absent; when both qualify, the longer wait is taken, so a client
//     never retries sooner than the provider allows.
//
// Values that are not finite, or negative, are skipped in favour of the
// next header. It reports false when no header gives a usable wait. Dates
// in the past give a zero wait with true; waits are capped at 24h.
//
// HTTPError consults the reset headers only for 429 responses: on a 500
// they describe the rate limit, not the failure.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	return parseRetryAfter(h, now, true)
}

func parseRetryAfter(h http.Header, now time.Time, useResets bool) (time.Duration, bool) {
	if ms, ok := parseFiniteNonNegative(h.Get("Retry-After-Ms")); ok {
		return clampWait(ms * float64(time.Millisecond)), true
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, ok := parseFiniteNonNegative(v); ok {
			return clampWait(s * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return clampWait(float64(t.Sub(now))), true
		}
	}
	if !useResets {
		return 0, false
	}
	exhausted := func(bucket string) (time.Duration, bool) {
		rem := strings.TrimSpace(h.Get("X-Ratelimit-Remaining-" + bucket))
		if rem != "" && rem != "0" {
			return 0, false
		}
		return parseResetDuration(h.Get("X-Ratelimit-Reset-" + bucket))
	}
	req, reqOK := exhausted("Requests")
	tok, tokOK := exhausted("Tokens")
	switch {
	case reqOK && tokOK:
		return max(req, tok), true
	case reqOK:
		return req, true
	case tokOK:
		return tok, true
	}
	return 0, false
}

// parseFiniteNonNegative parses a decimal number, rejecting NaN, infinities
// and negative values.
func parseFiniteNonNegative(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	return f, true
}

// parseResetDuration parses OpenAI's reset durations, which are Go duration
// strings ("6m0s", "1s", "20ms", "0.5s"); a bare number is taken as seconds.
func parseResetDuration(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return clampWait(float64(d)), true
	}
	if s, ok := parseFiniteNonNegative(v); ok {
		return clampWait(s * float64(time.Second)), true
	}
	return 0, false
}

func clampWait(ns float64) time.Duration {
	switch {
	case ns <= 0:
		return 0
	case ns >= float64(maxRetryAfter):
		return maxRetryAfter
	}
	return time.Duration(ns)
}
