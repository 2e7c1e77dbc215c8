package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/keel-go/keel/internal/openapispec"
	"github.com/keel-go/keel/llm"
)

// The contract tests check this package against OpenAI's published OpenAPI
// description (see internal/openapispec): every request body the client
// sends must match the request schema of its endpoint, strictly (no field
// OpenAI does not declare), and every response fixture in testdata must
// match the response schema its name announces (testdata/README.md).
//
// Request bodies come from two places: TestContractRequests drives a set of
// representative calls itself, so it checks the mapping whatever tests ran
// before it; and TestMain validates, after all tests, every body any test
// server recorded (except those marked nonStandard, which deliberately carry
// vLLM fields).

// requestSchemaFor names the request schema of the endpoint at path (also
// for Azure's /openai/deployments/{d}/... paths).
func requestSchemaFor(path string) (string, bool) {
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return "CreateChatCompletionRequest", true
	case strings.HasSuffix(path, "/embeddings"):
		return "CreateEmbeddingRequest", true
	case strings.HasSuffix(path, "/moderations"):
		return "CreateModerationRequest", true
	}
	return "", false
}

// validateRequests returns one line per recorded request that does not
// match its schema.
func validateRequests(spec *openapispec.Spec, reqs []recordedRequest) (checked int, failures []string) {
	for _, r := range reqs {
		if r.NonStandard {
			continue
		}
		name, ok := requestSchemaFor(r.Path)
		if !ok {
			failures = append(failures, fmt.Sprintf("%s: no schema for %s %s", r.Test, r.Method, r.Path))
			continue
		}
		v, err := spec.Validator(name, true)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", r.Test, err))
			continue
		}
		checked++
		if err := v.Validate(r.Body); err != nil {
			failures = append(failures, fmt.Sprintf("%s: %s body does not match %s: %v\n%s", r.Test, r.Path, name, err, r.Body))
		}
	}
	return checked, failures
}

