package bm25

// This file implements the English (Porter2) stemmer of the Snowball
// project as released in Snowball 3.1 (algorithms/english.sbl). Beyond the
// classic Porter2 of 2006 it has the R1 prefixes past, univers, later,
// emerg, organ and inter, the -ogist suffix, undoubling that keeps "add",
// "egg" and "off", and the handling of -ying (dying, vying) and of inning,
// outing, proceed and the like inside step 1b. The step functions carry
// the names of the Snowball routines. Positions are byte offsets: the stemmer only runs on
// ASCII words (Stem returns other words unchanged), where a byte is a
// letter. It was checked against Snowball 3.1.1's own generated code (run
// as WebAssembly) on about 270,000 words, SciFact's vocabulary plus words
// generated from every suffix of the algorithm: no difference.

// Stem returns the English (Porter2, Snowball 3.1) stem of word, which should
// be lowercase, as the Tokenizer produces. Words shorter than three bytes,
// and words holding bytes outside ASCII, are returned unchanged.
func Stem(word string) string {
	for i := 0; i < len(word); i++ {
		if word[i] >= 0x80 {
			return word
		}
	}
	buf := make([]byte, len(word), len(word)+1)
	copy(buf, word)
	out := stemASCII(buf)
	if string(out) == word { // no allocation for the comparison
		return word
	}
	return string(out)
}

// stemASCII stems the ASCII word in w in place and returns the stem, which
// shares w's array: it is at most one byte longer than w and appends within
// w's capacity when there is room.
func stemASCII(w []byte) []byte {
	if out, ok := porter2Exception(w); ok {
		return append(w[:0], out...)
	}
	if len(w) < 3 {
		return w
	}

	// prelude: drop a leading apostrophe; mark the y that are consonants.
	if w[0] == '\'' {
		w = w[1:]
		if len(w) == 0 {
			return w
		}
	}
	markedY := false
	if w[0] == 'y' {
		w[0] = 'Y'
		markedY = true
	}
	for i := 1; i < len(w); i++ {
		if w[i] == 'y' && isVowel(w[i-1]) {
			w[i] = 'Y'
			markedY = true
		}
	}

	// mark_regions
	p1 := len(w)
	if n := porter2Prefix(w); n > 0 {
		p1 = n
	} else {
		p1 = afterVowelConsonant(w, 0)
	}
	p2 := afterVowelConsonant(w, p1)

	w = step1a(w)
	w = step1b(w, p1)
	w = step1c(w)
	w = step2(w, p1)
	w = step3(w, p1, p2)
	w = step4(w, p2)
	w = step5(w, p1, p2)

	// postlude
	if markedY {
		for i, c := range w {
			if c == 'Y' {
				w[i] = 'y'
			}
		}
	}
	return w
}

// porter2Exception handles exception1: whole words with a fixed stem.
func porter2Exception(w []byte) (string, bool) {
	switch string(w) { // the conversion does not allocate in a switch
	case "skis":
		return "ski", true
	case "skies":
		return "sky", true
	case "idly":
		return "idl", true
	case "gently":
		return "gentl", true
	case "ugly":
		return "ugli", true
	case "early":
		return "earli", true
	case "only":
		return "onli", true
	case "singly":
		return "singl", true
	case "sky", "news", "howe", "atlas", "cosmos", "bias", "andes":
		return string(w), true
	}
	return "", false
}

// porter2Prefix returns the length of a prefix whose end marks R1 directly
// (words where the usual rule cuts too early), or 0.
func porter2Prefix(w []byte) int {
	if len(w) == 0 {
		return 0
	}
	var p string
	switch w[0] {
	case 'g':
		p = "gener"
	case 'c':
		p = "commun"
	case 'a':
		p = "arsen"
	case 'p':
		p = "past"
	case 'u':
		p = "univers"
	case 'l':
		p = "later"
	case 'e':
		p = "emerg"
	case 'o':
		p = "organ"
	case 'i':
		p = "inter"
	default:
		return 0
	}
	if hasPrefix(w, p) {
		return len(p)
	}
	return 0
}

