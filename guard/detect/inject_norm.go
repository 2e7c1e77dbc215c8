package detect

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The injection detector reads text as a stream of symbols over a small
// alphabet: 26 letters (with l folded into i, so leetspeak 1 and | read
// as either), one word-character class for everything else that forms
// words, one separator, and the dozen punctuation marks that chat
// templates and fake role labels are made of. The keyword automaton's
// transition table is indexed by these symbols, so a small alphabet keeps
// it small enough to stay in cache.
const (
	injSymSep   = 0 // whitespace and punctuation that carries no meaning here
	injSymA     = 1 // 'a'; letters are injSymA + (c - 'a')
	injSymX     = 27
	injSymColon = 28
	injSymLBrk  = 29
	injSymRBrk  = 30
	injSymLT    = 31
	injSymGT    = 32
	injSymPipe  = 33
	injSymHash  = 34
	injSymSlash = 35
	injSymLBrc  = 36
	injSymRBrc  = 37
	injSymPlus  = 38
	injSymEq    = 39
	injSymAt    = 40
	injAlpha    = 41 // alphabet size

	// Byte classes beyond the symbols.
	injClsSkip = 0xFE // drop without a trace: quotes
	// injClsApos is an apostrophe: a word break after an elided article
	// (l'IA, qu'on, dell'utente, I'm), nothing inside a word (don't,
	// user's), so both spellings of each meet one pattern.
	injClsApos = 0xFD
	injClsUTF8 = 0xFF // start of a multi-byte sequence

	// Bits of injNorm.fast.
	injFastSym  = 0x1f // letters, X and the separator are all below 32
	injFastLeet = 0x40
	injFastB64  = 0x20
	injFastSlow = 0x80

	// Fold kinds for runes outside ASCII.
	injFoldLetters = 1 // one or two letter symbols
	injFoldSep     = 2
	injFoldSkip    = 3 // invisible: combining marks, zero-width and bidi controls
	injFoldX       = 4
	injFoldASCII   = 5 // a stand-in for an ASCII byte (fullwidth forms, tag characters)
	injFoldApos    = 6 // a typographic apostrophe

	// injFoldObf marks a fold that only an obfuscator would need:
	// confusable letters from other scripts, mathematical alphanumerics,
	// fullwidth forms, invisible characters.
	injFoldObf = 1 << 24
)

func injLetter(c byte) uint8 {
	if c == 'l' {
		c = 'i'
	}
	return uint8(injSymA + int(c-'a'))
}

// injNorm holds the immutable lookup tables of the normalisation. It is
// built once per detector.
type injNorm struct {
	ascii [256]uint8 // symbol or class per byte
	leet  [256]bool  // the byte is a digit or sign standing for a letter
	// fast packs what the scanner's inner loop needs per byte: the symbol
	// of a letter, digit or separator, whether the byte is in the base64
	// alphabet, whether it is leetspeak, or injFastSlow for everything
	// the general path handles (punctuation symbols, quotes, UTF-8).
	fast [256]uint8
	b64  [256]bool // base64 alphabet, standard and URL-safe, with padding
	hex  [256]bool
	// low folds runes below injLowLimit: Latin with diacritics, Greek and
	// Cyrillic look-alikes. Each entry packs sym1 | sym2<<8 | kind<<16 |
	// injFoldObf.
	low []uint32
	// high folds the sparse ranges NFKD maps onto ASCII letters:
	// mathematical alphanumerics, letterlike symbols, circled letters.
	high map[rune]uint32
}

const injLowLimit = 0x530

