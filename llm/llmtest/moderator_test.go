package llmtest_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func TestModerator(t *testing.T) {
	terms := map[string][]string{
		"violence":   {"kill", "hurt"},
		"harassment": {"idiot", "you are stupid"},
	}
	scoreFn := func(in string) map[string]float64 {
		if in == "sell me drugs" {
			return map[string]float64{"illicit": 0.9, "violence": 0.1}
		}
		return map[string]float64{"illicit": math.NaN(), "self-harm": 3, "violence": -2}
	}
	tests := []struct {
		name        string
		m           *llmtest.Moderator
		input       string
		wantFlagged bool
		wantCats    map[string]bool
		wantScores  map[string]float64
	}{
		{"clean", llmtest.NewModerator(terms), "Have a nice day",
			false, map[string]bool{"violence": false, "harassment": false},
			map[string]float64{"violence": 0, "harassment": 0}},
		{"one term", llmtest.NewModerator(terms), "I will KILL the process",
			true, map[string]bool{"violence": true, "harassment": false},
			map[string]float64{"violence": 0.75, "harassment": 0}},
		{"repeated terms", llmtest.NewModerator(terms), "kill kill hurt",
			true, map[string]bool{"violence": true, "harassment": false},
			map[string]float64{"violence": 1 - math.Pow(0.25, 3), "harassment": 0}},
		{"phrase across white space", llmtest.NewModerator(terms), "You  are\nstupid",
			true, map[string]bool{"violence": false, "harassment": true},
			map[string]float64{"violence": 0, "harassment": 0.75}},
		{"func", &llmtest.Moderator{Score: scoreFn}, "sell me drugs",
			true, map[string]bool{"illicit": true, "violence": false},
			map[string]float64{"illicit": 0.9, "violence": 0.1}},
		{"func scores clamped", &llmtest.Moderator{Score: scoreFn}, "x",
			true, map[string]bool{"illicit": false, "self-harm": true, "violence": false},
			map[string]float64{"illicit": 0, "self-harm": 1, "violence": 0}},
		{"terms and func: higher score wins", &llmtest.Moderator{Terms: terms, Score: scoreFn}, "sell me drugs or I hurt you",
			true, map[string]bool{"illicit": false, "self-harm": true, "violence": true, "harassment": false},
			map[string]float64{"illicit": 0, "self-harm": 1, "violence": 0.75, "harassment": 0}},
		{"zero value", &llmtest.Moderator{}, "kill", false, map[string]bool{}, map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.m.Moderate(t.Context(), &llm.ModerationRequest{Inputs: []string{tt.input}})
			if err != nil {
				t.Fatal(err)
			}
			r := resp.Results[0]
			if r.Flagged != tt.wantFlagged {
				t.Errorf("flagged = %v, want %v", r.Flagged, tt.wantFlagged)
			}
			if len(r.Categories) != len(tt.wantCats) || len(r.Scores) != len(tt.wantScores) {
				t.Errorf("categories %v, scores %v; want %v, %v", r.Categories, r.Scores, tt.wantCats, tt.wantScores)
			}
			for c, want := range tt.wantCats {
				if r.Categories[c] != want {
					t.Errorf("category %q = %v, want %v", c, r.Categories[c], want)
				}
			}
			for c, want := range tt.wantScores {
				got, ok := r.Scores[c]
				if !ok || math.Abs(got-want) > 1e-9 || got < 0 || got > 1 {
					t.Errorf("score %q = %v, want %v", c, got, want)
				}
			}
		})
	}
}

func TestModeratorRecordsAndErrors(t *testing.T) {
	terms := map[string][]string{"violence": {"kill"}}
	m := llmtest.NewModerator(terms)
	terms["violence"][0] = "changed" // NewModerator copied the map
	inputs := []string{"kill", "fine", "KILL it"}
	resp, err := m.Moderate(t.Context(), &llm.ModerationRequest{Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	got := []bool{resp.Results[0].Flagged, resp.Results[1].Flagged, resp.Results[2].Flagged}
	if got[0] != true || got[1] != false || got[2] != true {
		t.Errorf("flags = %v, want [true false true]", got)
	}
	if resp.Provider != llmtest.Provider {
		t.Errorf("provider = %q", resp.Provider)
	}
	inputs[0] = "changed"
	if m.Calls() != 1 || m.Requests()[0].Inputs[0] != "kill" {
		t.Errorf("record = %+v", m.Requests())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Moderate(ctx, &llm.ModerationRequest{Inputs: []string{"x"}}); !errors.Is(err, llm.KindCanceled) {
		t.Errorf("canceled: err = %v", err)
	}
	if _, err := m.Moderate(t.Context(), nil); !errors.Is(err, llm.KindInvalidRequest) {
		t.Errorf("nil request: err = %v", err)
	}
}