// isVowel reports whether c is in the grouping v: a e i o u y (a y marked
// as a consonant, Y, is not).
func isVowel(c byte) bool {
	switch c {
	case 'a', 'e', 'i', 'o', 'u', 'y':
		return true
	}
	return false
}

// validLI reports whether c may precede a removable -li.
func validLI(c byte) bool {
	switch c {
	case 'c', 'd', 'e', 'g', 'h', 'k', 'm', 'n', 'r', 't':
		return true
	}
	return false
}

// afterVowelConsonant returns the position just past the first non-vowel
// that follows a vowel at or after from (gopast v gopast non-v), or len(w).
func afterVowelConsonant(w []byte, from int) int {
	i := from
	for i < len(w) && !isVowel(w[i]) {
		i++
	}
	for i < len(w) && isVowel(w[i]) {
		i++
	}
	if i < len(w) {
		return i + 1
	}
	return len(w)
}

func hasPrefix(w []byte, p string) bool {
	return len(w) >= len(p) && string(w[:len(p)]) == p
}

// hasSuffix compares from the last byte, where almost every candidate
// suffix already fails.
func hasSuffix(w []byte, s string) bool {
	if len(w) < len(s) {
		return false
	}
	off := len(w) - len(s)
	for i := len(s) - 1; i >= 0; i-- {
		if w[off+i] != s[i] {
			return false
		}
	}
	return true
}

func containsVowel(w []byte) bool {
	for _, c := range w {
		if isVowel(c) {
			return true
		}
	}
	return false
}

// endsShortSyllable is shortv, tested at the end of w: a non-vowel other
// than w, x or Y after a vowel after a non-vowel; or a vowel at the start
// of the word followed by a non-vowel; or a word ending in past.
func endsShortSyllable(w []byte) bool {
	n := len(w)
	switch {
	case n >= 3:
		c := w[n-1]
		if !isVowel(c) && c != 'w' && c != 'x' && c != 'Y' && isVowel(w[n-2]) && !isVowel(w[n-3]) {
			return true
		}
	case n == 2:
		if isVowel(w[0]) && !isVowel(w[1]) {
			return true
		}
	}
	return hasSuffix(w, "past")
}

// step1a removes apostrophe suffixes and plural -s.
func step1a(w []byte) []byte {
	switch {
	case hasSuffix(w, "'s'"):
		w = w[:len(w)-3]
	case hasSuffix(w, "'s"):
		w = w[:len(w)-2]
	case hasSuffix(w, "'"):
		w = w[:len(w)-1]
	}
	n := len(w)
	if n == 0 || (w[n-1] != 's' && w[n-1] != 'd') {
		return w
	}
	switch {
	case hasSuffix(w, "sses"):
		return w[:n-2] // sses -> ss
	case hasSuffix(w, "ied"), hasSuffix(w, "ies"):
		if n > 4 { // more than one letter before: -> i (cries -> cri)
			return w[:n-2]
		}
		return w[:n-1] // -> ie (ties -> tie)
	case hasSuffix(w, "us"), hasSuffix(w, "ss"), w[n-1] != 's':
		return w
	}
	// A final s goes if a vowel occurs before the letter preceding it
	// (gaps -> gap, but gas stays).
	if n >= 2 && containsVowel(w[:n-2]) {
		return w[:n-1]
	}
	return w
}

