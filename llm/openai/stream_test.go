package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
)

func TestStreamRequestBody(t *testing.T) {
	srv := newServer(t, sseHandler(fixture(t, "stream_text.sse")))
	c := newTestClient(t, srv)
	s := c.Stream(bg, realisticRequest())
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("Stream sent %d requests before being ranged over", n)
	}
	if _, err := llm.Collect(s); err != nil {
		t.Fatal(err)
	}
	body := srv.LastBody(t)
	jsonEq(t, "stream", body["stream"], `true`)
	jsonEq(t, "stream_options", body["stream_options"], `{"include_usage":true}`)
	if r := srv.Requests()[0]; r.Header.Get("Accept") == "" || r.Path != "/v1/chat/completions" {
		t.Errorf("request %s, Accept %q", r.Path, r.Header.Get("Accept"))
	}
}

func TestStreamFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    llm.Response
	}{
		{"stream_text.sse", llm.Response{
			Message:      llm.Message{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("Your ticket #4821 has been escalated to the billing team.")}},
			FinishReason: llm.FinishStop,
			Usage:        llm.Usage{InputTokens: 1432, OutputTokens: 17, CachedInputTokens: 1024},
		}},
		{"stream_tool_calls.sse", llm.Response{ // text before tool calls, arguments split in 5-7 byte pieces
			Message: llm.Message{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("Let me look that up.")},
				ToolCalls: []llm.ToolCall{
					{ID: "call_search_1", Name: "search_tickets", Arguments: `{"query":"refund","status":"open"}`},
					{ID: "call_email_2", Name: "send_email", Arguments: `{"to":"ops@example.com","subject":"Refund queue"}`},
				}},
			FinishReason: llm.FinishToolCalls,
			Usage:        llm.Usage{InputTokens: 812, OutputTokens: 64},
		}},
		{"stream_parallel_tools.sse", llm.Response{ // two calls, fragments interleaved
			Message: llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{ID: "call_a", Name: "search_tickets", Arguments: `{"query":"vpn"}`},
				{ID: "call_b", Name: "update_ticket", Arguments: `{"id":4821,"priority":"high"}`},
			}},
			FinishReason: llm.FinishToolCalls,
			Usage:        llm.Usage{InputTokens: 300, OutputTokens: 40},
		}},
		{"stream_refusal.sse", llm.Response{
			Message:      llm.Message{Role: llm.RoleAssistant, Refusal: "I'm sorry, I can't help with that request."},
			FinishReason: llm.FinishRefusal,
			Usage:        llm.Usage{InputTokens: 40, OutputTokens: 11},
		}},
		{"stream_content_filter.sse", llm.Response{
			Message:      llm.Message{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("Here is the first part of")}},
			FinishReason: llm.FinishContentFilter,
			Usage:        llm.Usage{InputTokens: 25, OutputTokens: 6},
		}},
		{"compat_ollama_tool_stop.sse", llm.Response{ // finish_reason "stop" with a tool call
			Message: llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{ID: "call_k3f9x2ab", Name: "search_tickets", Arguments: `{"query":"vpn","status":"open"}`},
			}},
			FinishReason: llm.FinishToolCalls,
			Usage:        llm.Usage{InputTokens: 212, OutputTokens: 23},
		}},
		{"compat_vllm_reasoning.sse", llm.Response{
			Message: llm.Message{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("9.9 is larger.")},
				Reasoning: "The user asks for 9.11 vs 9.9. Compare decimals: 9.90 > 9.11."},
			FinishReason: llm.FinishStop,
			Usage:        llm.Usage{InputTokens: 18, OutputTokens: 46},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			srv := newServer(t, sseHandler(fixture(t, tt.fixture)))
			c := newTestClient(t, srv)
			evs, err := collectEvents(t, c.Stream(bg, simpleRequest()))
			if err != nil {
				t.Fatal(err)
			}
			// Exactly one start event, first, with the metadata.
			starts := 0
			for _, ev := range evs {
				if ev.Kind == llm.EventStart {
					starts++
				}
			}
			if starts != 1 || evs[0].Kind != llm.EventStart || evs[0].Provider != "openai" ||
				evs[0].RequestID != "req_stream_456" || evs[0].Model == "" {
				t.Errorf("start events: %d, first %+v", starts, evs[0])
			}
			// Usage is the last event, finish just before it.
			if n := len(evs); evs[n-1].Kind != llm.EventUsage || evs[n-2].Kind != llm.EventFinish {
				t.Errorf("last events: %v, %v", evs[n-2].Kind, evs[n-1].Kind)
			}
			var acc llm.Accumulator
			for _, ev := range evs {
				acc.Add(ev)
			}
			got := acc.Response()
			want := tt.want
			want.Provider, want.RequestID, want.Model = "openai", "req_stream_456", evs[0].Model
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("collected:\n got %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestStreamToolCallDeltas(t *testing.T) {
	srv := newServer(t, sseHandler(fixture(t, "stream_tool_calls.sse")))
	c := newTestClient(t, srv)
	evs, err := collectEvents(t, c.Stream(bg, simpleRequest()))
	if err != nil {
		t.Fatal(err)
	}
	var deltas []llm.ToolCallDelta
	firstTool := -1
	lastText := -1
	for i, ev := range evs {
		switch ev.Kind {
		case llm.EventToolCallDelta:
			deltas = append(deltas, ev.ToolCall)
			if firstTool < 0 {
				firstTool = i
			}
		case llm.EventTextDelta:
			lastText = i
		}
	}
	if lastText > firstTool {
		t.Errorf("text after tool calls")
	}
	if len(deltas) < 10 {
		t.Fatalf("only %d tool-call deltas; the fixture splits arguments in many chunks", len(deltas))
	}
	if d := deltas[0]; d.Index != 0 || d.ID != "call_search_1" || d.Name != "search_tickets" {
		t.Errorf("first delta %+v", d)
	}
	if d := deltas[1]; d.Index != 0 || d.ID != "" || d.Name != "" || d.Arguments == "" {
		t.Errorf("second delta %+v", d)
	}
}

func TestStreamFailures(t *testing.T) {
	tests := []struct {
		name     string
		body     string // SSE body served with status 200
		kind     llm.Kind
		code     string
		typ      string
		partial  string // text collected before the failure
		msg      string
		hasUsage bool
	}{
		{name: "malformed data", body: string(fixture(t, "invalid_malformed.sse")), kind: llm.KindBadResponse, partial: "Hel"},
		{name: "error event mid-stream", body: string(fixture(t, "stream_error_midstream.sse")),
			kind: llm.KindUnavailable, typ: "server_error", partial: "Partial", msg: "The server had an error"},
		{name: "rate limit error event",
			body: "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n\n",
			kind: llm.KindRateLimited, code: "rate_limit_exceeded", typ: "requests"},
		{name: "quota error event",
			body: "data: {\"error\":{\"message\":\"You exceeded your current quota\",\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}\n\n",
			kind: llm.KindQuotaExhausted, code: "insufficient_quota", typ: "insufficient_quota"},
		{name: "vLLM error event with numeric code",
			body: "data: {\"error\":{\"object\":\"error\",\"message\":\"This model's maximum context length is 4096 tokens.\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}}\n\n",
			kind: llm.KindContextLength, code: "400", typ: "BadRequestError"},
		{name: "OpenRouter error event", body: "data: {\"id\":\"gen-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}],\"error\":{\"code\":502,\"message\":\"Provider returned error\"}}\n\n",
			kind: llm.KindUnavailable, code: "502"},
		{name: "ends without finish reason", body: string(fixture(t, "invalid_truncated.sse")), kind: llm.KindUnavailable, partial: "Hello"},
		{name: "empty body", body: "", kind: llm.KindBadResponse},
		{name: "only DONE", body: "data: [DONE]\n\n", kind: llm.KindBadResponse},
		{name: "a JSON body instead of a stream", body: string(fixture(t, "chat_plain.json")), kind: llm.KindBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, sseHandler([]byte(tt.body)))
			c := newTestClient(t, srv)
			resp, err := llm.Collect(c.Stream(bg, simpleRequest()))
			e := asLLMError(t, err)
			if e.Kind != tt.kind || e.Code != tt.code || e.Provider != "openai" || e.Model != "gpt-4o-mini" {
				t.Errorf("error %v: kind %v code %q, want %v %q", e, e.Kind, e.Code, tt.kind, tt.code)
			}
			if e.Type != tt.typ {
				t.Errorf("type %q, want %q", e.Type, tt.typ)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q, want it to contain %q", e.Message, tt.msg)
			}
			if resp.Text() != tt.partial {
				t.Errorf("partial text %q, want %q", resp.Text(), tt.partial)
			}
			if e.Status != 0 {
				t.Errorf("status = %d, want 0 (the stream started with 200)", e.Status)
			}
		})
	}
}

