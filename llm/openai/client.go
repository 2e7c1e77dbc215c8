package openai

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/keel-go/keel/llm"
)

// DefaultProviderName is the provider name reported in errors, responses and
// stream events unless WithProviderName sets another.
const DefaultProviderName = "openai"

// Default limits of one embeddings request and of the batches in flight.
const (
	// DefaultEmbedBatchInputs is the most inputs OpenAI accepts in one
	// embeddings request.
	DefaultEmbedBatchInputs = 2048
	// DefaultEmbedBatchTokens is the most tokens OpenAI accepts in one
	// embeddings request. Batches are cut on the total byte length of their
	// inputs, an upper bound on the token count.
	DefaultEmbedBatchTokens = 300_000
	// DefaultEmbedConcurrency is how many embeddings requests Embed sends at
	// the same time when the inputs need more than one batch.
	DefaultEmbedConcurrency = 4
)

const defaultBaseURL = "https://api.openai.com/v1/"

// Client is an OpenAI Chat Completions provider: an llm.Model, an
// llm.Embedder and an llm.Moderator. It also speaks to any server that
// implements the same API (vLLM, Ollama, OpenRouter, llama.cpp, Azure
// OpenAI). Build it with New.
//
// Create one Client per server and share it: it is safe for concurrent use,
// and what it caches (rendered tool definitions) is only reused within one
// Client. Per-tenant behaviour belongs in the Request (Principal) and the
// middlewares, not in a Client per tenant. Without WithHTTPClient a Client
// owns no connections (they are pooled in http.DefaultTransport), so one
// that is dropped needs no Close.
type Client struct {
	cfg   config
	tools toolCache
	chat  oai.ChatCompletionService
	emb   oai.EmbeddingService
	mod   oai.ModerationService
}

var (
	_ llm.Model     = (*Client)(nil)
	_ llm.Embedder  = (*Client)(nil)
	_ llm.Moderator = (*Client)(nil)
)

// An Option configures a Client.
type Option func(*config)

type header struct{ key, value string }

type config struct {
	apiKey, baseURL       string
	apiKeySet, baseURLSet bool
	httpClient            *http.Client
	azureEndpoint         string
	azureAPIVersion       string
	azure                 bool
	organization, project string
	headers               []header
	defaultModel          string
	defaultEmbedModel     string
	defaultModerateModel  string
	provider              string
	legacyMaxTokens       bool
	sampling              SamplingPolicy
	replay, replaySet     bool
	isReasoning           func(model string) bool
	embedInputs           int
	embedTokens           int
	embedConcurrency      int
	safetyID              func(llm.Principal) string
	requestOptions        []option.RequestOption
	now                   func() time.Time
}

// WithAPIKey sets the API key, sent as a bearer token (or as the Api-Key
// header with WithAzure). Without it, New reads OPENAI_API_KEY
// (AZURE_OPENAI_API_KEY with WithAzure). The key never appears in errors.
func WithAPIKey(key string) Option {
	return func(c *config) { c.apiKey, c.apiKeySet = key, true }
}

// WithBaseURL points the client at any server that implements the OpenAI
// API, such as "http://localhost:8000/v1" for vLLM,
// "http://localhost:11434/v1" for Ollama or "https://openrouter.ai/api/v1".
// Without it, New reads OPENAI_BASE_URL, then uses https://api.openai.com/v1.
func WithBaseURL(baseURL string) Option {
	return func(c *config) { c.baseURL, c.baseURLSet = baseURL, true }
}

// WithHTTPClient makes the client send its requests with hc, for example to
// add a proxy, mTLS or an instrumented transport. hc is used as given and
// may be shared with other clients. Timeouts belong in the context of each
// call (or in keel's timeout middleware, llm.Timeout), not in hc: an
// http.Client.Timeout also cuts long streams.
//
// Without it, requests go through http.DefaultTransport, read at each
// request (so a wrapper installed there, such as otelhttp, applies), and
// its connection pool is shared with the rest of the process, as with
// http.Get. No transport is cloned per Client, so a Client holds no idle
// connections of its own and needs no Close. Nor does the client bound the
// wait for response headers (openai-go's own default client sets a
// 10-minute ResponseHeaderTimeout on a transport it clones for each client):
// a call waits as long as its context allows, so give calls a deadline or
// use llm.Timeout, whose FirstToken limit also covers streams.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.httpClient = hc }
}

// WithAzure targets an Azure OpenAI resource through openai-go's azure
// package: requests go to {endpoint}/openai/deployments/{deployment}/...
// with the api-version query parameter, and the key (WithAPIKey, else
// AZURE_OPENAI_API_KEY) is sent in the Api-Key header. The deployment is the
// request's model (Request.Model, or WithDefaultModel). It cannot be
// combined with WithBaseURL. Azure requires HTTPS endpoints.
func WithAzure(endpoint, apiVersion string) Option {
	return func(c *config) {
		c.azure = true
		c.azureEndpoint, c.azureAPIVersion = endpoint, apiVersion
	}
}

