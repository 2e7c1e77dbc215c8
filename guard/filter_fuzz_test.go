package guard

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// FuzzStreamFilter: any answer, cut anywhere, never panics, never holds
// back more than the window, and streams exactly what Filter returns.
func FuzzStreamFilter(f *testing.F) {
	for i, p := range fltPieces {
		f.Add(p, uint64(i))
	}
	f.Add("![a](https://evil.example/x?d=1) "+string(fltTestCanary)+" jo@acme.com", uint64(99))
	f.Add(`{"text": "https://acme.com/`+string(make([]byte, 300))+`"}`, uint64(3))
	guards := fltStreamGuards(f)
	f.Fuzz(func(t *testing.T, text string, seed uint64) {
		r := rand.New(rand.NewPCG(seed, seed>>7))
		for _, g := range guards {
			c := fltNewStreamChecker(t, g, text)
			c.run(fltRandomCuts(r, len(text), 1+r.IntN(16)))
			if len(text) > 0 {
				c.run([]int{r.IntN(len(text) + 1)})
			}
		}
	})
}

// FuzzFormatGuard: FormatGuard without a schema accepts exactly the
// texts encoding/json calls one valid JSON value and that are UTF-8.
func FuzzFormatGuard(f *testing.F) {
	for _, s := range []string{"", "{}", `{"a": [1, 2.5e-3, "\u00e9", true, null]}`, "01", `"\ud800"`, "[1,]", "{\"a\"\xff:1}", " 1 ", "-", "1e+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := FormatGuard{}.Check(text)
		if err != nil {
			t.Fatal(err)
		}
		want := json.Valid([]byte(text)) && utf8.ValidString(text)
		if (len(got) == 0) != want || len(got) > 1 {
			t.Fatalf("%q: findings %v, valid %v", text, fltRules(got), want)
		}
	})
}
