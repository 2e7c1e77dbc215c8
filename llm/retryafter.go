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
//     durations ("1s", "6m0s", "20ms"). When the matching
//     X-Ratelimit-Remaining-* header says which limit is exhausted, that
//     limit's reset is used; otherwise the longer of the two, so a client
//     never retries sooner than the provider allows.
//
// It reports false when no header gives a usable wait. Negative values and
// dates in the past give a zero wait with true; waits are capped at 24h.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(ms) {
			return clampWait(ms * float64(time.Millisecond)), true
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(s) {
			return clampWait(s * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return clampWait(float64(t.Sub(now))), true
		}
	}
	req, reqOK := parseResetDuration(h.Get("X-Ratelimit-Reset-Requests"))
	tok, tokOK := parseResetDuration(h.Get("X-Ratelimit-Reset-Tokens"))
	switch {
	case reqOK && tokOK:
		reqOut := strings.TrimSpace(h.Get("X-Ratelimit-Remaining-Requests")) == "0"
		tokOut := strings.TrimSpace(h.Get("X-Ratelimit-Remaining-Tokens")) == "0"
		switch {
		case reqOut && !tokOut:
			return req, true
		case tokOut && !reqOut:
			return tok, true
		}
		return max(req, tok), true
	case reqOK:
		return req, true
	case tokOK:
		return tok, true
	}
	return 0, false
}

// parseResetDuration parses OpenAI's reset durations, which are Go duration
// strings ("6m0s", "1s", "20ms", "0.5s"); a bare number is taken as seconds.
func parseResetDuration(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(v); err == nil {
		return clampWait(float64(d)), true
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(s) {
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