func TestStreamHTTPError(t *testing.T) {
	srv := newServer(t, jsonHandler(429, fixture(t, "error_429_rate_limit.json"), "Retry-After", "3"))
	c := newTestClient(t, srv)
	evs, err := collectEvents(t, c.Stream(bg, simpleRequest()))
	e := asLLMError(t, err)
	if len(evs) != 0 || e.Kind != llm.KindRateLimited || e.Status != 429 || e.RetryAfter != 3*time.Second ||
		e.RequestID != "req_test_123" || e.Code != "rate_limit_exceeded" {
		t.Errorf("events %d, error %+v", len(evs), e)
	}
}

// dropAfter serves the first n events of body with chunked encoding, then
// closes the TCP connection without finishing the response.
func dropAfter(body []byte, n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nX-Request-Id: req_drop\r\n\r\n")
		for i, ev := range sseEvents(body) {
			if i == n {
				break
			}
			fmt.Fprintf(buf, "%x\r\n%s\r\n", len(ev), ev)
		}
		_ = buf.Flush()
	}
}

func TestStreamConnectionDropped(t *testing.T) {
	srv := newServer(t, dropAfter(fixture(t, "stream_text.sse"), 4))
	c := newTestClient(t, srv)
	resp, err := llm.Collect(c.Stream(bg, simpleRequest()))
	e := asLLMError(t, err)
	if e.Kind != llm.KindUnavailable || !llm.Retryable(e) {
		t.Errorf("error %v: kind %v", e, e.Kind)
	}
	if e.RequestID != "req_drop" {
		t.Errorf("request id %q", e.RequestID)
	}
	if resp.Text() != "Your ticket #" {
		t.Errorf("partial text %q", resp.Text())
	}
}

