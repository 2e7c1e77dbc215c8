package detect

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// testdata/mixed.txt is the benchmark text: 65,571 bytes of made-up
// support chats, customer emails and ticket notes written by
// testdata/mixed_gen.py, which also writes testdata/mixed_labels.tsv, the
// list of every value it planted. It holds 134 PII values (29 emails, 25
// phone numbers, 5 card numbers, 4 IBANs, 3 US SSNs, 26 IP addresses, 9
// MAC addresses, 10 URLs, 9 wallet addresses, 2 dates of birth, 12 street
// addresses), 27 secrets (2 each of AWS access key ids, GitHub tokens,
// Slack tokens, Stripe keys, OpenAI keys and Anthropic keys, 1 Google API
// key, 1 JWT, 1 PEM private key, 10 passwords, 2 keyword secrets) and 6
// prompt-injection phrases, plus 13 near misses that must not match: 4
// sixteen-digit order numbers failing Luhn, 3 IBANs with a bad checksum,
// 3 mentions of the AWS documentation key AKIAIOSFODNN7EXAMPLE and 3
// SSN-like batch numbers (3-2-5 digits).
const (
	piiMixedBytes      = 65571
	piiMixedPII        = 134
	piiMixedSecrets    = 27
	piiMixedInjections = 6
)

// piiMixedScoreThreshold is the score at which a finding counts in the
// labelled-text test: the threshold a guard policy would use by default.
const piiMixedScoreThreshold = 0.5

func piiReadMixed(t testing.TB) (string, [][2]string) {
	t.Helper()
	text, err := os.ReadFile("testdata/mixed.txt")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/mixed_labels.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var labels [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		typ, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("bad label line %q", sc.Text())
		}
		labels = append(labels, [2]string{typ, strings.ReplaceAll(v, `\n`, "\n")})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return string(text), labels
}

// TestPIIMixedText checks the scanner against the planted values of the
// benchmark text: every labelled PII value and secret is found with its
// type and exact text at score 0.5 or more, and nothing else is.
func TestPIIMixedText(t *testing.T) {
	text, labels := piiReadMixed(t)
	if len(text) != piiMixedBytes {
		t.Errorf("mixed.txt has %d bytes, the comment says %d", len(text), piiMixedBytes)
	}
	s, err := NewScanner(ScannerOptions{MinScore: piiMixedScoreThreshold})
	if err != nil {
		t.Fatal(err)
	}
	secretTypes := map[string]bool{}
	for _, d := range Secrets() {
		for _, typ := range d.Types() {
			secretTypes[typ] = true
		}
	}
	var want []string
	pii, secrets, injections := 0, 0, 0
	for _, l := range labels {
		switch {
		case l[0] == "PROMPT_INJECTION":
			injections++
			continue
		case secretTypes[l[0]]:
			secrets++
		default:
			pii++
		}
		want = append(want, l[0]+" "+l[1])
	}
	if pii != piiMixedPII || secrets != piiMixedSecrets || injections != piiMixedInjections {
		t.Errorf("labels: %d PII, %d secrets, %d injections; the comment says %d, %d, %d",
			pii, secrets, injections, piiMixedPII, piiMixedSecrets, piiMixedInjections)
	}
	var got []string
	for _, f := range Scan(text, s) {
		got = append(got, f.Type+" "+text[f.Start:f.End])
	}
	slices.Sort(want)
	slices.Sort(got)
	missing, extra := piiMultisetDiff(want, got)
	for _, m := range missing {
		t.Errorf("not found: %s", m)
	}
	for _, e := range extra {
		t.Errorf("found but not planted: %s", e)
	}
}

// piiMultisetDiff returns the elements of the sorted slices a and b that
// the other lacks, counting repeats.
func piiMultisetDiff(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

func piiBenchScan(b *testing.B, text string) {
	s, err := NewScanner(ScannerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var dst []Finding
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = s.Detect(dst[:0], text)
	}
}

// piiRepeatTo repeats text to n bytes (cut at a line end when possible).
func piiRepeatTo(text string, n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(text)
	}
	out := sb.String()[:n]
	if k := strings.LastIndexByte(out, '\n'); k > n/2 {
		out = out[:k+1]
	}
	return out
}

