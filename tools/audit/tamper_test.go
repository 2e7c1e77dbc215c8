package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
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

// oneFileLog writes n records to a single file and returns the directory,
// the file's path and a checkpoint of the head.
func oneFileLog(t *testing.T, n int) (dir, path string, cp audit.Checkpoint) {
	t.Helper()
	l, dir := openLog(t, audit.FileOptions{NoSync: true})
	writeN(t, l, 0, n)
	cp, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	names := logFiles(t, dir)
	if len(names) != 1 {
		t.Fatalf("got files %v, want one", names)
	}
	return dir, filepath.Join(dir, names[0]), cp
}

// TestTamperOneFile edits, deletes, inserts, reorders and truncates the
// records of a one-file log and checks that Verify reports each.
func TestTamperOneFile(t *testing.T) {
	const n = 10
	// Line indexes below are 0-based; record seq = index+1.
	tests := []struct {
		name   string
		mutate func(t *testing.T, lines [][]byte) [][]byte
		// withCheckpoint passes the head checkpoint to Verify.
		withCheckpoint bool
		// want is the kind reported, or 0 for a log that still verifies.
		want audit.TamperKind
		// wantSeq is the seq of the record the error names, if not 0.
		wantSeq uint64
	}{
		{
			name: "edit a value",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				lines[4] = replaceOnce(t, lines[4], `"tool":"refund"`, `"tool":"refunx"`)
				return lines
			},
			want: audit.TamperMAC, wantSeq: 5,
		},
		{
			name: "edit the outcome and keep the JSON valid",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				lines[7] = replaceOnce(t, lines[7], `"outcome":"ok"`, `"outcome":"error","error":"x"`)
				return lines
			},
			want: audit.TamperMAC, wantSeq: 8,
		},
		{
			name: "edit the mac",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				i := bytes.Index(lines[2], []byte(`"mac":"`)) + len(`"mac":"`)
				lines[2] = slices.Clone(lines[2])
				lines[2][i] = flipHex(lines[2][i])
				return lines
			},
			// The next record's prev no longer matches, but the edited
			// record itself is caught first.
			want: audit.TamperMAC, wantSeq: 3,
		},
		{
			name: "edit the seq",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				lines[5] = replaceOnce(t, lines[5], `"seq":6,`, `"seq":7,`)
				return lines
			},
			want: audit.TamperSequence, wantSeq: 7,
		},
		{
			name: "edit the prev",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				i := bytes.Index(lines[5], []byte(`"prev":"`)) + len(`"prev":"`)
				lines[5] = slices.Clone(lines[5])
				lines[5][i] = flipHex(lines[5][i])
				return lines
			},
			want: audit.TamperSequence, wantSeq: 6,
		},
		{
			name: "edit whitespace only",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				lines[3] = replaceOnce(t, lines[3], `"event":`, `"event": `)
				return lines
			},
			want: audit.TamperMAC, wantSeq: 4,
		},
		{
			name:   "delete a record",
			mutate: func(t *testing.T, lines [][]byte) [][]byte { return slices.Delete(lines, 4, 5) },
			want:   audit.TamperSequence, wantSeq: 6,
		},
		{
			name:   "delete the first record",
			mutate: func(t *testing.T, lines [][]byte) [][]byte { return lines[1:] },
			want:   audit.TamperFile, wantSeq: 2,
		},
		{
			name: "insert a forged record",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				// A copy of record 5 with another tool, in its place:
				// seq and prev fit, the MAC cannot.
				forged := replaceOnce(t, lines[4], `"tool":"refund"`, `"tool":"wire_transfer"`)
				return slices.Insert(lines, 4, forged)
			},
			want: audit.TamperMAC, wantSeq: 5,
		},
		{
			name: "insert a copy of a genuine record",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				return slices.Insert(lines, 6, lines[2])
			},
			want: audit.TamperSequence, wantSeq: 3,
		},
		{
			name: "replay the last record",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				return append(lines, lines[len(lines)-1])
			},
			want: audit.TamperSequence, wantSeq: n,
		},
		{
			name: "reorder two records",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				lines[3], lines[4] = lines[4], lines[3]
				return lines
			},
			want: audit.TamperSequence, wantSeq: 5,
		},
		{
			name: "move a record to the end",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				moved := lines[2]
				return append(slices.Delete(lines, 2, 3), moved)
			},
			want: audit.TamperSequence, wantSeq: 4,
		},
		{
			// Documented limit: without a checkpoint, a log cut at a record
			// boundary is a valid shorter log.
			name:   "truncate the tail cleanly without a checkpoint",
			mutate: func(t *testing.T, lines [][]byte) [][]byte { return lines[:n-3] },
			want:   0,
		},
		{
			name:           "truncate the tail cleanly with a checkpoint",
			mutate:         func(t *testing.T, lines [][]byte) [][]byte { return lines[:n-3] },
			withCheckpoint: true,
			want:           audit.TamperTruncated, wantSeq: n - 3,
		},
		{
			name:           "truncate the last record only, with a checkpoint",
			mutate:         func(t *testing.T, lines [][]byte) [][]byte { return lines[:n-1] },
			withCheckpoint: true,
			want:           audit.TamperTruncated, wantSeq: n - 1,
		},
		{
			name:           "empty the file, with a checkpoint",
			mutate:         func(t *testing.T, lines [][]byte) [][]byte { return nil },
			withCheckpoint: true,
			want:           audit.TamperTruncated,
		},
		{
			name: "truncate inside a record",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				last := lines[n-1]
				lines[n-1] = last[:len(last)/2]
				return lines
			},
			want: audit.TamperMalformed, wantSeq: 0,
		},
		{
			name: "append garbage",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				return append(lines, []byte("not a record\n"))
			},
			want: audit.TamperMalformed,
		},
		{
			name: "append binary",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				return append(lines, []byte{0, 0xff, 0xfe, '\n'})
			},
			want: audit.TamperMalformed,
		},
		{
			name: "insert a huge line",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				huge := append(bytes.Repeat([]byte("x"), audit.MaxLineBytes+10), '\n')
				return slices.Insert(lines, 2, huge)
			},
			want: audit.TamperMalformed,
		},
		{
			name: "insert an empty line",
			mutate: func(t *testing.T, lines [][]byte) [][]byte {
				return slices.Insert(lines, 2, []byte("\n"))
			},
			want: audit.TamperMalformed,
		},
		{
			name:           "nothing changed, with a checkpoint",
			mutate:         func(t *testing.T, lines [][]byte) [][]byte { return lines },
			withCheckpoint: true,
			want:           0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, path, cp := oneFileLog(t, n)
			writeLines(t, path, tt.mutate(t, readLines(t, path)))
			var opts audit.VerifyOptions
			if tt.withCheckpoint {
				opts.Checkpoint = &cp
			}
			rep, err := verify(dir, opts)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tt.withCheckpoint && !rep.CheckpointMatched {
					t.Error("CheckpointMatched = false")
				}
				return
			}
			te := wantTamper(t, err, tt.want)
			if te.File != filepath.Base(path) {
				t.Errorf("File = %q, want %q", te.File, filepath.Base(path))
			}
			if tt.wantSeq != 0 && te.Seq != tt.wantSeq {
				t.Errorf("Seq = %d, want %d (%v)", te.Seq, tt.wantSeq, err)
			}
		})
	}
}

