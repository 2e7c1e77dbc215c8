package llm

import (
	"strings"
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

// TestEstimateInputTokensIsUpperBound checks the bound against exact counts
// from both OpenAI encodings on varied text: prose, code, numbers, CJK,
// emoji, and hostile byte runs.
func TestEstimateInputTokensIsUpperBound(t *testing.T) {
	texts := []string{
		"How long does a refund take for an annual plan?",
		strings.Repeat("The quick brown fox jumps over the lazy dog. ", 50),
		"func main() { fmt.Println(\"hello\") } // 日本語のコメント",
		"3.14159265358979323846264338327950288419716939937510",
		"東京都千代田区丸の内一丁目 — 請求書の見方を教えてください。",
		"🙂🙃😉😊😇🥰😍🤩😘😗☺️😚😙",
		strings.Repeat("a", 1000) + strings.Repeat(" ", 500) + strings.Repeat("\n", 100),
		"ÆØÅ æøå Ünïcödé ſtraße İstanbul ǅ",
		"aGVsbG8gd29ybGQ= 0xDEADBEEF sk-not-a-key-but-long-base64ish/+==",
	}
	for _, name := range []tokenizer.Encoding{tokenizer.Cl100kBase, tokenizer.O200kBase} {
		enc, err := tokenizer.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			exact, err := enc.Count(text)
			if err != nil {
				t.Fatal(err)
			}
			req := &Request{Messages: []Message{UserText(text)}}
			if est := EstimateInputTokens(req); est < exact+estimateReplyPriming {
				t.Errorf("%s: estimate %d < exact %d for %.40q", name, est, exact, text)
			}
		}
	}
}

func TestEstimateTokens(t *testing.T) {
	req := &Request{
		Messages: []Message{SystemMessage("sys"), UserMessage(Text("hi"), ImageURL("https://x/y.png"))},
		Tools:    []ToolDef{{Name: "f", Description: "d", Parameters: []byte(`{}`)}},
	}
	in := EstimateInputTokens(req)
	want := estimateReplyPriming + 2*estimateMessageOverhead + 3 + 2 + estimateImageTokens + estimateToolOverhead + 1 + 1 + 2
	if in != want {
		t.Errorf("EstimateInputTokens = %d, want %d", in, want)
	}
	if got := EstimateTokens(req, 100); got != in+100 {
		t.Errorf("EstimateTokens default = %d", got)
	}
	req.MaxOutputTokens = 7
	if got := EstimateTokens(req, 100); got != in+7 {
		t.Errorf("EstimateTokens with max = %d", got)
	}
	if EstimateInputTokens(nil) != 0 {
		t.Error("nil request")
	}
}
