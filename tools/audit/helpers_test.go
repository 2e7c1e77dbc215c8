package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keel-go/keel/tools/audit"
)

// testKey is the chain key of the tests; argsKey keys argument digests.
var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	argsKey = []byte("fedcba9876543210fedcba9876543210")
)

// testRecord is a realistic outcome record, different for each i.
func testRecord(i int) audit.Record {
	r := audit.Record{
		Event:     audit.EventOutcome,
		Tenant:    "acme",
		User:      "u-42",
		RequestID: fmt.Sprintf("req-%d", i),
		CallID:    fmt.Sprintf("call-%d", i),
		Tool:      "refund",
		Risk:      "high",
		Decision:  "allow",
		Rule:      "refunds-under-100",
		Outcome:   "ok",
		Duration:  time.Duration(i+1) * 1500 * time.Microsecond,
	}
	r.SetArgs(argsKey, fmt.Appendf(nil, `{"order":"ord-%d","amount":%d.5,"reason":"damaged"}`, i, i), false)
	return r
}

// openLog opens a log in a new temporary directory.
func openLog(t testing.TB, opts audit.FileOptions) (*audit.FileLog, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.OpenFileLog(dir, testKey, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, dir
}

// writeN writes records from..to-1.
func writeN(t testing.TB, l *audit.FileLog, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := l.Write(context.Background(), testRecord(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

func closeLog(t testing.TB, l *audit.FileLog) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// logFiles returns the log file names in dir, sorted.
func logFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	slices.Sort(names)
	return names
}

// readLines returns the lines of a file, each with its newline.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(data, []byte("\n"))[:bytes.Count(data, []byte("\n"))]
}

func writeLines(t testing.TB, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readRecords decodes every record of the log in dir, oldest first.
func readRecords(t testing.TB, dir string) []audit.Record {
	t.Helper()
	var recs []audit.Record
	for _, name := range logFiles(t, dir) {
		for _, line := range readLines(t, filepath.Join(dir, name)) {
			var r audit.Record
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			recs = append(recs, r)
		}
	}
	return recs
}

// verify runs Verify with a background context.
func verify(dir string, opts audit.VerifyOptions) (audit.Report, error) {
	return audit.Verify(context.Background(), dir, testKey, opts)
}

// mustVerify fails the test unless the log in dir verifies.
func mustVerify(t testing.TB, dir string, opts audit.VerifyOptions) audit.Report {
	t.Helper()
	rep, err := verify(dir, opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

// wantTamper fails the test unless err is a *TamperError of kind.
func wantTamper(t testing.TB, err error, kind audit.TamperKind) *audit.TamperError {
	t.Helper()
	var te *audit.TamperError
	if !errors.As(err, &te) {
		t.Fatalf("got error %v, want a *TamperError of kind %v", err, kind)
	}
	if !errors.Is(err, audit.ErrTampered) {
		t.Errorf("errors.Is(%v, ErrTampered) = false", err)
	}
	if te.Kind != kind {
		t.Fatalf("got %v (kind %v), want kind %v", err, te.Kind, kind)
	}
	if te.Reason == "" || !strings.Contains(te.Error(), te.Reason) {
		t.Errorf("error %q does not explain itself", te.Error())
	}
	return te
}
