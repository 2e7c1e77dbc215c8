package openapispec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

type bodyCase struct {
	name  string
	body  string
	valid bool
	// wantErr, if set, must occur in the error of an invalid body.
	wantErr string
}

type schemaCases struct {
	schema string
	strict bool
	cases  []bodyCase
}

// Chat completions request bodies, shaped like the examples in OpenAI's API
// reference.
var chatRequestCases = []bodyCase{
	{
		name:  "minimal system and user",
		valid: true,
		body: `{"model":"gpt-4o","messages":[
			{"role":"system","content":"You are a helpful assistant."},
			{"role":"user","content":"Hello!"}]}`,
	},
	{
		name:  "developer message and content parts",
		valid: true,
		body: `{"model":"gpt-4.1","messages":[
			{"role":"developer","content":[{"type":"text","text":"Be brief."}]},
			{"role":"user","name":"alice","content":[
				{"type":"text","text":"What is in this image?"},
				{"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"low"}}]}]}`,
	},
	{
		name:  "sampling parameters",
		valid: true,
		body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],
			"temperature":0.2,"top_p":1,"n":1,"max_completion_tokens":256,
			"presence_penalty":0,"frequency_penalty":0.5,"stop":["\n\n"],"seed":42,
			"logit_bias":{"50256":-100},"logprobs":true,"top_logprobs":2,
			"user":"user-1234","safety_identifier":"hash-abc","store":false,
			"metadata":{"run":"nightly"},"service_tier":"auto","reasoning_effort":"low",
			"parallel_tool_calls":true,"prompt_cache_key":"k1"}`,
	},
	{
		name:  "explicit nulls where the spec says nullable",
		valid: true,
		body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],
			"temperature":null,"top_p":null,"max_completion_tokens":null,"stop":null,
			"stream":null,"stream_options":null,"n":null,"seed":null,"logit_bias":null,
			"response_format":{"type":"text"}}`,
	},
	{
		name:  "tools with strict function schema and tool_choice auto",
		valid: true,
		body: `{"model":"gpt-4o","messages":[{"role":"user","content":"Weather in Paris?"}],
			"tools":[{"type":"function","function":{
				"name":"get_weather","description":"Get the current weather for a city.",
				"parameters":{"type":"object","properties":{
					"location":{"type":"string","description":"City name"},
					"unit":{"type":["string","null"],"enum":["celsius","fahrenheit",null]}},
					"required":["location","unit"],"additionalProperties":false},
				"strict":true}}],
			"tool_choice":"auto"}`,
	},
	{
		name:  "named tool_choice",
		valid: true,
		body: `{"model":"gpt-4o","messages":[{"role":"user","content":"Weather in Paris?"}],
			"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{}}}}],
			"tool_choice":{"type":"function","function":{"name":"get_weather"}}}`,
	},
	{
		name:  "tool_choice required",
		valid: true,
		body: `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],
			"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`,
	},
	{
		name:  "response_format json_schema",
		valid: true,
		body: `{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"Extract the event."}],
			"response_format":{"type":"json_schema","json_schema":{
				"name":"calendar_event","description":"An event","strict":true,
				"schema":{"type":"object","properties":{
					"name":{"type":"string"},"date":{"type":"string"},
					"participants":{"type":"array","items":{"type":"string"}}},
					"required":["name","date","participants"],"additionalProperties":false}}}}`,
	},
	{
		name:  "response_format json_object",
		valid: true,
		body:  `{"model":"gpt-4o","messages":[{"role":"user","content":"JSON please"}],"response_format":{"type":"json_object"}}`,
	},
	{
		name:  "stream with include_usage",
		valid: true,
		body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],
			"stream":true,"stream_options":{"include_usage":true}}`,
	},
	{
		name:  "assistant tool_calls and tool result",
		valid: true,
		body: `{"model":"gpt-4o","messages":[
			{"role":"system","content":"You are a helpful assistant."},
			{"role":"user","content":"What's the weather like in Boston today?"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function",
				"function":{"name":"get_current_weather","arguments":"{\"location\":\"Boston, MA\"}"}}]},
			{"role":"tool","tool_call_id":"call_abc123","content":"{\"temperature\":\"22\",\"unit\":\"celsius\"}"}],
			"max_completion_tokens":100}`,
	},
	{
		name:    "misspelled top-level field",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temprature":0.7}`,
		wantErr: "temprature",
	},
	{
		name:    "strict at message level",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi","strict":true}]}`,
		wantErr: "/messages/0",
	},
	{
		name:    "include_usage at top level",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"include_usage":true}`,
		wantErr: "include_usage",
	},
	{
		name: "strict on the tool instead of the function",
		body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],
			"tools":[{"type":"function","strict":true,"function":{"name":"f","parameters":{"type":"object"}}}]}`,
		wantErr: "/tools/0",
	},
	{
		name: "json_schema fields one level too high",
		body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],
			"response_format":{"type":"json_schema","name":"x","schema":{"type":"object"},"json_schema":{"name":"x"}}}`,
		wantErr: "/response_format",
	},
	{
		name:    "tool_call_id on a user message",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi","tool_call_id":"call_1"}]}`,
		wantErr: "/messages/0",
	},
	{
		name: "misspelled field in a tool call",
		body: `{"model":"gpt-4o","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function",
			"function":{"name":"f","arguments":"{}","argument":"{}"}}]}]}`,
		wantErr: "/messages/0",
	},
	{
		name:    "misspelled field in stream_options",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usgae":true}}`,
		wantErr: "/stream_options",
	},
	{
		name:    "temperature as string",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":"0.7"}`,
		wantErr: "/temperature",
	},
	{
		name:    "max_completion_tokens not an integer",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":1.5}`,
		wantErr: "/max_completion_tokens",
	},
	{
		name:    "temperature out of range",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":3}`,
		wantErr: "/temperature",
	},
	{
		name:    "messages not an array",
		body:    `{"model":"gpt-4o","messages":"hi"}`,
		wantErr: "/messages",
	},
	{
		name:    "empty messages",
		body:    `{"model":"gpt-4o","messages":[]}`,
		wantErr: "/messages",
	},
	{
		name:    "missing messages",
		body:    `{"model":"gpt-4o"}`,
		wantErr: "messages",
	},
	{
		name:    "missing model",
		body:    `{"messages":[{"role":"user","content":"hi"}]}`,
		wantErr: "model",
	},
	{
		name:    "unknown role",
		body:    `{"model":"gpt-4o","messages":[{"role":"bot","content":"hi"}]}`,
		wantErr: "/messages/0",
	},
	{
		name:    "tool message without tool_call_id",
		body:    `{"model":"gpt-4o","messages":[{"role":"tool","content":"42"}]}`,
		wantErr: "/messages/0",
	},
	{
		name:    "unknown stop type",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stop":42}`,
		wantErr: "/stop",
	},
	{
		name:    "unknown response_format type",
		body:    `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"yaml"}}`,
		wantErr: "/response_format",
	},
	{
		name:    "not JSON",
		body:    `{"model":`,
		wantErr: "not valid JSON",
	},
}

