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
// Which checks apply to a part, by its own provenance: text the
// application wrote (system and developer messages, parts marked trusted)
// is not checked; parts explicitly marked untrusted and tool results get
// Policy.Untrusted; the user's own text and earlier assistant turns get
// Policy.Input (an earlier answer is never blocked, only redacted, since
// the model wrote it under this guard already).
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
		out := m
		// Each part is checked under the list of its own provenance: a
		// document pasted next to the user's question does not move the
		// question to the untrusted list, nor the document to the input
		// list.
		if m.Parts != nil {
			out.Parts = make([]llm.Part, len(m.Parts))
			for j, p := range m.Parts {
				sc, checked := partScope(base, m.Role, p)
				if !checked || p.Kind != llm.PartText || p.Text == "" {
					out.Parts[j] = p
					continue
				}
				if sc.where == "input" && m.Role == llm.RoleUser {
					moderate = append(moderate, p.Text)
				}
				red, err := g.redactText(ctx, vault, sc, m.Role, p.Text)
				if err != nil {
					return nil, nil, scope{}, err
				}
				p.Text = red
				out.Parts[j] = p
			}
		}
		if len(m.ToolCalls) > 0 || m.Refusal != "" || m.Reasoning != "" {
			// Model output from earlier turns: the input list, redacted
			// and never blocked.
			sc := base
			sc.where = "input"
			checks := g.checks(sc)
			calls := vault.RedactMessages([]llm.Message{{Role: m.Role, ToolCalls: m.ToolCalls, Refusal: m.Refusal, Reasoning: m.Reasoning}},
				func(text string) []detect.Finding { return g.check(ctx, sc, checks, text, false).Redact })[0]
			out.ToolCalls, out.Refusal, out.Reasoning = calls.ToolCalls, calls.Refusal, calls.Reasoning
		}
		sent.Messages[i] = out
	}
	if err := g.moderate(ctx, base, req.Principal, moderate); err != nil {
		return nil, nil, scope{}, err
	}
	base.where = "output"
	return sent, vault, base, nil
}

// partScope returns the scope a part is checked in, or false for text
// the application wrote (trusted parts of system and developer messages,
// and any part explicitly marked trusted).
func partScope(base scope, role llm.Role, p llm.Part) (scope, bool) {
	sc := base
	switch {
	case p.Provenance == llm.Trusted:
		return sc, false
	case role == llm.RoleTool || p.Provenance == llm.Untrusted:
		sc.where, sc.untrusted = "untrusted", true
	case role == llm.RoleSystem || role == llm.RoleDeveloper:
		return sc, false // default provenance of these roles is trusted
	default:
		sc.where = "input"
	}
	return sc, true
}

// redactText checks one text in sc (a block refuses the request, except
// in an earlier assistant turn) and returns it redacted through the
// vault. JSON text is redacted string by string; each string is checked
// again, without events.
func (g *Guard) redactText(ctx context.Context, vault *Vault, sc scope, role llm.Role, text string) (string, error) {
	checks := g.checks(sc)
	v := g.check(ctx, sc, checks, text, true)
	if v.Action == Block && role != llm.RoleAssistant {
		return "", blocked(v.Reason)
	}
	msg := vault.RedactMessages([]llm.Message{{Role: role, Parts: []llm.Part{{Kind: llm.PartText, Text: text}}}},
		func(piece string) []detect.Finding {
			if piece == text {
				return v.Redact
			}
			return g.check(ctx, sc, checks, piece, false).Redact
		})
	return msg[0].Parts[0].Text, nil
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
