// Package openai is keel's provider for OpenAI's Chat Completions API and
// every server that speaks it (vLLM, Ollama, OpenRouter, llama.cpp, Azure
// OpenAI). A *Client is an llm.Model, an llm.Embedder and an llm.Moderator,
// built on the official SDK, github.com/openai/openai-go.
//
//	client, err := openai.New(
//		openai.WithAPIKey(os.Getenv("OPENAI_API_KEY")), // the default anyway
//		openai.WithDefaultModel("gpt-4o-mini"),
//	)
//	if err != nil {
//		return err
//	}
//	model := llm.Chain(client, reliability...) // client is the innermost Model
//	resp, err := model.Generate(ctx, &llm.Request{
//		Messages: []llm.Message{llm.SystemMessage("Be brief."), llm.UserText(q)},
//	})
//
// Create one Client per server at start-up and share it: it is safe for
// concurrent use. Without WithHTTPClient it sends its requests through
// http.DefaultTransport, sharing the process's connection pool, so a Client
// owns no connections and needs no Close.
//
// For a self-hosted server, point the client at it and name it, so errors
// and telemetry say which provider failed:
//
//	vllm, err := openai.New(
//		openai.WithBaseURL("http://localhost:8000/v1"),
//		openai.WithProviderName("vllm"),
//		openai.WithLegacyMaxTokens(), // only if the server lacks max_completion_tokens
//	)
//
// # Retries
//
// The SDK's own retries are off. Each call makes one attempt and reports
// its failure; keel's retry middleware decides whether to try again, so
// attempts are not multiplied by two retrying layers.
//
// # Requests
//
// Every llm.Request field maps onto the Chat Completions body: roles
// system, developer, user, assistant and tool; text parts, images by URL or
// as bytes (sent as data: URLs with their MIME type) with a detail hint;
// assistant tool calls, refusals and reasoning; tool results tied to their
// call id; tools with JSON Schema parameters (copied verbatim, never
// re-encoded) and strict mode; tool choice; parallel tool calls; response
// formats text, json_object and json_schema; temperature, top_p, seed, stop,
// max_completion_tokens (max_tokens with WithLegacyMaxTokens) and
// reasoning_effort. tool_choice and parallel_tool_calls are sent only with
// tools, since OpenAI rejects them otherwise.
//
// Request.Extra adds server-specific fields to the body, such as vLLM's
// top_k or OpenAI's service_tier. It may not set a field the client sets
// itself, which it would otherwise silently replace: model, messages,
// stream, stream_options, tools, tool_choice, parallel_tool_calls,
// response_format, temperature, top_p, seed, stop, max_completion_tokens,
// max_tokens, reasoning_effort and safety_identifier are reserved, and a
// Request whose Extra contains one fails with KindInvalidRequest, naming
// the key, before anything is sent. Set them through their Request fields
// and options instead.
//
// The client sends no user identifier to the provider: Principal is for
// keel's own budgets, policies and audit. WithSafetyIdentifier opts in to
// sending a derived identifier as safety_identifier.
//
// # Reasoning models and sampling parameters
//
// OpenAI's reasoning models (IsReasoningModel: the o-series and the gpt-5
// family except its chat variants; replace the rule with
// WithReasoningModels) reject temperature, top_p, stop and the other
// sampling parameters, and other models reject reasoning_effort. The
// SamplingPolicy decides: SamplingDrop (the default) leaves unsupported
// parameters out silently, SamplingReject fails the call with
// KindInvalidRequest before anything is sent, and SamplingKeep sends every
// parameter as given (for vLLM and other servers whose reasoning models
// accept them all).
//
// # Reasoning content
//
// vLLM, SGLang and DeepSeek-style servers return the model's reasoning in a
// reasoning_content (or reasoning) field of the message. It is read into
// Message.Reasoning (and streamed as llm.EventReasoningDelta). Other
// message fields openai-go does not know are kept raw in Message.Extra.
//
// With reasoning replay on, an assistant message with Reasoning is sent back
// with reasoning_content, and Message.Extra is merged into its message, so
// multi-turn reasoning round-trips. It is on by default for compatible
// servers and off for api.openai.com and Azure OpenAI, whose closed message
// schema rejects both: a history held with vLLM can then fall back to
// OpenAI. WithReasoningReplay overrides the default.
//
// # Responses
//
// Usage maps prompt_tokens to InputTokens, completion_tokens to
// OutputTokens, prompt_tokens_details.cached_tokens to CachedInputTokens
// and completion_tokens_details.reasoning_tokens to ReasoningTokens. The
// request id is the x-request-id response header. A refusal is returned as
// a Response with Message.Refusal set and FinishReason llm.FinishRefusal,
// not as an error; content_filter finish reasons become
// llm.FinishContentFilter; "stop" on a message with tool calls (Ollama,
// some vLLM tool parsers) becomes llm.FinishToolCalls.
//
// # Errors
//
// Every failure is an *llm.Error carrying the provider name, the model, the
// HTTP status, the provider's error code (Code, empty when the provider
// sent none), type (Type) and offending parameter (Param), the request id,
// the retry-after (Retry-After, Retry-After-Ms or, for 429s, the
// x-ratelimit-reset-* headers) and x-should-retry advice. Beyond
// llm.KindForStatus, the code (or, when the code says nothing, the type)
// refines the kind as llm.KindForCode does: insufficient_quota is
// KindQuotaExhausted (never retried) on any status; on client errors only,
// context_length_exceeded and similar (also recognised from the message) are
// KindContextLength, and content_filter, content_policy_violation and
// Azure's ResponsibleAIPolicyViolation are KindContentFiltered. Network failures and streams cut off are
// KindUnavailable, or KindCanceled / KindTimeout when the context ended
// (KindTimeout for a deadline, or a cancellation whose cause is a timeout);
// responses that cannot be parsed are KindBadResponse. The cause stays in
// the chain (errors.As finds openai-go's *openai.Error), but Error() never
// prints the API key or an Authorization header.
package openai
