// Package audit is the audit trail of the tool layer: a record of every
// proposed tool call, the policy's decision and the rule that made it, the
// approver, the outcome, the duration and the error, attributed to a
// tenant, a user and a request, kept where tampering shows.
//
// The tool layer (package tools) turns each call into Records and hands
// them to a Sink. Two sinks come with the package and combine with Multi:
// NewZapSink writes each record as a structured log line, and FileLog
// appends it to JSON Lines files whose records form a keyed hash chain,
// which Verify checks.
//
//	log, err := audit.OpenFileLog("/var/lib/app/audit", chainKey, audit.FileOptions{
//		MaxFiles:     30,
//		OnCheckpoint: checkpointStore.Keep, // quick; ships the latest one elsewhere
//	})
//	...
//	sink := audit.Multi(log, audit.NewZapSink(logger))
//
//	rec := audit.Record{Event: audit.EventOutcome, Tenant: "acme", User: "u-42",
//		RequestID: reqID, CallID: callID, Tool: "refund", Outcome: "ok", Duration: d}
//	rec.SetArgs(argsKey, argsJSON, false) // digest and shape, not the arguments
//	err = sink.Write(ctx, rec)
//	...
//	report, err := audit.Verify(ctx, "/var/lib/app/audit", chainKey,
//		audit.VerifyOptions{Checkpoint: &lastStoredCheckpoint})
//
// # No arguments, no content
//
// Records carry no tool arguments unless the caller opts in: Digest is a
// keyed hash of their canonical JSON (equal arguments, equal digests, and
// no guessing low-entropy values without the key), Summarize their shape
// without values, and Record.Args holds them only when the application
// asked for full arguments (Record.SetArgs does the three). Nothing else in
// this package adds prompt text, arguments or personal data to a record or
// a log line; what a record holds is what its caller put there.
//
// # The file format
//
// A log is a directory of files named audit-<seq>.jsonl, <seq> being the
// Seq of the file's first record in 20 digits, so that names sort in chain
// order. Each line is one record, a JSON object (see Record) whose last
// member is "mac":
//
//	{"seq":7,"prev":"<64 hex>","time":"...","event":"outcome",...,"mac":"<64 hex>"}
//
// With K the chain key, the record key is HMAC-SHA256(K, "keel-audit-v1
// record") and the MAC of a record is
//
//	HMAC-SHA256(record key, prev MAC (32 bytes) || the line up to `,"mac":"` followed by '}')
//
// so each MAC covers its record byte for byte and, through the previous
// MAC, every record before it. Seq rises by one from 1; the first record's
// prev is 32 zero bytes. Lines are at most MaxLineBytes.
//
// Rotation (FileOptions.MaxFileBytes, MaxFileAge) continues the chain: the
// first record of every file but the first is a "rotated" record naming
// the previous file, chained to its last record. Retention
// (FileOptions.MaxFiles, MaxAge) deletes whole files from the old end, and
// first appends a "retention" record naming them and the Seq and MAC they
// ended with; Verify then accepts a log that begins after them, and only
// then.
//
// # What Verify detects, and what it needs for it
//
// With the key alone, Verify detects a record edited, inserted, deleted,
// duplicated or moved; a line cut short; a file deleted, added, renamed or
// emptied anywhere but at the end; and the oldest files deleted without a
// retention record. It cannot tell a log whose newest records or files
// were removed cleanly (whole lines, whole files) from a log that simply
// stopped there: every prefix of a valid chain is valid.
//
// Checkpoints close that gap. Every FileOptions.CheckpointEvery records
// and on Close, FileLog hands OnCheckpoint a signed statement of its head
// (Seq, MAC, file); the application stores it somewhere the log's
// attacker cannot reach. Given the last one, Verify reports a log that
// ends before it (TamperTruncated) or holds a different record at its Seq
// (TamperCheckpoint). Checkpoint says who can forge what under each of its
// two signature schemes.
//
// The chain key must be secret, random, and at least MinKeyBytes long. It
// protects against someone who can change the files but cannot read the
// key; whoever holds it can write a valid log, which is why checkpoints
// taken earlier and stored elsewhere matter.
package audit
