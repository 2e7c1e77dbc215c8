package openai_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/openai"
)

// fakeOpenAI stands in for api.openai.com (or vLLM, Ollama...).
func fakeOpenAI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_example")
		if r.URL.Path == "/v1/embeddings" {
			fmt.Fprint(w, `{"object":"list","model":"text-embedding-3-small","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":3,"total_tokens":3}}`)
			return
		}
		fmt.Fprint(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18",
			"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help?","refusal":null},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}`)
	}))
}

func ExampleNew() {
	srv := fakeOpenAI()
	defer srv.Close()

	client, err := openai.New(
		openai.WithBaseURL(srv.URL+"/v1"), // omit for api.openai.com
		openai.WithAPIKey("sk-example"),   // default: $OPENAI_API_KEY
		openai.WithDefaultModel("gpt-4o-mini"),
	)
	if err != nil {
		panic(err)
	}
	resp, err := client.Generate(context.Background(), &llm.Request{
		Messages: []llm.Message{llm.SystemMessage("Be brief."), llm.UserText("Hi!")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Text())
	fmt.Println(resp.Model, resp.FinishReason, resp.Usage.TotalTokens(), resp.RequestID)
	// Output:
	// Hello! How can I help?
	// gpt-4o-mini-2024-07-18 stop 19 req_example
}

func ExampleClient_Stream() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, chunk := range []string{
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}`,
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`,
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`,
			`[DONE]`,
		} {
			fmt.Fprintf(w, "data: %s\n\n", chunk)
		}
	}))
	defer srv.Close()

	client, _ := openai.New(openai.WithBaseURL(srv.URL+"/v1"), openai.WithAPIKey("sk-example"))
	stream := client.Stream(context.Background(), &llm.Request{
		Model:    "gpt-4o-mini",
		Messages: []llm.Message{llm.UserText("Say hello")},
	})
	for ev, err := range stream {
		if err != nil {
			fmt.Println("error:", llm.KindOf(err))
			return
		}
		switch ev.Kind {
		case llm.EventTextDelta:
			fmt.Printf("text %q\n", ev.Text)
		case llm.EventFinish:
			fmt.Println("finish", ev.FinishReason)
		case llm.EventUsage:
			fmt.Println("usage", ev.Usage.InputTokens, ev.Usage.OutputTokens)
		}
	}
	// Output:
	// text "Hel"
	// text "lo"
	// finish stop
	// usage 5 2
}

func ExampleClient_Embed() {
	srv := fakeOpenAI()
	defer srv.Close()
	client, _ := openai.New(openai.WithBaseURL(srv.URL+"/v1"), openai.WithAPIKey("sk-example"),
		openai.WithDefaultEmbeddingModel("text-embedding-3-small"))
	resp, err := client.Embed(context.Background(), &llm.EmbedRequest{Inputs: []string{"refund policy"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(resp.Vectors), resp.Vectors[0], resp.Usage.InputTokens)
	// Output: 1 [0.1 0.2] 3
}

// Errors are *llm.Error values: act on the kind, never on the message.
func ExampleClient_Generate_errors() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
	}))
	defer srv.Close()
	client, _ := openai.New(openai.WithBaseURL(srv.URL+"/v1"), openai.WithAPIKey("sk-example"), openai.WithProviderName("vllm"))
	_, err := client.Generate(context.Background(), &llm.Request{Model: "llama3", Messages: []llm.Message{llm.UserText("hi")}})

	var e *llm.Error
	if errors.As(err, &e) {
		fmt.Println(e.Provider, e.Kind, e.Status, e.Code, e.RetryAfter, llm.Retryable(err))
	}
	// Output: vllm rate_limited 429 rate_limit_exceeded 2s true
}
