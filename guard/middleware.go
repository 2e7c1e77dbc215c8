package guard

import (
	"context"
	"errors"
	"iter"
	"strings"

	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm"
)

// prepare checks a request's input under the policy for its principal and
// feature: it returns the request to send (a copy, redacted), the vault
// to restore the answer from, and the scope for the answer's checks; or
// an *llm.Error of kind llm.KindGuardBlocked.
//
// Which checks apply to a part: system and developer text written by the
// application is not checked; text explicitly marked untrusted and tool
// results get Policy.Untrusted; the user's own text and earlier assistant
// turns get Policy.Input (an earlier answer is never blocked, only
// redacted, since the model wrote it under this guard already).
func (g *Guard) prepare(ctx context.Context, req *llm.Request) (*llm.Request, *Vault, scope, error) {
	if req == nil {
		return nil, nil, scope{}, &llm.Error{Kind: llm.KindInvalidRequest, Message: "guard: nil request"}
	}
	pol := g.policyFor(req.Principal.Tenant, req.Feature)
	base := scope{policy: pol, tenant: req.Principal.Tenant, feature: req.Feature}
	vault := g.redactor(pol).NewVault()
	sent := req.Clone()
	sent.Messages = make([]llm.Message, len(req.Messages))
	var moderate []string
	for i, m := range req.Messages {
		sc := base
		switch {
		case m.Role == llm.RoleSystem || m.Role == llm.RoleDeveloper:
			if !m.HasUntrusted() {
				sent.Messages[i] = m
				continue
			}
			sc.where, sc.untrusted = "untrusted", true
		case m.Role == llm.RoleTool || explicitlyUntrusted(m):
			sc.where, sc.untrusted = "untrusted", true
		default:
			sc.where = "input"
		}
		checks := g.checks(sc)
		seen := map[string][]detect.Finding{}
		for _, text := range messageTexts(m) {
			v := g.check(ctx, sc, checks, text, true)
			if v.Action == Block && m.Role != llm.RoleAssistant {
				return nil, nil, scope{}, blocked(v.Reason)
			}
			seen[text] = v.Redact
		}
		if sc.where == "input" && m.Role == llm.RoleUser {
			moderate = append(moderate, m.Text())
		}
		// The vault redacts text by text (and JSON string by string), so
		// the pieces it hands over are checked again, without events.
		sent.Messages[i] = vault.RedactMessages([]llm.Message{m}, func(text string) []detect.Finding {
			if f, ok := seen[text]; ok {
				return f
			}
			return g.check(ctx, sc, checks, text, false).Redact
		})[0]
	}
	if err := g.moderate(ctx, base, req.Principal, moderate); err != nil {
		return nil, nil, scope{}, err
	}
	base.where = "output"
	return sent, vault, base, nil
}

// explicitlyUntrusted reports whether a part of m is marked untrusted by
// whoever built it (retrieved documents, uploads, template variables),
// rather than by default.
func explicitlyUntrusted(m llm.Message) bool {
	for _, p := range m.Parts {
		if p.Provenance == llm.Untrusted {
			return true
		}
	}
	return false
}

// messageTexts lists the texts of m that are checked: text parts, tool
// call arguments, refusal and reasoning.
func messageTexts(m llm.Message) []string {
	var out []string
	for _, p := range m.Parts {
		if p.Kind == llm.PartText && p.Text != "" {
			out = append(out, p.Text)
		}
	}
	for _, c := range m.ToolCalls {
		out = append(out, c.Arguments)
	}
	if m.Refusal != "" {
		out = append(out, m.Refusal)
	}
	return out
}

