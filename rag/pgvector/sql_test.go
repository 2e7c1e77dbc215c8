package pgvector

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
)

func TestWhere(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		q    rag.Query
		want string
		args []any
	}{
		{
			name: "tenant only",
			q:    rag.Query{Principal: llm.Principal{Tenant: "acme"}},
			want: "c.tenant = $2::text AND (c.everyone)",
			args: []any{"acme"},
		},
		{
			name: "user and groups",
			q:    rag.Query{Principal: llm.Principal{Tenant: "acme", User: "alice", Groups: []string{"a", "b"}}},
			want: "c.tenant = $2::text AND (c.everyone OR $3::text = ANY (c.users) OR c.groups && $4::text[])",
			args: []any{"acme", "alice", []string{"a", "b"}},
		},
		{
			name: "every filter",
			q: rag.Query{Principal: llm.Principal{Tenant: "acme"}, Filter: rag.Filter{
				Equals: map[string]string{"lang": "en"}, In: map[string][]string{"z": {"1"}, "a": {"2", "3"}},
				DocIDs: []string{"d"}, UpdatedFrom: t0, UpdatedBefore: t0.Add(time.Hour),
			}},
			want: "c.tenant = $2::text AND (c.everyone) AND c.metadata @> $3::text::jsonb" +
				" AND c.metadata ->> $4::text = ANY ($5::text[]) AND c.metadata ->> $6::text = ANY ($7::text[])" +
				" AND c.doc_id = ANY ($8::text[]) AND c.updated_at >= $9::timestamptz AND c.updated_at < $10::timestamptz",
			args: []any{"acme", `{"lang":"en"}`, "a", []string{"2", "3"}, "z", []string{"1"}, []string{"d"}, t0, t0.Add(time.Hour)},
		},
	} {
		w := &whereBuilder{args: []any{"first"}}
		got, err := w.build(&tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
		if fmt.Sprint(w.args[1:]) != fmt.Sprint(tt.args) {
			t.Errorf("%s: args %v, want %v", tt.name, w.args[1:], tt.args)
		}
	}
}

// FuzzWhere checks that no part of a query reaches the SQL text: the
// clause built for any strings is the one built for harmless strings of
// the same shape, and its placeholders are exactly its parameters.
func FuzzWhere(f *testing.F) {
	f.Add("acme", "alice", "g", "lang", "en", "doc")
	f.Add("a'; DROP TABLE x; --", `$1`, `"`, `k') OR true --`, `\`, "\x00")
	f.Add("", "", "", "", "", "")
	placeholder := regexp.MustCompile(`\$([0-9]+)`)
	f.Fuzz(func(t *testing.T, tenant, user, group, key, value, docID string) {
		q := rag.Query{Principal: llm.Principal{Tenant: tenant, User: user, Groups: []string{group}}, K: 10,
			Filter: rag.Filter{Equals: map[string]string{key: value}, In: map[string][]string{key: {value}, key + "2": {value, value}}, DocIDs: []string{docID}}}
		// Harmless strings of the same shape: a user only if there is
		// one (the clause leaves out an empty user).
		tame := rag.Query{Principal: llm.Principal{Tenant: "t", Groups: []string{"g"}}, K: 10,
			Filter: rag.Filter{Equals: map[string]string{"k": "v"}, In: map[string][]string{"k": {"v"}, "k2": {"v", "v"}}, DocIDs: []string{"d"}}}
		if user != "" {
			tame.Principal.User = "u"
		}
		w := &whereBuilder{args: []any{"x"}}
		got, err := w.build(&q)
		if err != nil {
			if checkQuery(&q) == nil {
				t.Fatalf("build failed on a query checkQuery accepts: %v", err)
			}
			return
		}
		want, err := (&whereBuilder{args: []any{"x"}}).build(&tame)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("the clause depends on the values:\n got %s\nwant %s", got, want)
		}
		var seen []int
		for _, m := range placeholder.FindAllStringSubmatch(got, -1) {
			n, _ := strconv.Atoi(m[1])
			if !slices.Contains(seen, n) {
				seen = append(seen, n)
			}
		}
		if len(seen) != len(w.args)-1 || slices.Max(seen) != len(w.args) {
			t.Fatalf("placeholders %v for %d parameters", seen, len(w.args))
		}
	})
}

// FuzzOptions checks that whatever Options a caller gives, New either
// refuses them or keeps only names that are safe to write into SQL.
func FuzzOptions(f *testing.F) {
	f.Add("public", "keel_rag_", "english", 4)
	f.Add("x\"y", "a'b", "simple'); DROP", 2001)
	f.Add("", "", "pg_catalog.english", 0)
	f.Fuzz(func(t *testing.T, schema, prefix, language string, dim int) {
		o := Options{Schema: schema, TablePrefix: prefix, Language: language, Dim: dim}
		if err := normalize(&o); err != nil {
			return
		}
		for _, s := range []string{o.TablePrefix, o.Language} {
			if strings.ContainsAny(s, "'\"\\;$ \x00") {
				t.Fatalf("%q accepted into SQL", s)
			}
		}
		n := newNames(o.Schema, o.TablePrefix)
		for _, name := range []string{n.documents, n.chunks, n.version, n.orQuery, n.bare(longestName)} {
			if strings.Count(name, `"`)%2 != 0 || strings.Contains(name, "\x00") {
				t.Fatalf("badly quoted name %q", name)
			}
		}
	})
}

// FuzzParseVersion feeds the server's version strings (untrusted: any
// build can report anything) to the version check.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"0.8.7", "0.10", "1.2.3-dev", "", ".", "0..1", "99999999999999999999.1", "0.8.0+build"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseVersion(s)
		if err != nil {
			return
		}
		for _, n := range v {
			if n < 0 {
				t.Fatalf("parseVersion(%q) = %v", s, v)
			}
		}
		if err := checkVersion(s); (err == nil) != (v[0] > 0 || v[1] >= 8) {
			t.Fatalf("checkVersion(%q) = %v for %v", s, err, v)
		}
	})
}
