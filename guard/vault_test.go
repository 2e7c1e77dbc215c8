package guard_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/keel-go/keel/guard"
	"github.com/keel-go/keel/guard/detect"
)

func TestVaultRedactRestore(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"nothing", "no personal data here", "no personal data here"},
		{"empty", "", ""},
		{"one email", "write to ann@example.com today", "write to <EMAIL_1> today"},
		{"same value same placeholder", "ann@example.com, bob@example.org, ann@example.com",
			"<EMAIL_1>, <EMAIL_2>, <EMAIL_1>"},
		{"numbered per type", "ann@example.com +44 20 7946 0958 bob@example.org +1 415 555 0100",
			"<EMAIL_1> <PHONE_1> <EMAIL_2> <PHONE_2>"},
		{"adjacent", "ann@example.com+44 20 7946 0958", "<EMAIL_1><PHONE_1>"},
		{"unicode around", "über ann@example.com ✓", "über <EMAIL_1> ✓"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := guard.NewVault()
			got := v.Redact(tt.text, detect.Scan(tt.text, redEmail, redPhone))
			if got != tt.want {
				t.Errorf("Redact = %q, want %q", got, tt.want)
			}
			if back := v.Restore(got); back != tt.text {
				t.Errorf("Restore(Redact) = %q, want %q", back, tt.text)
			}
		})
	}
}

func TestVaultNumberingAcrossCalls(t *testing.T) {
	v := guard.NewVault()
	a := v.Redact("from ann@example.com", detect.Scan("from ann@example.com", redEmail))
	b := v.Redact("to bob@example.org cc ann@example.com", detect.Scan("to bob@example.org cc ann@example.com", redEmail))
	if a != "from <EMAIL_1>" || b != "to <EMAIL_2> cc <EMAIL_1>" {
		t.Fatalf("got %q and %q", a, b)
	}
	if v.Len() != 2 {
		t.Errorf("Len = %d, want 2", v.Len())
	}
	for ph, want := range map[string]string{"<EMAIL_1>": "ann@example.com", "<EMAIL_2>": "bob@example.org"} {
		if got, ok := v.Lookup(ph); !ok || got != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", ph, got, ok, want)
		}
	}
	if _, ok := v.Lookup("<EMAIL_3>"); ok {
		t.Error("Lookup of a placeholder never issued succeeded")
	}
}

// Text that already looks like a placeholder must not be confused with
// one the vault issues.
func TestVaultLiteralPlaceholders(t *testing.T) {
	tests := []struct {
		name, text string
		want       string
	}{
		{"literal before value", "template <EMAIL_1> for ann@example.com", "template <EMAIL_1> for <EMAIL_2>"},
		{"literal after value", "ann@example.com or <EMAIL_1>", "<EMAIL_1> or <EMAIL_2>"},
		{"literal with a high number", "see <EMAIL_7> and ann@example.com", "see <EMAIL_1> and <EMAIL_2>"},
		{"literal of another label", "<CUSTOMER_ID_3> ann@example.com", "<CUSTOMER_ID_1> <EMAIL_1>"},
		{"repeated literal", "<X_1> <X_1> <X_2>", "<X_1> <X_1> <X_2>"},
		{"shapes that are not placeholders", "<EMAIL> <email_1> <EMAIL_> <_1> <1_1> <EMAIL_1", "<EMAIL> <email_1> <EMAIL_> <_1> <1_1> <EMAIL_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := guard.NewVault()
			got := v.Redact(tt.text, detect.Scan(tt.text, redEmail))
			if got != tt.want {
				t.Errorf("Redact = %q, want %q", got, tt.want)
			}
			// Every placeholder-shaped token the model sees was issued
			// by the vault.
			for _, ph := range redPlaceholderRE.FindAllString(got, -1) {
				if _, ok := v.Lookup(ph); !ok {
					t.Errorf("%s in the redacted text was not issued by the vault", ph)
				}
			}
			if back := v.Restore(got); back != tt.text {
				t.Errorf("Restore = %q, want %q", back, tt.text)
			}
		})
	}

	t.Run("echo of the literal", func(t *testing.T) {
		v := guard.NewVault()
		text := "Reply with <EMAIL_1> where the address goes. Mine is ann@example.com."
		red := v.Redact(text, detect.Scan(text, redEmail))
		// The model copies the template literally: it must come back
		// as the template, not as ann's address.
		lit := strings.Fields(red)[2]
		if got := v.Restore("Use " + lit); got != "Use <EMAIL_1>" {
			t.Errorf("echo restored to %q, want the literal back", got)
		}
	})
}

