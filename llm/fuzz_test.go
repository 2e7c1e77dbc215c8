package llm

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzCollect decodes arbitrary bytes into a sequence of stream events and
// accumulates them: whatever the order or content, it must not panic and
// the tool calls it assembles must account for every argument byte.
func FuzzCollect(f *testing.F) {
	f.Add([]byte("\x04\x00a\x04\x00b\x04\x01c\x02hello\x06"))
	f.Add([]byte{})
	f.Add([]byte("\x04\xff\x04\xff\x04\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var events []Event
		var argBytes int
		for i := 0; i+1 < len(data); i += 2 {
			kind := EventKind(data[i]%8) + 0
			b := data[i+1]
			ev := Event{Kind: kind, Text: string(rune('a' + b%26))}
			if kind == EventToolCallDelta {
				ev.ToolCall = ToolCallDelta{Index: int(b % 4), Arguments: string(rune('a' + b%26))}
				if b%3 == 0 {
					ev.ToolCall.ID = "id" + string(rune('0'+b%10))
				}
				argBytes++
			}
			if kind == EventUsage {
				ev.Usage = Usage{InputTokens: int(b)}
			}
			events = append(events, ev)
		}
		resp, err := Collect(seqOf(events, nil))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, tc := range resp.Message.ToolCalls {
			got += len(tc.Arguments)
		}
		if got != argBytes {
			t.Fatalf("assembled %d argument bytes, sent %d", got, argBytes)
		}
	})
}

// FuzzParseRetryAfter feeds arbitrary header values: never a panic, never a
// negative or over-cap wait.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "1.5", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "6m0s", "20ms", "NaN", "1e400", "Inf"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, ra, ms, reset string) {
		h := http.Header{}
		h.Set("Retry-After", ra)
		h.Set("Retry-After-Ms", ms)
		h.Set("X-Ratelimit-Reset-Tokens", reset)
		h.Set("X-Ratelimit-Reset-Requests", reset)
		d, _ := ParseRetryAfter(h, time.Unix(0, 0))
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("wait %v out of range", d)
		}
	})
}

// FuzzHTTPError maps arbitrary statuses, headers and messages: never a
// panic, always a kind, and a key planted in the message never survives.
func FuzzHTTPError(f *testing.F) {
	f.Add(429, "insufficient_quota", "You exceeded your current quota", "2")
	f.Add(500, "", "", "")
	f.Add(-1, "\x00", "\xff\xfe", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, status int, code, msg, retryAfter string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("X-Should-Retry", code)
		const key = "sk-proj-FUZZKEY1234567890"
		e := HTTPError("p", "m", status, h, code, msg+" "+key, time.Unix(0, 0))
		if e.Kind >= numKinds {
			t.Fatalf("kind %d out of range", e.Kind)
		}
		if strings.Contains(e.Error(), "FUZZKEY1234567890") {
			t.Fatalf("key leaked: %s", e.Error())
		}
		_ = Retryable(e)
	})
}
