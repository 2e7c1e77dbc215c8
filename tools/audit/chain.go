package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Limits of the file log.
const (
	// MaxLineBytes bounds one line of a log file, newline included. FileLog
	// refuses a record whose line would be longer (ErrRecordTooLarge), and
	// Verify reports a longer line as malformed without reading it whole.
	MaxLineBytes = 1 << 20
	// MinKeyBytes is the shortest key OpenFileLog and Verify accept. Use 32
	// random bytes.
	MinKeyBytes = 16
)

// ErrKeyTooShort is returned for a chain key shorter than MinKeyBytes.
var ErrKeyTooShort = errors.New("audit: key too short")

// File names: "audit-" + the Seq of the file's first record in 20 digits +
// ".jsonl", so that names sort in chain order.
const (
	filePrefix    = "audit-"
	fileSuffix    = ".jsonl"
	fileSeqDigits = 20
)

func fileName(seq uint64) string {
	return fmt.Sprintf("%s%0*d%s", filePrefix, fileSeqDigits, seq, fileSuffix)
}

// parseFileName returns the first Seq a log file name announces.
func parseFileName(name string) (uint64, bool) {
	if len(name) != len(filePrefix)+fileSeqDigits+len(fileSuffix) ||
		!strings.HasPrefix(name, filePrefix) || !strings.HasSuffix(name, fileSuffix) {
		return 0, false
	}
	digits := name[len(filePrefix) : len(filePrefix)+fileSeqDigits]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil && seq > 0
}

// logFile is one file of a log.
type logFile struct {
	name string
	seq  uint64 // the Seq its name announces
}

// listFiles returns the log files in dir in chain order. Other entries
// (other names, directories, symbolic links) are not part of the log.
func listFiles(dir string) ([]logFile, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("audit: listing %s: %w", dir, err)
	}
	var files []logFile
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if seq, ok := parseFileName(e.Name()); ok {
			files = append(files, logFile{name: e.Name(), seq: seq})
		}
	}
	return files, nil
}

// chainKeys are the keys derived from the caller's key, one per use, so
// that a record MAC can never be mistaken for a checkpoint signature.
type chainKeys struct {
	mac        []byte
	checkpoint []byte
}

func deriveKeys(key []byte) (chainKeys, error) {
	if len(key) < MinKeyBytes {
		return chainKeys{}, fmt.Errorf("%w: %d bytes, need at least %d", ErrKeyTooShort, len(key), MinKeyBytes)
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return chainKeys{
		mac:        derive("keel-audit-v1 record"),
		checkpoint: derive("keel-audit-v1 checkpoint"),
	}, nil
}

// recordMAC computes HMAC(macKey, prev || body) into out, reusing h (an
// HMAC under the derived record key).
func recordMAC(h hash.Hash, prev *[32]byte, body []byte, out *[32]byte) {
	h.Reset()
	h.Write(prev[:])
	h.Write(body)
	h.Sum(out[:0])
}

// A line is a record's JSON object, whose last member is "mac". The MAC
// covers the object without that member: the bytes before `,"mac":"`,
// closed with '}'.
const (
	macField    = `,"mac":"`
	lineTailLen = len(macField) + 64 + len(`"}`)
)

// zeroHead is the Prev of the first record of a log.
var zeroHead [32]byte

// parsedLine is a line of a log file, parsed but not yet verified.
type parsedLine struct {
	rec  Record
	body []byte // what the MAC covers
	prev [32]byte
	mac  [32]byte
}

// parseLine parses one line (without its newline). It checks the form
// only; the chain is checked by the verifier.
func parseLine(b []byte) (parsedLine, error) {
	var p parsedLine
	if len(b) < lineTailLen+2 {
		return p, errors.New("too short to be a record")
	}
	cut := len(b) - lineTailLen
	tail := b[cut:]
	if !bytes.HasPrefix(tail, []byte(macField)) || !bytes.HasSuffix(tail, []byte(`"}`)) {
		return p, errors.New(`does not end with the "mac" member`)
	}
	if !decodeHex32(&p.mac, tail[len(macField):len(macField)+64]) {
		return p, errors.New("mac is not 64 lowercase hex digits")
	}
	p.body = make([]byte, cut+1)
	copy(p.body, b[:cut])
	p.body[cut] = '}'
	var w wireRecord
	if err := json.Unmarshal(p.body, &w); err != nil {
		return p, fmt.Errorf("not a JSON record: %w", err)
	}
	switch {
	case w.MAC != "":
		return p, errors.New(`"mac" appears twice`)
	case w.Seq == 0:
		return p, errors.New("seq missing or zero")
	case w.Event == "":
		return p, errors.New("event missing")
	case !decodeHex32(&p.prev, []byte(w.Prev)):
		return p, errors.New("prev is not 64 lowercase hex digits")
	}
	rec, err := w.toRecord()
	if err != nil {
		return p, err
	}
	rec.MAC = hex.EncodeToString(p.mac[:])
	p.rec = rec
	return p, nil
}

// decodeHex32 decodes 64 lowercase hex digits, the only form FileLog
// writes: another spelling of the same value would be an undetected edit.
func decodeHex32(dst *[32]byte, s []byte) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst[:], s)
	return err == nil
}

// errLineTooLong reports a line over MaxLineBytes.
var errLineTooLong = errors.New("line too long")

// readLine returns the next line of br, newline included, reusing buf. At
// the end of the input it returns io.EOF with whatever was left after the
// last newline (nothing, or an incomplete line).
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineBytes {
			return buf, errLineTooLong
		}
		buf = append(buf, chunk...)
		if err != bufio.ErrBufferFull {
			return buf, err
		}
	}
}

// readFirstRecord reads and checks the first record of a file: its form
// and its MAC against the Prev it names.
func readFirstRecord(dir string, f logFile, macKey []byte) (parsedLine, error) {
	file, err := os.Open(filepath.Join(dir, f.name))
	if err != nil {
		return parsedLine{}, err
	}
	defer file.Close()
	line, err := readLine(bufio.NewReader(file), nil)
	if err != nil {
		return parsedLine{}, fmt.Errorf("audit: reading the first line of %s: %w", f.name, err)
	}
	p, err := parseLine(line[:len(line)-1])
	if err != nil {
		return p, fmt.Errorf("audit: first line of %s: %w", f.name, err)
	}
	var mac [32]byte
	recordMAC(hmac.New(sha256.New, macKey), &p.prev, p.body, &mac)
	if !hmac.Equal(mac[:], p.mac[:]) || p.rec.Seq != f.seq {
		return p, fmt.Errorf("audit: first record of %s does not verify", f.name)
	}
	return p, nil
}
