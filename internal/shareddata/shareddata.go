package shareddata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// File returns the path of rel (a slash-separated path under shared/data)
// found walking up from the test's working directory, which finds it from
// the main checkout and from git worktrees nested deeper. When it is
// missing the test is skipped, or failed with CI=true; hint is added to
// the message (where the data comes from).
func File(t testing.TB, rel, hint string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var tried []string
	for {
		p := filepath.Join(dir, "shared", "data", filepath.FromSlash(rel))
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
		tried = append(tried, p)
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	msg := "shared data file " + rel + " not found"
	if hint != "" {
		msg += " (" + hint + ")"
	}
	msg += "; looked for " + strings.Join(tried, ", ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