// moderate runs the policy's moderation over the user's texts.
func (g *Guard) moderate(ctx context.Context, sc scope, p llm.Principal, texts []string) error {
	pol := sc.policy
	if pol.Moderation == nil || len(texts) == 0 {
		return nil
	}
	if g.cfg.Moderator == nil {
		return errors.New("guard: the policy moderates input but Config.Moderator is not set")
	}
	resp, err := g.cfg.Moderator.Moderate(ctx, &llm.ModerationRequest{Inputs: texts, Principal: p})
	if err != nil {
		return err
	}
	for _, r := range resp.Results {
		if vs := pol.Moderation.Judge(r); len(vs) > 0 {
			var cats []string
			for _, v := range vs {
				cats = append(cats, v.Category)
				if g.cfg.Events != nil {
					g.cfg.Events.Emit(ctx, Event{Type: "MODERATION:" + v.Category, Detector: "moderation", Score: v.Score, Action: Block,
						Where: "input", Policy: pol.Name, Tenant: sc.tenant, Feature: sc.feature})
				}
			}
			return blocked("guard: input blocked by moderation: " + strings.Join(cats, ", "))
		}
	}
	return nil
}

// Middleware is the guard as an llm.Middleware, for the canonical
// position (outside the cache, so nothing unredacted is cached): it checks
// and redacts the request's input under the policy of its principal and
// feature (a block is an *llm.Error of kind llm.KindGuardBlocked), sends
// the redacted copy on, restores the placeholders in the answer (text,
// tool-call arguments, structured output), and runs the output checks and
// filters on the restored answer. Streams are restored and filtered as
// they go: the filters hold back at most their window, and a block ends
// the stream with the error after the text already emitted.
func (g *Guard) Middleware() llm.Middleware {
	return func(next llm.Model) llm.Model {
		return llm.ModelFuncs{
			GenerateFunc: func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
				sent, vault, sc, err := g.prepare(ctx, req)
				if err != nil {
					return nil, err
				}
				og, err := g.outputGuard(sc, req)
				if err != nil {
					return nil, err
				}
				resp, err := next.Generate(ctx, sent)
				if err != nil {
					return nil, err
				}
				resp = vault.RestoreResponse(resp, req.ResponseFormat)
				if err := g.filterResponse(ctx, sc, og, resp); err != nil {
					return nil, err
				}
				return resp, nil
			},
			StreamFunc: func(ctx context.Context, req *llm.Request) iter.Seq2[llm.Event, error] {
				return func(yield func(llm.Event, error) bool) {
					sent, vault, sc, err := g.prepare(ctx, req)
					if err != nil {
						yield(llm.Event{}, err)
						return
					}
					og, err := g.outputGuard(sc, req)
					if err != nil {
						yield(llm.Event{}, err)
						return
					}
					s := vault.RestoreStream(next.Stream(ctx, sent), req.ResponseFormat)
					if og == nil {
						for ev, err := range s {
							if !yield(ev, err) {
								return
							}
						}
						return
					}
					g.filterStream(ctx, sc, og, s, yield)
				}
			},
		}
	}
}

// filterStream passes the events of s through og's stream filter: text
// deltas are held back and filtered, the rest pass at once except the
// finish and usage events, which wait for the held text.
func (g *Guard) filterStream(ctx context.Context, sc scope, og *OutputGuard, s llm.Stream, yield func(llm.Event, error) bool) {
	sf := og.NewStream()
	reported := 0
	report := func() {
		fs := sf.Findings()
		g.emitOutput(ctx, sc, fs[reported:])
		reported = len(fs)
	}
	emit := func(text string, blockedNow bool) bool {
		report()
		if text != "" && !yield(llm.Event{Kind: llm.EventTextDelta, Text: text}, nil) {
			return false
		}
		if blockedNow {
			fs := sf.Findings()
			yield(llm.Event{}, blocked("guard: answer blocked by "+fs[len(fs)-1].Filter))
			return false
		}
		return true
	}
	flushed := false
	flush := func() bool {
		if flushed {
			return true
		}
		flushed = true
		return emit(sf.Flush())
	}
	for ev, err := range s {
		if err != nil {
			if !flush() {
				return
			}
			yield(ev, err)
			return
		}
		switch ev.Kind {
		case llm.EventTextDelta:
			if !emit(sf.Write(ev.Text)) {
				return
			}
			continue
		case llm.EventFinish, llm.EventUsage:
			if !flush() {
				return
			}
		}
		if !yield(ev, nil) {
			return
		}
	}
	flush()
}