func TestGenerateConnectionDropped(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"id\":\"chatcmpl-1\",")
		_ = buf.Flush()
	})
	c := newTestClient(t, srv)
	_, err := c.Generate(bg, simpleRequest())
	if e := asLLMError(t, err); e.Kind != llm.KindUnavailable {
		t.Errorf("error %v: kind %v", e, e.Kind)
	}
}

// blockingStream sends the first n events, then waits for the client to go
// away; gone is closed when it has.
func blockingStream(body []byte, n int, gone chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer close(gone)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for i, ev := range sseEvents(body) {
			if i == n {
				break
			}
			_, _ = w.Write(ev)
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
}

func TestStreamContextCancel(t *testing.T) {
	gone := make(chan struct{})
	srv := newServer(t, blockingStream(fixture(t, "stream_text.sse"), 3, gone))
	tr := &http.Transport{}
	c := newTestClient(t, srv, WithHTTPClient(&http.Client{Transport: tr}))
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var got []llm.Event
	var err error
	for ev, e := range c.Stream(ctx, simpleRequest()) {
		if e != nil {
			err = e
			break
		}
		got = append(got, ev)
		if ev.Kind == llm.EventTextDelta {
			cancel() // cancel mid-stream, then keep ranging
		}
	}
	e := asLLMError(t, err)
	if e.Kind != llm.KindCanceled || llm.Retryable(e) {
		t.Errorf("error %v: kind %v", e, e.Kind)
	}
	if len(got) < 2 {
		t.Errorf("events before cancel: %d", len(got))
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the client go away")
	}
	tr.CloseIdleConnections()
	waitGoroutines(t, before)
}

func TestStreamDeadline(t *testing.T) {
	gone := make(chan struct{})
	srv := newServer(t, blockingStream(fixture(t, "stream_text.sse"), 3, gone))
	c := newTestClient(t, srv)
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	resp, err := llm.Collect(c.Stream(ctx, simpleRequest()))
	if e := asLLMError(t, err); e.Kind != llm.KindTimeout || !llm.Retryable(e) {
		t.Errorf("error %v: kind %v", e, e.Kind)
	}
	if resp.Text() != "Your ticket" {
		t.Errorf("partial %q", resp.Text())
	}
	<-gone
}

func TestGenerateDeadlineAndCancel(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	c := newTestClient(t, srv)
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	_, err := c.Generate(ctx, simpleRequest())
	if e := asLLMError(t, err); e.Kind != llm.KindTimeout {
		t.Errorf("error %v: kind %v", e, e.Kind)
	}
	ctx2, cancel2 := context.WithCancel(bg)
	cancel2()
	_, err = c.Generate(ctx2, simpleRequest())
	if e := asLLMError(t, err); e.Kind != llm.KindCanceled {
		t.Errorf("error %v: kind %v", e, e.Kind)
	}
}

func TestStreamConsumerBreak(t *testing.T) {
	gone := make(chan struct{})
	srv := newServer(t, blockingStream(fixture(t, "stream_text.sse"), 5, gone))
	tr := &http.Transport{}
	c := newTestClient(t, srv, WithHTTPClient(&http.Client{Transport: tr}))
	before := runtime.NumGoroutine()
	var n int
	for ev, err := range c.Stream(bg, simpleRequest()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if ev.Kind == llm.EventTextDelta {
			break
		}
	}
	if n != 2 {
		t.Errorf("events before break: %d", n)
	}
	select {
	case <-gone: // the body was closed, so the server saw the client leave
	case <-time.After(5 * time.Second):
		t.Fatal("breaking out of the loop did not close the response")
	}
	tr.CloseIdleConnections()
	waitGoroutines(t, before)
}

// TestStreamYieldAfterBreak checks the iterator honours yield's false at
// every event kind (the range-over-func runtime panics otherwise).
func TestStreamYieldAfterBreak(t *testing.T) {
	for _, f := range []string{"stream_text.sse", "stream_tool_calls.sse", "stream_refusal.sse", "compat_vllm_reasoning.sse",
		"compat_azure_stream.sse", "compat_ollama_tool_stop.sse", "invalid_malformed.sse"} {
		body := fixture(t, f)
		srv := newServer(t, sseHandler(body))
		c := newTestClient(t, srv)
		total, _ := collectEvents(t, c.Stream(bg, simpleRequest()))
		for stop := 1; stop <= len(total)+1; stop++ {
			var calls atomic.Int32
			for range c.Stream(bg, simpleRequest()) {
				if calls.Add(1) == int32(stop) {
					break
				}
			}
		}
	}
}

// TestStreamAzureModel: Azure's first chunk names no model (it only carries
// prompt_filter_results), so the start event falls back to the requested
// deployment; the served model must follow on a later event, once, so that
// Collect reports the model Generate does.
func TestStreamAzureModel(t *testing.T) {
	srv := newServer(t, sseHandler(fixture(t, "compat_azure_stream.sse")))
	c := newTestClient(t, srv)
	evs, err := collectEvents(t, c.Stream(bg, simpleRequest()))
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Kind != llm.EventStart || evs[0].Model != "gpt-4o-mini" {
		t.Errorf("start %+v, want the requested model", evs[0])
	}
	var models []string
	for _, ev := range evs[1:] {
		if ev.Model != "" {
			models = append(models, ev.Kind.String()+":"+ev.Model)
		}
	}
	if want := []string{"text:gpt-4o-2024-11-20"}; !reflect.DeepEqual(models, want) {
		t.Errorf("models on later events %v, want %v", models, want)
	}
	resp, err := llm.Collect(c.Stream(bg, simpleRequest()))
	if err != nil || resp.Model != "gpt-4o-2024-11-20" || resp.Text() != "Your ticket #4821 has been escalated." {
		t.Errorf("collected %+v, %v", resp, err)
	}
}

// TestContextCauseTimeout: a context cancelled with a timeout as its cause
// (llm.Timeout's first-token and idle limits, or any caller's
// context.WithCancelCause) makes a call fail with KindTimeout, not
// KindCanceled, whether Generate, a stream cut mid-way, or a stream that
// ended without a finish reason noticed it; a plain cancel stays
// KindCanceled.
func TestContextCauseTimeout(t *testing.T) {
	cause := &llm.Error{Kind: llm.KindTimeout, Message: "idle limit exceeded"}

	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	c := newTestClient(t, srv)
	ctx, cancel := context.WithCancelCause(bg)
	defer cancel(nil)
	time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
	_, err := c.Generate(ctx, simpleRequest())
	if e := asLLMError(t, err); e.Kind != llm.KindTimeout {
		t.Errorf("generate: %v, kind %v", e, e.Kind)
	}

	gone := make(chan struct{})
	ssrv := newServer(t, blockingStream(fixture(t, "stream_text.sse"), 3, gone))
	sc := newTestClient(t, ssrv)
	sctx, scancel := context.WithCancelCause(bg)
	defer scancel(nil)
	var serr error
	for ev, e := range sc.Stream(sctx, simpleRequest()) {
		if e != nil {
			serr = e
			break
		}
		if ev.Kind == llm.EventTextDelta {
			scancel(cause)
		}
	}
	if e := asLLMError(t, serr); e.Kind != llm.KindTimeout {
		t.Errorf("stream: %v, kind %v", e, e.Kind)
	}
	<-gone

	for _, tt := range []struct {
		name string
		ctx  func() context.Context
		kind llm.Kind
	}{
		{"live", func() context.Context { return bg }, llm.KindUnavailable},
		{"cancelled", func() context.Context {
			ctx, cancel := context.WithCancel(bg)
			cancel()
			return ctx
		}, llm.KindCanceled},
		{"cancelled with a timeout cause", func() context.Context {
			ctx, cancel := context.WithCancelCause(bg)
			cancel(cause)
			return ctx
		}, llm.KindTimeout},
		{"cancelled with another cause", func() context.Context {
			ctx, cancel := context.WithCancelCause(bg)
			cancel(errors.New("hedge lost"))
			return ctx
		}, llm.KindCanceled},
		{"deadline", func() context.Context {
			ctx, cancel := context.WithDeadline(bg, time.Unix(1, 0))
			t.Cleanup(cancel)
			return ctx
		}, llm.KindTimeout},
	} {
		err := c.truncated(tt.ctx(), nil, "m", 3)
		if e := asLLMError(t, err); e.Kind != tt.kind {
			t.Errorf("truncated, %s: %v, kind %v, want %v", tt.name, e, e.Kind, tt.kind)
		}
	}
}