// strictOnly marks the chat request cases that only strict mode rejects.
var strictOnly = map[string]bool{
	"misspelled top-level field":                 true,
	"strict at message level":                    true,
	"include_usage at top level":                 true,
	"strict on the tool instead of the function": true,
	"json_schema fields one level too high":      true,
	"tool_call_id on a user message":             true,
	"misspelled field in a tool call":            true,
	"misspelled field in stream_options":         true,
}

// nonStrict returns cases with the strict-only failures turned into passes:
// the published schemas allow additional properties.
func nonStrict(cases []bodyCase) []bodyCase {
	out := make([]bodyCase, len(cases))
	for i, c := range cases {
		if strictOnly[c.name] {
			c.valid = true
		}
		out[i] = c
	}
	return out
}

var embeddingCases = []bodyCase{
	{name: "string input", valid: true, body: `{"model":"text-embedding-3-small","input":"The food was delicious and the waiter...","encoding_format":"float"}`},
	{name: "batch with dimensions", valid: true, body: `{"model":"text-embedding-3-large","input":["a","b"],"dimensions":256,"user":"u1","encoding_format":"base64"}`},
	{name: "token arrays", valid: true, body: `{"model":"text-embedding-ada-002","input":[[1,2,3],[4,5]]}`},
	{name: "missing input", body: `{"model":"text-embedding-3-small"}`, wantErr: "input"},
	{name: "misspelled dimensions", body: `{"model":"text-embedding-3-small","input":"x","dimension":256}`, wantErr: "dimension"},
	{name: "bad encoding_format", body: `{"model":"text-embedding-3-small","input":"x","encoding_format":"int8"}`, wantErr: "/encoding_format"},
	{name: "input as number", body: `{"model":"text-embedding-3-small","input":42}`, wantErr: "/input"},
	{name: "empty input array", body: `{"model":"text-embedding-3-small","input":[]}`, wantErr: "/input"},
}