// TestTruncateTailCleanlyIsInvisibleWithoutCheckpoint pins down the
// documented limit and its remedy on the same log.
func TestTruncateTailCleanlyIsInvisibleWithoutCheckpoint(t *testing.T) {
	dir, path, cp := oneFileLog(t, 6)
	writeLines(t, path, readLines(t, path)[:4])
	rep := mustVerify(t, dir, audit.VerifyOptions{})
	if rep.Records != 4 || rep.LastSeq != 4 {
		t.Fatalf("report %+v, want 4 records", rep)
	}
	_, err := verify(dir, audit.VerifyOptions{Checkpoint: &cp})
	wantTamper(t, err, audit.TamperTruncated)
}

// rotatedLog writes n records to files of about 2 KB (4 records each).
func rotatedLog(t *testing.T, n int, opts audit.FileOptions) (dir string, cp audit.Checkpoint) {
	t.Helper()
	opts.NoSync = true
	opts.MaxFileBytes = 2000
	l, dir := openLog(t, opts)
	writeN(t, l, 0, n)
	cp, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	return dir, cp
}

func TestRotationVerifies(t *testing.T) {
	dir, cp := rotatedLog(t, 25, audit.FileOptions{})
	rep := mustVerify(t, dir, audit.VerifyOptions{Checkpoint: &cp})
	files := logFiles(t, dir)
	if !slices.Equal(rep.Files, files) || len(files) < 4 {
		t.Fatalf("report files %v, directory %v", rep.Files, files)
	}
	if rep.FirstSeq != 1 || rep.LastSeq != cp.Seq || rep.Records != cp.Seq || rep.Head != cp.Head || !rep.CheckpointMatched {
		t.Fatalf("report %+v, checkpoint %+v", rep, cp)
	}
	// Each file but the first begins with a rotation record naming the
	// previous file and chained to its last record.
	recs := readRecords(t, dir)
	var prevMAC string
	for _, r := range recs {
		if r.Event == audit.EventRotated {
			if r.Prev != prevMAC {
				t.Errorf("rotation record %d: prev %s, want %s", r.Seq, r.Prev, prevMAC)
			}
		}
		prevMAC = r.MAC
	}
	for i, name := range files[1:] {
		first := readLines(t, filepath.Join(dir, name))[0]
		var r audit.Record
		if err := json.Unmarshal(first, &r); err != nil {
			t.Fatal(err)
		}
		if r.Event != audit.EventRotated || r.Detail[audit.DetailPrevFile] != files[i] {
			t.Errorf("%s begins with %+v", name, r)
		}
	}
}

