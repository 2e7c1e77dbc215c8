package guard

import (
	"context"
	"strings"

	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm"
)

// outputGuard builds the OutputGuard of one answer: the policy's Output
// checks as SensitiveData filters (a Redact check strips, a Block check
// blocks, a Flag check flags), Config.Filters, and, with
// Config.SystemPromptLeak, a leak filter over the request's system text.
func (g *Guard) outputGuard(sc scope, req *llm.Request) (*OutputGuard, error) {
	var filters []OutputFilter
	for _, c := range sc.policy.Output {
		ds := g.detectorsFor([]Check{c})
		if len(ds) == 0 || c.Action == Allow {
			continue
		}
		if c.Detector != "*" && g.byName[c.Detector] == nil {
			// A check by finding type: only that type counts.
			for i, d := range ds {
				ds[i] = typeOnly{d, c.Detector}
			}
		}
		th := c.Threshold
		if th == 0 {
			th = DefaultThreshold
		}
		filters = append(filters, SensitiveData{Detectors: ds, MinScore: th, Action: filterAction(c.Action)})
	}
	filters = append(filters, g.cfg.Filters...)
	if g.cfg.SystemPromptLeak {
		var sys strings.Builder
		for _, m := range req.Messages {
			if m.Role == llm.RoleSystem || m.Role == llm.RoleDeveloper {
				sys.WriteString(m.Text())
				sys.WriteByte('\n')
			}
		}
		if sys.Len() > 0 || g.cfg.Canary != "" {
			filters = append(filters, SystemPromptLeak{SystemPrompt: sys.String(), Canary: g.cfg.Canary})
		}
	}
	if len(filters) == 0 {
		return nil, nil
	}
	return NewOutputGuard(OutputGuardOptions{Replacement: "[removed]"}, filters...)
}

func filterAction(a Action) FilterAction {
	switch a {
	case Block:
		return FilterBlock
	case Flag:
		return FilterFlag
	default:
		return FilterStrip
	}
}

func actionOf(a FilterAction) Action {
	switch a {
	case FilterBlock:
		return Block
	case FilterFlag:
		return Flag
	default:
		return Redact
	}
}

// typeOnly reports only one finding type of a detector.
type typeOnly struct {
	d   detect.Detector
	typ string
}

func (t typeOnly) Name() string    { return t.d.Name() }
func (t typeOnly) Types() []string { return []string{t.typ} }
func (t typeOnly) Detect(dst []detect.Finding, text string) []detect.Finding {
	n := len(dst)
	dst = t.d.Detect(dst, text)
	kept := dst[:n]
	for _, f := range dst[n:] {
		if strings.EqualFold(f.Type, t.typ) {
			kept = append(kept, f)
		}
	}
	return kept
}

// emitOutput sends the events of an output filter's findings.
func (g *Guard) emitOutput(ctx context.Context, sc scope, fs []OutputFinding) {
	if g.cfg.Events == nil {
		return
	}
	for _, f := range fs {
		g.cfg.Events.Emit(ctx, Event{Type: f.Type, Detector: f.Filter, Rule: f.Rule, Score: f.Score, Action: actionOf(f.Action),
			Where: "output", Policy: sc.policy.Name, Tenant: sc.tenant, Feature: sc.feature})
	}
}

// filterResponse applies og to a restored answer, in place on r (which
// the caller owns).
func (g *Guard) filterResponse(ctx context.Context, sc scope, og *OutputGuard, r *llm.Response) error {
	if og == nil {
		return nil
	}
	text := r.Message.Text()
	res := og.Filter(text)
	g.emitOutput(ctx, sc, res.Findings)
	if res.Blocked {
		return blocked("guard: answer blocked by " + res.Findings[len(res.Findings)-1].Filter)
	}
	if res.Text != text {
		r.Message.Parts = []llm.Part{{Kind: llm.PartText, Text: res.Text}}
	}
	return nil
}
