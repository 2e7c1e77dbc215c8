package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Event names what a Record reports. The first four are written by the
// tool layer for each call; the last two are written by FileLog itself to
// keep the chain verifiable across files.
type Event string

// The events.
const (
	// EventProposed: the model (or the application) proposed a tool call.
	EventProposed Event = "proposed"
	// EventDecided: the policy decided on the call; Decision and Rule say
	// how and why.
	EventDecided Event = "decided"
	// EventApproval: a human (Approver) approved or rejected the call.
	EventApproval Event = "approval"
	// EventOutcome: the call ran (or was refused); Outcome, Duration and
	// Error say how it ended.
	EventOutcome Event = "outcome"

	// EventRotated is the first record of every file but the first: it
	// names the previous file (Detail[DetailPrevFile]) and, through Prev,
	// chains to its last record. Written by FileLog only.
	EventRotated Event = "rotated"
	// EventRetention records that retention deleted whole old files: their
	// names (Detail[DetailDeleted]) and the Seq and MAC of the last deleted
	// record (Detail[DetailThroughSeq], Detail[DetailThroughMAC]), so that
	// Verify can start from the oldest file kept. Written by FileLog only.
	EventRetention Event = "retention"
)

// reserved reports whether only FileLog may write records of event e.
func (e Event) reserved() bool { return e == EventRotated || e == EventRetention }

// Keys of Record.Detail in the records FileLog writes itself.
const (
	// DetailPrevFile: in a rotated record, the name of the previous file.
	DetailPrevFile = "prev_file"
	// DetailDeleted: in a retention record, the deleted file names,
	// oldest first, separated by commas.
	DetailDeleted = "deleted"
	// DetailThroughSeq: in a retention record, the Seq of the last record
	// of the deleted files, in decimal.
	DetailThroughSeq = "through_seq"
	// DetailThroughMAC: in a retention record, the MAC of that record.
	DetailThroughMAC = "through_mac"
)

