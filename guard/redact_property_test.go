package guard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard"
	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/structured"
)

// redGuardModel is the redaction half of a guard middleware, for these
// tests: each call gets its own vault, the request is redacted before the
// inner model sees it, and the answer is restored.
type redGuardModel struct {
	inner llm.Model
	scan  func(string) []detect.Finding
}

func (g redGuardModel) redact(req *llm.Request) (*guard.Vault, *llm.Request) {
	v := guard.NewVault()
	r := req.Clone()
	r.Messages = v.RedactMessages(req.Messages, g.scan)
	return v, r
}

func (g redGuardModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	v, r := g.redact(req)
	resp, err := g.inner.Generate(ctx, r)
	if err != nil {
		return nil, err
	}
	return v.RestoreResponse(resp, req.ResponseFormat), nil
}

func (g redGuardModel) Stream(ctx context.Context, req *llm.Request) iter.Seq2[llm.Event, error] {
	v, r := g.redact(req)
	return v.RestoreStream(g.inner.Stream(ctx, r), req.ResponseFormat)
}

// redSplitModel streams the answers of a recording fake model with the
// text cut at byte textCut and every tool call's arguments at byte
// argsCut (each modulo the length), or into pieces of chunk bytes when
// chunk is set: the boundaries a real provider could choose.
type redSplitModel struct {
	m                       *llmtest.Model
	textCut, argsCut, chunk int
}

func (s redSplitModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	return s.m.Generate(ctx, req)
}

