// Package prompttest checks, inside go test, that an application's prompts
// are usable before they ship: every version of every prompt in a registry
// renders with the examples its header declares, and the schema of its
// output type compiles and is accepted by OpenAI's strict subset.
//
// One test in the application covers every prompt file, so a prompt
// change that breaks rendering, drops an example or makes the output
// schema unusable in strict mode fails the build like any other test:
//
//	//go:embed prompts
//	var promptFiles embed.FS
//
//	func TestPrompts(t *testing.T) {
//		sub, _ := fs.Sub(promptFiles, "prompts")
//		prompttest.CheckFS(t, sub, prompt.WithSchemas(schemas))
//	}
//
// Check takes a registry that is already loaded; CheckFS loads one first
// and fails the test when loading does.
package prompttest
