package structured

import (
	"fmt"
	"strings"

	"github.com/keel-go/keel/llm"
)

// Attempt is one answer that could not be used.
type Attempt struct {
	// Text is the raw answer, as the model wrote it.
	Text string
	// Err says what was wrong with it: an *ExtractError, a
	// *ValidationError, or a decoding error.
	Err error
}

// OutputError is returned when no attempt gave a valid value. It unwraps
// to an *llm.Error of kind llm.KindInvalidOutput, so llm.KindOf and
// errors.Is(err, llm.KindInvalidOutput) see it.
type OutputError struct {
	// Schema names the schema asked for.
	Schema string
	// Attempts lists every answer, first to last, and its problem.
	Attempts []Attempt
}

// maxErrorText bounds how much of each raw answer Error quotes.
const maxErrorText = 200

// Error says what was wrong with each attempt. It quotes at most the
// first characters of each answer; Attempts holds them whole.
func (e *OutputError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "structured: no valid %s after %d attempt(s)", e.Schema, len(e.Attempts))
	for i, a := range e.Attempts {
		text := a.Text
		if len(text) > maxErrorText {
			text = text[:maxErrorText] + "…"
		}
		fmt.Fprintf(&b, "; attempt %d: %v (answer %q)", i+1, a.Err, text)
	}
	return b.String()
}

// Unwrap returns the kind of the error as an *llm.Error.
func (e *OutputError) Unwrap() error {
	return &llm.Error{Kind: llm.KindInvalidOutput, Message: fmt.Sprintf("no valid %s after %d attempt(s)", e.Schema, len(e.Attempts))}
}

// Last returns the last attempt's raw text, "" if there was none.
func (e *OutputError) Last() string {
	if len(e.Attempts) == 0 {
		return ""
	}
	return e.Attempts[len(e.Attempts)-1].Text
}