var moderationCases = []bodyCase{
	{name: "string input", valid: true, body: `{"input":"I want to kill them."}`},
	{name: "model and string array", valid: true, body: `{"model":"omni-moderation-latest","input":["a","b"]}`},
	{name: "multimodal input", valid: true, body: `{"model":"omni-moderation-latest","input":[
		{"type":"text","text":"...text to classify goes here..."},
		{"type":"image_url","image_url":{"url":"https://example.com/image.png"}}]}`},
	{name: "missing input", body: `{"model":"omni-moderation-latest"}`, wantErr: "input"},
	{name: "misspelled input", body: `{"inputs":"hello"}`, wantErr: "input"},
	{name: "model null", body: `{"input":"x","model":null}`, wantErr: "/model"},
	{name: "unknown part type", body: `{"input":[{"type":"video","video":{"url":"https://x"}}]}`, wantErr: "/input"},
	{name: "extra field in image part", body: `{"input":[{"type":"image_url","image_url":{"url":"https://x","detail":"low"}}]}`, wantErr: "/input/0"},
}

// Response bodies as OpenAI's servers send them.
var chatResponseCases = []bodyCase{
	{
		name:  "chat.completion with usage details",
		valid: true,
		body: `{
			"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
			"object": "chat.completion",
			"created": 1741569952,
			"model": "gpt-4.1-2025-04-14",
			"choices": [{
				"index": 0,
				"message": {"role": "assistant", "content": "Hello! How can I assist you today?", "refusal": null, "annotations": []},
				"logprobs": null,
				"finish_reason": "stop"
			}],
			"usage": {
				"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
				"prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
				"completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
			},
			"service_tier": "default",
			"system_fingerprint": "fp_3bc1b5746c"
		}`,
	},
	{
		name:  "chat.completion with tool_calls and logprobs",
		valid: true,
		body: `{
			"id": "chatcmpl-abc123", "object": "chat.completion", "created": 1699896916, "model": "gpt-4o-mini",
			"choices": [{
				"index": 0,
				"message": {"role": "assistant", "content": null, "refusal": null, "annotations": [],
					"tool_calls": [{"id": "call_abc123", "type": "function",
						"function": {"name": "get_current_weather", "arguments": "{\n\"location\": \"Boston, MA\"\n}"}}]},
				"logprobs": {"content": [{"token": "Hello", "logprob": -0.31725305, "bytes": [72, 101, 108, 108, 111],
					"top_logprobs": [{"token": "Hello", "logprob": -0.31725305, "bytes": [72, 101, 108, 108, 111]}]}], "refusal": null},
				"finish_reason": "tool_calls"
			}],
			"usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99}
		}`,
	},
	{
		name:    "unknown finish_reason",
		body:    `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"a","refusal":null},"logprobs":null,"finish_reason":"done"}]}`,
		wantErr: "/choices/0/finish_reason",
	},
	{
		name:    "missing choices",
		body:    `{"id":"x","object":"chat.completion","created":1,"model":"m"}`,
		wantErr: "choices",
	},
	{
		name:    "wrong object",
		body:    `{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}`,
		wantErr: "/object",
	},
}

