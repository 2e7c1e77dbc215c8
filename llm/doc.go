// Package llm is keel's core: provider-neutral request and response types,
// the Model interface every provider, fake and middleware implements, the
// shared types other packages rely on (Principal, Provenance, SafeMode,
// Moderator, Embedder) and the one typed error.
//
// # Everything is a Model
//
// A provider (package llm/openai) is the innermost Model; llm/llmtest
// provides a fake for tests. Retries, fallback, routing, caching, budgets,
// guardrails and telemetry are Middlewares, composed with Chain so the stack
// reads top to bottom like net/http handlers:
//
//	model := llm.Chain(provider, telemetry, guard, cache, budget, route, fallback)
//	resp, err := model.Generate(ctx, &llm.Request{
//		Model:     "gpt-4o-mini",
//		Messages:  []llm.Message{llm.SystemMessage("Be brief."), llm.UserText(question)},
//		Principal: llm.Principal{Tenant: "acme", User: "u-42"},
//		Feature:   "support-answer",
//	})
//
// Streams are lazy iterators (iter.Seq2[Event, error]): nothing is sent
// until the caller ranges, breaking out of the loop releases the HTTP
// response, and Collect turns a stream into the Response Generate returns.
//
// # The canonical stack
//
// Outermost first, with the reason for each position:
//
//	telemetry   outermost, so a span covers everything below, cache hits,
//	            guard blocks and budget refusals included (Telemetry for
//	            OpenTelemetry spans and metrics, then Logging for one zap
//	            line per call, inside the span so it carries the trace id).
//	guard       input checks and pseudonymisation before anything else sees
//	            the text; output filters and restoration on the way back. It
//	            sits outside the cache so that only redacted text is cached.
//	cache       keys and values are the redacted request and response; a hit
//	            costs nothing below, so it sits above the budget.
//	budget      a hard limit checked before any upstream call, actual cost
//	            recorded after; above routing so every route is charged.
//	route       rules, weights and canaries choose which Model serves.
//	fallback    ordered Models, each behind its own circuit breaker.
//	retry       per Model, with a shared retry budget; inside fallback so a
//	            dead provider is retried a bounded number of times before the
//	            next one is tried.
//	rate limit  per attempt, per Model and per tenant: every attempt,
//	            retries included, spends from the provider's real limits.
//	timeout     per attempt, time to first token, idle between events.
//	provider
//
// Teams that compose by hand use the same pieces in the same order.
//
// # Cache, cost and budgets
//
// Cache is an exact-match response cache scoped by tenant: its key is a
// BLAKE2b-256 over everything that changes the answer (model, messages, tools
// in order, response format, sampling parameters, prompt version), it only
// stores deterministic answers (temperature 0) unless told otherwise, never
// stores errors, serves streams from the cache, and collapses concurrent
// identical calls into one upstream call. SemanticCache (opt-in, below
// Cache) answers requests flagged AllowApproximate from a similar earlier
// question of the same tenant; CacheEmbedder caches vectors for
// re-ingestion. MemoryCache is the default store; redisstore.CacheStore
// shares entries across replicas. A cache that cannot reach its store
// fails open.
//
// Budget prices every response from a PriceTable (DefaultPrices, dated
// PricesAsOf; LoadLiteLLMPrices reads the LiteLLM price map), sets
// Response.Cost, charges failed attempts and cut-off streams as estimated
// cost, and enforces daily or monthly budgets per tenant, feature or both:
// a soft limit calls back once per period, a hard limit refuses with
// KindBudgetExceeded before any upstream call. Amounts are integer
// nano-dollars, so sums do not drift. SpendReport totals spend by tenant,
// feature and model. MemoryBudgetStore is the default; redisstore.BudgetStore
// shares counters across replicas. SafeMode scales hard limits by
// BudgetOptions.SafeFactor.
//
// # Observability
//
// Telemetry records a span per call following the OpenTelemetry GenAI
// semantic conventions (gen_ai.operation.name, gen_ai.provider.name,
// gen_ai.request.model, gen_ai.response.model, gen_ai.usage.*), with keel's
// own attributes for cost, cache hits, attempts, route and fallback target,
// and the duration, token-usage and time-to-first-chunk metrics. User ids
// never appear on metrics; the tenant does only when asked. Logging writes
// one structured zap line per call. Neither records prompt or completion
// text unless the caller opts in. Only the OpenTelemetry API is a
// dependency of this package; the SDK is the application's choice.
//
// # Reliability
//
// The pieces below the budget, each usable alone:
//
//   - NewRouter returns a Model that picks one of several Models per request
//     by ordered rules (tenant, feature, estimated input tokens, tools,
//     images, risk tag) and sticky weighted arms for canaries and A/B tests.
//   - Fallback tries Targets in order, each behind its own Breaker, moving
//     on for the kinds the error table marks (plus chosen ones, such as
//     context_length_exceeded towards a longer-context model). Hedge is an
//     opt-in stand-in for Fallback (or one of its Targets) when tail latency
//     matters: it starts the secondary once the primary is slower than a
//     percentile of its recent latencies.
//   - Retry backs off exponentially with full jitter, never sooner than the
//     provider's retry-after, within a per-call attempt limit and a
//     RetryBudget shared across calls so an outage cannot become a retry
//     storm. Streams are retried (and fall back, and race in Hedge) only
//     before their first content event: EventStart and other events
//     without content are held back until then, so a stream that stalls
//     after EventStart is still retried on its first-token timeout.
//   - RateLimit keeps requests and tokens per minute under the provider's
//     limits, per Model and per tenant, reserving a cheap upper bound
//     (EstimateTokens) before the call and reconciling after it; a
//     LimitStore in Redis (llm/redisstore) shares the limits across
//     replicas.
//   - Timeout bounds each attempt (or, placed outermost, the whole call),
//     and a stream's time to first token and idle gaps.
//
// A typical lower half of the stack:
//
//	attempt := func(m llm.Model, name string) llm.Target {
//		return llm.Target{Name: name, Model: llm.Chain(m,
//			llm.Retry(llm.RetryOptions{Budget: budget}),
//			llm.RateLimit(llm.RateLimitOptions{Name: name,
//				Limits:       llm.RateLimits{RequestsPerMinute: 500, TokensPerMinute: 200_000},
//				TenantLimits: llm.RateLimits{RequestsPerMinute: 50, TokensPerMinute: 40_000}}),
//			llm.Timeout(llm.TimeoutOptions{Total: 30 * time.Second, FirstToken: 5 * time.Second}),
//		)}
//	}
//	model := llm.Fallback(llm.FallbackOptions{SafeMode: safe}, attempt(primary, "primary"), attempt(secondary, "secondary"))
//
// SafeMode narrows all of them during an incident: the router sends every
// request to its safe route, Fallback skips the primary, Hedge stops
// hedging, and RateLimit multiplies its limits by its safe factor.
//
// Embedders get the same protection from RetryEmbedder, RateLimitEmbedder
// and TimeoutEmbedder, which share their code with Retry, RateLimit and
// Timeout: an ingestion pipeline that embeds thousands of chunks meets the
// same 429s and outages as chat traffic, and one RetryBudget can cover
// both. They compose with ChainEmbedder in the same order:
//
//	embedder := llm.ChainEmbedder(provider,
//		llm.RetryEmbedder(llm.RetryOptions{Budget: budget}),
//		llm.RateLimitEmbedder(llm.RateLimitOptions{Name: "openai/text-embedding-3-small",
//			Limits:       llm.RateLimits{RequestsPerMinute: 3000, TokensPerMinute: 1_000_000},
//			TenantLimits: llm.RateLimits{TokensPerMinute: 200_000}}),
//		llm.TimeoutEmbedder(30*time.Second),
//	)
//
// There is deliberately no fallback (nor routing or hedging) across
// embedding models. Each model maps text into its own vector space:
// vectors from text-embedding-3-small and from another model, or even the
// same model at other Dimensions, cannot be compared, and an index filled
// partly by a fallback model returns nonsense for the chunks embedded
// during the outage, silently and long after it. An embedding call that
// fails after its retries should fail the ingestion step (or the query),
// to be retried later against the same model. Without a fallback there is
// nothing for a circuit breaker middleware to switch to; a service that
// wants to stop calling a failing embedding provider for a while can still
// guard its calls by hand: Breaker.Allow before the call, and
// BreakerPermit.Done with its error after it.
//
// # Errors
//
// Every failure is an *Error with a Kind. Kind implements error, so
// errors.Is(err, llm.KindRateLimited) works; KindOf, Retryable and
// RetryAfterOf read an error chain. Error messages never contain API keys or
// authorization headers (RedactSecrets masks what providers echo back).
//
// The table says what the reliability middlewares do with each kind
// (Kind.Handling returns the row; TestErrorTable checks that code and table
// agree). "Breaker" means the failure counts against the Model's circuit
// breaker. Caller mistakes (4xx), cancellation and guard blocks never trip a
// breaker, and quota exhaustion is never retried. A provider's explicit
// x-should-retry header overrides the Retry column, except for quota and
// cancellation.
//
//	kind                     retry  fallback  breaker  raised when
//	unknown                  no     yes       yes      an error nothing else classifies
//	rate_limited             yes    yes       no       provider 429 (not quota)
//	quota_exhausted          no     yes       yes      429 insufficient_quota
//	timeout                  yes    yes       yes      deadline, 408, network timeout
//	unavailable              yes    yes       yes      5xx, 409, refused/reset connection, stream cut off
//	bad_response             yes    yes       yes      malformed JSON or SSE from the provider
//	invalid_request          no     no        no       400, 422, and other 4xx
//	auth                     no     yes       no       401, 403
//	not_found                no     yes       no       404 (unknown model or deployment)
//	context_length_exceeded  no     no        no       input over the context window, 413
//	content_filtered         no     no        no       the provider's content filter
//	refusal                  no     no        no       the model declined
//	canceled                 no     no        no       the caller canceled the context
//	budget_exceeded          no     no        no       a hard budget (local)
//	circuit_open             no     yes       no       the breaker is open (local)
//	rate_limited_locally     no     yes       no       a client-side limit (local)
//	policy_denied            no     no        no       a tool or data policy (local)
//	guard_blocked            no     no        no       a guardrail (local)
//	invalid_output           no     no        no       structured output still invalid after repairs (local)
//
// Fallback may be widened per stack (for example context_length_exceeded
// moving to a longer-context model); the table gives the defaults.
//
// # Provenance and safe mode
//
// Each content Part is trusted (written by the application) or untrusted
// (user input, retrieved text, tool output). Unmarked parts take their
// role's default: system and developer trusted, everything else untrusted.
// Policies read Request.HasUntrusted to refuse high-risk tools once untrusted
// text is in the context. SafeMode is a run-time switch, an ordinary object
// passed to the components that honour it, for narrowing behaviour during an
// incident.
package llm
