package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrTampered matches every *TamperError with errors.Is.
var ErrTampered = errors.New("audit: log does not verify")

// TamperKind says what Verify found wrong.
type TamperKind uint8

// The kinds of findings.
const (
	// TamperMalformed: a line is not a record (not JSON, no MAC, too
	// long), or the last line is incomplete (a torn write, or a
	// truncation inside a record).
	TamperMalformed TamperKind = iota + 1
	// TamperMAC: a record's MAC does not match its content: the record was
	// edited, or forged by someone without the key.
	TamperMAC
	// TamperSequence: Seq or Prev breaks the chain: records deleted,
	// inserted, duplicated or reordered.
	TamperSequence
	// TamperFile: a file is missing (deleted without a retention record),
	// renamed, empty, added, or does not begin with a rotation record.
	TamperFile
	// TamperTruncated: the log ends before the checkpoint's Seq.
	TamperTruncated
	// TamperCheckpoint: the checkpoint's signature is invalid, or the log
	// holds a different record at the checkpoint's Seq (rewritten by
	// someone holding the key).
	TamperCheckpoint
)

// String returns the kind's name.
func (k TamperKind) String() string {
	switch k {
	case TamperMalformed:
		return "malformed"
	case TamperMAC:
		return "mac_mismatch"
	case TamperSequence:
		return "sequence"
	case TamperFile:
		return "file"
	case TamperTruncated:
		return "truncated"
	case TamperCheckpoint:
		return "checkpoint"
	}
	return "unknown"
}

// TamperError is what Verify (and OpenFileLog, for the file it would
// append to) returns when a log does not verify: where, and why.
type TamperError struct {
	Kind TamperKind
	// File is the log file's name (not its path), when the finding is in
	// one.
	File string
	// Line is the 1-based line number in File, or 0.
	Line int
	// Seq is the Seq of the record concerned, or 0 when unknown.
	Seq uint64
	// Reason explains the finding.
	Reason string
}

// Error implements error.
func (e *TamperError) Error() string {
	var b strings.Builder
	b.WriteString("audit: log does not verify (")
	b.WriteString(e.Kind.String())
	b.WriteString(")")
	if e.File != "" {
		b.WriteString(": ")
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(" line ")
			b.WriteString(strconv.Itoa(e.Line))
		}
	}
	if e.Seq > 0 {
		b.WriteString(" seq ")
		b.WriteString(strconv.FormatUint(e.Seq, 10))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Is reports whether target is ErrTampered.
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Checkpoint is the last checkpoint stored away from the log. Without
	// one, records removed cleanly from the end of the log (whole lines,
	// or whole newest files) cannot be detected: what is left is a valid,
	// shorter chain. With one, Verify checks its signature, that the log
	// reaches its Seq, and that the record there has its Head.
	Checkpoint *Checkpoint
	// PublicKey verifies checkpoints signed with ed25519. When it is set,
	// a checkpoint signed any other way is rejected, so that someone
	// holding the chain key cannot substitute an HMAC-signed one.
	PublicKey ed25519.PublicKey
}

// Report describes a verified log. Verify returns what it had checked so
// far along with an error.
type Report struct {
	// Files are the log files, oldest first.
	Files []string
	// Records is the number of records checked.
	Records uint64
	// FirstSeq and LastSeq are the Seq of the first and last records.
	FirstSeq, LastSeq uint64
	// Head is the MAC of the last record, in hex.
	Head string
	// Deleted are the files that retention records say were deleted, as
	// far as the files kept tell.
	Deleted []string
	// CheckpointMatched reports whether the checkpoint's record was among
	// those checked and matched. A checkpoint older than the oldest file
	// kept cannot be matched and is only checked for its signature.
	CheckpointMatched bool
}

