package openai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/keel-go/keel/llm"
)

// The benchmarks compare a keel call with the same call made with bare
// openai-go, against a loopback server that returns a canned answer, for the
// realistic ~2 KB request (system + user message, three tools with nested
// schemas). The difference is the adapter's cost: request mapping, error
// and response mapping, the stream iterator.

func benchServer(b *testing.B, name string) *httptest.Server {
	body, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		b.Fatal(err)
	}
	var h http.HandlerFunc
	if strings.HasSuffix(name, ".sse") {
		h = sseHandler(body)
	} else {
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Request-Id", "req_bench")
			_, _ = w.Write(body)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h(w, r)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

// bareParams builds the request a team using openai-go directly would
// build once: the tool schemas decoded into FunctionParameters maps.
func bareParams(b *testing.B) oai.ChatCompletionNewParams {
	tool := func(name, desc, schema string) oai.ChatCompletionToolUnionParam {
		var params shared.FunctionParameters
		if err := json.Unmarshal([]byte(schema), &params); err != nil {
			b.Fatal(err)
		}
		return oai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: name, Description: oai.String(desc), Parameters: params, Strict: oai.Bool(true),
		})
	}
	return oai.ChatCompletionNewParams{
		Model: "gpt-4o-mini",
		Messages: []oai.ChatCompletionMessageParamUnion{
			oai.SystemMessage(benchSystemPrompt),
			oai.UserMessage(benchUserPrompt),
		},
		Tools: []oai.ChatCompletionToolUnionParam{
			tool("search_tickets", "Search support tickets by text, status and filters.", searchTicketsSchema),
			tool("update_ticket", "Change the status, priority, assignee or tags of a ticket.", updateTicketSchema),
			tool("send_email", "Send an email to a customer about a ticket.", sendEmailSchema),
		},
		ToolChoice:          oai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: oai.String("auto")},
		ParallelToolCalls:   oai.Bool(true),
		Temperature:         oai.Float(0.2),
		MaxCompletionTokens: oai.Int(512),
	}
}

func BenchmarkOpenAIGenerate(b *testing.B) {
	ctx := context.Background()
	b.Run("keel", func(b *testing.B) {
		srv := benchServer(b, "chat_plain.json")
		c, err := New(WithBaseURL(srv.URL+"/v1"), WithAPIKey(testKey), WithHTTPClient(benchHTTPClient()))
		if err != nil {
			b.Fatal(err)
		}
		req := realisticRequest()
		b.ReportAllocs()
		for b.Loop() {
			resp, err := c.Generate(ctx, req)
			if err != nil || resp.Text() == "" {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		srv := benchServer(b, "chat_plain.json")
		client := oai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(testKey),
			option.WithMaxRetries(0), option.WithHTTPClient(benchHTTPClient()))
		params := bareParams(b)
		b.ReportAllocs()
		for b.Loop() {
			cc, err := client.Chat.Completions.New(ctx, params)
			if err != nil || len(cc.Choices) == 0 || cc.Choices[0].Message.Content == "" {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpenAIStream(b *testing.B) {
	ctx := context.Background()
	b.Run("keel", func(b *testing.B) {
		srv := benchServer(b, "stream_text.sse")
		c, err := New(WithBaseURL(srv.URL+"/v1"), WithAPIKey(testKey), WithHTTPClient(benchHTTPClient()))
		if err != nil {
			b.Fatal(err)
		}
		req := realisticRequest()
		b.ReportAllocs()
		for b.Loop() {
			resp, err := llm.Collect(c.Stream(ctx, req))
			if err != nil || resp.Text() == "" || resp.Usage.InputTokens == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		srv := benchServer(b, "stream_text.sse")
		client := oai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(testKey),
			option.WithMaxRetries(0), option.WithHTTPClient(benchHTTPClient()))
		params := bareParams(b)
		params.StreamOptions.IncludeUsage = oai.Bool(true)
		b.ReportAllocs()
		for b.Loop() {
			s := client.Chat.Completions.NewStreaming(ctx, params)
			var text strings.Builder
			var usage oai.CompletionUsage
			for s.Next() {
				ch := s.Current()
				if len(ch.Choices) > 0 {
					text.WriteString(ch.Choices[0].Delta.Content)
				}
				if ch.JSON.Usage.Valid() {
					usage = ch.Usage
				}
			}
			if err := s.Err(); err != nil || text.Len() == 0 || usage.PromptTokens == 0 {
				b.Fatal(err)
			}
			_ = s.Close()
		}
	})
}
