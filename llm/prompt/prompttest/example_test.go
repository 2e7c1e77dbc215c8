package prompttest_test

import (
	"embed"
	"fmt"
	"io/fs"
	"testing"

	"github.com/keel-go/keel/llm/prompt/prompttest"
)

//go:embed testdata/prompts
var promptFiles embed.FS

// An application checks all its prompt files in one test; here a recorder
// stands in for the *testing.T that go test would pass.
func ExampleCheckFS() {
	sub, err := fs.Sub(promptFiles, "testdata/prompts")
	if err != nil {
		panic(err)
	}
	rec := run(func(t testing.TB) {
		r := prompttest.CheckFS(t, sub)
		fmt.Println("checked", r.Names())
	})
	fmt.Println("problems:", rec.errs)
	// Output:
	// checked [greet summarize]
	// problems: [prompttest: summarize@v2 (summarize/v2.prompt): variable "text" has no example]
}