// WithOrganization sends the OpenAI-Organization header.
func WithOrganization(org string) Option {
	return func(c *config) { c.organization = org }
}

// WithProject sends the OpenAI-Project header.
func WithProject(project string) Option {
	return func(c *config) { c.project = project }
}

// WithHeader adds a header to every request (for example a gateway's
// routing header). Later calls with the same key replace earlier ones.
func WithHeader(key, value string) Option {
	return func(c *config) { c.headers = append(c.headers, header{key, value}) }
}

// WithDefaultModel sets the chat model used when Request.Model is empty.
func WithDefaultModel(model string) Option {
	return func(c *config) { c.defaultModel = model }
}

// WithDefaultEmbeddingModel sets the model used when EmbedRequest.Model is
// empty.
func WithDefaultEmbeddingModel(model string) Option {
	return func(c *config) { c.defaultEmbedModel = model }
}

// WithDefaultModerationModel sets the model used when
// ModerationRequest.Model is empty. Without it the server's default
// (omni-moderation-latest on OpenAI) applies.
func WithDefaultModerationModel(model string) Option {
	return func(c *config) { c.defaultModerateModel = model }
}

// WithProviderName names the provider in errors, responses, stream events
// and therefore telemetry, for example "vllm" or "azure". The default is
// "openai".
func WithProviderName(name string) Option {
	return func(c *config) { c.provider = name }
}

// WithLegacyMaxTokens sends Request.MaxOutputTokens as the deprecated
// max_tokens field instead of max_completion_tokens, for compatible servers
// that only know the older name. OpenAI's reasoning models reject
// max_tokens, so leave this off for api.openai.com.
func WithLegacyMaxTokens() Option {
	return func(c *config) { c.legacyMaxTokens = true }
}

// WithSamplingPolicy chooses what happens to parameters a model does not
// support; see SamplingPolicy. The default is SamplingDrop.
func WithSamplingPolicy(p SamplingPolicy) Option {
	return func(c *config) { c.sampling = p }
}

// WithReasoningReplay says whether assistant messages are sent back with
// what a compatible server added to them: Message.Reasoning as
// reasoning_content, and the raw fields of Message.Extra (on messages of any
// role). vLLM, SGLang and DeepSeek-style servers read the previous turn's
// reasoning from reasoning_content; OpenAI's message schema is closed, so
// api.openai.com and Azure OpenAI reject a message that carries either.
//
// The default is on for OpenAI-compatible servers (any WithBaseURL or
// OPENAI_BASE_URL host but api.openai.com) and off for api.openai.com (the
// default base URL), WithAzure, and base URLs on Azure OpenAI hosts
// (*.openai.azure.com, *.cognitiveservices.azure.com). With replay off,
// Reasoning and Extra are left out of the request silently, so a history
// produced by vLLM can fall back to OpenAI unchanged.
func WithReasoningReplay(on bool) Option {
	return func(c *config) { c.replay, c.replaySet = on, true }
}

// WithReasoningModels replaces IsReasoningModel as the rule that says which
// models are reasoning models (for example for Azure deployments whose
// names do not reveal the model). pred receives the request's model name.
func WithReasoningModels(pred func(model string) bool) Option {
	return func(c *config) { c.isReasoning = pred }
}

// WithEmbedBatch sets the most inputs and the most tokens (counted as bytes,
// an upper bound) of one embeddings request. A value of zero or less keeps
// the default (DefaultEmbedBatchInputs, DefaultEmbedBatchTokens); values
// above OpenAI's limits are allowed for servers with other limits.
func WithEmbedBatch(maxInputs, maxTokens int) Option {
	return func(c *config) { c.embedInputs, c.embedTokens = maxInputs, maxTokens }
}

// WithEmbedConcurrency sets how many embeddings batches may be in flight at
// once (default DefaultEmbedConcurrency; values below 1 mean 1).
func WithEmbedConcurrency(n int) Option {
	return func(c *config) { c.embedConcurrency = n }
}

// WithSafetyIdentifier sends fn(req.Principal) as the safety_identifier
// field of chat requests, which OpenAI uses to attribute abuse to an end
// user. By default no user identifier is sent to the provider; fn should
// return a stable, non-reversible value (such as a keyed hash of the user
// id), never an email address or a name. An empty result sends nothing.
func WithSafetyIdentifier(fn func(llm.Principal) string) Option {
	return func(c *config) { c.safetyID = fn }
}

// WithRequestOptions appends raw openai-go request options to every request,
// an escape hatch for what this package does not wrap (for example
// azure.WithTokenCredential). Options that re-enable the SDK's retries
// defeat the reason New turns them off.
func WithRequestOptions(opts ...option.RequestOption) Option {
	return func(c *config) { c.requestOptions = append(c.requestOptions, opts...) }
}