var chatChunkCases = []bodyCase{
	{
		name:  "first chunk with role",
		valid: true,
		body: `{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini",
			"system_fingerprint":"fp_44709d6fcb","service_tier":"default",
			"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],
			"usage":null,"obfuscation":"Xk9"}`,
	},
	{
		name:  "tool_calls delta",
		valid: true,
		body: `{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini",
			"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function",
				"function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`,
	},
	{
		name:  "tool_calls arguments delta",
		valid: true,
		body: `{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini",
			"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]},"logprobs":null,"finish_reason":null}]}`,
	},
	{
		name:  "finish chunk",
		valid: true,
		body: `{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini",
			"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}`,
	},
	{
		name:  "final usage chunk with empty choices",
		valid: true,
		body: `{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini",
			"system_fingerprint":"fp_44709d6fcb","choices":[],
			"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,
				"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
				"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
	},
	{
		name:    "finish_reason missing",
		body:    `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{}}]}`,
		wantErr: "/choices/0",
	},
	{
		name:    "tool call chunk without index",
		body:    `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_1"}]},"finish_reason":null}]}`,
		wantErr: "/choices/0/delta/tool_calls/0",
	},
}

var errorCases = []bodyCase{
	{
		name:  "insufficient_quota",
		valid: true,
		body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",
			"type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
	},
	{
		name:  "invalid_request_error with param",
		valid: true,
		body:  `{"error":{"message":"Invalid value for 'temperature'.","type":"invalid_request_error","param":"temperature","code":null}}`,
	},
	{name: "missing message", body: `{"error":{"type":"x","param":null,"code":null}}`, wantErr: "/error"},
	{name: "not wrapped", body: `{"message":"m","type":"x","param":null,"code":null}`, wantErr: "error"},
}

func TestValidate(t *testing.T) {
	spec := LoadForTest(t)
	tables := []schemaCases{
		{"CreateChatCompletionRequest", true, chatRequestCases},
		{"CreateChatCompletionRequest", false, nonStrict(chatRequestCases)},
		{"CreateEmbeddingRequest", true, embeddingCases},
		// CreateEmbeddingRequest has additionalProperties: false itself, so
		// the same cases hold without strict mode.
		{"CreateEmbeddingRequest", false, embeddingCases},
		{"CreateModerationRequest", true, moderationCases},
		// Response bodies as sent by OpenAI pass strict mode too.
		{"CreateChatCompletionResponse", false, chatResponseCases},
		{"CreateChatCompletionResponse", true, chatResponseCases},
		{"CreateChatCompletionStreamResponse", false, chatChunkCases},
		{"CreateChatCompletionStreamResponse", true, chatChunkCases},
		{"ErrorResponse", false, errorCases},
		{"ErrorResponse", true, errorCases},
	}
	for _, tab := range tables {
		mode := "plain"
		if tab.strict {
			mode = "strict"
		}
		t.Run(tab.schema+"/"+mode, func(t *testing.T) {
			t.Parallel()
			v, err := spec.Validator(tab.schema, tab.strict)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tab.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					err := v.Validate([]byte(c.body))
					switch {
					case c.valid && err != nil:
						t.Errorf("valid body rejected: %v", err)
					case !c.valid && err == nil:
						t.Errorf("invalid body accepted")
					case !c.valid && !strings.Contains(err.Error(), c.wantErr):
						t.Errorf("error does not mention %q:\n%v", c.wantErr, err)
					case !c.valid && testing.Verbose():
						t.Logf("rejected as expected:\n%v", err)
					}
				})
			}
		})
	}
}

