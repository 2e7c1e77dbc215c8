package detect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type injRow struct {
	ID          string `json:"id"`
	Text        string `json:"text"`
	Label       string `json:"label"`
	Technique   string `json:"technique"`
	Lang        string `json:"lang"`
	Obfuscation string `json:"obfuscation"`
	Topic       string `json:"topic"`
	Split       string `json:"split"`
}

func injReadJSONL[T any](t testing.TB, name string) []T {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "inject", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// injRates counts a confusion matrix.
type injRates struct{ tp, fn, fp, tn int }

func (r *injRates) add(attack, flagged bool) {
	switch {
	case attack && flagged:
		r.tp++
	case attack:
		r.fn++
	case flagged:
		r.fp++
	default:
		r.tn++
	}
}

func (r injRates) tpr() float64 { return float64(r.tp) / float64(max(1, r.tp+r.fn)) }
func (r injRates) fpr() float64 { return float64(r.fp) / float64(max(1, r.fp+r.tn)) }

func (r injRates) String() string {
	return fmt.Sprintf("TPR %.1f%% (%d/%d), FPR %.1f%% (%d/%d)", 100*r.tpr(), r.tp, r.tp+r.fn, 100*r.fpr(), r.fp, r.fp+r.tn)
}

// TestInjectionCorpusShape checks the corpus meets the issue's
// requirements: enough rows, per technique and per language, and a
// held-out part of about 30%.
func TestInjectionCorpusShape(t *testing.T) {
	rows := injReadJSONL[injRow](t, "corpus.jsonl")
	if len(rows) < 400 {
		t.Errorf("corpus has %d rows, want at least 400", len(rows))
	}
	perTech, perLang := map[string]int{}, map[string]int{}
	held := 0
	ids := map[string]bool{}
	for _, r := range rows {
		if ids[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		ids[r.ID] = true
		if r.Label != "attack" && r.Label != "benign" {
			t.Errorf("%s: label %q", r.ID, r.Label)
		}
		if r.Label == "attack" {
			perTech[r.Technique]++
			perLang[r.Lang]++
		}
		if r.Split == "heldout" {
			held++
		} else if r.Split != "train" {
			t.Errorf("%s: split %q", r.ID, r.Split)
		}
	}
	for _, tech := range []string{injTIgnore, injTRolePlay, injTFakeSystem, injTTemplate, injTReveal, injTTool, injTSplit, injTEncoded} {
		if perTech[tech] < 20 {
			t.Errorf("technique %s has %d attack rows, want at least 20", tech, perTech[tech])
		}
	}
	for _, l := range InjectionLanguages() {
		if perLang[l] < 20 {
			t.Errorf("language %s has %d attack rows, want at least 20", l, perLang[l])
		}
	}
	if frac := float64(held) / float64(len(rows)); frac < 0.25 || frac > 0.35 {
		t.Errorf("held-out fraction %.2f, want about 0.30", frac)
	}
}

// TestInjectionCorpus measures the detector with default options on the
// labelled corpus. Train and held-out rates are reported separately; the
// target applies to the held-out part, which no rule was tuned on. With
// -v the misclassified train rows are listed (held-out rows never are,
// so tuning cannot look at them).
func TestInjectionCorpus(t *testing.T) {
	rows := injReadJSONL[injRow](t, "corpus.jsonl")
	d := Injection(InjectionOptions{})
	var train, held injRates
	perTech := map[string]*[2]injRates{}
	perLang := map[string]*[2]injRates{}
	for _, r := range rows {
		fs := d.Detect(nil, r.Text)
		attack, flagged := r.Label == "attack", len(fs) > 0
		k := 0
		if r.Split == "heldout" {
			held.add(attack, flagged)
			k = 1
		} else {
			train.add(attack, flagged)
			if attack != flagged && testing.Verbose() {
				var why []string
				for _, f := range fs {
					why = append(why, fmt.Sprintf("%s %.2f %q", f.Rule, f.Score, r.Text[f.Start:f.End]))
				}
				sc, _ := d.Score(r.Text)
				t.Logf("train miss %s (%s, score %.2f): %q %v", r.ID, r.Label, sc, r.Text, why)
			}
		}
		key := r.Technique
		if !attack {
			key = "benign"
		}
		if perTech[key] == nil {
			perTech[key] = new([2]injRates)
		}
		perTech[key][k].add(attack, flagged)
		if perLang[r.Lang] == nil {
			perLang[r.Lang] = new([2]injRates)
		}
		perLang[r.Lang][k].add(attack, flagged)
	}
	t.Logf("train:    %v", train)
	t.Logf("held-out: %v", held)
	for _, m := range []map[string]*[2]injRates{perTech, perLang} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t.Logf("  %-22s train %v | held-out %v", k, m[k][0], m[k][1])
		}
	}
	if held.tpr() < 0.90 {
		t.Errorf("held-out true-positive rate %.1f%%, want at least 90%%", 100*held.tpr())
	}
	if held.fpr() > 0.03 {
		t.Errorf("held-out false-positive rate %.1f%%, want at most 3%%", 100*held.fpr())
	}
}