func (s redSplitModel) Stream(ctx context.Context, req *llm.Request) iter.Seq2[llm.Event, error] {
	return func(yield func(llm.Event, error) bool) {
		resp, err := s.m.Generate(ctx, req)
		if err != nil {
			yield(llm.Event{}, err)
			return
		}
		evs := []llm.Event{{Kind: llm.EventStart, Model: resp.Model}}
		for _, p := range s.pieces(resp.Text(), s.textCut) {
			evs = append(evs, llm.Event{Kind: llm.EventTextDelta, Text: p})
		}
		for i, tc := range resp.Message.ToolCalls {
			for j, p := range s.pieces(tc.Arguments, s.argsCut) {
				d := llm.ToolCallDelta{Index: i, Arguments: p}
				if j == 0 {
					d.ID, d.Name = tc.ID, tc.Name
				}
				evs = append(evs, llm.Event{Kind: llm.EventToolCallDelta, ToolCall: d})
			}
		}
		evs = append(evs, llm.Event{Kind: llm.EventFinish, FinishReason: resp.FinishReason})
		for _, ev := range evs {
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func (s redSplitModel) pieces(text string, cut int) []string {
	if s.chunk > 0 {
		var out []string
		for len(text) > s.chunk {
			out = append(out, text[:s.chunk])
			text = text[s.chunk:]
		}
		return append(out, text)
	}
	if cut < 0 {
		return []string{text}
	}
	cut %= len(text) + 1
	return []string{text[:cut], text[cut:]}
}

// redValueAlphabet is what the secret values of the property test are made
// of: quotes, backslashes, JSON punctuation, control characters and
// several scripts, but no angle brackets, so that no value can be made of
// the pieces of a placeholder and the leak check is exact.
var redValueAlphabet = []string{"a", "b", "k", "z", " ", `"`, `'`, `\`, "{", "}", ",", ":", "[", "/", "\n", "\t", "é", "ß", "中", "🦊", "\u2028", "&", "%", "A", "_", "7"}

// redCase is one generated conversation.
type redCase struct {
	values  []string          // the secrets, in order
	types   map[string]string // value -> finding type
	literal bool              // the user also typed a placeholder-shaped text
	msgs    []llm.Message
}

func redNewCase(rng *rand.Rand) redCase {
	c := redCase{types: map[string]string{}, literal: rng.IntN(2) == 0}
	types := []string{"NAME", "ADDRESS", "ACCOUNT", "EMAIL"}
	n := 2 + rng.IntN(6)
	for i := range n {
		var b strings.Builder
		// A distinct lower-case prefix keeps values apart and gives each
		// one a letter that no placeholder has.
		fmt.Fprintf(&b, "v%c%c", 'a'+rune(i), 'a'+rune(rng.IntN(26)))
		for range 1 + rng.IntN(12) {
			b.WriteString(redValueAlphabet[rng.IntN(len(redValueAlphabet))])
		}
		v := b.String()
		c.values = append(c.values, v)
		c.types[v] = types[rng.IntN(len(types))]
	}
	// The user message lists every value between markers that neither a
	// value nor a placeholder can contain, so the test can read which
	// placeholder stands for which value without asking the vault.
	var user strings.Builder
	user.WriteString("My details:")
	for i, v := range c.values {
		fmt.Fprintf(&user, " ⟦%d⟧%s⟦/⟧", i, v)
	}
	if c.literal {
		fmt.Fprintf(&user, " ⟦%d⟧<%s_1>⟦/⟧", len(c.values), types[rng.IntN(len(types))])
	}
	pick := func() string { return c.values[rng.IntN(len(c.values))] }
	args, _ := json.Marshal(map[string]any{"to": pick(), "cc": []string{pick(), pick()}, "note": "re: " + pick()})
	result, _ := json.Marshal(map[string]any{"found": pick(), "ok": true})
	c.msgs = []llm.Message{
		llm.SystemMessage("You help " + pick() + " with their account."),
		llm.UserText(user.String()),
		{Role: llm.RoleAssistant, Reasoning: "look up " + pick(), ToolCalls: []llm.ToolCall{{ID: "call_0", Name: "lookup", Arguments: string(args)}}},
		llm.ToolResult("call_0", string(result)),
		llm.UserText("Thanks, and write to " + pick() + "."),
	}
	return c
}

// redOracle reads, from the redacted user message, the value behind each
// placeholder.
func (c redCase) redOracle(t *testing.T, redactedUser string) *strings.Replacer {
	t.Helper()
	re := regexp.MustCompile(`⟦(\d+)⟧(.*?)⟦/⟧`)
	var pairs []string
	for _, m := range re.FindAllStringSubmatch(redactedUser, -1) {
		i, _ := strconv.Atoi(m[1])
		if !redPlaceholderRE.MatchString(m[2]) || redPlaceholderRE.FindString(m[2]) != m[2] {
			t.Fatalf("item %d redacted to %q, not to one placeholder", i, m[2])
		}
		var value string
		if i < len(c.values) {
			value = c.values[i]
		} else {
			// The literal the user typed: recover it from the original.
			value = redLiteralRE.FindStringSubmatch(c.msgs[1].Text())[1]
		}
		pairs = append(pairs, m[2], value)
	}
	return strings.NewReplacer(pairs...)
}

var redLiteralRE = regexp.MustCompile(`⟦\d+⟧(<[A-Z]+_1>)⟦/⟧`)

// redAnswer is what the fake model answers, in placeholders: the same
// placeholders in a shuffled order in text, in tool-call arguments (some
// JSON-encoded with \u003c escapes, one written outside any string) and,
// when JSON is asked for, in a JSON object.
func redAnswer(rng *rand.Rand, req *llm.Request) *llm.Response {
	seen := map[string]bool{}
	var phs []string
	for _, m := range req.Messages {
		texts := []string{m.Text(), m.Refusal, m.Reasoning}
		for _, tc := range m.ToolCalls {
			texts = append(texts, tc.Arguments)
		}
		for _, s := range texts {
			for _, ph := range redPlaceholderRE.FindAllString(s, -1) {
				if !seen[ph] {
					seen[ph] = true
					phs = append(phs, ph)
				}
			}
		}
	}
	rng.Shuffle(len(phs), func(i, j int) { phs[i], phs[j] = phs[j], phs[i] })
	marshal := func(v any) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(rng.IntN(2) == 0) // <EMAIL_1> or \u003cEMAIL_1\u003e
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
		return strings.TrimSpace(b.String())
	}
	if req.ResponseFormat != nil {
		return &llm.Response{Message: llm.AssistantText(marshal(redAnswerDoc{
			Items:  phs,
			Quoted: "say " + strings.Join(phs, " and ") + " <NAME_99>",
		}))}
	}
	text := "Done: " + strings.Join(phs, ", ") + "; not mine: <NAME_99>."
	calls := []llm.ToolCall{
		{ID: "c1", Name: "send_email", Arguments: marshal(map[string]any{"to": phs[0], "cc": phs, "body": "Dear " + strings.Join(phs, "/")})},
		{ID: "c2", Name: "raw", Arguments: `{"to": ` + phs[len(phs)-1] + `}`},
	}
	return &llm.Response{Message: llm.Message{Role: llm.RoleAssistant, Parts: []llm.Part{llm.Text(text)}, ToolCalls: calls}}
}

// redAnswerDoc is the structured answer of the property test.
type redAnswerDoc struct {
	Items  []string `json:"items"`
	Quoted string   `json:"quoted"`
}

// redRestoreStrings returns v with rep applied to every string in it,
// keys included: the oracle's idea of restoring a decoded JSON value.
func redRestoreStrings(v any, rep *strings.Replacer) any {
	switch x := v.(type) {
	case string:
		return rep.Replace(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redRestoreStrings(e, rep)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[rep.Replace(k)] = redRestoreStrings(e, rep)
		}
		return out
	default:
		return v
	}
}

func redDecode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// redCheckNoLeak fails when a secret value, as it is or JSON-escaped,
// appears anywhere in a request the provider received.
func redCheckNoLeak(t *testing.T, c redCase, reqs []*llm.Request) {
	t.Helper()
	for n, req := range reqs {
		var all strings.Builder
		for _, m := range req.Messages {
			all.WriteString(m.Text() + "\n|\n" + m.Refusal + "\n|\n" + m.Reasoning + "\n|\n")
			for _, tc := range m.ToolCalls {
				all.WriteString(tc.Arguments + "\n|\n")
			}
		}
		sent := all.String()
		for _, v := range c.values {
			esc, _ := json.Marshal(v)
			if strings.Contains(sent, v) || strings.Contains(sent, string(esc[1:len(esc)-1])) {
				t.Fatalf("request %d leaks %q:\n%s", n, v, sent)
			}
		}
	}
}

// TestPseudonymizationRoundTrip is the property test of issue 8: redact a
// conversation, let a fake model echo the placeholders in any order in
// text, tool arguments and JSON, streamed and split at every byte
// boundary, and check that restoring gives exactly the original values
// while no value ever reaches the fake provider.
func TestPseudonymizationRoundTrip(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 10
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 8))
			c := redNewCase(rng)
			scan := redScan(redEmail, redTermDetector{terms: c.types})
			answerSeed := rng.Uint64()
			var raw *llm.Response // the fake's last answer, in placeholders
			fake := llmtest.NewModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
				// The same request gets the same answer, so every split
				// of a stream splits the same text.
				raw = redAnswer(rand.New(rand.NewPCG(answerSeed, 1)), req)
				return raw, nil
			})
			ctx := t.Context()
			req := &llm.Request{Model: "fake", Messages: c.msgs}
			before := redCloneMessages(c.msgs)

			// Generate: text and tool calls.
			g := redGuardModel{inner: fake, scan: scan}
			resp, err := g.Generate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			sent := fake.Requests()[0]
			oracle := c.redOracle(t, sent.Messages[1].Text())
			wantText := oracle.Replace(raw.Text())
			if resp.Text() != wantText {
				t.Fatalf("text:\n got %q\nwant %q", resp.Text(), wantText)
			}
			wantArgs := redRestoreStrings(redDecode(t, raw.Message.ToolCalls[0].Arguments), oracle)
			if got := redDecode(t, resp.Message.ToolCalls[0].Arguments); !reflect.DeepEqual(got, wantArgs) {
				t.Fatalf("tool arguments:\n got %#v\nwant %#v", got, wantArgs)
			}
			// A placeholder the model wrote outside any string comes back
			// as a JSON string holding the value.
			last := redPlaceholderRE.FindString(raw.Message.ToolCalls[1].Arguments)
			if got, want := redDecode(t, resp.Message.ToolCalls[1].Arguments), map[string]any{"to": oracle.Replace(last)}; !reflect.DeepEqual(got, want) {
				t.Fatalf("raw tool arguments: got %#v, want %#v", got, want)
			}

			// Generate with a JSON answer.
			jreq := *req
			jreq.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject}
			jresp, err := g.Generate(ctx, &jreq)
			if err != nil {
				t.Fatal(err)
			}
			wantDoc := redRestoreStrings(redDecode(t, raw.Text()), oracle)
			if got := redDecode(t, jresp.Text()); !reflect.DeepEqual(got, wantDoc) {
				t.Fatalf("JSON answer:\n got %#v\nwant %#v", got, wantDoc)
			}

			// structured.Generate[T] on top: quotes and backslashes in
			// the values neither break the JSON nor add a field.
			gen := structured.MustNew[redAnswerDoc](structured.Options{MaxRepairs: -1})
			doc, err := gen.Generate(ctx, g, &llm.Request{Model: "fake", Messages: c.msgs})
			if err != nil {
				t.Fatalf("Generate[T]: %v", err)
			}
			var wantItems []string
			for _, ph := range redDecode(t, raw.Text()).(map[string]any)["items"].([]any) {
				wantItems = append(wantItems, oracle.Replace(ph.(string)))
			}
			if !slices.Equal(doc.Items, wantItems) {
				t.Fatalf("Generate[T] items:\n got %q\nwant %q", doc.Items, wantItems)
			}

			// Streams, split at every byte boundary of the text and of
			// the arguments (both at once), and in small pieces.
			whole, err := llm.Collect(redGuardModel{inner: redSplitModel{m: fake, textCut: -1, argsCut: -1}, scan: scan}.Stream(ctx, req))
			if err != nil {
				t.Fatal(err)
			}
			n := max(len(raw.Text()), len(raw.Message.ToolCalls[0].Arguments))
			cuts := []redSplitModel{{chunk: 1}, {chunk: 3}, {chunk: 7}}
			for k := 0; k <= n; k++ {
				if seed < 5 || k%13 == int(seed%13) { // every boundary for a few seeds, a sample for the rest
					cuts = append(cuts, redSplitModel{textCut: k, argsCut: k})
				}
			}
			for _, format := range []*llm.ResponseFormat{nil, {Type: llm.FormatJSONObject}} {
				sreq := *req
				sreq.ResponseFormat = format
				var want *llm.Response
				for _, cut := range cuts {
					cut.m = fake
					got, err := llm.Collect(redGuardModel{inner: cut, scan: scan}.Stream(ctx, &sreq))
					if err != nil {
						t.Fatal(err)
					}
					if want == nil {
						want = got
						// The unsplit reference equals Generate's answer.
						ref := resp
						if format != nil {
							ref = jresp
						}
						if got.Text() != ref.Text() || !reflect.DeepEqual(got.Message.ToolCalls, ref.Message.ToolCalls) {
							t.Fatalf("stream (format %v) differs from Generate:\n got %q %v\nwant %q %v", format, got.Text(), got.Message.ToolCalls, ref.Text(), ref.Message.ToolCalls)
						}
						continue
					}
					if got.Text() != want.Text() || !reflect.DeepEqual(got.Message.ToolCalls, want.Message.ToolCalls) {
						t.Fatalf("stream cut %+v (format %v):\n got %q %v\nwant %q %v", cut, format, got.Text(), got.Message.ToolCalls, want.Text(), want.Message.ToolCalls)
					}
				}
			}
			if whole.Text() != resp.Text() {
				t.Fatalf("stream in one piece: %q", whole.Text())
			}

			if !reflect.DeepEqual(c.msgs, before) {
				t.Fatal("the caller's messages were modified")
			}
			redCheckNoLeak(t, c, fake.Requests())
		})
	}
}
