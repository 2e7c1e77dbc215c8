package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults of FileOptions.
const (
	// DefaultMaxFileBytes is the size at which a file is rotated when
	// FileOptions.MaxFileBytes is zero.
	DefaultMaxFileBytes = 64 << 20
	// DefaultCheckpointEvery is the checkpoint interval, in records, when
	// FileOptions.OnCheckpoint is set and CheckpointEvery is zero.
	DefaultCheckpointEvery = 1000
)

// Errors of FileLog.
var (
	// ErrClosed is returned by a FileLog's methods after Close.
	ErrClosed = errors.New("audit: file log closed")
	// ErrRecordTooLarge is returned for a record whose line would exceed
	// MaxLineBytes (usually full arguments: see Record.SetArgs). Nothing
	// is written.
	ErrRecordTooLarge = errors.New("audit: record too large")
)

// FileOptions configures a FileLog. The zero value syncs every record to
// disk, rotates files at DefaultMaxFileBytes, keeps every file and takes no
// periodic checkpoints.
type FileOptions struct {
	// NoSync skips the fsync after each record, leaving it to the
	// operating system: much faster, but a crash of the machine can lose
	// the last records. Files are still synced before a checkpoint, on
	// rotation and on Close, so a checkpoint never names a record that is
	// not on disk.
	NoSync bool

	// MaxFileBytes rotates the file once it has reached this size (a file
	// can exceed it by one record). Zero or less means DefaultMaxFileBytes.
	MaxFileBytes int64
	// MaxFileAge rotates the file at the first write after its first
	// record is this old. Zero means no rotation by age.
	MaxFileAge time.Duration

	// MaxFiles keeps at most this many files: on rotation, the oldest
	// files beyond it are deleted. Zero keeps every file.
	MaxFiles int
	// MaxAge deletes, on rotation, the oldest files last modified longer
	// than this ago. Zero keeps every file.
	//
	// Retention only ever deletes whole files from the old end of the log
	// and never the current file. Before deleting, it appends a retention
	// record naming them and the Seq and MAC they ended with, which is
	// what lets Verify accept a log that begins after them.
	MaxAge time.Duration

	// OnCheckpoint receives a signed Checkpoint every CheckpointEvery
	// records and on Close, for the application to store away from the
	// log. It is called with the log's lock held, in Seq order, so it must
	// be quick (store the value or hand it to a goroutine) and must not
	// call the FileLog, which would deadlock.
	OnCheckpoint func(Checkpoint)
	// CheckpointEvery is the interval of OnCheckpoint in records. Zero
	// means DefaultCheckpointEvery; a negative value means only on Close.
	CheckpointEvery int
	// SigningKey, if set, signs checkpoints with ed25519 instead of an
	// HMAC under the chain key; see Checkpoint for the difference.
	SigningKey ed25519.PrivateKey

	// RepairTornWrite lets OpenFileLog cut off an incomplete last line (a
	// write torn by a crash) instead of refusing to open. The complete
	// records before it are verified first. Off by default, because a cut
	// is also what a tampered file can look like; turn it on when the log
	// must start after a power loss without an operator.
	RepairTornWrite bool

	// Logger receives problems of background maintenance that do not fail
	// a Write (retention that could not delete a file, a repaired torn
	// write). Nil discards them.
	Logger *zap.Logger
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// FileLog is an append-only audit log in a directory of JSON Lines files
// whose records form a keyed hash chain (see the package documentation for
// the format). It is a Sink and is safe for concurrent use: writes are
// serialized.
//
// One FileLog, in one process, writes to a directory: two writers would
// fork the chain, which Verify reports.
type FileLog struct {
	dir  string
	opts FileOptions
	keys chainKeys
	now  func() time.Time
	log  *zap.Logger

	mu        sync.Mutex
	f         *os.File // nil until the first record of a new log
	name      string
	size      int64
	fileStart time.Time // time of the current file's first record
	seq       uint64
	head      [32]byte
	headHex   string
	sinceCP   int
	lastCP    uint64 // Seq of the last checkpoint handed to OnCheckpoint
	err       error  // a failure that leaves the log unusable
	closed    bool

	// Reused for every record, under mu.
	h    hash.Hash
	buf  bytes.Buffer
	enc  *json.Encoder
	line []byte
}

var _ Sink = (*FileLog)(nil)

// OpenFileLog opens the audit log in dir, creating dir if needed, with key
// as the chain key (at least MinKeyBytes secret random bytes; the same key
// verifies the log).
//
// An existing log is continued: OpenFileLog reads and verifies the newest
// file and appends after its last record. It refuses, with a *TamperError,
// to append to a file that does not verify, since the chain would then
// vouch for whatever was done to it; an incomplete last line can be cut
// off with FileOptions.RepairTornWrite. The older files are not read (use
// Verify).
func OpenFileLog(dir string, key []byte, opts FileOptions) (*FileLog, error) {
	keys, err := deriveKeys(key)
	if err != nil {
		return nil, err
	}
	if opts.SigningKey != nil && len(opts.SigningKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("audit: signing key is %d bytes, want %d", len(opts.SigningKey), ed25519.PrivateKeySize)
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &FileLog{dir: dir, opts: opts, keys: keys, now: opts.Now, log: opts.Logger}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	l.h = hmac.New(sha256.New, keys.mac)
	l.enc = json.NewEncoder(&l.buf)
	l.enc.SetEscapeHTML(false)
	l.headHex = hex.EncodeToString(zeroHead[:])
	if err := l.resume(); err != nil {
		return nil, err
	}
	return l, nil
}

// resume finds the newest file and continues the chain from its end.
func (l *FileLog) resume() error {
	files, err := listFiles(l.dir)
	if err != nil {
		return err
	}
	for len(files) > 0 {
		last := files[len(files)-1]
		path := filepath.Join(l.dir, last.name)
		v := newVerifier(l.keys.mac, nil)
		if err := v.scanPath(context.Background(), l.dir, last); err != nil {
			if v.torn && l.opts.RepairTornWrite {
				if err := os.Truncate(path, v.goodOffset); err != nil {
					return fmt.Errorf("audit: repairing %s: %w", last.name, err)
				}
				l.log.Warn("audit: cut an incomplete last line", zap.String("file", last.name), zap.Int64("offset", v.goodOffset))
				continue
			}
			return fmt.Errorf("audit: refusing to append to %s: %w", last.name, err)
		}
		if v.fileRecords == 0 {
			// Created by a rotation that stopped before its first record:
			// nothing refers to it yet.
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("audit: removing empty %s: %w", last.name, err)
			}
			files = files[:len(files)-1]
			continue
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		l.f, l.name, l.size, l.fileStart = f, last.name, v.goodOffset, v.fileStart
		l.seq, l.head = v.seq, v.head
		l.headHex = hex.EncodeToString(v.head[:])
		return nil
	}
	return nil
}

// Write appends r to the log: it sets r.Seq, r.Prev and r.MAC (and r.Time,
// if zero), rotating and applying retention first when due. When
// FileOptions.NoSync is off, the record is on disk when Write returns.
//
// Write does not consult ctx: an audit record is written even for a
// canceled call. Records of the events reserved for the log itself
// (EventRotated, EventRetention) are refused, as are records without an
// event.
func (l *FileLog) Write(_ context.Context, r Record) error {
	if r.Event == "" {
		return errors.New("audit: record has no event")
	}
	if r.Event.reserved() {
		return fmt.Errorf("audit: event %q is written by the file log only", r.Event)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	now := l.now()
	if r.Time.IsZero() {
		r.Time = now
	}
	if err := l.rotateIfDue(now); err != nil {
		return err
	}
	if err := l.append(&r); err != nil {
		return err
	}
	return l.checkpointIfDue()
}

func (l *FileLog) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.err
}

// Checkpoint syncs the log and returns a signed checkpoint of its head,
// without calling OnCheckpoint. For an empty log it returns Seq 0.
func (l *FileLog) Checkpoint() (Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return Checkpoint{}, err
	}
	return l.checkpoint()
}

// Close emits a last checkpoint to OnCheckpoint if records were written
// since the previous one, syncs and closes the file. Later calls return
// nil; Write returns ErrClosed.
func (l *FileLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	var errs []error
	if l.err == nil && l.opts.OnCheckpoint != nil && l.seq > l.lastCP {
		errs = append(errs, l.emitCheckpoint())
	}
	l.closed = true
	if l.f != nil {
		errs = append(errs, l.f.Sync(), l.f.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("audit: closing: %w", err)
	}
	return nil
}

// rotateIfDue starts the first file of a new log, or a new file when the
// current one is full or old.
func (l *FileLog) rotateIfDue(now time.Time) error {
	if l.f == nil {
		return l.create()
	}
	if l.size == 0 {
		// A new file whose first record failed: it is still the one to
		// write to.
		return nil
	}
	if l.size < l.opts.MaxFileBytes && (l.opts.MaxFileAge <= 0 || now.Sub(l.fileStart) < l.opts.MaxFileAge) {
		return nil
	}
	prev := l.name
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit: syncing %s: %w", prev, err)
	}
	old := l.f
	if err := l.create(); err != nil {
		return err
	}
	if err := old.Close(); err != nil {
		l.log.Warn("audit: closing rotated file", zap.String("file", prev), zap.Error(err))
	}
	// From here on a failure leaves a new file without its rotation
	// record, which the chain cannot vouch for: the log stops.
	rot := Record{Time: now, Event: EventRotated, Detail: map[string]string{DetailPrevFile: prev}}
	if err := l.append(&rot); err != nil {
		l.err = fmt.Errorf("audit: rotation to %s failed: %w", l.name, err)
		return l.err
	}
	return l.retain(now)
}

// create creates the file whose first record will be the next one.
func (l *FileLog) create() error {
	name := fileName(l.seq + 1)
	f, err := os.OpenFile(filepath.Join(l.dir, name), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	l.f, l.name, l.size = f, name, 0
	l.syncDir()
	return nil
}

// syncDir makes a created or deleted file name durable. Directories cannot
// be synced on Windows.
func (l *FileLog) syncDir() {
	if l.opts.NoSync || runtime.GOOS == "windows" {
		return
	}
	d, err := os.Open(l.dir)
	if err == nil {
		err = errors.Join(d.Sync(), d.Close())
	}
	if err != nil {
		l.log.Warn("audit: syncing the log directory", zap.Error(err))
	}
}

// retain deletes the files retention no longer keeps, after recording in
// the chain which ones and where they ended. A file that cannot be deleted
// is logged and left (a later rotation tries again); it does not fail the
// Write.
func (l *FileLog) retain(now time.Time) error {
	if l.opts.MaxFiles <= 0 && l.opts.MaxAge <= 0 {
		return nil
	}
	files, err := listFiles(l.dir)
	if err != nil {
		l.log.Warn("audit: retention", zap.Error(err))
		return nil
	}
	excess := 0
	if l.opts.MaxFiles > 0 {
		excess = len(files) - l.opts.MaxFiles
	}
	// Only a prefix of the log, never the current (newest) file: deleting
	// from the middle would break the chain.
	n := 0
	for n < len(files)-1 && files[n].name != l.name {
		if n < excess || l.expired(files[n], now) {
			n++
			continue
		}
		break
	}
	if n == 0 {
		return nil
	}
	first, err := readFirstRecord(l.dir, files[n], l.keys.mac)
	if err != nil {
		l.log.Warn("audit: retention skipped: the oldest file to keep does not verify", zap.Error(err))
		return nil
	}
	names := make([]string, n)
	for i, f := range files[:n] {
		names[i] = f.name
	}
	rec := Record{Time: now, Event: EventRetention, Detail: map[string]string{
		DetailDeleted:    strings.Join(names, ","),
		DetailThroughSeq: strconv.FormatUint(first.rec.Seq-1, 10),
		DetailThroughMAC: hex.EncodeToString(first.prev[:]),
	}}
	if err := l.append(&rec); err != nil {
		return err
	}
	// The record must be on disk before the files are gone.
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("audit: syncing %s: %w", l.name, err)
		return l.err
	}
	for _, name := range names {
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log.Warn("audit: retention could not delete a file", zap.String("file", name), zap.Error(err))
		}
	}
	l.syncDir()
	return nil
}

