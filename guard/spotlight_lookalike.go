package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Look-alikes of the spotlight's markers. A model reads text, not code
// points: "＜＜／ｄａｔａ", "<<\u200b/DАTA" (with a Cyrillic А) and "< < / d a t a"
// all read as a closing marker. spotNeutralize folds case, confusables,
// spacing and invisible characters before matching, and defuses every
// match by replacing its angle brackets.

// The kinds of rune the matcher tells apart.
const (
	spotOther     = iota
	spotLT        // '<' or a look-alike (see spotLTWeight)
	spotSlash     // '/' or a look-alike
	spotIgnorable // spacing, invisible characters, separators
	spotLetter    // a letter or leetspeak digit, folded to ASCII upper case
)

type spotClass struct {
	kind   uint8
	letter byte // for spotLetter: the ASCII upper-case letter
}

// spotLTWeight returns how many '<' the rune r looks like.
func spotLTWeight(r rune) int {
	if r < utf8.RuneSelf {
		if r == '<' {
			return 1
		}
		return 0
	}
	switch r {
	case '‹', '＜', '﹤', '\u3008', '⟨', '\u2329', '❮', '❬', '˂', 'ᐸ', '⧼', '⋖', '≺', '⊲', '❰':
		return 1
	case '≪', '«', '《', '⟪', '⪡', '⋘':
		return 2
	}
	return 0
}

func spotIsSlash(r rune) bool {
	switch r {
	case '/', '\\', '∕', '⁄', '／', '⧸', '╱', '⟋', '＼', '⧵', '∖', '⧹', '╲', '⟍', '〳':
		return true
	}
	return false
}

// spotConfusable folds letters that look like the ASCII letters of
// "DATA" (and nothing in Unicode's compatibility decompositions says so).
func spotConfusable(r rune) byte {
	switch r {
	case 'Ꭰ', 'ᗞ', 'ᗪ', 'ꓓ', 'ԁ', 'Đ', 'đ', 'Ɗ', 'ᴅ':
		return 'D'
	case 'А', 'а', 'Α', 'α', 'Ꭺ', 'ꓮ', 'ᴀ', 'ɑ', 'ᗅ':
		return 'A'
	case 'Т', 'т', 'Τ', 'τ', 'Ꭲ', 'ꓔ', 'ᴛ', '⊤', 'Ⲧ', 'Ŧ', 'ŧ':
		return 'T'
	}
	return 0
}

func spotIsIgnorable(r rune, mark rune) bool {
	if r == mark {
		return true
	}
	if r < utf8.RuneSelf {
		switch r {
		case ' ', '\t', '\n', '\v', '\f', '\r', '-', '_', '.', '*', '~', '`':
			return true
		}
		return false
	}
	switch r {
	case '\u2800', '\u3164', '\u115f', '\u1160', '\uffa0', // blank fillers
		'‐', '‑', '‒', '–', '—', '―', '−', '·', '•', '・', '﹘', '﹣', '－', '＿', '．', '․', '‧':
		return true
	}
	return unicode.IsSpace(r) || unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me)
}

// spotClassify says what r is to the matcher.
func spotClassify(r rune, mark rune) spotClass {
	if spotLTWeight(r) > 0 {
		return spotClass{kind: spotLT}
	}
	if spotIsSlash(r) {
		return spotClass{kind: spotSlash}
	}
	if spotIsIgnorable(r, mark) {
		return spotClass{kind: spotIgnorable}
	}
	if l := spotFoldLetter(r); l != 0 {
		return spotClass{kind: spotLetter, letter: l}
	}
	return spotClass{kind: spotOther}
}

// spotFoldLetter returns the ASCII upper-case letter r looks like, or 0.
func spotFoldLetter(r rune) byte {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z':
			return byte(r - 'a' + 'A')
		case 'A' <= r && r <= 'Z':
			return byte(r)
		case r == '4' || r == '@':
			return 'A'
		case r == '7':
			return 'T'
		}
		return 0
	}
	if r == utf8.RuneError {
		return 0
	}
	if l := spotConfusable(r); l != 0 {
		return l
	}
	// Fullwidth, mathematical, circled and accented forms decompose to
	// a base letter and combining marks.
	d := norm.NFKD.String(string(r))
	base, n := utf8.DecodeRuneInString(d)
	for _, m := range d[n:] {
		if !unicode.Is(unicode.Mn, m) {
			return 0
		}
	}
	if base == r {
		return 0
	}
	if base < utf8.RuneSelf {
		if 'a' <= base && base <= 'z' {
			return byte(base - 'a' + 'A')
		}
		if 'A' <= base && base <= 'Z' {
			return byte(base)
		}
		return 0
	}
	return spotConfusable(base)
}

// spotNeutralize writes text to b with every marker look-alike defused:
// the run of '<' look-alikes that starts it becomes a single '['. mark,
// the spotlight's datamark, counts as spacing.
func spotNeutralize(b *strings.Builder, text string, mark rune) {
	last := 0
	for {
		start, end := spotNextLookalike(text, last, mark)
		if start < 0 {
			break
		}
		b.WriteString(text[last:start])
		b.WriteByte('[')
		last = end
	}
	b.WriteString(text[last:])
}

// spotNextLookalike finds the first marker look-alike in text at or
// after from and returns the span of its '<' run, or -1, -1. Each byte
// is read a bounded number of times, so a scan is linear in len(text).
func spotNextLookalike(text string, from int, mark rune) (start, end int) {
	for i := from; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if spotLTWeight(r) == 0 {
			i += size
			continue
		}
		end, weight := spotLTRun(text, i, mark)
		if weight >= 2 && spotKeywordAt(text, end, mark) {
			return i, end
		}
		i = end
	}
	return -1, -1
}

// spotLTRun reads the run of '<' look-alikes, with spacing between them,
// that starts at i; it returns the end of its last '<' and how many '<'
// the run looks like.
func spotLTRun(text string, i int, mark rune) (end, weight int) {
	end = i
	for j := i; j < len(text); {
		r, size := utf8.DecodeRuneInString(text[j:])
		if w := spotLTWeight(r); w > 0 {
			weight += w
			j += size
			end = j
			continue
		}
		if !spotIsIgnorable(r, mark) {
			break
		}
		j += size
	}
	return end, weight
}

// spotKeywordAt reports whether text at i reads "/DATA" or "DATA", with
// spacing anywhere, and no further letter right after the last A (the
// mark, a modifier letter such as U+02C6, counts as spacing there too).
func spotKeywordAt(text string, i int, mark rune) bool {
	const keyword = "DATA"
	k := 0
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		c := spotClassify(r, mark)
		switch {
		case c.kind == spotIgnorable:
		case c.kind == spotSlash && k == 0:
		case c.kind == spotLetter && c.letter == keyword[k]:
			k++
			if k == len(keyword) {
				next, n := utf8.DecodeRuneInString(text[i+size:])
				return n == 0 || !unicode.IsLetter(next) || spotIsIgnorable(next, mark)
			}
		default:
			return false
		}
		i += size
	}
	return false
}
