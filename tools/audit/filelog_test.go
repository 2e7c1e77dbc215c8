package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keel-go/keel/tools/audit"
)

func TestFileLogWritesChain(t *testing.T) {
	l, dir := openLog(t, audit.FileOptions{})
	ctx := context.Background()
	writeN(t, l, 0, 5)
	// The caller's chain fields are ignored.
	r := testRecord(5)
	r.Seq, r.Prev, r.MAC = 99, "forged", "forged"
	if err := l.Write(ctx, r); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)

	recs := readRecords(t, dir)
	if len(recs) != 6 {
		t.Fatalf("%d records, want 6", len(recs))
	}
	prev := fmt.Sprintf("%064d", 0)
	for i, got := range recs {
		if got.Seq != uint64(i+1) || got.Prev != prev || len(got.MAC) != 64 {
			t.Fatalf("record %d: seq %d prev %s mac %s", i, got.Seq, got.Prev, got.MAC)
		}
		prev = got.MAC
		want := testRecord(i)
		want.Seq, want.Prev, want.MAC, want.Time = got.Seq, got.Prev, got.MAC, got.Time
		if !recordsEqual(got, want) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got, want)
		}
		if got.Time.IsZero() || got.Time.Location() != time.UTC {
			t.Errorf("record %d: time %v, want a UTC time", i, got.Time)
		}
	}
	rep := mustVerify(t, dir, audit.VerifyOptions{})
	if rep.Records != 6 || rep.FirstSeq != 1 || rep.LastSeq != 6 || rep.Head != recs[5].MAC || len(rep.Files) != 1 {
		t.Fatalf("report %+v", rep)
	}
}

