package audit

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Checkpoint signature algorithms.
const (
	// AlgEd25519: signed with FileOptions.SigningKey, verified with the
	// public key alone.
	AlgEd25519 = "ed25519"
	// AlgHMACSHA256: an HMAC under a key derived from the chain key.
	AlgHMACSHA256 = "hmac-sha256"
)

// Checkpoint is a signed statement of the head of a log: the record at Seq
// in File has the MAC Head. Stored away from the log (another system,
// write-once storage, a ticket, a message to an auditor), the last
// checkpoint lets Verify detect what the chain alone cannot: records or
// whole files removed from the end.
//
// Because each MAC covers every record before it, the head also pins the
// whole history up to Seq: rewriting any earlier record changes the MAC at
// Seq, even for someone holding the chain key.
//
// What the signature protects against depends on how it is made:
//
//   - AlgHMACSHA256 (no SigningKey): an attacker who can rewrite the log
//     files and the stored checkpoints, but cannot read the chain key,
//     can forge neither records nor checkpoints. Anyone who holds the
//     chain key (and every verifier must) can forge both.
//   - AlgEd25519 (FileOptions.SigningKey): checkpoints can be checked with
//     the public key alone, and whoever holds only the chain key (an
//     auditor running Verify, a copy of the key leaked from one) can
//     rewrite the records but cannot sign a checkpoint for the rewritten
//     log: a checkpoint stored earlier exposes the rewrite. Give Verify the
//     public key so it refuses HMAC-signed checkpoints.
//
// Neither helps against an attacker who controls the writing process: it
// holds every key. Checkpoints taken before the compromise still pin the
// history up to them.
//
// Time is whole seconds, so the checkpoint survives storage that keeps
// less than nanoseconds.
type Checkpoint struct {
	// Seq is the Seq of the head record (0 for an empty log).
	Seq uint64 `json:"seq"`
	// Head is the head record's MAC in hex.
	Head string `json:"head"`
	// File is the name of the file holding the head record.
	File string `json:"file,omitempty"`
	// Time is when the checkpoint was taken, in whole seconds.
	Time time.Time `json:"time"`
	// Alg is AlgEd25519 or AlgHMACSHA256.
	Alg string `json:"alg"`
	// Sig is the signature in hex.
	Sig string `json:"sig"`
}

// checkpointMessage is what a checkpoint's signature covers. Head and File
// are checked for their form before it is used, so the fields cannot run
// into each other.
func checkpointMessage(c *Checkpoint) []byte {
	return fmt.Appendf(nil, "keel-audit-checkpoint-v1\nseq=%d\nhead=%s\nfile=%s\ntime=%d\n", c.Seq, c.Head, c.File, c.Time.Unix())
}

// signCheckpoint fills Alg and Sig.
func signCheckpoint(c *Checkpoint, hmacKey []byte, priv ed25519.PrivateKey) {
	msg := checkpointMessage(c)
	if priv != nil {
		c.Alg = AlgEd25519
		c.Sig = hex.EncodeToString(ed25519.Sign(priv, msg))
		return
	}
	c.Alg = AlgHMACSHA256
	m := hmac.New(sha256.New, hmacKey)
	m.Write(msg)
	c.Sig = hex.EncodeToString(m.Sum(nil))
}

// verifyCheckpoint checks a checkpoint's form and signature.
func verifyCheckpoint(c *Checkpoint, hmacKey []byte, pub ed25519.PublicKey) error {
	forged := func(reason string) error {
		return &TamperError{Kind: TamperCheckpoint, File: c.File, Seq: c.Seq, Reason: reason}
	}
	var head [32]byte
	if !decodeHex32(&head, []byte(c.Head)) {
		return forged("the checkpoint's head is not 64 lowercase hex digits")
	}
	if _, ok := parseFileName(c.File); c.File != "" && !ok {
		return forged("the checkpoint's file is not a log file name")
	}
	sig, err := hex.DecodeString(c.Sig)
	if err != nil {
		return forged("the checkpoint's signature is not hex")
	}
	msg := checkpointMessage(c)
	switch c.Alg {
	case AlgEd25519:
		if pub == nil {
			return fmt.Errorf("audit: the checkpoint is signed with ed25519: VerifyOptions.PublicKey is required")
		}
		if !ed25519.Verify(pub, msg, sig) {
			return forged("invalid ed25519 signature: the checkpoint was forged or altered")
		}
	case AlgHMACSHA256:
		if pub != nil {
			return forged("the checkpoint is not signed with ed25519 though a public key was given")
		}
		m := hmac.New(sha256.New, hmacKey)
		m.Write(msg)
		if !hmac.Equal(m.Sum(nil), sig) {
			return forged("invalid HMAC signature: the checkpoint was forged or altered")
		}
	default:
		return forged(fmt.Sprintf("unknown signature algorithm %q", c.Alg))
	}
	return nil
}
