package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keel-go/keel/tools"
)

// approvalTTL bounds how long an answer stands. The Executor refuses an
// approval without an expiry, and one that outlives the moment it was
// given for (an agent paused overnight) should be asked again.
const approvalTTL = 10 * time.Minute

// terminalApprover asks the person at the terminal to approve each call
// the policy sends for approval, and rejects every one when nobody can be
// asked (stdin is not a terminal: a pipe, a file, /dev/null, a CI job).
// Rejecting is the only safe default: an approval that nobody gave must
// not let an email out.
type terminalApprover struct {
	out         io.Writer
	interactive bool
	name        string
	now         func() time.Time

	// mu serialises prompts: the agent runs parallel calls concurrently,
	// and two questions on one terminal would interleave.
	mu      sync.Mutex
	lines   *bufio.Scanner // nil once input is unusable
	answers map[string]tools.Approval
}

func newTerminalApprover(in io.Reader, out io.Writer, interactive bool, name string, now func() time.Time) *terminalApprover {
	a := &terminalApprover{out: out, interactive: interactive, name: name, now: now, answers: map[string]tools.Approval{}}
	if in != nil {
		// A Scanner bounds the line it holds (64 KiB), so an endless line
		// on stdin is an error, not an allocation without end.
		a.lines = bufio.NewScanner(in)
	}
	return a
}

// Approve implements tools.Approver.
func (a *terminalApprover) Approve(ctx context.Context, req *tools.ApprovalRequest) (tools.Approval, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The answer carries the request's binding: the Executor accepts it
	// only for this exact call (tool, arguments, principal, conversation).
	ans := tools.Approval{Binding: req.Binding, Status: tools.Rejected, Approver: a.name, ExpiresAt: a.now().Add(approvalTTL)}
	switch {
	case !a.interactive:
		ans.Reason = "not interactive"
	case a.lines == nil:
		ans.Reason = "no input to read an answer from"
	default:
		fmt.Fprint(a.out, approvalPrompt(req))
		line, err := a.readLine(ctx)
		switch {
		case ctx.Err() != nil:
			return tools.Approval{}, ctx.Err()
		case err != nil:
			ans.Reason = "no answer: " + err.Error()
		case isYes(line):
			ans.Status, ans.Reason = tools.Approved, "approved at the terminal"
		default:
			ans.Reason = "rejected at the terminal"
		}
		// Approval is a moment, not a state: start its clock when the
		// person answered, not when they were asked.
		ans.ExpiresAt = a.now().Add(approvalTTL)
	}
	a.answers[req.CallID] = ans
	return ans, nil
}

// readLine reads one answer, giving up when ctx is done (Ctrl-C). A read
// from a terminal cannot be interrupted, so on cancellation the reading
// goroutine is left to finish by itself and the input is not used again.
func (a *terminalApprover) readLine(ctx context.Context) (string, error) {
	type result struct {
		line string
		err  error
	}
	lines := a.lines
	ch := make(chan result, 1)
	go func() {
		if lines.Scan() {
			ch <- result{line: lines.Text()}
			return
		}
		err := lines.Err()
		if err == nil {
			err = io.EOF
		}
		ch <- result{err: err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			a.lines = nil
		}
		return r.line, r.err
	case <-ctx.Done():
		a.lines = nil
		return "", ctx.Err()
	}
}

// answer returns the answer given for the call with id, if any.
func (a *terminalApprover) answer(callID string) (tools.Approval, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ans, ok := a.answers[callID]
	return ans, ok
}

func isYes(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return s == "y" || s == "yes"
}

// approvalPrompt is what the person reads before answering: the tool, who
// it runs for, the rule that asked and why, and every argument. The
// arguments come from the model, so they are quoted: a terminal escape
// sequence or a line break in an email body cannot redraw the prompt.
func approvalPrompt(req *tools.ApprovalRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n--- approval needed: %s (risk %s) for %s/%s\n", req.Tool, req.Risk, req.Principal.Tenant, req.Principal.User)
	fmt.Fprintf(&b, "    rule %q: %s\n", req.Rule, req.Reason)
	for _, line := range summarizeArgs(req.Args) {
		b.WriteString("    ")
		b.WriteString(line)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "    the answer stands for %s. Approve? [y/N] ", approvalTTL)
	return b.String()
}

// Bounds of summarizeArgs, so that a hostile or runaway model cannot fill
// the terminal.
const (
	maxSummaryFields = 20
	maxSummaryValue  = 400 // bytes of a quoted value
)

// summarizeArgs renders tool arguments (JSON from the model) one field a
// line, `name: "value"`, keys sorted, strings quoted with Go escapes and
// cut to maxSummaryValue. Arguments that are not a JSON object are shown
// as one quoted, cut string. The output holds no control characters.
func summarizeArgs(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return []string{"arguments (not a JSON object): " + quoteCut(string(raw))}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return []string{"(no arguments)"}
	}
	var lines []string
	for i, k := range keys {
		if i == maxSummaryFields {
			lines = append(lines, fmt.Sprintf("(%d more fields not shown)", len(keys)-i))
			break
		}
		lines = append(lines, fieldName(k)+": "+valueText(obj[k]))
	}
	return lines
}

// oneLineArgs is summarizeArgs on one line, for the run's report.
func oneLineArgs(raw []byte) string {
	return strings.Join(summarizeArgs(raw), "  ")
}

// fieldName shows a plain key as is and quotes any other.
func fieldName(k string) string {
	if k != "" && len(k) <= 64 && strings.IndexFunc(k, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return k
	}
	return quoteCut(k)
}

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return quoteCut(x)
	case nil:
		return "null"
	case json.Number, bool:
		return quoteCutRaw(fmt.Sprint(x))
	default:
		// Objects and arrays: their JSON, quoted like a string so that
		// whatever they hold is escaped.
		b, err := json.Marshal(x)
		if err != nil {
			return "(unprintable)"
		}
		return quoteCut(string(b))
	}
}

// quoteCut quotes s with Go escapes (control characters, invalid UTF-8
// and non-printing runes escaped), keeping at most maxSummaryValue bytes
// of the quoted form; a cut value ends in … and gives its length. It cuts
// between runes of s, so that no escape sequence is split.
func quoteCut(s string) string {
	q := strconv.Quote(s)
	if len(q) <= maxSummaryValue {
		return q
	}
	b := []byte{'"'}
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		piece := strconv.Quote(s[i : i+size])
		piece = piece[1 : len(piece)-1]
		if len(b)+len(piece) > maxSummaryValue-len(`…"`) {
			break
		}
		b = append(b, piece...)
		i += size
	}
	return string(b) + `…"` + fmt.Sprintf(" (%d bytes)", len(s))
}

// quoteCutRaw shows a number or a boolean as written, cut like a string.
func quoteCutRaw(s string) string {
	if len(s) <= maxSummaryValue {
		return s
	}
	return quoteCut(s)
}
