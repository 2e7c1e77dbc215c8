package shareddata_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keel-go/keel/internal/shareddata"
)

func TestFileFound(t *testing.T) {
	root := t.TempDir()
	want := filepath.Join(root, "shared", "data", "set", "cases.jsonl")
	if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(want, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "work", "repo", "pkg")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	if got := shareddata.File(t, "set/cases.jsonl", ""); got != want {
		t.Errorf("File = %s, want %s", got, want)
	}
}

func TestFileMissingSkips(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("CI", "")
	ran := false
	t.Run("missing", func(t *testing.T) {
		defer func() { ran = true }()
		shareddata.File(t, "no/such/file", "hint")
		t.Error("File returned for a missing file")
	})
	if !ran {
		t.Error("the subtest did not run")
	}
}