func (l *FileLog) expired(f logFile, now time.Time) bool {
	if l.opts.MaxAge <= 0 {
		return false
	}
	info, err := os.Stat(filepath.Join(l.dir, f.name))
	return err == nil && now.Sub(info.ModTime()) > l.opts.MaxAge
}

// append writes r as the next record of the chain.
func (l *FileLog) append(r *Record) error {
	r.Seq = l.seq + 1
	r.Prev = l.headHex
	r.MAC = ""
	r.Time = r.Time.UTC()
	w := r.toWire()
	l.buf.Reset()
	if err := l.enc.Encode(&w); err != nil {
		return fmt.Errorf("audit: encoding record: %w", err)
	}
	body := bytes.TrimSuffix(l.buf.Bytes(), []byte("\n"))
	// The line is the body without its closing brace, the mac member and
	// a newline.
	if n := len(body) + lineTailLen; n > MaxLineBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrRecordTooLarge, n, MaxLineBytes)
	}
	var mac [32]byte
	recordMAC(l.h, &l.head, body, &mac)
	line := append(l.line[:0], body[:len(body)-1]...)
	line = append(line, macField...)
	line = hex.AppendEncode(line, mac[:])
	line = append(line, '"', '}', '\n')
	l.line = line

	n, err := l.f.Write(line)
	if err != nil {
		if n > 0 {
			// A partial line would break every later record: take it back.
			if terr := l.f.Truncate(l.size); terr != nil {
				l.err = fmt.Errorf("audit: %s ends in a partial record: %w", l.name, errors.Join(err, terr))
			}
		}
		return fmt.Errorf("audit: writing %s: %w", l.name, err)
	}
	if l.size == 0 {
		l.fileStart = r.Time
	}
	l.size += int64(n)
	l.seq, l.head = r.Seq, mac
	l.headHex = hex.EncodeToString(mac[:])
	l.sinceCP++
	if !l.opts.NoSync {
		if err := l.f.Sync(); err != nil {
			// After a failed fsync the kernel may have dropped the data;
			// continuing would chain to a record that may not exist.
			l.err = fmt.Errorf("audit: syncing %s: %w", l.name, err)
			return l.err
		}
	}
	return nil
}

func (l *FileLog) checkpointIfDue() error {
	if l.opts.OnCheckpoint == nil || l.opts.CheckpointEvery < 0 || l.sinceCP < l.opts.CheckpointEvery {
		return nil
	}
	return l.emitCheckpoint()
}

func (l *FileLog) emitCheckpoint() error {
	cp, err := l.checkpoint()
	if err != nil {
		return err
	}
	l.opts.OnCheckpoint(cp)
	l.sinceCP, l.lastCP = 0, cp.Seq
	return nil
}

// checkpoint syncs the file and signs its head.
func (l *FileLog) checkpoint() (Checkpoint, error) {
	if l.f != nil {
		if err := l.f.Sync(); err != nil {
			l.err = fmt.Errorf("audit: syncing %s: %w", l.name, err)
			return Checkpoint{}, l.err
		}
	}
	cp := Checkpoint{Seq: l.seq, Head: l.headHex, Time: l.now().UTC().Truncate(time.Second)}
	if l.seq > 0 {
		cp.File = l.name
	}
	signCheckpoint(&cp, l.keys.checkpoint, l.opts.SigningKey)
	return cp, nil
}