// Record is one entry of the audit trail: one step of one tool call,
// attributed to a tenant, a user and a request.
//
// A Record carries no tool arguments unless the caller opts in: ArgsDigest
// (a keyed hash, see Digest) and ArgsSummary (a shape without values, see
// Summarize) identify and describe the arguments; Args holds them in full
// only when the application asked for it (SetArgs does both).
//
// In JSON (MarshalJSON) the fields appear in the order below with the
// snake_case names of their tags, empty ones left out; Duration is written
// as "duration_ms", a number of milliseconds with up to nanosecond
// precision (12.5 is 12.5ms).
//
// Seq, Prev and MAC belong to the hash chain: FileLog fills them in and
// ignores what the caller set.
type Record struct {
	// Seq is the record's position in the chain, from 1.
	Seq uint64 `json:"seq"`
	// Prev is the MAC of the previous record in hex (64 zeros for the
	// first record of a log).
	Prev string `json:"prev,omitempty"`
	// Time is when the event happened; FileLog sets it to the current
	// time when it is zero, and writes it in UTC.
	Time time.Time `json:"time"`
	// Event says which step of a tool call this is.
	Event Event `json:"event"`
	// Tenant, User and RequestID attribute the call (llm.Principal and the
	// application's request id).
	Tenant    string `json:"tenant,omitempty"`
	User      string `json:"user,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// CallID identifies one tool call across its records.
	CallID string `json:"call_id,omitempty"`
	// Tool is the tool's name.
	Tool string `json:"tool,omitempty"`
	// Risk is the tool's risk level as the tool layer names it.
	Risk string `json:"risk,omitempty"`
	// Decision is the policy's decision ("allow", "deny",
	// "require_approval", ...), in decided and approval records.
	Decision string `json:"decision,omitempty"`
	// Rule names the policy rule that decided.
	Rule string `json:"rule,omitempty"`
	// Approver identifies who approved or rejected the call.
	Approver string `json:"approver,omitempty"`
	// Outcome says how the call ended ("ok", "error", "denied",
	// "canceled", ...).
	Outcome string `json:"outcome,omitempty"`
	// Duration is how long the call ran.
	Duration time.Duration `json:"-"`
	// Error is the error message of a failed call.
	Error string `json:"error,omitempty"`
	// ArgsDigest is Digest of the arguments: equal arguments give equal
	// digests, so records can be correlated without storing them.
	ArgsDigest string `json:"args_digest,omitempty"`
	// ArgsSummary is Summarize of the arguments: their shape, no values.
	ArgsSummary string `json:"args_summary,omitempty"`
	// Args holds the full arguments, only when the caller opted in. It must
	// be valid JSON (SetArgs sees to that).
	Args json.RawMessage `json:"args,omitempty"`
	// Detail holds further facts as strings; the Detail* keys are used by
	// FileLog's own records.
	Detail map[string]string `json:"detail,omitempty"`
	// MAC is the record's HMAC in hex, chaining it to Prev.
	MAC string `json:"mac,omitempty"`
}

// SetArgs fills ArgsDigest with Digest(key, args) and ArgsSummary with
// Summarize(args), and, only if full is true, Args with a copy of the
// arguments. This is how the audit trail keeps tool arguments out of the
// log by default: pass full only when the application opted in to full
// arguments for this tool. Arguments that are not valid JSON are kept as a
// JSON string, so the record can still be written.
func (r *Record) SetArgs(key, args []byte, full bool) {
	r.ArgsDigest = Digest(key, args)
	r.ArgsSummary = Summarize(args)
	r.Args = nil
	if !full {
		return
	}
	if json.Valid(args) {
		r.Args = append(json.RawMessage(nil), args...)
		return
	}
	// A Go string conversion keeps invalid UTF-8 as replacement runes.
	r.Args, _ = json.Marshal(string(args))
}

// wireRecord is the JSON form of a Record; the field order is the order of
// the keys in a line of the file log, with mac last.
type wireRecord struct {
	Seq         uint64            `json:"seq"`
	Prev        string            `json:"prev,omitempty"`
	Time        time.Time         `json:"time"`
	Event       Event             `json:"event"`
	Tenant      string            `json:"tenant,omitempty"`
	User        string            `json:"user,omitempty"`
	RequestID   string            `json:"request_id,omitempty"`
	CallID      string            `json:"call_id,omitempty"`
	Tool        string            `json:"tool,omitempty"`
	Risk        string            `json:"risk,omitempty"`
	Decision    string            `json:"decision,omitempty"`
	Rule        string            `json:"rule,omitempty"`
	Approver    string            `json:"approver,omitempty"`
	Outcome     string            `json:"outcome,omitempty"`
	DurationMS  float64           `json:"duration_ms,omitempty"`
	Error       string            `json:"error,omitempty"`
	ArgsDigest  string            `json:"args_digest,omitempty"`
	ArgsSummary string            `json:"args_summary,omitempty"`
	Args        json.RawMessage   `json:"args,omitempty"`
	Detail      map[string]string `json:"detail,omitempty"`
	MAC         string            `json:"mac,omitempty"`
}

func (r *Record) toWire() wireRecord {
	return wireRecord{
		Seq: r.Seq, Prev: r.Prev, Time: r.Time, Event: r.Event,
		Tenant: r.Tenant, User: r.User, RequestID: r.RequestID, CallID: r.CallID,
		Tool: r.Tool, Risk: r.Risk, Decision: r.Decision, Rule: r.Rule,
		Approver: r.Approver, Outcome: r.Outcome,
		DurationMS: float64(r.Duration) / float64(time.Millisecond),
		Error:      r.Error, ArgsDigest: r.ArgsDigest, ArgsSummary: r.ArgsSummary,
		Args: r.Args, Detail: r.Detail, MAC: r.MAC,
	}
}

func (w *wireRecord) toRecord() (Record, error) {
	ns := math.Round(w.DurationMS * float64(time.Millisecond))
	// float64(math.MaxInt64) rounds up to 2^63, which is already out of range.
	if ns >= math.MaxInt64 || ns < math.MinInt64 {
		return Record{}, fmt.Errorf("audit: duration_ms %g out of range", w.DurationMS)
	}
	return Record{
		Seq: w.Seq, Prev: w.Prev, Time: w.Time, Event: w.Event,
		Tenant: w.Tenant, User: w.User, RequestID: w.RequestID, CallID: w.CallID,
		Tool: w.Tool, Risk: w.Risk, Decision: w.Decision, Rule: w.Rule,
		Approver: w.Approver, Outcome: w.Outcome, Duration: time.Duration(ns),
		Error: w.Error, ArgsDigest: w.ArgsDigest, ArgsSummary: w.ArgsSummary,
		Args: w.Args, Detail: w.Detail, MAC: w.MAC,
	}, nil
}

// MarshalJSON writes the record as described on Record.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(r.toWire())
}

// UnmarshalJSON reads a record written by MarshalJSON.
func (r *Record) UnmarshalJSON(b []byte) error {
	var w wireRecord
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	rec, err := w.toRecord()
	if err != nil {
		return err
	}
	*r = rec
	return nil
}

// Sink receives audit records. Implementations must be safe for concurrent
// use and must not modify the record's Args or Detail, which are shared
// with the caller and with other sinks.
//
// Write does not give up when ctx is canceled: the outcome record of a
// canceled call is exactly what an audit trail must keep. ctx is there for
// values (such as a trace span) a sink may want.
type Sink interface {
	Write(ctx context.Context, r Record) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, r Record) error

// Write calls f.
func (f SinkFunc) Write(ctx context.Context, r Record) error { return f(ctx, r) }

// Multi returns a Sink that writes each record to every sink in order, even
// when one fails, and returns their errors joined (nil if all succeeded).
// Nil sinks are skipped.
func Multi(sinks ...Sink) Sink {
	var s multiSink
	for _, k := range sinks {
		if k != nil {
			s = append(s, k)
		}
	}
	return s
}

type multiSink []Sink

func (m multiSink) Write(ctx context.Context, r Record) error {
	var errs []error
	for _, s := range m {
		if err := s.Write(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