func newInjNorm() *injNorm {
	n := &injNorm{}
	for c := 0; c < 256; c++ {
		n.ascii[c] = injSymSep
	}
	for c := 'a'; c <= 'z'; c++ {
		n.ascii[c] = injLetter(byte(c))
		n.ascii[c-'a'+'A'] = injLetter(byte(c))
	}
	for c, l := range map[byte]byte{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '9': 'g', '$': 's'} {
		n.ascii[c] = injLetter(l)
		n.leet[c] = true
	}
	n.ascii['2'] = injSymX
	n.ascii['6'] = injSymX
	for c, s := range map[byte]uint8{':': injSymColon, '[': injSymLBrk, ']': injSymRBrk, '<': injSymLT, '>': injSymGT,
		'|': injSymPipe, '#': injSymHash, '/': injSymSlash, '{': injSymLBrc, '}': injSymRBrc, '+': injSymPlus, '=': injSymEq, '@': injSymAt} {
		n.ascii[c] = s
	}
	n.ascii['"'] = injClsSkip
	n.ascii['`'] = injClsSkip
	n.ascii['\''] = injClsApos
	for c := 0x80; c < 256; c++ {
		n.ascii[c] = injClsUTF8
	}
	for c := 0; c < 256; c++ {
		b := byte(c)
		n.b64[c] = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=' || b == '-' || b == '_'
		n.hex[c] = b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' || b >= '0' && b <= '9'
	}

	for c := 0; c < 256; c++ {
		k := n.ascii[c]
		switch {
		case k >= injSymColon:
			n.fast[c] = injFastSlow
		default:
			n.fast[c] = k
			if n.b64[c] {
				n.fast[c] |= injFastB64
			}
			if n.leet[c] {
				n.fast[c] |= injFastLeet
			}
		}
	}
	n.low = make([]uint32, injLowLimit)
	for r := rune(0x80); r < injLowLimit; r++ {
		n.low[r] = n.classify(r)
	}
	confusables := map[rune]byte{
		// Cyrillic
		'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x',
		'ѕ': 's', 'і': 'i', 'ј': 'j', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ӏ': 'l', 'ү': 'y', 'һ': 'h', 'ѵ': 'v', 'ɡ': 'g',
		'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't', 'Х': 'x', 'У': 'y',
		'Ѕ': 's', 'І': 'i', 'Ј': 'j', 'Ү': 'y', 'Һ': 'h',
		// Greek
		'α': 'a', 'β': 'b', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x', 'γ': 'y', 'ω': 'w',
		'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o', 'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x',
	}
	for r, c := range confusables {
		if r < injLowLimit {
			n.low[r] = uint32(injLetter(c)) | injFoldLetters<<16 | injFoldObf
		}
	}
	// Letters NFKD leaves alone but readers see as Latin.
	for r, s := range map[rune]string{'ß': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ø': "o", 'Ø': "o", 'đ': "d", 'Đ': "d",
		'ł': "l", 'Ł': "l", 'ı': "i", 'þ': "th", 'Þ': "th", 'ð': "d", 'Ð': "d", 'ŋ': "n", 'ħ': "h", 'ſ': "s"} {
		v := uint32(injLetter(s[0])) | injFoldLetters<<16
		if len(s) > 1 {
			v |= uint32(injLetter(s[1])) << 8
		}
		n.low[r] = v
	}
	n.high = map[rune]uint32{}
	for _, rg := range [][2]rune{{0x1D00, 0x1DBF}, {0x2070, 0x209F}, {0x2100, 0x214F}, {0x2460, 0x24FF}, {0x1D400, 0x1D7FF}, {0x1F130, 0x1F189}} {
		for r := rg[0]; r <= rg[1]; r++ {
			if v := n.classify(r); v>>16&0xff == injFoldLetters {
				n.high[r] = v | injFoldObf
			}
		}
	}
	return n
}

// classify folds one rune the slow way, with NFKD; it runs only while the
// tables are built.
func (n *injNorm) classify(r rune) uint32 {
	switch {
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
		return injFoldSkip << 16
	case unicode.Is(unicode.Cf, r):
		return injFoldSkip<<16 | injFoldObf
	case unicode.IsSpace(r):
		return injFoldSep << 16
	}
	var syms []uint8
	for _, d := range norm.NFKD.String(string(r)) {
		if unicode.Is(unicode.Mn, d) {
			continue
		}
		if d >= 'A' && d <= 'Z' {
			d += 'a' - 'A'
		}
		if d < 'a' || d > 'z' {
			syms = nil
			break
		}
		syms = append(syms, injLetter(byte(d)))
	}
	if len(syms) == 1 || len(syms) == 2 {
		v := uint32(syms[0]) | injFoldLetters<<16
		if len(syms) == 2 {
			v |= uint32(syms[1]) << 8
		}
		return v
	}
	switch r {
	case '«', '»', '´':
		return injClsSkip << 16
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return injFoldX << 16
	}
	return injFoldSep << 16
}

