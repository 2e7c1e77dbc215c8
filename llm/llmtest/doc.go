// Package llmtest provides fakes for unit tests of code built on package
// llm: a scripted Model, fault injection, a deterministic Embedder, a
// Moderator, and a record/replay http.RoundTripper for provider sessions.
// Nothing here touches the network, and everything is safe for concurrent
// use.
//
// # Scripted models
//
// A Model serves one Step per call, in order, and records every request:
//
//	m := llmtest.NewModel(
//		llmtest.ToolCall("get_weather", `{"city":"Paris"}`),
//		llmtest.Reply("It is sunny in Paris.").WithUsage(120, 8),
//	)
//	agent := NewAgent(m) // the code under test takes an llm.Model
//	...
//	if got := m.Requests()[1].Messages; ... // what the agent sent back
//
// Stream serves the same scripted reply as a stream, with the text split
// into several deltas and tool-call arguments into several fragments, so
// consumers are exercised on split deltas; Events gives exact events
// instead. NewModelFunc computes replies from the request.
//
// # Faults
//
// Faults are steps too, so they compose with replies in one script:
//
//	m := llmtest.NewModel(
//		llmtest.RateLimited("Retry-After", "1.5"),  // 429 with a retry-after
//		llmtest.ServerError(503).Times(2),          // two 503s
//		llmtest.Reply("ok").Delay(2*time.Second),   // then a slow answer
//	)
//
// RateLimited, QuotaExhausted, ServerError and HTTPFailure build their
// errors with llm.HTTPError from real headers; Timeout hangs; Delay,
// StallAfter and CutOffAfter slow down or break a reply; FailRandomly wraps
// any Model for storm tests with a seeded random source.
//
// Every wait uses a time.Timer and ends early when the context is done, so
// tests of timeouts and retry waits run inside a testing/synctest bubble
// take no real time:
//
//	synctest.Test(t, func(t *testing.T) {
//		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
//		defer cancel()
//		_, err := llmtest.NewModel(llmtest.Timeout(time.Minute)).Generate(ctx, req)
//		// err is an *llm.Error of kind llm.KindTimeout, after one fake second
//	})
//
// # Embeddings and moderation
//
// Embedder maps texts to normalised hashed n-gram vectors: deterministic,
// with similar texts close and unrelated ones far apart, which is enough to
// test retrieval code. Moderator flags configured terms per category.
//
// # Recorded sessions
//
// NewRecorder records a real provider session to a JSON file with
// credentials scrubbed from headers and URLs; NewReplayer or Replay serves
// it back byte for byte, offline, and fails loudly on a request that was
// not recorded:
//
//	var transport http.RoundTripper
//	if *record {
//		rec := llmtest.NewRecorder("testdata/chat.json", nil)
//		t.Cleanup(func() { _ = rec.Close() })
//		transport = rec
//	} else {
//		transport = llmtest.Replay(t, "testdata/chat.json")
//	}
//	client := &http.Client{Transport: transport}
package llmtest
