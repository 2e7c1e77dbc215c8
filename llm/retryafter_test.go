package llm

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
		ok      bool
	}{
		{"none", nil, 0, false},
		{"seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, true},
		{"fractional seconds", map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond, true},
		{"http date", map[string]string{"Retry-After": now.Add(30 * time.Second).Format(http.TimeFormat)}, 30 * time.Second, true},
		{"date in the past", map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0, true},
		{"negative skipped", map[string]string{"Retry-After": "-3"}, 0, false},
		{"negative ms falls through", map[string]string{"Retry-After-Ms": "-5", "Retry-After": "3"}, 3 * time.Second, true},
		{"infinite skipped", map[string]string{"Retry-After": "Inf"}, 0, false},
		{"both buckets have room: resets ignored", map[string]string{
			"X-Ratelimit-Reset-Requests": "120ms", "X-Ratelimit-Reset-Tokens": "2m0s",
			"X-Ratelimit-Remaining-Requests": "499", "X-Ratelimit-Remaining-Tokens": "150000",
		}, 0, false},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0, false},
		{"ms wins", map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond, true},
		{"fractional ms", map[string]string{"Retry-After-Ms": "12.5"}, 12500 * time.Microsecond, true},
		{"reset requests", map[string]string{"X-Ratelimit-Reset-Requests": "1s"}, time.Second, true},
		{"reset tokens 6m0s", map[string]string{"X-Ratelimit-Reset-Tokens": "6m0s"}, 6 * time.Minute, true},
		{"reset 20ms", map[string]string{"X-Ratelimit-Reset-Tokens": "20ms"}, 20 * time.Millisecond, true},
		{"both resets, longer", map[string]string{"X-Ratelimit-Reset-Requests": "1s", "X-Ratelimit-Reset-Tokens": "6m0s"}, 6 * time.Minute, true},
		{"both resets, requests exhausted", map[string]string{
			"X-Ratelimit-Reset-Requests": "1s", "X-Ratelimit-Reset-Tokens": "6m0s",
			"X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Remaining-Tokens": "1200",
		}, time.Second, true},
		{"both resets, tokens exhausted", map[string]string{
			"X-Ratelimit-Reset-Requests": "1s", "X-Ratelimit-Reset-Tokens": "20ms",
			"X-Ratelimit-Remaining-Requests": "5", "X-Ratelimit-Remaining-Tokens": "0",
		}, 20 * time.Millisecond, true},
		{"retry-after beats reset", map[string]string{"Retry-After": "2", "X-Ratelimit-Reset-Tokens": "6m0s"}, 2 * time.Second, true},
		{"huge capped", map[string]string{"Retry-After": "1e30"}, 24 * time.Hour, true},
		{"bad reset ignored", map[string]string{"X-Ratelimit-Reset-Tokens": "later"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			got, ok := ParseRetryAfter(h, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseRetryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
