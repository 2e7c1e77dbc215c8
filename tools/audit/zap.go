package audit

import (
	"context"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapMessage is the message of every line NewZapSink writes.
const zapMessage = "tool audit"

// NewZapSink returns a Sink that writes each record as one structured zap
// line with the message "tool audit": event, then seq, tenant, user,
// request_id, call_id, tool, risk, decision, rule, approver, outcome,
// duration, error, args_digest, args_summary, args and detail, each only
// when set. A record with an Error is logged at Warn, any other at Info.
//
// The sink writes the record as it is and adds nothing: keeping arguments
// and other content out is the job of whoever builds the record (see
// Record.SetArgs), so the args field appears only for records whose
// caller opted in to full arguments. Args are written as a string. A nil
// logger discards everything. Write never fails.
func NewZapSink(logger *zap.Logger) Sink {
	if logger == nil {
		logger = zap.NewNop()
	}
	// The caller would always be this file.
	return zapSink{log: logger.WithOptions(zap.WithCaller(false))}
}

type zapSink struct{ log *zap.Logger }

func (s zapSink) Write(_ context.Context, r Record) error {
	level := zapcore.InfoLevel
	if r.Error != "" {
		level = zapcore.WarnLevel
	}
	ce := s.log.Check(level, zapMessage)
	if ce == nil {
		return nil
	}
	f := make([]zap.Field, 0, 18)
	f = append(f, zap.String("event", string(r.Event)))
	if r.Seq != 0 {
		f = append(f, zap.Uint64("seq", r.Seq))
	}
	str := func(key, v string) {
		if v != "" {
			f = append(f, zap.String(key, v))
		}
	}
	str("tenant", r.Tenant)
	str("user", r.User)
	str("request_id", r.RequestID)
	str("call_id", r.CallID)
	str("tool", r.Tool)
	str("risk", r.Risk)
	str("decision", r.Decision)
	str("rule", r.Rule)
	str("approver", r.Approver)
	str("outcome", r.Outcome)
	if r.Duration != 0 {
		f = append(f, zap.Duration("duration", r.Duration))
	}
	str("error", r.Error)
	str("args_digest", r.ArgsDigest)
	str("args_summary", r.ArgsSummary)
	if len(r.Args) > 0 {
		f = append(f, zap.String("args", string(r.Args)))
	}
	if len(r.Detail) > 0 {
		f = append(f, zap.Object("detail", detailMarshaler(r.Detail)))
	}
	ce.Write(f...)
	return nil
}

// detailMarshaler writes a Detail map with its keys sorted, so lines are
// stable.
type detailMarshaler map[string]string

func (d detailMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		enc.AddString(k, d[k])
	}
	return nil
}