// step1b handles -eed, -ed, -ing and their -ly forms.
func step1b(w []byte, p1 int) []byte {
	n := len(w)
	if n == 0 || (w[n-1] != 'y' && w[n-1] != 'd' && w[n-1] != 'g') {
		return w
	}
	var suffix int
	switch {
	case hasSuffix(w, "eedly"), hasSuffix(w, "eed"):
		suffix = 3
		if hasSuffix(w, "eedly") {
			suffix = 5
		}
		start := n - suffix
		switch string(w[:start]) {
		case "proc", "exc", "succ": // proceed, exceed, succeed stay
			return w
		}
		if start >= p1 {
			return append(w[:start], "ee"...)
		}
		return w
	case hasSuffix(w, "ingly"):
		suffix = 5
	case hasSuffix(w, "edly"):
		suffix = 4
	case hasSuffix(w, "ed"):
		suffix = 2
	case hasSuffix(w, "ing"):
		suffix = 3
		start := n - 3
		// dying -> die, vying -> vie: a consonant, y, ing.
		if start == 2 && w[1] == 'y' && !isVowel(w[0]) {
			return append(w[:1], "ie"...)
		}
		switch string(w[:start]) {
		case "inn", "out", "cann", "herr", "earr", "even":
			return w
		}
	default:
		return w
	}

	start := n - suffix
	if !containsVowel(w[:start]) {
		return w
	}
	w = w[:start]
	n = start
	switch {
	case hasSuffix(w, "at"), hasSuffix(w, "bl"), hasSuffix(w, "iz"):
		return append(w, 'e') // luxuriat -> luxuriate
	case n >= 2 && w[n-1] == w[n-2] && isUndoublable(w[n-1]):
		// hopp -> hop, but add, egg and off keep their double.
		if n == 3 && (w[0] == 'a' || w[0] == 'e' || w[0] == 'o') {
			return w
		}
		return w[:n-1]
	case n == p1 && endsShortSyllable(w):
		return append(w, 'e') // hop -> hope
	}
	return w
}

// isUndoublable reports the letters whose doubling step 1b undoes: b d f g
// m n p r t.
func isUndoublable(c byte) bool {
	switch c {
	case 'b', 'd', 'f', 'g', 'm', 'n', 'p', 'r', 't':
		return true
	}
	return false
}

// step1c turns a final y after a consonant (not the first letter) into i.
func step1c(w []byte) []byte {
	n := len(w)
	if n >= 3 && (w[n-1] == 'y' || w[n-1] == 'Y') && !isVowel(w[n-2]) {
		w[n-1] = 'i'
	}
	return w
}

// replaceIn replaces suffix suf of w by rep when the suffix starts at or
// after region (R1 or R2).
func replaceIn(w []byte, suf, rep string, region int) []byte {
	start := len(w) - len(suf)
	if start < region {
		return w
	}
	return append(w[:start], rep...)
}

// step2 maps double suffixes to single ones, in R1. The longest matching
// suffix decides; if its condition fails nothing changes.
func step2(w []byte, p1 int) []byte {
	n := len(w)
	if n == 0 {
		return w
	}
	var suf, rep string
	switch w[n-1] {
	case 'l':
		switch {
		case hasSuffix(w, "ational"):
			suf, rep = "ational", "ate"
		case hasSuffix(w, "tional"):
			suf, rep = "tional", "tion"
		}
	case 'n':
		switch {
		case hasSuffix(w, "ization"):
			suf, rep = "ization", "ize"
		case hasSuffix(w, "ation"):
			suf, rep = "ation", "ate"
		}
	case 'r':
		switch {
		case hasSuffix(w, "izer"):
			suf, rep = "izer", "ize"
		case hasSuffix(w, "ator"):
			suf, rep = "ator", "ate"
		}
	case 'm':
		if hasSuffix(w, "alism") {
			suf, rep = "alism", "al"
		}
	case 's':
		switch {
		case hasSuffix(w, "fulness"):
			suf, rep = "fulness", "ful"
		case hasSuffix(w, "ousness"):
			suf, rep = "ousness", "ous"
		case hasSuffix(w, "iveness"):
			suf, rep = "iveness", "ive"
		}
	case 't':
		if hasSuffix(w, "ogist") {
			suf, rep = "ogist", "og"
		}
	case 'i':
		switch {
		case hasSuffix(w, "biliti"):
			suf, rep = "biliti", "ble"
		case hasSuffix(w, "lessli"):
			suf, rep = "lessli", "less"
		case hasSuffix(w, "aliti"):
			suf, rep = "aliti", "al"
		case hasSuffix(w, "iviti"):
			suf, rep = "iviti", "ive"
		case hasSuffix(w, "entli"):
			suf, rep = "entli", "ent"
		case hasSuffix(w, "ousli"):
			suf, rep = "ousli", "ous"
		case hasSuffix(w, "fulli"):
			suf, rep = "fulli", "ful"
		case hasSuffix(w, "enci"):
			suf, rep = "enci", "ence"
		case hasSuffix(w, "anci"):
			suf, rep = "anci", "ance"
		case hasSuffix(w, "abli"):
			suf, rep = "abli", "able"
		case hasSuffix(w, "alli"):
			suf, rep = "alli", "al"
		case hasSuffix(w, "bli"):
			suf, rep = "bli", "ble"
		case hasSuffix(w, "ogi"):
			suf, rep = "ogi", "og"
			if n < 4 || w[n-4] != 'l' {
				return w
			}
		case hasSuffix(w, "li"):
			suf, rep = "li", ""
			if n < 3 || !validLI(w[n-3]) {
				return w
			}
		}
	}
	if suf == "" {
		return w
	}
	return replaceIn(w, suf, rep, p1)
}