// TestTamperFiles removes, renames, swaps and adds whole files of a
// rotated log.
func TestTamperFiles(t *testing.T) {
	tests := []struct {
		name           string
		mutate         func(t *testing.T, dir string, files []string)
		withCheckpoint bool
		want           audit.TamperKind
	}{
		{
			name:   "delete a middle file",
			mutate: func(t *testing.T, dir string, files []string) { remove(t, dir, files[1]) },
			want:   audit.TamperFile,
		},
		{
			name:   "delete the oldest file without retention",
			mutate: func(t *testing.T, dir string, files []string) { remove(t, dir, files[0]) },
			want:   audit.TamperFile,
		},
		{
			name: "delete the two oldest files without retention",
			mutate: func(t *testing.T, dir string, files []string) {
				remove(t, dir, files[0])
				remove(t, dir, files[1])
			},
			want: audit.TamperFile,
		},
		{
			name:   "delete the newest file without a checkpoint",
			mutate: func(t *testing.T, dir string, files []string) { remove(t, dir, files[len(files)-1]) },
			want:   0, // the documented limit
		},
		{
			name:           "delete the newest file with a checkpoint",
			mutate:         func(t *testing.T, dir string, files []string) { remove(t, dir, files[len(files)-1]) },
			withCheckpoint: true,
			want:           audit.TamperTruncated,
		},
		{
			name: "rename a file",
			mutate: func(t *testing.T, dir string, files []string) {
				// audit-N.jsonl -> audit-(N+1).jsonl keeps the order.
				var seq uint64
				if _, err := fmt.Sscanf(files[2], "audit-%d.jsonl", &seq); err != nil {
					t.Fatal(err)
				}
				renamed := fmt.Sprintf("audit-%020d.jsonl", seq+1)
				if err := os.Rename(filepath.Join(dir, files[2]), filepath.Join(dir, renamed)); err != nil {
					t.Fatal(err)
				}
			},
			want: audit.TamperFile,
		},
		{
			name: "swap the contents of two files",
			mutate: func(t *testing.T, dir string, files []string) {
				a, b := filepath.Join(dir, files[1]), filepath.Join(dir, files[2])
				da, _ := os.ReadFile(a)
				db, _ := os.ReadFile(b)
				writeLines(t, a, [][]byte{db})
				writeLines(t, b, [][]byte{da})
			},
			want: audit.TamperFile,
		},
		{
			name: "add a copy of a file under a new name",
			mutate: func(t *testing.T, dir string, files []string) {
				data, _ := os.ReadFile(filepath.Join(dir, files[1]))
				writeLines(t, filepath.Join(dir, "audit-00000000000099999999.jsonl"), [][]byte{data})
			},
			want: audit.TamperFile,
		},
		{
			name: "empty a middle file",
			mutate: func(t *testing.T, dir string, files []string) {
				writeLines(t, filepath.Join(dir, files[1]), nil)
			},
			want: audit.TamperFile,
		},
		{
			name: "files that are not part of the log are ignored",
			mutate: func(t *testing.T, dir string, files []string) {
				writeLines(t, filepath.Join(dir, "notes.txt"), [][]byte{[]byte("hello\n")})
				writeLines(t, filepath.Join(dir, "audit-x.jsonl"), [][]byte{[]byte("junk\n")})
			},
			withCheckpoint: true,
			want:           0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, cp := rotatedLog(t, 25, audit.FileOptions{})
			tt.mutate(t, dir, logFiles(t, dir))
			var opts audit.VerifyOptions
			if tt.withCheckpoint {
				opts.Checkpoint = &cp
			}
			_, err := verify(dir, opts)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantTamper(t, err, tt.want)
		})
	}
}