func TestVaultRedactFindings(t *testing.T) {
	text := "ann@example.com and bob"
	tests := []struct {
		name     string
		findings []detect.Finding
		want     string
	}{
		{"none", nil, text},
		{"out of range", []detect.Finding{{Type: "X", Start: -1, End: 3}, {Type: "X", Start: 20, End: 99}, {Type: "X", Start: 5, End: 5}, {Type: "X", Start: 6, End: 2}}, text},
		{"overlapping, higher score wins", []detect.Finding{
			{Type: "EMAIL", Start: 0, End: 15, Score: 0.9},
			{Type: "NAME", Start: 0, End: 3, Score: 0.5},
		}, "<EMAIL_1> and bob"},
		{"unsorted", []detect.Finding{
			{Type: "NAME", Start: 20, End: 23, Score: 0.5},
			{Type: "EMAIL", Start: 0, End: 15, Score: 0.9},
		}, "<EMAIL_1> and <NAME_1>"},
		{"type sanitised into a label", []detect.Finding{{Type: "e-mail address", Start: 0, End: 15}}, "<E_MAIL_ADDRESS_1> and bob"},
		{"empty type", []detect.Finding{{Type: "", Start: 20, End: 23}}, "ann@example.com and <REDACTED_1>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := guard.NewVault()
			if got := v.Redact(text, tt.findings); got != tt.want {
				t.Errorf("Redact = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("finding over a literal wins", func(t *testing.T) {
		v := guard.NewVault()
		text := "x<EMAIL_1>y"
		got := v.Redact(text, []detect.Finding{{Type: "SECRET", Start: 0, End: 6, Score: 1}})
		if got != "<SECRET_1>L_1>y" {
			t.Errorf("Redact = %q", got)
		}
		if back := v.Restore(got); back != text {
			t.Errorf("Restore = %q, want %q", back, text)
		}
	})
}

func TestVaultRestore(t *testing.T) {
	v := guard.NewVault()
	text := `ann@example.com "O'Brien" <PH_1>`
	v.Redact(text, []detect.Finding{
		{Type: "EMAIL", Start: 0, End: 15},
		{Type: "NAME", Start: 16, End: 25}, // "O'Brien" with its quotes
	})
	// The vault now has <EMAIL_1>, <NAME_1>, and <PH_1> for the literal.
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Hi <NAME_1>, mail <EMAIL_1>.", `Hi "O'Brien", mail ann@example.com.`},
		{"any order, repeated", "<EMAIL_1><NAME_1><EMAIL_1>", `ann@example.com"O'Brien"ann@example.com`},
		{"literal", "<PH_1>", "<PH_1>"},
		{"unknown placeholder kept", "<EMAIL_2> <NAME_9> <OTHER_1>", "<EMAIL_2> <NAME_9> <OTHER_1>"},
		{"near misses kept", "<EMAIL_1 <email_1> < EMAIL_1> <EMAIL_1 > <<EMAIL_1>>", "<EMAIL_1 <email_1> < EMAIL_1> <EMAIL_1 > <ann@example.com>"},
		{"no placeholder", "nothing to restore", "nothing to restore"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.Restore(tt.in); got != tt.want {
				t.Errorf("Restore(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}

	t.Run("a value is never restored twice", func(t *testing.T) {
		v := guard.NewVault()
		// The value itself holds the text of another placeholder.
		v.Redact("<A_1>", nil)                                              // <A_1> -> "<A_1>"
		v.Redact("a<A_1>", []detect.Finding{{Type: "B", Start: 0, End: 6}}) // <B_1> -> "a<A_1>"
		if got := v.Restore("<B_1>"); got != "a<A_1>" {
			t.Errorf("Restore = %q, want %q", got, "a<A_1>")
		}
	})
}

func TestVaultRestoreJSON(t *testing.T) {
	v := guard.NewVault()
	values := map[string]string{
		"NAME":   `Ann "the hammer" O'Brien`,
		"PATH":   `C:\Users\ann`,
		"INJECT": `x","admin":true,"y":"`,
		"CTRL":   "line1\nline2\t\x01",
		"UNI":    "Zoë 🦊 \u2028",
	}
	ph := map[string]string{}
	for _, typ := range []string{"NAME", "PATH", "INJECT", "CTRL", "UNI"} {
		val := values[typ]
		red := v.Redact(val, []detect.Finding{{Type: typ, Start: 0, End: len(val)}})
		ph[typ] = red
	}
	tests := []struct {
		name string
		doc  string
		want map[string]any // decoded result; nil means check want text
		text string
	}{
		{"values", `{"name":"` + ph["NAME"] + `","path":"` + ph["PATH"] + `","ctrl":"` + ph["CTRL"] + `","uni":"` + ph["UNI"] + `"}`,
			map[string]any{"name": values["NAME"], "path": values["PATH"], "ctrl": values["CTRL"], "uni": values["UNI"]}, ""},
		{"injection stays one string", `{"note":"` + ph["INJECT"] + `","admin":false}`,
			map[string]any{"note": values["INJECT"], "admin": false}, ""},
		{"inside a longer string", `{"greeting":"Dear ` + ph["NAME"] + `, see ` + ph["PATH"] + `."}`,
			map[string]any{"greeting": "Dear " + values["NAME"] + ", see " + values["PATH"] + "."}, ""},
		{"in a key", `{"` + ph["NAME"] + `":1}`, map[string]any{values["NAME"]: 1.0}, ""},
		{"escaped angle brackets", `{"a":"\u003c` + ph["NAME"][1:len(ph["NAME"])-1] + `\u003E"}`, map[string]any{"a": values["NAME"]}, ""},
		{"escapes around", `{"a":"\"` + ph["NAME"] + `\\"}`, map[string]any{"a": `"` + values["NAME"] + `\`}, ""},
		{"nested", `[{"a":["` + ph["PATH"] + `",{"b":"` + ph["UNI"] + `"}]}]`, nil, `[{"a":["C:\\Users\\ann",{"b":"Zoë 🦊 \u2028"}]}]`},
		{"outside a string becomes a string", `{"to": ` + ph["INJECT"] + `}`,
			map[string]any{"to": values["INJECT"]}, ""},
		{"prose and a fence", "Here you go:\n```json\n{\"name\": \"" + ph["NAME"] + "\"}\n```\nfor " + ph["PATH"] + ".",
			nil, "Here you go:\n```json\n{\"name\": \"Ann \\\"the hammer\\\" O'Brien\"}\n```\nfor \"C:\\\\Users\\\\ann\"."},
		{"an unbalanced quote is forgotten at the end of the line", "He said \"hi\nthen {\"n\":\"" + ph["INJECT"] + "\"}",
			nil, "He said \"hi\nthen {\"n\":\"x\\\",\\\"admin\\\":true,\\\"y\\\":\\\"\"}"},
		{"unknown placeholder", `{"a":"<NAME_9>"}`, nil, `{"a":"<NAME_9>"}`},
		{"not JSON at all", `<<>>"\`, nil, `<<>>"\`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.RestoreJSON(tt.doc)
			if tt.want == nil {
				if got != tt.text {
					t.Errorf("RestoreJSON = %s\nwant            %s", got, tt.text)
				}
				return
			}
			var dec map[string]any
			if err := json.Unmarshal([]byte(got), &dec); err != nil {
				t.Fatalf("RestoreJSON = %s: not JSON: %v", got, err)
			}
			if !reflect.DeepEqual(dec, tt.want) {
				t.Errorf("RestoreJSON decodes to %#v, want %#v", dec, tt.want)
			}
		})
	}

	t.Run("invalid UTF-8 in a value", func(t *testing.T) {
		v := guard.NewVault()
		red := v.Redact("a\xffb", []detect.Finding{{Type: "X", Start: 0, End: 3}})
		got := v.RestoreJSON(`"` + red + `"`)
		if got != `"a\ufffdb"` {
			t.Errorf("RestoreJSON = %s", got)
		}
		if got := v.Restore(red); got != "a\xffb" {
			t.Errorf("Restore = %q: plain text keeps the bytes", got)
		}
	})
}

func TestVaultStringHidesValues(t *testing.T) {
	v := guard.NewVault()
	v.Redact("ann@example.com", detect.Scan("ann@example.com", redEmail))
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s", v, v, v, v)} {
		if strings.Contains(s, "ann") {
			t.Errorf("formatted vault %q shows a value", s)
		}
	}
}

func TestVaultConcurrent(t *testing.T) {
	v := guard.NewVault()
	const workers = 8
	var wg sync.WaitGroup
	got := make([][]string, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range 50 {
				// Every worker sees the same 10 values, in its own order.
				n := (i*7 + w) % 10
				text := fmt.Sprintf("user%d@example.com", n)
				red := v.Redact(text, detect.Scan(text, redEmail))
				if back := v.Restore(red); back != text {
					t.Errorf("Restore(%q) = %q, want %q", red, back, text)
				}
				got[w] = append(got[w], text+"="+red)
			}
		})
	}
	wg.Wait()
	if v.Len() != 10 {
		t.Errorf("Len = %d, want 10 (one placeholder per value)", v.Len())
	}
	seen := map[string]string{}
	for _, pairs := range got {
		for _, p := range pairs {
			val, red, _ := strings.Cut(p, "=")
			if prev, ok := seen[val]; ok && prev != red {
				t.Errorf("%s got %s and %s", val, prev, red)
			}
			seen[val] = red
		}
	}
}