func TestFileLogRefuses(t *testing.T) {
	ctx := context.Background()
	if _, err := audit.OpenFileLog(t.TempDir(), []byte("short"), audit.FileOptions{}); !errors.Is(err, audit.ErrKeyTooShort) {
		t.Errorf("OpenFileLog with a short key: %v", err)
	}
	if _, err := audit.Verify(ctx, t.TempDir(), []byte("short"), audit.VerifyOptions{}); !errors.Is(err, audit.ErrKeyTooShort) {
		t.Errorf("Verify with a short key: %v", err)
	}
	if _, err := audit.OpenFileLog(t.TempDir(), testKey, audit.FileOptions{SigningKey: make([]byte, 5)}); err == nil {
		t.Error("OpenFileLog accepted a malformed signing key")
	}

	// MaxFileAge: a failed first record must not make the empty first
	// file look old enough to rotate.
	l, dir := openLog(t, audit.FileOptions{NoSync: true, MaxFileAge: time.Hour})
	tests := []struct {
		name string
		rec  audit.Record
		want error
	}{
		{"no event", audit.Record{Tool: "refund"}, nil},
		{"rotated is reserved", audit.Record{Event: audit.EventRotated}, nil},
		{"retention is reserved", audit.Record{Event: audit.EventRetention, Detail: map[string]string{audit.DetailDeleted: "x"}}, nil},
		{"args that are not JSON", audit.Record{Event: audit.EventOutcome, Args: []byte("{oops")}, nil},
		{"too large", audit.Record{Event: audit.EventOutcome, Error: string(bytes.Repeat([]byte("e"), audit.MaxLineBytes))}, audit.ErrRecordTooLarge},
	}
	for _, tt := range tests {
		err := l.Write(ctx, tt.rec)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: Write = %v, want an error (%v)", tt.name, err, tt.want)
		}
	}
	// None of them left a trace, and the log goes on.
	writeN(t, l, 0, 2)
	closeLog(t, l)
	if rep := mustVerify(t, dir, audit.VerifyOptions{}); rep.Records != 2 {
		t.Fatalf("%d records, want 2", rep.Records)
	}
	if err := l.Write(ctx, testRecord(9)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Checkpoint(); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Checkpoint after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestFileLogLargestRecord(t *testing.T) {
	l, dir := openLog(t, audit.FileOptions{NoSync: true})
	// Full arguments just under the line limit are written and verified.
	big := []byte(`{"blob":"` + string(bytes.Repeat([]byte("a"), audit.MaxLineBytes-1024)) + `"}`)
	r := testRecord(0)
	r.SetArgs(argsKey, big, true)
	if err := l.Write(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	mustVerify(t, dir, audit.VerifyOptions{})
}

func TestFileLogReopen(t *testing.T) {
	l, dir := openLog(t, audit.FileOptions{})
	writeN(t, l, 0, 5)
	closeLog(t, l)

	l, err := audit.OpenFileLog(dir, testKey, audit.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 5, 10)
	closeLog(t, l)
	rep := mustVerify(t, dir, audit.VerifyOptions{})
	if rep.Records != 10 || len(rep.Files) != 1 {
		t.Fatalf("report %+v, want 10 records in one file", rep)
	}

	t.Run("after rotation", func(t *testing.T) {
		dir, _ := rotatedLog(t, 20, audit.FileOptions{MaxFiles: 2})
		l, err := audit.OpenFileLog(dir, testKey, audit.FileOptions{NoSync: true, MaxFileBytes: 2000, MaxFiles: 2})
		if err != nil {
			t.Fatal(err)
		}
		writeN(t, l, 20, 40)
		cp, err := l.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		closeLog(t, l)
		rep := mustVerify(t, dir, audit.VerifyOptions{Checkpoint: &cp})
		if len(rep.Files) != 2 || !rep.CheckpointMatched {
			t.Fatalf("report %+v", rep)
		}
	})

	t.Run("with a wrong key", func(t *testing.T) {
		_, err := audit.OpenFileLog(dir, bytes.Repeat([]byte("k"), 32), audit.FileOptions{})
		wantTamper(t, err, audit.TamperMAC)
	})
}

func TestFileLogReopenTampered(t *testing.T) {
	dir, path, _ := oneFileLog(t, 5)
	lines := readLines(t, path)
	lines[4] = bytes.Replace(lines[4], []byte(`"ok"`), []byte(`"no"`), 1)
	writeLines(t, path, lines)
	_, err := audit.OpenFileLog(dir, testKey, audit.FileOptions{})
	wantTamper(t, err, audit.TamperMAC)
	// Even the repair option refuses: it only cuts an incomplete line.
	_, err = audit.OpenFileLog(dir, testKey, audit.FileOptions{RepairTornWrite: true})
	wantTamper(t, err, audit.TamperMAC)
}

func TestFileLogTornWrite(t *testing.T) {
	dir, path, _ := oneFileLog(t, 5)
	lines := readLines(t, path)
	lines[4] = lines[4][:40] // a crash in the middle of the last write
	writeLines(t, path, lines)

	_, err := audit.OpenFileLog(dir, testKey, audit.FileOptions{})
	wantTamper(t, err, audit.TamperMalformed)

	core, logs := observer.New(zapcore.WarnLevel)
	l, err := audit.OpenFileLog(dir, testKey, audit.FileOptions{RepairTornWrite: true, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 10, 12)
	closeLog(t, l)
	if logs.Len() != 1 {
		t.Errorf("%d warnings, want 1 about the repair", logs.Len())
	}
	rep := mustVerify(t, dir, audit.VerifyOptions{})
	if rep.Records != 6 || rep.LastSeq != 6 {
		t.Fatalf("report %+v, want the 4 complete records and 2 new ones", rep)
	}
}

// TestFileLogEmptyLastFile: a rotation that crashed after creating the new
// file and before writing to it.
func TestFileLogEmptyLastFile(t *testing.T) {
	dir, _ := rotatedLog(t, 12, audit.FileOptions{})
	files := logFiles(t, dir)
	rep := mustVerify(t, dir, audit.VerifyOptions{})
	empty := fmt.Sprintf("audit-%020d.jsonl", rep.LastSeq+1)
	writeLines(t, filepath.Join(dir, empty), nil)
	mustVerify(t, dir, audit.VerifyOptions{}) // harmless at the end

	l, err := audit.OpenFileLog(dir, testKey, audit.FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 12, 13)
	closeLog(t, l)
	if got := logFiles(t, dir); !slices.Equal(got, files) {
		t.Fatalf("files %v, want %v (empty one removed, last one continued)", got, files)
	}
	mustVerify(t, dir, audit.VerifyOptions{})
}

func TestFileLogRotationByAge(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l, dir := openLog(t, audit.FileOptions{NoSync: true, MaxFileAge: time.Hour, Now: clock})
	writeN(t, l, 0, 3)
	now = now.Add(59 * time.Minute)
	writeN(t, l, 3, 4)
	if n := len(logFiles(t, dir)); n != 1 {
		t.Fatalf("%d files before the hour, want 1", n)
	}
	now = now.Add(time.Minute)
	writeN(t, l, 4, 5)
	closeLog(t, l)
	if n := len(logFiles(t, dir)); n != 2 {
		t.Fatalf("%d files after the hour, want 2", n)
	}
	recs := readRecords(t, dir)
	if recs[4].Event != audit.EventRotated || !recs[4].Time.Equal(now) {
		t.Fatalf("record 5 is %+v, want the rotation at %v", recs[4], now)
	}
	mustVerify(t, dir, audit.VerifyOptions{})
}

func TestFileLogOnCheckpoint(t *testing.T) {
	var got []audit.Checkpoint
	l, dir := openLog(t, audit.FileOptions{NoSync: true, CheckpointEvery: 10, OnCheckpoint: func(c audit.Checkpoint) {
		got = append(got, c)
	}})
	writeN(t, l, 0, 25)
	closeLog(t, l)
	var seqs []uint64
	for _, c := range got {
		seqs = append(seqs, c.Seq)
	}
	if !slices.Equal(seqs, []uint64{10, 20, 25}) {
		t.Fatalf("checkpoints at %v, want 10, 20 and 25 (on Close)", seqs)
	}
	for _, c := range got {
		if rep := mustVerify(t, dir, audit.VerifyOptions{Checkpoint: &c}); !rep.CheckpointMatched {
			t.Errorf("checkpoint %d not matched", c.Seq)
		}
	}

	t.Run("only on close", func(t *testing.T) {
		var n int
		l, _ := openLog(t, audit.FileOptions{NoSync: true, CheckpointEvery: -1, OnCheckpoint: func(audit.Checkpoint) { n++ }})
		writeN(t, l, 0, 2500)
		closeLog(t, l)
		if n != 1 {
			t.Fatalf("%d checkpoints, want 1", n)
		}
	})
}

func TestFileLogEmpty(t *testing.T) {
	l, dir := openLog(t, audit.FileOptions{})
	cp, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	if len(logFiles(t, dir)) != 0 || cp.Seq != 0 {
		t.Fatalf("files %v, checkpoint %+v", logFiles(t, dir), cp)
	}
	if rep := mustVerify(t, dir, audit.VerifyOptions{Checkpoint: &cp}); rep.Records != 0 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := audit.Verify(context.Background(), filepath.Join(dir, "missing"), testKey, audit.VerifyOptions{}); err == nil || errors.Is(err, audit.ErrTampered) {
		t.Fatalf("Verify of a missing directory: %v", err)
	}
}

func TestFileLogConcurrent(t *testing.T) {
	const writers, each = 8, 50
	var cps []audit.Checkpoint
	var mu sync.Mutex
	l, dir := openLog(t, audit.FileOptions{NoSync: true, MaxFileBytes: 8000, CheckpointEvery: 37,
		OnCheckpoint: func(c audit.Checkpoint) { mu.Lock(); cps = append(cps, c); mu.Unlock() }})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.Write(context.Background(), testRecord(w*1000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	closeLog(t, l)
	last := cps[len(cps)-1]
	rep := mustVerify(t, dir, audit.VerifyOptions{Checkpoint: &last})
	if !rep.CheckpointMatched || len(rep.Files) < 2 {
		t.Fatalf("report %+v", rep)
	}
	seen := map[string]bool{}
	for _, r := range readRecords(t, dir) {
		if r.Event == audit.EventOutcome {
			seen[r.CallID] = true
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct calls recorded, want %d", len(seen), writers*each)
	}
	for i := 1; i < len(cps); i++ {
		if cps[i].Seq <= cps[i-1].Seq {
			t.Fatalf("checkpoints out of order: %d then %d", cps[i-1].Seq, cps[i].Seq)
		}
	}
}

func TestFileLogCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	l, err := audit.OpenFileLog(dir, testKey, audit.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 0, 1)
	closeLog(t, l)
	info, err := os.Stat(filepath.Join(dir, logFiles(t, dir)[0]))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("log file mode %v, want no access for group and others", perm)
	}
}

// recordsEqual compares records field by field (Args as bytes).
func recordsEqual(a, b audit.Record) bool {
	return a.Seq == b.Seq && a.Prev == b.Prev && a.Time.Equal(b.Time) && a.Event == b.Event &&
		a.Tenant == b.Tenant && a.User == b.User && a.RequestID == b.RequestID && a.CallID == b.CallID &&
		a.Tool == b.Tool && a.Risk == b.Risk && a.Decision == b.Decision && a.Rule == b.Rule &&
		a.Approver == b.Approver && a.Outcome == b.Outcome && a.Duration == b.Duration && a.Error == b.Error &&
		a.ArgsDigest == b.ArgsDigest && a.ArgsSummary == b.ArgsSummary && bytes.Equal(a.Args, b.Args) &&
		fmt.Sprint(a.Detail) == fmt.Sprint(b.Detail) && a.MAC == b.MAC
}

func TestVerifyCanceled(t *testing.T) {
	dir, _ := rotatedLog(t, 12, audit.FileOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := audit.Verify(ctx, dir, testKey, audit.VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a canceled context: %v", err)
	}
}