func TestRetention(t *testing.T) {
	dir, cp := rotatedLog(t, 50, audit.FileOptions{MaxFiles: 3})
	files := logFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("files %v, want 3", files)
	}
	rep := mustVerify(t, dir, audit.VerifyOptions{Checkpoint: &cp})
	if rep.FirstSeq <= 1 || rep.LastSeq != cp.Seq || !rep.CheckpointMatched {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Deleted) == 0 || slices.ContainsFunc(rep.Deleted, func(d string) bool { return slices.Contains(files, d) }) {
		t.Fatalf("deleted %v, kept %v", rep.Deleted, files)
	}
	// The retention record that lets the log begin where it does.
	var found bool
	for _, r := range readRecords(t, dir) {
		if r.Event == audit.EventRetention && r.Detail[audit.DetailThroughMAC] == readRecords(t, dir)[0].Prev {
			found = true
		}
	}
	if !found {
		t.Fatal("no retention record for the first file kept")
	}

	t.Run("a kept file removed", func(t *testing.T) {
		remove(t, dir, files[0])
		_, err := verify(dir, audit.VerifyOptions{})
		te := wantTamper(t, err, audit.TamperFile)
		if te.File != files[1] {
			t.Errorf("File = %s, want %s", te.File, files[1])
		}
	})
}

