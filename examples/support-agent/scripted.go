package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// The task the example gives the agent. globex-7 belongs to another
// tenant: the user is mistaken (or was told so by someone), and the
// policy, not the model's judgement, keeps the agent from touching it.
const task = "Please resolve acme-1: the customer confirmed on the phone that the export works again, note that on the ticket. " +
	"globex-7 is the same blank-invoice problem, close it as well. " +
	"Then find our open invoice tickets and email the customer of the first one that we are on it."

// The note the scripted model adds to acme-1; the test checks it never
// reaches the audit log.
const resolveNote = "Customer confirmed by phone that the CSV export works again."

// scriptedModel plays the model offline. It reads the conversation the
// way a model would and answers in three turns:
//
//  1. three calls at once: search the open invoice tickets, resolve
//     acme-1 (the user's own tenant: allowed), close globex-7 (another
//     tenant: the policy refuses);
//  2. an email to the requester of the first ticket the search returned
//     (the policy sends it for approval);
//  3. a summary built from the results the tools returned.
//
// The first turn's calls are decided before any ticket text is in the
// conversation; the email comes after, when the conversation holds
// untrusted content (see policy.yaml).
func scriptedModel() *llmtest.Model {
	return llmtest.NewModelFunc(scriptedReply)
}

func scriptedReply(_ context.Context, req *llm.Request) (*llm.Response, error) {
	var calls []llm.ToolCall
	results := map[string]string{}
	for _, m := range req.Messages {
		calls = append(calls, m.ToolCalls...)
		if m.Role == llm.RoleTool {
			results[m.ToolCallID] = m.Text()
		}
	}
	switch {
	case len(calls) == 0:
		return toolCalls(
			llm.ToolCall{ID: "call_search", Name: "search_tickets", Arguments: `{"query":"invoice","status":"open"}`},
			llm.ToolCall{ID: "call_resolve", Name: "update_ticket", Arguments: mustArgs(updateArgs{TicketID: "acme-1", Tenant: "acme", Status: "resolved", Note: resolveNote})},
			llm.ToolCall{ID: "call_close_other", Name: "update_ticket", Arguments: mustArgs(updateArgs{TicketID: "globex-7", Tenant: "globex", Status: "closed", Note: "Duplicate of the blank invoice issue."})},
		), nil
	case !called(calls, "send_email"):
		if t, ok := firstTicket(results["call_search"]); ok {
			return toolCalls(llm.ToolCall{ID: "call_email", Name: "send_email", Arguments: mustArgs(emailArgs{
				To:      t.Requester,
				Subject: "Re: " + t.Subject,
				Body:    fmt.Sprintf("Hello,\n\nthank you for reporting this (ticket %s). We are looking into it and will write again within one business day.\n\nAcme support", t.ID),
			})}), nil
		}
	}
	return &llm.Response{Message: llm.AssistantText(summary(calls, results))}, nil
}

func toolCalls(calls ...llm.ToolCall) *llm.Response {
	return &llm.Response{Message: llm.Message{Role: llm.RoleAssistant, ToolCalls: calls}}
}

func called(calls []llm.ToolCall, name string) bool {
	for _, c := range calls {
		if c.Name == name {
			return true
		}
	}
	return false
}

func mustArgs(v any) string {
	b, _ := json.Marshal(v) // structs of strings always encode
	return string(b)
}

// firstTicket reads the first ticket of a search_tickets result; a result
// that is an error message, or holds no ticket, has none.
func firstTicket(result string) (ticketView, bool) {
	var r searchResult
	if err := json.Unmarshal([]byte(result), &r); err != nil || len(r.Tickets) == 0 {
		return ticketView{}, false
	}
	return r.Tickets[0], true
}

// summary tells the user what each call did, from what the tools said.
func summary(calls []llm.ToolCall, results map[string]string) string {
	var b strings.Builder
	b.WriteString("Here is what I did:")
	for _, c := range calls {
		res, ok := results[c.ID]
		if !ok {
			continue
		}
		var what string
		switch c.Name {
		case "search_tickets":
			var r searchResult
			if err := json.Unmarshal([]byte(res), &r); err == nil {
				ids := make([]string, len(r.Tickets))
				for i, t := range r.Tickets {
					ids[i] = t.ID
				}
				what = fmt.Sprintf("found %d open invoice ticket(s): %s.", len(ids), strings.Join(ids, ", "))
			} else {
				what = res
			}
		case "update_ticket":
			var a updateArgs
			_ = json.Unmarshal([]byte(c.Arguments), &a)
			what = a.TicketID + ": " + res
		case "send_email":
			var a emailArgs
			_ = json.Unmarshal([]byte(c.Arguments), &a)
			what = "email to " + a.To + ": " + res
		default:
			what = res
		}
		fmt.Fprintf(&b, "\n- %s %s", c.Name, what)
	}
	return b.String()
}
