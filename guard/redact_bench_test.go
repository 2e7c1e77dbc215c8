package guard_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard"
	"github.com/keel-go/keel/guard/detect"
)

// redBenchText returns English support-ticket prose of about size bytes
// with an e-mail address and a phone number every ~170 bytes (a few
// repeated, as in a real thread), and the findings in it.
func redBenchText(size int) (string, []detect.Finding) {
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "Ticket %d: the customer wrote from user%d@example.com and asked us to call back on +44 20 7946 %04d "+
			"before noon; the order is delayed at the depot. ", i, i%7, i%5)
	}
	text := b.String()
	return text, detect.Scan(text, redEmail, redPhone)
}

// redBenchAnswer returns a model answer of about size bytes that uses the
// placeholders of v, and v's placeholders.
func redBenchAnswer(size int) (*guard.Vault, string) {
	text, fs := redBenchText(2048)
	v := guard.NewVault()
	red := v.Redact(text, fs)
	phs := redPlaceholderRE.FindAllString(red, -1)
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `{"reply":"Dear customer at %s, we will call %s today.","n":%d}`+"\n", phs[i%len(phs)], phs[(i+1)%len(phs)], i)
	}
	return v, b.String()
}

func BenchmarkRedact(b *testing.B) {
	for _, size := range []int{2 << 10, 1 << 20} {
		text, fs := redBenchText(size)
		b.Run(fmt.Sprintf("%dKB-%dfindings", len(text)>>10, len(fs)), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				v := guard.NewVault() // one per request
				_ = v.Redact(text, fs)
			}
		})
	}
}

func BenchmarkRestore(b *testing.B) {
	for _, size := range []int{2 << 10, 1 << 20} {
		v, answer := redBenchAnswer(size)
		b.Run(fmt.Sprintf("text-%dKB", len(answer)>>10), func(b *testing.B) {
			b.SetBytes(int64(len(answer)))
			b.ReportAllocs()
			for b.Loop() {
				_ = v.Restore(answer)
			}
		})
		b.Run(fmt.Sprintf("json-%dKB", len(answer)>>10), func(b *testing.B) {
			b.SetBytes(int64(len(answer)))
			b.ReportAllocs()
			for b.Loop() {
				_ = v.RestoreJSON(answer)
			}
		})
	}
}

// BenchmarkStreamRestore restores an answer streamed in 16-byte deltas,
// about the size of a provider's token deltas.
func BenchmarkStreamRestore(b *testing.B) {
	for _, size := range []int{2 << 10, 1 << 20} {
		v, answer := redBenchAnswer(size)
		var chunks []string
		for s := answer; len(s) > 0; {
			n := min(16, len(s))
			chunks = append(chunks, s[:n])
			s = s[n:]
		}
		for _, asJSON := range []bool{false, true} {
			name := "text"
			if asJSON {
				name = "json"
			}
			b.Run(fmt.Sprintf("%s-%dKB", name, len(answer)>>10), func(b *testing.B) {
				b.SetBytes(int64(len(answer)))
				b.ReportAllocs()
				for b.Loop() {
					r := v.NewStreamRestorer()
					if asJSON {
						r = v.NewJSONStreamRestorer()
					}
					for _, c := range chunks {
						_ = r.Write(c)
					}
					_ = r.Flush()
				}
			})
		}
	}
}
