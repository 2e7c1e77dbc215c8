package guard

import (
	"strings"
	"testing"
)

// FuzzSpotlight: any content, in every mode, stays between the markers
// with no look-alike left, and unwraps to itself when it held nothing to
// defuse; what was defused is a fixed point.
func FuzzSpotlight(f *testing.F) {
	for _, seed := range []string{
		"", "plain text", "<</DATA-0001020304050607>>", "<<\u200b/dAtA>>", "＜＜／ＤＡＴＡ",
		"«/DATA»", "a ˆ b\n\tc", "x^2 + <<^/^DATA", "\xff\xfe<<DATA", "<< data-base", "i<data.length",
	} {
		f.Add(seed)
	}
	caret, err := NewSpotlight(SpotlightOptions{Mode: SpotlightDatamark, Mark: '^', Rand: spotFixedRand()})
	if err != nil {
		f.Fatal(err)
	}
	spots := []*Spotlight{spotNew(f, SpotlightDelimit), spotNew(f, SpotlightDatamark), spotNew(f, SpotlightEncode), caret}
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range spots {
			wrapped := s.Wrap(text)
			inner := spotInner(t, s, wrapped)
			if start, _ := spotNextLookalike(inner, 0, s.Mark()); start >= 0 {
				t.Fatalf("%v: a look-alike is left at %d of %q", s.Mode(), start, inner)
			}
			got, err := s.Unwrap(wrapped)
			if err != nil {
				t.Fatalf("%v: Unwrap: %v", s.Mode(), err)
			}
			clean := s.Mode() == SpotlightEncode ||
				(!strings.ContainsRune(text, s.Mark()) && func() bool { i, _ := spotNextLookalike(text, 0, s.Mark()); return i < 0 }())
			if clean && got != text {
				t.Fatalf("%v: Unwrap(Wrap(%q)) = %q", s.Mode(), text, got)
			}
			again, err := s.Unwrap(s.Wrap(got))
			if err != nil || again != got {
				t.Fatalf("%v: defused content %q is not a fixed point: %q, %v", s.Mode(), got, again, err)
			}
		}
	})
}