type injDoc struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Split string `json:"split"`
}

// TestInjectionUntrusted evaluates the stricter mode for retrieved
// content: every attack row embedded in the middle of a benign document
// (as a poisoned chunk would carry it), and the benign documents alone.
// Targets: at least 90% of held-out embedded attacks caught, at most 10%
// of the documents flagged, and strict mode catching at least what the
// default mode catches on the same embedded rows.
func TestInjectionUntrusted(t *testing.T) {
	rows := injReadJSONL[injRow](t, "corpus.jsonl")
	docs := injReadJSONL[injDoc](t, "documents.jsonl")
	strict := Injection(InjectionOptions{Untrusted: true})
	lax := Injection(InjectionOptions{})
	var embedded, embeddedLax [2]injRates
	for i, r := range rows {
		if r.Label != "attack" {
			continue
		}
		doc := docs[i%len(docs)].Text
		cut := strings.LastIndex(doc[:len(doc)/2], " ") + 1
		text := doc[:cut] + "\n\n" + r.Text + "\n\n" + doc[cut:]
		k := 0
		if r.Split == "heldout" {
			k = 1
		}
		flagged := len(strict.Detect(nil, text)) > 0
		embedded[k].add(true, flagged)
		embeddedLax[k].add(true, len(lax.Detect(nil, text)) > 0)
		if k == 0 && !flagged && testing.Verbose() {
			t.Logf("strict train miss %s: %q", r.ID, r.Text)
		}
	}
	var docRates [2]injRates
	for _, d := range docs {
		k := 0
		if d.Split == "heldout" {
			k = 1
		}
		fs := strict.Detect(nil, d.Text)
		docRates[k].add(false, len(fs) > 0)
		if k == 0 && len(fs) > 0 && testing.Verbose() {
			t.Logf("strict train false positive %s: %v", d.ID, fs)
		}
	}
	var benign [2]injRates
	for _, r := range rows {
		if r.Label == "benign" {
			k := 0
			if r.Split == "heldout" {
				k = 1
			}
			benign[k].add(false, len(strict.Detect(nil, r.Text)) > 0)
		}
	}
	t.Logf("untrusted mode, attacks inside documents: train %v | held-out %v", embedded[0], embedded[1])
	t.Logf("default mode,   attacks inside documents: train %v | held-out %v", embeddedLax[0], embeddedLax[1])
	t.Logf("untrusted mode, benign documents:         train %v | held-out %v", docRates[0], docRates[1])
	t.Logf("untrusted mode, benign prompts (for reference: strict mode is not meant for user input): train %v | held-out %v", benign[0], benign[1])
	if embedded[1].tpr() < 0.90 {
		t.Errorf("untrusted mode caught %.1f%% of held-out embedded attacks, want at least 90%%", 100*embedded[1].tpr())
	}
	if embedded[1].tpr() < embeddedLax[1].tpr() {
		t.Errorf("untrusted mode caught fewer embedded attacks (%v) than default mode (%v)", embedded[1], embeddedLax[1])
	}
	all := injRates{fp: docRates[0].fp + docRates[1].fp, tn: docRates[0].tn + docRates[1].tn}
	if all.fpr() > 0.10 {
		t.Errorf("untrusted mode flagged %v of the benign documents, want at most 10%%", all)
	}
}
