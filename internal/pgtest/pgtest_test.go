package pgtest

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recordingTB is a testing.TB whose Skip and Fatal record the message and
// end the goroutine, as the real ones do, so that a test can watch what DSN
// does without being skipped or failed itself.
type recordingTB struct {
	testing.TB
	mu      sync.Mutex
	skipped string
	fatal   string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skip(args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprint(args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Fatal(args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprint(args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func TestDSNWithoutVariable(t *testing.T) {
	tests := []struct {
		name      string
		dsn       string
		ci        string
		wantDSN   string
		wantSkip  bool
		wantFatal bool
	}{
		{name: "set", dsn: "postgres://u@127.0.0.1:1/db", wantDSN: "postgres://u@127.0.0.1:1/db"},
		{name: "set in CI", dsn: "postgres://u@127.0.0.1:1/db", ci: "true", wantDSN: "postgres://u@127.0.0.1:1/db"},
		{name: "unset locally", wantSkip: true},
		{name: "unset with CI other than true", ci: "1", wantSkip: true},
		{name: "unset in CI", ci: "true", wantFatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvDSN, tt.dsn)
			t.Setenv("CI", tt.ci)
			rec := &recordingTB{TB: t}
			var got string
			done := make(chan struct{})
			go func() {
				defer close(done)
				got = DSN(rec)
			}()
			<-done
			if got != tt.wantDSN {
				t.Errorf("DSN = %q, want %q", got, tt.wantDSN)
			}
			if (rec.skipped != "") != tt.wantSkip {
				t.Errorf("skipped = %q, want skip %v", rec.skipped, tt.wantSkip)
			}
			if (rec.fatal != "") != tt.wantFatal {
				t.Errorf("fatal = %q, want fatal %v", rec.fatal, tt.wantFatal)
			}
			if msg := rec.skipped + rec.fatal; msg != "" && !strings.Contains(msg, EnvDSN) {
				t.Errorf("message %q does not name %s", msg, EnvDSN)
			}
		})
	}
}

func TestNewSchemaName(t *testing.T) {
	tests := []struct {
		testName   string
		wantMiddle string // between schemaPrefix and the random suffix
	}{
		{"TestStore", "teststore"},
		{"TestStore/sub_test#01", "teststore_sub_test_01"},
		{`Test"Quote"; DROP TABLE x`, "test_quote___drop_table_x"},
		{"TestÜnicode", "test_nicode"},
		{"", ""},
		{strings.Repeat("TestLong", 20), strings.Repeat("testlong", 20)[:maxIdentifierLen-len(schemaPrefix)-17]},
	}
	for _, tt := range tests {
		t.Run(tt.wantMiddle, func(t *testing.T) {
			a, b := newSchemaName(tt.testName), newSchemaName(tt.testName)
			if a == b {
				t.Errorf("two names for %q are equal: %q", tt.testName, a)
			}
			if len(a) > maxIdentifierLen {
				t.Errorf("%q is %d bytes, longer than PostgreSQL keeps (%d)", a, len(a), maxIdentifierLen)
			}
			middle, ok := strings.CutPrefix(a, schemaPrefix)
			if !ok || len(middle) < 17 {
				t.Fatalf("%q does not start with %q and end with a random suffix", a, schemaPrefix)
			}
			if got := middle[:len(middle)-17]; got != tt.wantMiddle {
				t.Errorf("name %q: readable part %q, want %q", a, got, tt.wantMiddle)
			}
			for _, r := range a {
				if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
					t.Errorf("%q contains %q, which would need quoting", a, r)
				}
			}
		})
	}
}

func TestQualify(t *testing.T) {
	tests := []struct {
		schema, name, want string
	}{
		{"keel_test_x", "docs", `"keel_test_x"."docs"`},
		{"s", `we"ird`, `"s"."we""ird"`},
		{"Mixed", "Case", `"Mixed"."Case"`},
		{"s", "a.b", `"s"."a.b"`},
	}
	for _, tt := range tests {
		if got := Qualify(tt.schema, tt.name); got != tt.want {
			t.Errorf("Qualify(%q, %q) = %s, want %s", tt.schema, tt.name, got, tt.want)
		}
	}
}

// TestSchemaDroppedAtCleanup creates schemas in subtests, which drop them
// when they end, and checks from the parent that they were made, were
// distinct, held their tables and are gone.
func TestSchemaDroppedAtCleanup(t *testing.T) {
	pool := Pool(t)
	ctx := t.Context()
	exists := func(schema string) bool {
		t.Helper()
		var ok bool
		if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	var made []string
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			schema := Schema(t, pool)
			made = append(made, schema)
			if !exists(schema) {
				t.Fatalf("schema %s was not created", schema)
			}
			table := Qualify(schema, "notes")
			if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" (body text)"); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", name); err != nil {
				t.Fatal(err)
			}
			var body string
			if err := pool.QueryRow(ctx, "SELECT body FROM "+table).Scan(&body); err != nil || body != name {
				t.Errorf("read back %q, %v; want %q", body, err, name)
			}
		})
	}
	if len(made) != 2 || made[0] == made[1] {
		t.Fatalf("schemas made: %v, want two distinct", made)
	}
	for _, schema := range made {
		if exists(schema) {
			t.Errorf("schema %s still exists after its test ended", schema)
		}
	}
}