// TestValidationError checks complete error messages: strict mode names the
// offending property and leaves out the properties it would otherwise
// report only because an enclosing subschema failed.
func TestValidationError(t *testing.T) {
	spec := LoadForTest(t)
	const unknown = "is not declared by the schema (strict mode)"
	tests := []struct {
		schema string
		strict bool
		body   string
		want   []string // lines after the first
	}{
		{
			"CreateChatCompletionRequest", true,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temprature":0.7}`,
			[]string{"- at '': property 'temprature' " + unknown},
		},
		{
			"CreateChatCompletionRequest", true,
			`{"model":"gpt-4o","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function",
				"function":{"name":"f","arguments":"{}","argument":"{}"}}]}]}`,
			[]string{"- at '/messages/0/tool_calls/0/function': property 'argument' " + unknown},
		},
		{
			"CreateChatCompletionRequest", true,
			`{"model":"gpt-4o","temprature":1}`,
			[]string{
				"- at '': 'allOf' failed",
				"  - at '': missing property 'messages'",
				"- at '': property 'temprature' " + unknown,
			},
		},
		{
			"CreateModerationRequest", true,
			`{"inputs":"hello"}`,
			[]string{
				"- at '': missing property 'input'",
				"- at '': property 'inputs' " + unknown,
			},
		},
		{
			"ErrorResponse", false,
			`{"error":{"message":"m","type":"t","param":null,"code":1}}`,
			[]string{
				"- at '/error/code': 'anyOf' failed",
				"  - at '/error/code': got number, want string",
				"  - at '/error/code': got number, want null",
			},
		},
	}
	for _, tt := range tests {
		v, err := spec.Validator(tt.schema, tt.strict)
		if err != nil {
			t.Fatal(err)
		}
		err = v.Validate([]byte(tt.body))
		var jve *jsonschema.ValidationError
		if !errors.As(err, &jve) {
			t.Errorf("%s: error does not wrap *jsonschema.ValidationError: %v", tt.body, err)
			continue
		}
		name := tt.schema
		if tt.strict {
			name += " (strict)"
		}
		want := "openapispec: body does not match " + name + ":\n" + strings.Join(tt.want, "\n")
		if err.Error() != want {
			t.Errorf("%s: got error\n%v\nwant\n%v", tt.body, err, want)
		}
	}
}