// Verify checks the audit log in dir against key (the key it was written
// with): every record's MAC, the Seq and Prev links between records and
// across files, that each file begins where the previous one ended, that
// files missing at the start of the log were deleted by retention (as a
// retention record in the files kept says), and, given the last
// checkpoint, that nothing was cut from the end.
//
// Each problem is a *TamperError (errors.Is(err, ErrTampered)) naming the
// file, line and Seq; Verify stops at the first one. Other errors are
// I/O or configuration errors. Files whose names do not follow the log's
// pattern are not looked at. An empty directory verifies as an empty log,
// unless the checkpoint says otherwise.
//
// Verify reads the files one line at a time and never holds a whole file
// in memory; a line over MaxLineBytes is reported, not read. ctx cancels a
// long verification.
func Verify(ctx context.Context, dir string, key []byte, opts VerifyOptions) (Report, error) {
	keys, err := deriveKeys(key)
	if err != nil {
		return Report{}, err
	}
	if opts.PublicKey != nil && len(opts.PublicKey) != ed25519.PublicKeySize {
		return Report{}, fmt.Errorf("audit: public key is %d bytes, want %d", len(opts.PublicKey), ed25519.PublicKeySize)
	}
	if cp := opts.Checkpoint; cp != nil {
		if err := verifyCheckpoint(cp, keys.checkpoint, opts.PublicKey); err != nil {
			return Report{}, err
		}
	}
	files, err := listFiles(dir)
	if err != nil {
		return Report{}, err
	}
	v := newVerifier(keys.mac, opts.Checkpoint)
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return v.result(), err
		}
		if err := v.scanPath(ctx, dir, f); err != nil {
			return v.result(), err
		}
		if v.fileRecords == 0 && i < len(files)-1 {
			// Only the newest file may be empty (a rotation interrupted
			// before its first record).
			return v.result(), &TamperError{Kind: TamperFile, File: f.name, Reason: "empty file in the middle of the log"}
		}
	}
	return v.result(), v.finish()
}

// boundary is where the oldest file kept begins when it does not begin the
// chain: the file before it and the Seq and MAC that file ended with.
type boundary struct {
	file     string // the oldest file kept
	prevFile string
	seq      uint64
	mac      [32]byte
}

// retention is what a retention record says.
type retention struct {
	deleted []string
	seq     uint64
	mac     [32]byte
}

// verifier walks the files of a log in order.
type verifier struct {
	h  hash.Hash
	cp *Checkpoint

	started   bool
	seq       uint64
	head      [32]byte
	prevFile  string
	boundary  *boundary
	retained  []retention
	report    Report
	lastFile  string
	lastLine  int
	cpMatched bool

	// About the file scanned last, for OpenFileLog.
	fileRecords int
	fileStart   time.Time
	goodOffset  int64 // bytes of complete, verified lines
	torn        bool  // the file ends in an incomplete line
}

func newVerifier(macKey []byte, cp *Checkpoint) *verifier {
	return &verifier{h: hmac.New(sha256.New, macKey), cp: cp}
}

func (v *verifier) result() Report {
	r := v.report
	if v.started {
		r.Head = hex.EncodeToString(v.head[:])
	}
	r.CheckpointMatched = v.cpMatched
	return r
}

func (v *verifier) scanPath(ctx context.Context, dir string, f logFile) error {
	file, err := os.Open(filepath.Join(dir, f.name))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer file.Close()
	return v.scan(ctx, f, file)
}

// scan checks one file, continuing the chain from the files before it.
func (v *verifier) scan(ctx context.Context, f logFile, r io.Reader) error {
	v.report.Files = append(v.report.Files, f.name)
	v.fileRecords, v.goodOffset, v.torn = 0, 0, false
	v.lastFile, v.lastLine = f.name, 0
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		if lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, err := readLine(br, buf)
		buf = line
		switch {
		case errors.Is(err, errLineTooLong):
			return &TamperError{Kind: TamperMalformed, File: f.name, Line: lineNo,
				Reason: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
		case err == io.EOF:
			if len(line) == 0 {
				v.prevFile = f.name
				return nil
			}
			v.torn = true
			return &TamperError{Kind: TamperMalformed, File: f.name, Line: lineNo,
				Reason: "incomplete last line: a torn write, or the file was cut inside a record"}
		case err != nil:
			return fmt.Errorf("audit: reading %s: %w", f.name, err)
		}
		p, err := parseLine(line[:len(line)-1])
		if err != nil {
			return &TamperError{Kind: TamperMalformed, File: f.name, Line: lineNo, Reason: "not a valid record: " + err.Error()}
		}
		if err := v.record(f, lineNo, &p); err != nil {
			return err
		}
		v.goodOffset += int64(len(line))
		v.fileRecords++
		v.lastLine = lineNo
	}
}