// BenchmarkPIIScan runs the full PII and secret scanner (NewScanner with
// default options) over the 64 KB benchmark text.
func BenchmarkPIIScan(b *testing.B) {
	text, _ := piiReadMixed(b)
	piiBenchScan(b, text)
}

// piiBenchPieces scans the benchmark text cut into pieces of size bytes, one
// piece per operation in turn, so that small inputs are measured over the
// same content as the whole text rather than over one lucky piece.
func piiBenchPieces(b *testing.B, size int) {
	text, _ := piiReadMixed(b)
	var pieces []string
	for i := 0; i+size <= len(text); i += size {
		pieces = append(pieces, text[i:i+size])
	}
	s, err := NewScanner(ScannerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var dst []Finding
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for b.Loop() {
		dst = s.Detect(dst[:0], pieces[k])
		if k++; k == len(pieces) {
			k = 0
		}
	}
}

// BenchmarkPIIScan1KB scans 1 KB inputs: the benchmark text in 1 KB
// pieces, one per operation.
func BenchmarkPIIScan1KB(b *testing.B) { piiBenchPieces(b, 1<<10) }

// BenchmarkPIIScan1MB scans the benchmark text repeated to a megabyte:
// the cost per byte matches the 1 KB benchmark's (the scan is linear).
func BenchmarkPIIScan1MB(b *testing.B) {
	text, _ := piiReadMixed(b)
	piiBenchScan(b, piiRepeatTo(text, 1<<20))
}

// BenchmarkPIIScan2KB scans typical 2 KB prompts: the benchmark text in
// 2 KB pieces, one per operation.
func BenchmarkPIIScan2KB(b *testing.B) { piiBenchPieces(b, 2<<10) }

// BenchmarkPIIDetectorsSeparately runs the PII() and Secrets() detectors
// one after the other, each a pass of its own, for comparison with the
// single pass of BenchmarkPIIScan.
func BenchmarkPIIDetectorsSeparately(b *testing.B) {
	text, _ := piiReadMixed(b)
	ds := append(PII(), Secrets()...)
	var dst []Finding
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		dst = dst[:0]
		for _, d := range ds {
			dst = d.Detect(dst, text)
		}
	}
}

// piiAdversarial are inputs built to make a careless scanner quadratic:
// long runs that every word restarts, triggers with no end, nested
// URLs, unterminated keys.
func piiAdversarial() []struct{ name, unit string } {
	return []struct{ name, unit string }{
		{"dotted", "a1.b2."},
		{"dashed-digits", "1-2-3-"},
		{"spaced-digits", "1 2 3 4 "},
		{"colons", "1:a:"},
		{"at-signs", "a@b.c@"},
		{"urls", "http://a.co/("},
		{"keyword-token", "key: a1b2c3d4e5f6g7h8i9 "},
		{"sk-dash", "sk-"},
		{"jwt-dots", "eyJhb."},
		{"pem-begin", "-----BEGIN PRIVATE KEY-----\nAAAA\n"},
		{"parens", "(((("},
		{"capitals", "Ab Cd Ef "},
	}
}

// BenchmarkPIIScanAdversarial scans each adversarial input at 1 KB and
// at 1 MB: the cost per byte must be the same at both sizes.
func BenchmarkPIIScanAdversarial(b *testing.B) {
	for _, a := range piiAdversarial() {
		for _, size := range []struct {
			name string
			n    int
		}{{"1KB", 1 << 10}, {"1MB", 1 << 20}} {
			b.Run(a.name+"/"+size.name, func(b *testing.B) {
				piiBenchScan(b, piiRepeatTo(a.unit, size.n))
			})
		}
	}
}
