package audit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keel-go/keel/tools/audit"
)

// A FileLog records tool calls in a hash chain; the last checkpoint is
// kept elsewhere; Verify checks the log and notices a record removed from
// its end.
func ExampleFileLog() {
	dir, err := os.MkdirTemp("", "audit")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// In production: 32 random bytes from a secret store.
	chainKey := []byte("example chain key, 32 bytes long")
	argsKey := []byte("example args key, also 32 bytes!")

	var stored audit.Checkpoint // stands in for storage away from the log
	auditLog, err := audit.OpenFileLog(dir, chainKey, audit.FileOptions{
		OnCheckpoint: func(cp audit.Checkpoint) { stored = cp },
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	call := audit.Record{Tenant: "acme", User: "u-42", RequestID: "req-7", CallID: "call-1", Tool: "refund", Risk: "high"}
	call.SetArgs(argsKey, []byte(`{"order":"ord-981","amount":42.5}`), false)

	steps := []func(r *audit.Record){
		func(r *audit.Record) { r.Event = audit.EventProposed },
		func(r *audit.Record) {
			r.Event, r.Decision, r.Rule = audit.EventDecided, "require_approval", "high-risk-needs-human"
		},
		func(r *audit.Record) { r.Event, r.Decision, r.Approver = audit.EventApproval, "approve", "ops@acme" },
		func(r *audit.Record) { r.Event, r.Outcome, r.Duration = audit.EventOutcome, "ok", 830*time.Millisecond },
	}
	for _, step := range steps {
		r := call
		step(&r)
		if err := auditLog.Write(ctx, r); err != nil {
			panic(err)
		}
	}
	if err := auditLog.Close(); err != nil { // hands the last checkpoint over
		panic(err)
	}

	report, err := audit.Verify(ctx, dir, chainKey, audit.VerifyOptions{Checkpoint: &stored})
	fmt.Println("records:", report.Records, "error:", err)
	fmt.Println("summary:", call.ArgsSummary)

	// Someone removes the outcome record from the end of the file.
	path := filepath.Join(dir, report.Files[0])
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	_ = os.WriteFile(path, []byte(strings.Join(lines[:3], "")), 0o600)

	_, err = audit.Verify(ctx, dir, chainKey, audit.VerifyOptions{})
	fmt.Println("without the checkpoint:", err)
	_, err = audit.Verify(ctx, dir, chainKey, audit.VerifyOptions{Checkpoint: &stored})
	var te *audit.TamperError
	if errors.As(err, &te) {
		fmt.Println("with the checkpoint:", te.Kind)
	}
	// Output:
	// records: 4 error: <nil>
	// summary: {order:string(7),amount:number}
	// without the checkpoint: <nil>
	// with the checkpoint: truncated
}

func ExampleSummarize() {
	fmt.Println(audit.Summarize([]byte(`{"iban":"DE89370400440532013000","amount":120.5,"tags":["urgent","vip"],"to":{"name":"Alice","email":"alice@example.com"}}`)))
	// Output:
	// {iban:string(22),amount:number,tags:array(2),to:{name:string(5),email:string(17)}}
}

func ExampleDigest() {
	key := []byte("example args key, also 32 bytes!")
	a := audit.Digest(key, []byte(`{"order":"ord-981","amount":42.5}`))
	b := audit.Digest(key, []byte(`{ "amount": 42.5, "order": "ord-981" }`))
	fmt.Println(a == b, len(a))
	// Output:
	// true 64
}

func ExampleMulti() {
	core, logs := observer.New(zapcore.InfoLevel)
	var kept []audit.Record
	sink := audit.Multi(
		audit.NewZapSink(zap.New(core)),
		audit.SinkFunc(func(_ context.Context, r audit.Record) error { kept = append(kept, r); return nil }),
	)
	r := audit.Record{Event: audit.EventDecided, Tenant: "acme", Tool: "delete_account", Decision: "deny", Rule: "default-deny"}
	if err := sink.Write(context.Background(), r); err != nil {
		panic(err)
	}
	e := logs.All()[0]
	fmt.Println(e.Message, e.ContextMap()["decision"], e.ContextMap()["rule"], len(kept))
	// Output:
	// tool audit deny default-deny 1
}
