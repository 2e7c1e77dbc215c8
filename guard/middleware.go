package guard

import (
	"context"
	"errors"
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
