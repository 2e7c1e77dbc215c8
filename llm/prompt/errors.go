package prompt

import (
	"errors"
	"fmt"
)

// Errors a caller can test for with errors.Is. Render wraps the variable
// errors in a *RenderError that names the prompt and the variable.
var (
	// ErrNotFound reports a prompt name or version the registry does not
	// hold.
	ErrNotFound = errors.New("prompt: not found")
	// ErrMissingVariable reports a declared variable the caller did not
	// pass.
	ErrMissingVariable = errors.New("missing variable")
	// ErrUnknownVariable reports a variable the caller passed that the
	// prompt does not declare: usually a typo, or a caller written for
	// another version of the prompt.
	ErrUnknownVariable = errors.New("unknown variable")
	// ErrVariableType reports a value that does not have the declared
	// type.
	ErrVariableType = errors.New("wrong variable type")
	// ErrProvenance reports an llm.Part marked untrusted passed for a
	// variable declared trusted: untrusted content cannot become
	// trusted instructions by being passed through a template.
	ErrProvenance = errors.New("untrusted content for a trusted variable")
)

// RenderError is why a prompt did not render. Variable names the variable
// at fault, or is empty when the error is not about one variable (a
// template that fails on trusted data, a prompt that renders no message).
type RenderError struct {
	// Prompt and Version identify the template.
	Prompt, Version string
	// Variable is the variable at fault, or "".
	Variable string
	// Err is the cause: one of the Err* variables or a template error.
	Err error
}

// Error returns a message that names the prompt, its version and the
// variable; it never contains a variable's value.
func (e *RenderError) Error() string {
	if e.Variable != "" {
		return fmt.Sprintf("prompt %s@%s: variable %q: %v", e.Prompt, e.Version, e.Variable, e.Err)
	}
	return fmt.Sprintf("prompt %s@%s: %v", e.Prompt, e.Version, e.Err)
}

// Unwrap returns the cause.
func (e *RenderError) Unwrap() error { return e.Err }

// LoadError is why a prompt file or the rollout file could not be loaded.
// Load returns every problem it found, joined with errors.Join, so that a
// broken prompt set is fixed in one pass.
type LoadError struct {
	// File is the path of the file inside the loaded file system, or ""
	// for Parse.
	File string
	// Err is the cause; its message carries a line number when one is
	// known.
	Err error
}

// Error returns the file and the cause.
func (e *LoadError) Error() string {
	if e.File == "" {
		return "prompt: " + e.Err.Error()
	}
	return "prompt: " + e.File + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *LoadError) Unwrap() error { return e.Err }