// step3 handles -ational, -alize, -icate, -ful, -ness and -ative, in R1.
func step3(w []byte, p1, p2 int) []byte {
	n := len(w)
	if n == 0 {
		return w
	}
	switch w[n-1] {
	case 'l':
		switch {
		case hasSuffix(w, "ational"):
			return replaceIn(w, "ational", "ate", p1)
		case hasSuffix(w, "tional"):
			return replaceIn(w, "tional", "tion", p1)
		case hasSuffix(w, "ical"):
			return replaceIn(w, "ical", "ic", p1)
		case hasSuffix(w, "ful"):
			return replaceIn(w, "ful", "", p1)
		}
	case 'e':
		switch {
		case hasSuffix(w, "alize"):
			return replaceIn(w, "alize", "al", p1)
		case hasSuffix(w, "icate"):
			return replaceIn(w, "icate", "ic", p1)
		case hasSuffix(w, "ative"):
			return replaceIn(w, "ative", "", max(p1, p2))
		}
	case 'i':
		if hasSuffix(w, "iciti") {
			return replaceIn(w, "iciti", "ic", p1)
		}
	case 's':
		if hasSuffix(w, "ness") {
			return replaceIn(w, "ness", "", p1)
		}
	}
	return w
}

// step4 removes the remaining suffixes in R2.
func step4(w []byte, p2 int) []byte {
	n := len(w)
	if n == 0 {
		return w
	}
	var suf string
	switch w[n-1] {
	case 'l':
		if hasSuffix(w, "al") {
			suf = "al"
		}
	case 'e':
		for _, s := range [...]string{"ance", "ence", "able", "ible", "ate", "ive", "ize"} {
			if hasSuffix(w, s) {
				suf = s
				break
			}
		}
	case 'r':
		if hasSuffix(w, "er") {
			suf = "er"
		}
	case 'c':
		if hasSuffix(w, "ic") {
			suf = "ic"
		}
	case 't':
		for _, s := range [...]string{"ement", "ment", "ent", "ant"} {
			if hasSuffix(w, s) {
				suf = s
				break
			}
		}
	case 'm':
		if hasSuffix(w, "ism") {
			suf = "ism"
		}
	case 'i':
		if hasSuffix(w, "iti") {
			suf = "iti"
		}
	case 's':
		if hasSuffix(w, "ous") {
			suf = "ous"
		}
	case 'n':
		// -ion goes only after s or t (adoption -> adopt).
		if hasSuffix(w, "ion") && n >= 4 && (w[n-4] == 's' || w[n-4] == 't') {
			suf = "ion"
		}
	}
	if suf == "" {
		return w
	}
	return replaceIn(w, suf, "", p2)
}

// step5 removes a final -e in R2, or in R1 unless it follows a short
// syllable, and undoubles a final -ll in R2.
func step5(w []byte, p1, p2 int) []byte {
	n := len(w)
	if n == 0 {
		return w
	}
	start := n - 1
	switch w[start] {
	case 'e':
		if start >= p2 || (start >= p1 && !endsShortSyllable(w[:start])) {
			return w[:start]
		}
	case 'l':
		if start >= p2 && start > 0 && w[start-1] == 'l' {
			return w[:start]
		}
	}
	return w
}
