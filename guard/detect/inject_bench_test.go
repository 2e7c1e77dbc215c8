package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// injBenchText returns n bytes of ordinary English prose from
// testdata/inject/bench.txt (64 KB, no injection phrasing), repeated as
// needed.
func injBenchText(b *testing.B, n int) string {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "inject", "bench.txt"))
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat(string(raw), n/len(raw)+1)
	return text[:n]
}

func benchInjection(b *testing.B, text string, opts InjectionOptions) {
	d := Injection(opts)
	var dst []Finding
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = d.Detect(dst[:0], text)
	}
	if len(dst) != 0 {
		b.Fatalf("ordinary text flagged: %+v", dst)
	}
}

// BenchmarkInjection scans the 64 KB benchmark text.
func BenchmarkInjection(b *testing.B) {
	benchInjection(b, injBenchText(b, 64<<10), InjectionOptions{})
}

// BenchmarkInjection1KB and BenchmarkInjection1MB show the cost per
// byte staying flat as the input grows.
func BenchmarkInjection1KB(b *testing.B) {
	benchInjection(b, injBenchText(b, 1<<10), InjectionOptions{})
}

// BenchmarkInjection1MB is the 1 MB end of the linearity check.
func BenchmarkInjection1MB(b *testing.B) {
	benchInjection(b, injBenchText(b, 1<<20), InjectionOptions{})
}

// BenchmarkInjection2KB is a typical prompt.
func BenchmarkInjection2KB(b *testing.B) {
	benchInjection(b, injBenchText(b, 2<<10), InjectionOptions{})
}

// BenchmarkInjectionUntrusted1MB is the stricter mode on the same text.
func BenchmarkInjectionUntrusted1MB(b *testing.B) {
	benchInjection(b, injBenchText(b, 1<<20), InjectionOptions{Untrusted: true})
}

// BenchmarkInjectionAttacks scans the corpus rows one by one: the cost
// when nearly every text matches something.
func BenchmarkInjectionAttacks(b *testing.B) {
	rows := injReadJSONL[injRow](b, "corpus.jsonl")
	d := Injection(InjectionOptions{})
	total := 0
	for _, r := range rows {
		total += len(r.Text)
	}
	var dst []Finding
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rows {
			dst = d.Detect(dst[:0], r.Text)
		}
	}
}

// BenchmarkInjectionBuild measures construction: build once, reuse.
func BenchmarkInjectionBuild(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Injection(InjectionOptions{})
	}
}