// New returns a Client configured by opts.
//
// Settings not given as options are read from the environment here, never
// at package initialisation: OPENAI_API_KEY and OPENAI_BASE_URL
// (AZURE_OPENAI_API_KEY with WithAzure). New makes no network call. It
// fails when no API key is configured for api.openai.com or Azure; other
// servers (vLLM, Ollama) may run without one.
//
// openai-go's own retries are turned off (option.WithMaxRetries(0)): a
// failed call is reported once, as an *llm.Error, and retrying is the job of
// keel's reliability middleware, which knows the retry budget, the fallback
// models and the circuit breakers. Two layers that both retry multiply the
// attempts (3 SDK attempts × 3 middleware attempts = 9 calls for one
// request) and hide failures from the breaker.
func New(opts ...Option) (*Client, error) {
	cfg := config{
		provider:         DefaultProviderName,
		embedInputs:      DefaultEmbedBatchInputs,
		embedTokens:      DefaultEmbedBatchTokens,
		embedConcurrency: DefaultEmbedConcurrency,
		now:              time.Now,
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.provider == "" {
		cfg.provider = DefaultProviderName
	}
	if cfg.embedInputs <= 0 {
		cfg.embedInputs = DefaultEmbedBatchInputs
	}
	if cfg.embedTokens <= 0 {
		cfg.embedTokens = DefaultEmbedBatchTokens
	}
	if cfg.embedConcurrency < 1 {
		cfg.embedConcurrency = 1
	}
	if cfg.isReasoning == nil {
		cfg.isReasoning = IsReasoningModel
	}
	if cfg.sampling > SamplingKeep {
		return nil, configError(cfg.provider, "unknown sampling policy")
	}

	hc := cfg.httpClient
	if hc == nil {
		// A nil Transport is http.DefaultTransport, looked up at each
		// request: one connection pool for the process, not one per Client.
		hc = &http.Client{}
	}
	ropts := []option.RequestOption{
		option.WithMaxRetries(0),
		option.WithHTTPClient(hc),
	}

	if cfg.azure {
		if cfg.baseURLSet {
			return nil, configError(cfg.provider, "WithAzure and WithBaseURL cannot be combined")
		}
		if cfg.azureEndpoint == "" || cfg.azureAPIVersion == "" {
			return nil, configError(cfg.provider, "WithAzure needs an endpoint and an API version")
		}
		if !cfg.apiKeySet {
			cfg.apiKey = os.Getenv("AZURE_OPENAI_API_KEY")
		}
		// Reasoning replay stays off unless WithReasoningReplay(true).
		ropts = append(ropts, azure.WithEndpoint(cfg.azureEndpoint, cfg.azureAPIVersion))
		if cfg.apiKey != "" {
			ropts = append(ropts, azure.WithAPIKey(cfg.apiKey))
		} else if len(cfg.requestOptions) == 0 {
			// Credentials may also come as azure.WithTokenCredential through
			// WithRequestOptions.
			return nil, configError(cfg.provider, "no API key for Azure (WithAPIKey or AZURE_OPENAI_API_KEY)")
		}
	} else {
		if !cfg.baseURLSet {
			cfg.baseURL = os.Getenv("OPENAI_BASE_URL")
		}
		if cfg.baseURL == "" {
			cfg.baseURL = defaultBaseURL
		}
		u, err := url.Parse(cfg.baseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, configError(cfg.provider, "invalid base URL")
		}
		if !cfg.apiKeySet {
			cfg.apiKey = os.Getenv("OPENAI_API_KEY")
		}
		if !cfg.replaySet {
			cfg.replay = !isOpenAIHost(u.Hostname())
		}
		if cfg.apiKey == "" && strings.EqualFold(u.Host, "api.openai.com") && len(cfg.requestOptions) == 0 {
			return nil, configError(cfg.provider, "no API key (WithAPIKey or OPENAI_API_KEY)")
		}
		ropts = append(ropts, option.WithBaseURL(cfg.baseURL))
		if cfg.apiKey != "" {
			ropts = append(ropts, option.WithAPIKey(cfg.apiKey))
		}
	}
	if cfg.organization != "" {
		ropts = append(ropts, option.WithOrganization(cfg.organization))
	}
	if cfg.project != "" {
		ropts = append(ropts, option.WithProject(cfg.project))
	}
	for _, h := range cfg.headers {
		ropts = append(ropts, option.WithHeader(h.key, h.value))
	}
	ropts = append(ropts, cfg.requestOptions...)

	return &Client{
		cfg:  cfg,
		chat: oai.NewChatCompletionService(ropts...),
		emb:  oai.NewEmbeddingService(ropts...),
		mod:  oai.NewModerationService(ropts...),
	}, nil
}

// Provider returns the provider name the client reports ("openai" unless
// WithProviderName set another).
func (c *Client) Provider() string { return c.cfg.provider }

// isOpenAIHost reports whether host is OpenAI's or Azure OpenAI's, whose
// closed message schema rejects reasoning_content and other extra message
// fields.
func isOpenAIHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "api.openai.com" ||
		strings.HasSuffix(host, ".openai.azure.com") ||
		strings.HasSuffix(host, ".cognitiveservices.azure.com")
}

func configError(provider, msg string) error {
	return &llm.Error{Kind: llm.KindInvalidRequest, Provider: provider, Message: "openai: " + msg}
}

var errNoModel = errors.New("no model: set Request.Model or WithDefaultModel")