func TestContractRequests(t *testing.T) {
	spec := openapispec.LoadForTest(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Stream bool }
		_ = json.NewDecoder(r.Body).Decode(&body)
		switch {
		case strings.HasSuffix(r.URL.Path, "/embeddings"):
			jsonHandler(200, fixture(t, "embeddings_small.json"))(w, r)
		case strings.HasSuffix(r.URL.Path, "/moderations"):
			jsonHandler(200, fixture(t, "moderation_mixed.json"))(w, r)
		case body.Stream:
			sseHandler(fixture(t, "stream_text.sse"))(w, r)
		default:
			jsonHandler(200, fixture(t, "chat_plain.json"))(w, r)
		}
	})
	// The client believes it talks to api.openai.com, so the requests are
	// what OpenAI itself would receive (no reasoning replay).
	c, err := New(WithBaseURL("https://api.openai.com/v1"), WithAPIKey(testKey), WithHTTPClient(redirectClient(srv)),
		WithSafetyIdentifier(func(p llm.Principal) string { return "sha256:0f1e2d" }))
	if err != nil {
		t.Fatal(err)
	}
	legacy := newTestClient(t, srv, WithLegacyMaxTokens())
	seed := int64(42)
	png := []byte{0x89, 'P', 'N', 'G'}
	requests := map[string]*llm.Request{
		"realistic": realisticRequest(),
		"every message kind": {Model: "gpt-4o", Messages: []llm.Message{
			llm.SystemMessage("sys"), llm.DeveloperMessage("dev"),
			{Role: llm.RoleUser, Name: "jane", Parts: []llm.Part{llm.Text("look"), {Kind: llm.PartImage, ImageURL: "https://example.com/a.png", ImageDetail: "high"}, llm.ImageBytes(png, "image/png")}},
			{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("calling")}, ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "search_tickets", Arguments: `{"query":"x"}`}}},
			llm.ToolResult("call_1", "[]"),
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_2", Name: "send_email", Arguments: `{}`}}},
			llm.ToolResult("call_2", "sent"),
			{Role: llm.RoleAssistant, Refusal: "No."},
			{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text("a"), llm.Text("b")}},
			{Role: llm.RoleSystem, Parts: []llm.Part{llm.Text("a"), llm.Text("b")}},
		}, Seed: &seed, Stop: []string{"END"}},
		"json schema, forced tool, reasoning effort": {Model: "o4-mini", Messages: []llm.Message{llm.UserText("x")},
			Tools:           []llm.ToolDef{{Name: "f", Parameters: json.RawMessage(`{"type":"object","properties":{}}`)}},
			ToolChoice:      llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "f"},
			ResponseFormat:  &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "out", Description: "d", Strict: true, Schema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`)},
			ReasoningEffort: llm.ReasoningMinimal, MaxOutputTokens: 100, Principal: llm.Principal{User: "u"}},
		"json object": {Model: "gpt-4o", Messages: []llm.Message{llm.UserText("x")}, ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONObject}},
		// A history first held with vLLM, falling back to OpenAI.
		"history with reasoning and extra fields": replayHistory("gpt-4o"),
	}
	names := make([]string, 0, len(requests))
	for n := range requests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := c.Generate(bg, requests[n]); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if _, err := llm.Collect(c.Stream(bg, requests[n])); err != nil {
			t.Fatalf("%s stream: %v", n, err)
		}
	}
	if _, err := legacy.Generate(bg, realisticRequest()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Embed(bg, &llm.EmbedRequest{Model: "text-embedding-3-small", Inputs: []string{"a", "b"}, Dimensions: 256}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Moderate(bg, &llm.ModerationRequest{Model: "omni-moderation-latest", Inputs: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	checked, failures := validateRequests(spec, srv.Requests())
	for _, f := range failures {
		t.Error(f)
	}
	if checked != 2*len(requests)+3 {
		t.Errorf("checked %d bodies", checked)
	}
}

func TestContractFixtures(t *testing.T) {
	spec := openapispec.LoadForTest(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]string{
		"chat_":       "CreateChatCompletionResponse",
		"error_":      "ErrorResponse",
		"embeddings_": "CreateEmbeddingResponse",
		"moderation_": "CreateModerationResponse",
		"stream_":     "CreateChatCompletionStreamResponse",
	}
	validated := 0
	for _, f := range files {
		base := filepath.Base(f)
		var schema string
		for prefix, s := range schemas {
			if strings.HasPrefix(base, prefix) {
				schema = s
			}
		}
		if schema == "" {
			continue // compat_*, invalid_*, README.md
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := [][]byte{body}
		if strings.HasSuffix(base, ".sse") {
			docs = sseDataLines(body)
		}
		for i, doc := range docs {
			name := schema
			var probe struct {
				Error json.RawMessage `json:"error"`
			}
			if strings.HasSuffix(base, ".sse") && json.Unmarshal(doc, &probe) == nil && probe.Error != nil {
				name = "ErrorResponse"
			}
			v, err := spec.Validator(name, true)
			if err != nil {
				t.Fatal(err)
			}
			validated++
			if err := v.Validate(doc); err != nil {
				t.Errorf("%s (document %d) does not match %s: %v", base, i, name, err)
			}
		}
	}
	if validated < 20 {
		t.Errorf("validated only %d documents", validated)
	}
}

// TestMain validates, after every test has run, each request body recorded
// by a test server against OpenAI's request schemas (see the comment at the
// top of this file).
func TestMain(m *testing.M) {
	code := m.Run()
	if reqs := recordedSoFar(); len(reqs) > 0 && code == 0 {
		code = validateAllRecorded(reqs)
	}
	os.Exit(code)
}

func validateAllRecorded(reqs []recordedRequest) int {
	path := openapispec.Path()
	if path == "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "contract: OpenAI OpenAPI description not found (CI=true)")
			return 1
		}
		return 0
	}
	spec, err := openapispec.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "contract:", err)
		return 1
	}
	checked, failures := validateRequests(spec, reqs)
	if testing.Verbose() {
		fmt.Printf("contract: %d recorded request bodies validated against the OpenAI spec\n", checked)
	}
	if len(failures) == 0 {
		return 0
	}
	fmt.Fprintf(os.Stderr, "--- FAIL: contract: %d of %d recorded request bodies do not match the OpenAI spec\n", len(failures), checked)
	for _, f := range failures {
		fmt.Fprintln(os.Stderr, "    "+f)
	}
	return 1
}
