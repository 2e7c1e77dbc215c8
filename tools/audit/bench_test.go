package audit_test

import (
	"context"
	"testing"

	"github.com/keel-go/keel/tools/audit"
)

// benchArgs are realistic tool arguments: a refund with a few fields and a
// short free-text note.
var benchArgs = []byte(`{"order_id":"ord-2024-000981","amount":{"value":42.5,"currency":"EUR"},` +
	`"reason":"item arrived damaged","items":[{"sku":"SKU-1","qty":1},{"sku":"SKU-7","qty":2}],` +
	`"notify_customer":true,"note":"Customer sent photos; courier confirmed the damage on delivery."}`)

// benchRecord is one outcome record as the tool layer writes it.
func benchRecord() audit.Record {
	r := audit.Record{
		Event: audit.EventOutcome, Tenant: "acme", User: "u-42", RequestID: "req-7f3a9c",
		CallID: "call_abc123", Tool: "refund", Risk: "high", Decision: "allow",
		Rule: "refunds-under-100", Approver: "ops@acme", Outcome: "ok", Duration: 830_000_000,
	}
	r.SetArgs(argsKey, benchArgs, false)
	return r
}

// BenchmarkFileLogWrite measures appending one record to the chain
// without fsync (the cost of the log itself, not of the disk).
func BenchmarkFileLogWrite(b *testing.B) {
	l, _ := openLog(b, audit.FileOptions{NoSync: true})
	defer l.Close()
	r := benchRecord()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Write(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetArgs measures the digest and summary of each tool call.
func BenchmarkSetArgs(b *testing.B) {
	b.ReportAllocs()
	var r audit.Record
	for b.Loop() {
		r.SetArgs(argsKey, benchArgs, false)
	}
}

// BenchmarkVerify measures verifying a log of 10,000 records, reported
// per record.
func BenchmarkVerify(b *testing.B) {
	const n = 10_000
	l, dir := openLog(b, audit.FileOptions{NoSync: true, MaxFileBytes: 1 << 20})
	r := benchRecord()
	for range n {
		if err := l.Write(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	closeLog(b, l)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := audit.Verify(context.Background(), dir, testKey, audit.VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