// fold returns the packed fold of a rune outside ASCII.
func (n *injNorm) fold(r rune) uint32 {
	switch {
	case r < injLowLimit:
		return n.low[r]
	case r >= 0xFF01 && r <= 0xFF5E: // fullwidth ASCII
		return uint32(r-0xFEE0) | injFoldASCII<<16 | injFoldObf
	case r >= 0xE0020 && r <= 0xE007E: // tag characters: invisible ASCII
		return uint32(r-0xE0000) | injFoldASCII<<16 | injFoldObf
	case r >= 0xE0000 && r <= 0xE007F, r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF:
		return injFoldSkip<<16 | injFoldObf
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x206F, r == 0xFEFF, r == 0x180E, r == 0x034F:
		return injFoldSkip<<16 | injFoldObf
	case r == 0x2019:
		return injFoldApos << 16
	case r == 0x2018 || r == 0x201C || r == 0x201D || r == 0x201E || r == 0x2039 || r == 0x203A:
		return injClsSkip << 16
	case r >= 0x2000 && r <= 0x206F, r == 0x3000, r == 0x3001, r == 0x3002:
		return injFoldSep << 16
	case r == utf8.RuneError:
		return injFoldSep << 16
	}
	if v, ok := n.high[r]; ok {
		return v
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return injFoldX << 16
	}
	if unicode.Is(unicode.Mn, r) {
		return injFoldSkip << 16
	}
	return injFoldSep << 16
}

// symbols normalises a pattern the way the scanner normalises text, so a
// pattern written in plain words matches every spelling the scanner
// folds onto it. The result starts with a separator (patterns match at
// word starts) and, unless stem, ends with one.
func (n *injNorm) symbols(s string, stem bool) []uint8 {
	out := []uint8{injSymSep}
	last := uint8(injSymSep)
	wordLen := 0
	var prev rune
	apos := func() {
		if last != injSymSep && (wordLen <= 2 || prev == 'l' || prev == 'L') {
			out = append(out, injSymSep)
			last = injSymSep
			wordLen = 0
		}
	}
	emit := func(sym uint8) {
		if sym > injSymSep && sym < injSymColon {
			wordLen++
		} else {
			wordLen = 0
		}
		switch {
		case sym == injSymSep:
			if last != injSymSep {
				out = append(out, sym)
			}
		case sym >= injSymColon:
			if last != injSymSep {
				out = append(out, injSymSep)
			}
			out = append(out, sym, injSymSep)
			sym = injSymSep
		default:
			out = append(out, sym)
		}
		last = sym
	}
	var ascii func(c byte)
	ascii = func(c byte) {
		switch k := n.ascii[c]; k {
		case injClsSkip, injClsUTF8:
		case injClsApos:
			apos()
		default:
			emit(k)
		}
	}
	for _, r := range s {
		if r < utf8.RuneSelf {
			ascii(byte(r))
			prev = r
			continue
		}
		v := n.fold(r)
		switch v >> 16 & 0xff {
		case injFoldLetters:
			emit(uint8(v))
			if s2 := uint8(v >> 8); s2 != 0 {
				emit(s2)
			}
		case injFoldSep:
			emit(injSymSep)
		case injFoldX:
			emit(injSymX)
		case injFoldASCII:
			ascii(byte(v))
		case injFoldApos:
			apos()
		}
		prev = r
	}
	if stem {
		for len(out) > 1 && out[len(out)-1] == injSymSep {
			out = out[:len(out)-1]
		}
	} else if last != injSymSep {
		out = append(out, injSymSep)
	}
	return out
}