func TestRetentionByAge(t *testing.T) {
	l, dir := openLog(t, audit.FileOptions{NoSync: true, MaxFileBytes: 2000, MaxAge: time.Hour})
	for i := 0; len(logFiles(t, dir)) < 4; i++ {
		writeN(t, l, i, i+1)
	}
	files := logFiles(t, dir)
	old := time.Now().Add(-2 * time.Hour)
	for _, f := range files[:2] {
		if err := os.Chtimes(filepath.Join(dir, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	// Fill the newest file until the next rotation applies retention.
	for i := 100; len(logFiles(t, dir)) >= len(files); i++ {
		writeN(t, l, i, i+1)
	}
	closeLog(t, l)
	kept := logFiles(t, dir)
	if slices.Contains(kept, files[0]) || slices.Contains(kept, files[1]) || !slices.Contains(kept, files[2]) {
		t.Fatalf("before %v, after %v", files, kept)
	}
	rep := mustVerify(t, dir, audit.VerifyOptions{})
	if !slices.Equal(rep.Deleted, files[:2]) {
		t.Fatalf("deleted %v, want %v", rep.Deleted, files[:2])
	}
}

func TestCheckpoints(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	for _, signed := range []bool{false, true} {
		name := "hmac"
		var opts audit.VerifyOptions
		fopts := audit.FileOptions{NoSync: true}
		if signed {
			name = "ed25519"
			fopts.SigningKey = priv
			opts.PublicKey = pub
		}
		t.Run(name, func(t *testing.T) {
			l, dir := openLog(t, fopts)
			writeN(t, l, 0, 8)
			cp, err := l.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			closeLog(t, l)
			wantAlg := map[bool]string{false: audit.AlgHMACSHA256, true: audit.AlgEd25519}[signed]
			if cp.Alg != wantAlg || cp.Seq != 8 {
				t.Fatalf("checkpoint %+v", cp)
			}
			// Stored as JSON elsewhere and read back.
			data, err := json.Marshal(cp)
			if err != nil {
				t.Fatal(err)
			}
			var stored audit.Checkpoint
			if err := json.Unmarshal(data, &stored); err != nil {
				t.Fatal(err)
			}
			opts.Checkpoint = &stored
			if rep := mustVerify(t, dir, opts); !rep.CheckpointMatched {
				t.Fatal("CheckpointMatched = false")
			}

			forgeries := map[string]func(c *audit.Checkpoint){
				"seq":            func(c *audit.Checkpoint) { c.Seq-- },
				"head":           func(c *audit.Checkpoint) { c.Head = strings.Repeat("ab", 32) },
				"file":           func(c *audit.Checkpoint) { c.File = "audit-00000000000000000002.jsonl" },
				"time":           func(c *audit.Checkpoint) { c.Time = c.Time.Add(time.Hour) },
				"sig":            func(c *audit.Checkpoint) { c.Sig = strings.Repeat("0", len(c.Sig)) },
				"alg":            func(c *audit.Checkpoint) { c.Alg = "none" },
				"malformed head": func(c *audit.Checkpoint) { c.Head = "xyz" },
				"malformed file": func(c *audit.Checkpoint) { c.File = "../../etc/passwd" },
			}
			for what, forge := range forgeries {
				t.Run("forged "+what, func(t *testing.T) {
					c := stored
					forge(&c)
					opts := opts
					opts.Checkpoint = &c
					_, err := verify(dir, opts)
					wantTamper(t, err, audit.TamperCheckpoint)
				})
			}
			if signed {
				opts.Checkpoint = &stored
				opts.PublicKey = otherPub
				_, err := verify(dir, opts)
				wantTamper(t, err, audit.TamperCheckpoint)

				// Without the public key Verify cannot check it: a
				// configuration error, not a finding.
				_, err = verify(dir, audit.VerifyOptions{Checkpoint: &stored})
				if err == nil || errors.Is(err, audit.ErrTampered) {
					t.Fatalf("Verify without a public key: %v", err)
				}
			} else {
				// A public key given means HMAC checkpoints are refused.
				opts.Checkpoint = &stored
				opts.PublicKey = pub
				_, err := verify(dir, opts)
				wantTamper(t, err, audit.TamperCheckpoint)
			}
		})
	}
}

// TestCheckpointCatchesRewriteWithKey: someone holding the chain key writes
// a different, internally valid log; an earlier checkpoint exposes it.
func TestCheckpointCatchesRewriteWithKey(t *testing.T) {
	genuine, gdir := openLog(t, audit.FileOptions{NoSync: true})
	writeN(t, genuine, 0, 6)
	cp, err := genuine.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	closeLog(t, genuine)

	rewritten, rdir := openLog(t, audit.FileOptions{NoSync: true})
	for i := 0; i < 6; i++ {
		r := testRecord(i)
		if i == 3 {
			r.Outcome = "denied" // the record the rewrite is about
		}
		if err := rewritten.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, rewritten)
	mustVerify(t, gdir, audit.VerifyOptions{Checkpoint: &cp})
	mustVerify(t, rdir, audit.VerifyOptions{}) // valid on its own
	_, err = verify(rdir, audit.VerifyOptions{Checkpoint: &cp})
	wantTamper(t, err, audit.TamperCheckpoint)
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func replaceOnce(t *testing.T, line []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(line, []byte(old)) {
		t.Fatalf("%q not in %s", old, line)
	}
	return bytes.Replace(line, []byte(old), []byte(new), 1)
}

func flipHex(c byte) byte {
	if c == '0' {
		return '1'
	}
	return '0'
}
