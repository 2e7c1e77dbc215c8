package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

// fuzzLog returns the bytes of a genuine one-file log of n records. They
// are the same in every process (a fixed clock), as the fuzzing workers
// each build their own.
func fuzzLog(f *testing.F, n int) []byte {
	f.Helper()
	dir := f.TempDir()
	clock := func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) }
	l, err := OpenFileLog(dir, fuzzKey, FileOptions{NoSync: true, Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	for i := range n {
		r := Record{Event: EventOutcome, Tenant: "acme", User: "u-1", CallID: fmt.Sprint("c", i), Tool: "refund",
			Outcome: "ok", Duration: 1500, Detail: map[string]string{"k": "v"}}
		r.SetArgs(fuzzKey, []byte(`{"a":1}`), i%2 == 0)
		if err := l.Write(context.Background(), r); err != nil {
			f.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, fileName(1)))
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// FuzzParseLine feeds arbitrary lines to the record-line parser: never a
// panic, and what it accepts is a well-formed record.
func FuzzParseLine(f *testing.F) {
	for _, line := range bytes.Split(fuzzLog(f, 3), []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"seq":1,"prev":"","event":"x","mac":"` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte(`{"mac":"` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := parseLine(line)
		if err != nil {
			return
		}
		if p.rec.Seq == 0 || p.rec.Event == "" || len(p.rec.MAC) != 64 || !json.Valid(p.body) {
			t.Fatalf("accepted %q as %+v", line, p.rec)
		}
	})
}

// FuzzVerifyFile feeds arbitrary file contents to the verifier: never a
// panic, only *TamperError findings, and whatever verifies is a prefix of
// the genuine log cut at a line boundary (no mutation can produce a valid
// record without the key).
func FuzzVerifyFile(f *testing.F) {
	genuine := fuzzLog(f, 4)
	f.Add(genuine)
	lines := bytes.SplitAfter(genuine, []byte("\n"))
	f.Add(bytes.Join([][]byte{lines[0], lines[2], lines[1]}, nil))
	f.Add(genuine[:len(genuine)/2])
	f.Add([]byte{})
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := deriveKeys(fuzzKey)
		if err != nil {
			t.Fatal(err)
		}
		v := newVerifier(keys.mac, nil)
		err = v.scan(context.Background(), logFile{name: fileName(1), seq: 1}, bytes.NewReader(data))
		if err == nil {
			err = v.finish()
		}
		if err != nil {
			var te *TamperError
			if !errors.As(err, &te) {
				t.Fatalf("non-tamper error %v", err)
			}
			return
		}
		if !bytes.HasPrefix(genuine, data) || (len(data) > 0 && data[len(data)-1] != '\n') {
			t.Fatalf("verified a log that is not a clean prefix of the genuine one:\n%q", data)
		}
	})
}

// FuzzSummarize: never a panic, the result is bounded ASCII, and valid
// JSON is never called invalid.
func FuzzSummarize(f *testing.F) {
	for _, s := range []string{`{"amount": 120.5, "recipient": "DE89", "items": [1, 2, 3]}`, `[[[]]]`, `"x"`, `{"a":{"b":{"c":{"d":1}}}}`,
		`{"a":`, `nul`, "\xff", `{"é\u0000":"\ud800"}`, `1 2`, ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		s := Summarize(args)
		if len(s) > MaxSummaryBytes || s == "" {
			t.Fatalf("summary of %d bytes", len(s))
		}
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				t.Fatalf("summary %q is not ASCII", s)
			}
		}
		valid := json.Valid(args)
		if valid && strings.HasPrefix(s, "invalid(") {
			t.Fatalf("valid JSON %q summarized as %q", args, s)
		}
		if !valid && !strings.HasPrefix(s, "invalid(") && s != "empty" {
			t.Fatalf("invalid JSON %q summarized as %q", args, s)
		}
	})
}

// FuzzDigest: the canonical form is valid JSON, canonicalizing it again
// changes nothing, and it has the same digest as the original.
func FuzzDigest(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x"]}`, `{ "a" : "\u003c\u00e9" }`, `1.50`, `"\ud800"`, "\"\xff\"", `{"a":1,"a":2}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		d := Digest(fuzzKey, args)
		if len(d) != 64 {
			t.Fatalf("digest %q", d)
		}
		c, ok := canonicalJSON(args)
		if !ok {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form %q of %q is not valid JSON", c, args)
		}
		c2, ok := canonicalJSON(c)
		if !ok || !bytes.Equal(c, c2) {
			t.Fatalf("canonical form not stable: %q then %q", c, c2)
		}
		if Digest(fuzzKey, c) != d {
			t.Fatalf("canonical form %q has another digest than %q", c, args)
		}
	})
}