// record checks one parsed line and advances the chain.
func (v *verifier) record(f logFile, lineNo int, p *parsedLine) error {
	rec := &p.rec
	fail := func(kind TamperKind, format string, args ...any) error {
		return &TamperError{Kind: kind, File: f.name, Line: lineNo, Seq: rec.Seq, Reason: fmt.Sprintf(format, args...)}
	}
	if lineNo == 1 {
		v.fileStart = rec.Time
		if rec.Seq != f.seq {
			return fail(TamperFile, "the file name announces seq %d but the first record is seq %d: file renamed or replaced", f.seq, rec.Seq)
		}
		if !v.started {
			if rec.Seq == 1 {
				if p.prev != zeroHead {
					return fail(TamperSequence, "the first record of the log does not start the chain (prev is not zero)")
				}
			} else {
				prevFile := rec.Detail[DetailPrevFile]
				if rec.Event != EventRotated || prevFile == "" {
					return fail(TamperFile, "the oldest file begins at seq %d without a rotation record: records before it were removed", rec.Seq)
				}
				v.boundary = &boundary{file: f.name, prevFile: prevFile, seq: rec.Seq - 1, mac: p.prev}
			}
			v.started = true
			v.seq, v.head = rec.Seq-1, p.prev
			v.report.FirstSeq = rec.Seq
		} else {
			if rec.Event != EventRotated {
				return fail(TamperFile, "the file does not begin with a rotation record: a file was added, removed or renamed")
			}
			if pf := rec.Detail[DetailPrevFile]; pf != v.prevFile {
				return fail(TamperFile, "the file follows %s but names %q as its predecessor: a file was deleted, added or renamed", v.prevFile, pf)
			}
		}
	}
	if want := v.seq + 1; rec.Seq != want {
		if rec.Seq < want {
			return fail(TamperSequence, "seq %d after seq %d: records reordered or duplicated", rec.Seq, v.seq)
		}
		return fail(TamperSequence, "seq %d after seq %d: records deleted or reordered", rec.Seq, v.seq)
	}
	if p.prev != v.head {
		return fail(TamperSequence, "prev is not the MAC of seq %d: a record was inserted, deleted or replaced", v.seq)
	}
	var mac [32]byte
	recordMAC(v.h, &v.head, p.body, &mac)
	if !hmac.Equal(mac[:], p.mac[:]) {
		return fail(TamperMAC, "MAC mismatch: the record was edited, or written without the key")
	}
	v.seq, v.head = rec.Seq, p.mac
	v.report.Records++
	v.report.LastSeq = rec.Seq
	if rec.Event == EventRetention {
		if r, ok := parseRetention(rec.Detail); ok {
			v.retained = append(v.retained, r)
			v.report.Deleted = append(v.report.Deleted, r.deleted...)
		}
	}
	if cp := v.cp; cp != nil && rec.Seq == cp.Seq {
		if rec.MAC != cp.Head || (cp.File != "" && cp.File != f.name) {
			return fail(TamperCheckpoint, "the record at the checkpoint's seq is not the one the checkpoint signed: the log was rewritten")
		}
		v.cpMatched = true
	}
	return nil
}

// parseRetention reads the Detail of a retention record. The record's MAC
// has been checked, so a malformed one is a writer's bug, not an attack;
// it is ignored, and any file it should have covered is reported missing.
func parseRetention(d map[string]string) (retention, bool) {
	var r retention
	seq, err := strconv.ParseUint(d[DetailThroughSeq], 10, 64)
	if err != nil || d[DetailDeleted] == "" || !decodeHex32(&r.mac, []byte(d[DetailThroughMAC])) {
		return r, false
	}
	r.seq = seq
	r.deleted = strings.Split(d[DetailDeleted], ",")
	return r, true
}

// finish runs the checks that need the whole log.
func (v *verifier) finish() error {
	if b := v.boundary; b != nil {
		covered := slices.ContainsFunc(v.retained, func(r retention) bool {
			return r.seq == b.seq && r.mac == b.mac && slices.Contains(r.deleted, b.prevFile)
		})
		if !covered {
			return &TamperError{Kind: TamperFile, File: b.file, Line: 1, Seq: b.seq + 1,
				Reason: fmt.Sprintf("the log begins after %s, which is missing and was not deleted by retention", b.prevFile)}
		}
		if cp := v.cp; cp != nil && cp.Seq == b.seq {
			if cp.Head != hex.EncodeToString(b.mac[:]) {
				return &TamperError{Kind: TamperCheckpoint, File: b.file, Line: 1, Seq: b.seq + 1,
					Reason: "the checkpoint's head is not where the retained log begins: the log was rewritten"}
			}
			v.cpMatched = true
		}
	}
	if cp := v.cp; cp != nil && v.report.LastSeq < cp.Seq {
		return &TamperError{Kind: TamperTruncated, File: v.lastFile, Line: v.lastLine, Seq: v.report.LastSeq,
			Reason: fmt.Sprintf("the log ends at seq %d but the checkpoint is at seq %d: records were removed from the end", v.report.LastSeq, cp.Seq)}
	}
	return nil
}
