package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keel-go/keel/tools/audit"
)

func TestRecordJSON(t *testing.T) {
	full := testRecord(3)
	full.Seq, full.Prev, full.MAC = 7, strings.Repeat("a", 64), strings.Repeat("b", 64)
	full.Time = time.Date(2026, 5, 1, 9, 30, 0, 123456789, time.UTC)
	full.Approver = "ops@acme"
	full.Error = "upstream said <no>"
	full.Args = json.RawMessage(`{"order":"ord-3"}`)
	full.Detail = map[string]string{"b": "2", "a": "1"}
	tests := []struct {
		name string
		rec  audit.Record
	}{
		{"full", full},
		{"minimal", audit.Record{Event: audit.EventProposed, Time: full.Time}},
		{"nanosecond duration", audit.Record{Event: audit.EventOutcome, Time: full.Time, Duration: 1}},
		{"long duration", audit.Record{Event: audit.EventOutcome, Time: full.Time, Duration: 1234*time.Hour + 5}},
		{"negative duration", audit.Record{Event: audit.EventOutcome, Time: full.Time, Duration: -1500 * time.Microsecond}},
	}
	for _, tt := range tests {
		data, err := json.Marshal(tt.rec)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got audit.Record
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !recordsEqual(got, tt.rec) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v\njson %s", tt.name, got, tt.rec, data)
		}
	}
	data, _ := json.Marshal(full)
	for _, key := range []string{`"duration_ms":6`, `"request_id":"req-3"`, `"args_summary":`, `"detail":{"a":"1","b":"2"}`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON %s lacks %s", data, key)
		}
	}
	if !strings.HasSuffix(string(data), `"mac":"`+full.MAC+`"}`) {
		t.Errorf("JSON %s does not end with mac", data)
	}
	minimal, _ := json.Marshal(audit.Record{Event: audit.EventProposed, Time: full.Time})
	if string(minimal) != `{"seq":0,"time":"2026-05-01T09:30:00.123456789Z","event":"proposed"}` {
		t.Errorf("minimal record is %s", minimal)
	}

	var r audit.Record
	for _, bad := range []string{`{"duration_ms":1e300}`, `{"duration_ms":-1e300}`, `{"seq":"x"}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestMulti(t *testing.T) {
	var got []string
	sink := func(name string, err error) audit.Sink {
		return audit.SinkFunc(func(_ context.Context, r audit.Record) error {
			got = append(got, name+":"+r.CallID)
			return err
		})
	}
	errA, errC := errors.New("a failed"), errors.New("c failed")
	m := audit.Multi(sink("a", errA), nil, sink("b", nil), sink("c", errC))
	err := m.Write(context.Background(), audit.Record{Event: audit.EventOutcome, CallID: "1"})
	if !errors.Is(err, errA) || !errors.Is(err, errC) {
		t.Fatalf("Multi error %v, want both failures", err)
	}
	if strings.Join(got, ",") != "a:1,b:1,c:1" {
		t.Fatalf("written to %v, want every sink in order", got)
	}
	if err := audit.Multi().Write(context.Background(), audit.Record{}); err != nil {
		t.Fatalf("empty Multi: %v", err)
	}
}

func TestZapSink(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		rec       audit.Record
		wantLevel zapcore.Level
		want      map[string]any
		absent    []string
	}{
		{
			name: "redacted outcome",
			rec:  testRecord(1),
			// No args: the record carries a digest and a summary only.
			wantLevel: zapcore.InfoLevel,
			want: map[string]any{
				"event": "outcome", "tenant": "acme", "user": "u-42", "request_id": "req-1",
				"call_id": "call-1", "tool": "refund", "risk": "high", "decision": "allow",
				"rule": "refunds-under-100", "outcome": "ok", "duration": 3 * time.Millisecond,
				"args_digest":  audit.Digest(argsKey, []byte(`{"order":"ord-1","amount":1.5,"reason":"damaged"}`)),
				"args_summary": "{order:string(5),amount:number,reason:string(7)}",
			},
			absent: []string{"args", "seq", "approver", "error", "detail"},
		},
		{
			name: "failure with opted-in args and detail",
			rec: func() audit.Record {
				r := testRecord(2)
				r.Seq = 12
				r.Outcome, r.Error, r.Approver = "error", "payment provider timed out", "ops@acme"
				r.SetArgs(argsKey, []byte(`{"order":"ord-2"}`), true)
				r.Detail = map[string]string{"attempt": "2"}
				return r
			}(),
			wantLevel: zapcore.WarnLevel,
			want: map[string]any{
				"seq": uint64(12), "error": "payment provider timed out", "approver": "ops@acme",
				"args": `{"order":"ord-2"}`, "detail": map[string]any{"attempt": "2"},
			},
		},
		{
			name:      "proposal",
			rec:       audit.Record{Event: audit.EventProposed, Tool: "lookup"},
			wantLevel: zapcore.InfoLevel,
			want:      map[string]any{"event": "proposed", "tool": "lookup"},
			absent:    []string{"tenant", "user", "duration", "args_digest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			if err := audit.NewZapSink(zap.New(core)).Write(ctx, tt.rec); err != nil {
				t.Fatal(err)
			}
			if logs.Len() != 1 {
				t.Fatalf("%d lines, want 1", logs.Len())
			}
			e := logs.All()[0]
			if e.Level != tt.wantLevel || e.Message != "tool audit" {
				t.Errorf("%v %q", e.Level, e.Message)
			}
			fields := e.ContextMap()
			for k, v := range tt.want {
				if got, ok := fields[k]; !ok || !equalField(got, v) {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := fields[k]; ok {
					t.Errorf("field %s present: %v", k, fields[k])
				}
			}
		})
	}

	// A disabled level builds nothing, and a nil logger discards.
	core, logs := observer.New(zapcore.ErrorLevel)
	if err := audit.NewZapSink(zap.New(core)).Write(ctx, testRecord(1)); err != nil || logs.Len() != 0 {
		t.Fatalf("disabled level: %v, %d lines", err, logs.Len())
	}
	if err := audit.NewZapSink(nil).Write(ctx, testRecord(1)); err != nil {
		t.Fatal(err)
	}
}

func equalField(got, want any) bool {
	if m, ok := want.(map[string]any); ok {
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(m) {
			return false
		}
		for k, v := range m {
			if g[k] != v {
				return false
			}
		}
		return true
	}
	return got == want
}