func TestValidatorCache(t *testing.T) {
	spec := LoadForTest(t)
	const n = 8
	var wg sync.WaitGroup
	got := make([]*Validator, n)
	for i := range n {
		wg.Go(func() {
			v, err := spec.Validator("ErrorResponse", i%2 == 0)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = v
			if err := v.Validate([]byte(`{"error":{"message":"m","type":"t","param":null,"code":null}}`)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := 2; i < n; i++ {
		if got[i] != got[i%2] {
			t.Errorf("validator %d was compiled again", i)
		}
	}
	if got[0] == got[1] {
		t.Errorf("strict and plain validators are the same")
	}
	if _, err := spec.Validator("NoSuchSchema", false); err == nil || !strings.Contains(err.Error(), "NoSuchSchema") {
		t.Errorf("Validator(NoSuchSchema) = %v, want an error naming it", err)
	}
}

func TestRequestSchema(t *testing.T) {
	spec := LoadForTest(t)
	tests := []struct {
		method, path string
		want         string // "" means an error is expected
	}{
		{"POST", "/chat/completions", "CreateChatCompletionRequest"},
		{"post", "/chat/completions", "CreateChatCompletionRequest"},
		{"POST", "/embeddings", "CreateEmbeddingRequest"},
		{"POST", "/moderations", "CreateModerationRequest"},
		{"POST", "/completions", "CreateCompletionRequest"},
		{"GET", "/chat/completions", ""}, // no request body
		{"PUT", "/chat/completions", ""}, // no such operation
		{"POST", "/no/such/path", ""},
	}
	for _, tt := range tests {
		got, err := spec.RequestSchema(tt.method, tt.path)
		if tt.want == "" {
			if err == nil {
				t.Errorf("RequestSchema(%s, %s) = %q, want an error", tt.method, tt.path, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("RequestSchema(%s, %s) = %q, %v; want %q", tt.method, tt.path, got, err, tt.want)
		}
	}
}

func TestPath(t *testing.T) {
	LoadForTest(t) // skips when the spec is absent
	p := Path()
	if !filepath.IsAbs(p) || !strings.HasSuffix(p, filepath.FromSlash("shared/data/openai-openapi/openapi.yaml")) {
		t.Errorf("Path() = %q", p)
	}
}

// fakeTB records Skipf and Fatal(f) calls instead of stopping the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatal(a ...any)                 { f.failed = fmt.Sprint(a...) }

func TestLoadForTestMissing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "pkg", "a")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if p := Path(); p != "" {
		t.Fatalf("Path() = %q in a module without the spec", p)
	}
	_, tried := locate()
	want := filepath.Join(filepath.Dir(dir), "shared", "data", "openai-openapi", "openapi.yaml")
	if len(tried) == 0 || tried[0] != want {
		t.Errorf("locate tried %q, want %q first", tried, want)
	}
	load := func() (*Spec, error) { return nil, &notFoundError{tried: tried} }
	for _, ci := range []string{"", "false", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		if s := loadForTest(f, load); s != nil {
			t.Errorf("CI=%q: got a spec", ci)
		}
		msg := f.skipped
		if ci == "true" {
			msg = f.failed
			if f.skipped != "" {
				t.Errorf("CI=true: skipped (%q), want a failure", f.skipped)
			}
		} else if f.failed != "" {
			t.Errorf("CI=%q: failed (%q), want a skip", ci, f.failed)
		}
		if !strings.Contains(msg, want) {
			t.Errorf("CI=%q: message %q does not name %q", ci, msg, want)
		}
	}
}

// miniSpec exercises the YAML conversion, the OpenAPI 3.0 rewrites and the
// strictness rule on a small document.
const miniSpec = `
openapi: 3.1.0
paths:
  /things:
    post:
      requestBody:
        $ref: "#/components/requestBodies/Thing"
components:
  requestBodies:
    Thing:
      content:
        application/json:
          schema:
            $ref: "#/components/schemas/Thing"
  schemas:
    Base: &base
      type: object
      properties:
        id: {type: string}
        size: {type: integer, minimum: 0, exclusiveMinimum: true, nullable: true}
      required: [id, id]
    Thing:
      allOf:
        - $ref: "#/components/schemas/Base"
        - type: object
          properties:
            kind: {type: string, enum: [a, b], nullable: true}
            big: {type: number, maximum: 9223372036854776000}
            when: {type: string, example: 2024-01-02}
            child:
              $ref: "#/components/schemas/Child"
              nullable: true
            parent:
              allOf:
                - $ref: "#/components/schemas/Child"
                - nullable: true
            either:
              oneOf:
                - {type: object, properties: {x: {type: integer}}, required: [x]}
                - {type: object, properties: {y: {type: integer}}, required: [y]}
              discriminator: {propertyName: kind}
            free: {type: object}
            map: {type: object, additionalProperties: {type: integer}}
            tree: {$ref: "#/components/schemas/Tree"}
            codes:
              type: object
              properties:
                200: {type: string}
    Child:
      <<: *base
      x-internal: true
    Tree:
      $recursiveAnchor: true
      type: object
      properties:
        leaves:
          type: array
          items:
            oneOf:
              - {type: string}
              - $recursiveRef: "#"
`

func TestMiniSpec(t *testing.T) {
	p := filepath.Join(t.TempDir(), "openapi.yaml")
	if err := os.WriteFile(p, []byte(miniSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if name, err := spec.RequestSchema("POST", "/things"); err != nil || name != "Thing" {
		t.Errorf("RequestSchema = %q, %v", name, err)
	}
	tests := []struct {
		body   string
		plain  bool // valid without strict
		strict bool // valid with strict
	}{
		{`{"id":"1"}`, true, true},
		{`{"id":"1","size":null,"kind":null,"child":null,"parent":null}`, true, true},
		{`{"id":"1","size":1,"kind":"a","big":1e18,"when":"x"}`, true, true},
		{`{"id":"1","size":0}`, false, false},                  // exclusiveMinimum
		{`{"id":"1","kind":"c"}`, false, false},                // enum
		{`{"size":1}`, false, false},                           // required from the allOf mixin
		{`{"id":"1","idd":"typo"}`, true, false},               // unknown top-level field
		{`{"id":"1","child":{"id":"c","size":2}}`, true, true}, // Child is Base via a YAML merge key
		{`{"id":"1","child":{"size":2}}`, false, false},
		{`{"id":"1","child":{"id":"c","nme":"n"}}`, true, false},
		{`{"id":"1","parent":{"id":"p"}}`, true, true},
		{`{"id":"1","parent":{"id":"p","extra":1}}`, true, false},
		{`{"id":"1","either":{"x":1}}`, true, true},
		{`{"id":"1","either":{"x":1,"y":"s"}}`, true, false}, // y from the branch that did not match
		{`{"id":"1","either":{"x":1,"z":1}}`, true, false},
		{`{"id":"1","free":{"anything":{"goes":1}},"map":{"a":1}}`, true, true},
		{`{"id":"1","map":{"a":"s"}}`, false, false},
		{`{"id":"1","codes":{"200":"OK"}}`, true, true},
		{`{"id":"1","codes":{"201":"Created"}}`, true, false},
		{`{"id":"1","tree":{"leaves":["a",{"leaves":["b"]}]}}`, true, true},
		{`{"id":"1","tree":{"leaves":[{"leaves":[1]}]}}`, false, false}, // $recursiveRef resolved
		{`{"id":"1","tree":{"leaves":[{"leafs":[]}]}}`, true, false},
	}
	for _, strict := range []bool{false, true} {
		v, err := spec.Validator("Thing", strict)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			want := tt.plain
			if strict {
				want = tt.strict
			}
			if err := v.Validate([]byte(tt.body)); (err == nil) != want {
				t.Errorf("strict=%v %s: valid=%v, want %v (%v)", strict, tt.body, err == nil, want, err)
			}
		}
	}
	// The plain document is not changed by compiling strict validators.
	child := component(spec.doc, "Thing")["allOf"].([]any)[1].(map[string]any)["properties"].(map[string]any)["child"].(map[string]any)
	if _, ok := child["unevaluatedProperties"]; ok {
		t.Errorf("strict rewrite leaked into the plain document")
	}
}

// BenchmarkLoadAndCompile measures what every test binary using this
// package pays once: parsing the spec and compiling the strict chat request
// validator.
func BenchmarkLoadAndCompile(b *testing.B) {
	p := Path()
	if p == "" {
		b.Skip("spec not found")
	}
	for b.Loop() {
		s, err := Load(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Validator("CreateChatCompletionRequest", true); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLoadTiming(t *testing.T) {
	p := Path()
	if p == "" || !testing.Verbose() {
		t.Skip("timing is only logged with -v when the spec is present")
	}
	start := time.Now()
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	loaded := time.Now()
	if _, err := s.Validator("CreateChatCompletionRequest", false); err != nil {
		t.Fatal(err)
	}
	plain := time.Now()
	if _, err := s.Validator("CreateChatCompletionRequest", true); err != nil {
		t.Fatal(err)
	}
	t.Logf("Load %v; first plain compile %v; then strict compile %v",
		loaded.Sub(start), plain.Sub(loaded), time.Since(plain))
}
