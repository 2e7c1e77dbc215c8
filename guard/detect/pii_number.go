package detect

// Number-shaped PII: payment cards, US SSNs, phone numbers, dates of
// birth and street addresses, all reached from a word that starts with a
// digit (or a '+' or '(' for phones).

// numeric handles the all-digit word text[i:j] followed by nb.
func (st *piiState) numeric(i, j int, nb byte) int {
	text := st.text
	n := len(text)
	mask := st.s.mask
	d := j - i
	// network addresses first: their separators are unambiguous
	if (nb == ':' || nb == '-' || nb == '.') && d <= 4 {
		if e := st.hexGroup(i, j, nb); e > j {
			return e
		}
	}
	if nb == '.' && d <= 3 && j+1 < n && piiIsDigit(text[j+1]) && mask.has(piiIP) {
		if e := st.ipv4(i); e > j {
			return e
		}
	}
	// Inside a longer number ("12-34-5678" after a failed parse) only
	// the whole number counts: do not read its tail as a new one.
	if i >= 2 && (text[i-1] == '-' || text[i-1] == '.' || text[i-1] == '/') && piiIsDigit(text[i-2]) {
		return j
	}
	if mask.has(piiDOB) {
		// dates: numeric, day first ("12 March 1985"), month first
		if (nb == '/' || nb == '-' || nb == '.') && d <= 4 && j+1 < n && piiIsDigit(text[j+1]) {
			if e := st.dobNumeric(i); e > j {
				return e
			}
		}
		if nb == ' ' && d <= 2 && j+1 < n && piiIsAlpha(text[j+1]) {
			if e := st.dobText(i, j); e > j {
				return e
			}
		}
		if d <= 2 && i >= 5 && text[i-1] == ' ' && (piiIsLower(text[i-2]) || text[i-2] == '.') {
			if e := st.dobMonthFirst(i); e > j {
				return e
			}
		}
	}
	end := j
	if mask.has(piiCard) && (d >= 13 || d == 4) {
		end = max(end, st.card(i, j, nb))
	}
	if mask.has(piiSSN) && (d == 9 || d == 3 || d == 5) {
		end = max(end, st.ssn(i, j, nb))
	}
	// a phone number is one group of 10 or 11 digits, or several; a
	// lone first digit can only be the North American "1"
	if mask.has(piiPhone) && (d == 10 || d == 11 ||
		(nb == ' ' || nb == '-' || nb == '.') && j+1 < n && (piiIsDigit(text[j+1]) || text[j+1] == '(') && (d > 1 || text[i] == '1')) {
		end = max(end, st.phone(i, false))
	}
	if end == j && d <= 6 && nb == ' ' && mask.has(piiAddress) && text[i] != '0' && j+1 < n && (piiIsUpper(text[j+1]) || piiIsDigit(text[j+1])) {
		end = max(end, st.address(i, j))
	}
	return end
}

// card finds a payment card number starting with the digit run
// text[i:j]: 13 to 19 digits in one run, or groups of four (4-6-5 and
// 4-6-4 for American Express and Diners) joined by one space or dash
// throughout. The longest grouping that passes the issuer and Luhn checks
// wins.
func (st *piiState) card(i, j int, nb byte) int {
	text := st.text
	n := len(text)
	var buf [19]byte
	d := j - i
	if d >= 13 && d <= 19 {
		copy(buf[:], text[i:j])
		if piiCardIssuer(buf[:d]) && piiLuhn(buf[:d]) {
			st.emit(piiCard, i, j, 0.8, "card")
			return j
		}
		return i
	}
	if d != 4 || (nb != ' ' && nb != '-') {
		return i
	}
	var lens [6]int
	var ends [6]int
	copy(buf[:], text[i:j])
	nd, ng := 4, 1
	lens[0], ends[0] = 4, j
	p := j
	for ng < len(lens) && p+1 < n && text[p] == nb && piiIsDigit(text[p+1]) {
		q := p + 1
		for q < n && piiIsDigit(text[q]) && q-p <= 7 {
			q++
		}
		gl := q - p - 1
		if gl > 6 || nd+gl > len(buf) {
			break
		}
		copy(buf[nd:], text[p+1:q])
		nd += gl
		lens[ng], ends[ng] = gl, q
		ng++
		p = q
	}
	total := nd
	for k := ng; k >= 3; k-- {
		if k < ng {
			total -= lens[k]
		}
		if total < 13 {
			break
		}
		end := ends[k-1]
		if end < n && piiIsWordByte(text[end]) {
			continue
		}
		if !piiCardShape(lens[:k]) || !piiCardIssuer(buf[:total]) || !piiLuhn(buf[:total]) {
			continue
		}
		st.emit(piiCard, i, end, 0.9, "card-grouped")
		return end
	}
	return i
}

// piiCardShape reports whether group lengths are a card layout: 4-6-5 or
// 4-6-4, or fours with a last group of one to four digits.
func piiCardShape(lens []int) bool {
	if lens[0] != 4 {
		return false
	}
	if len(lens) == 3 && lens[1] == 6 {
		return lens[2] == 4 || lens[2] == 5
	}
	for _, l := range lens[1 : len(lens)-1] {
		if l != 4 {
			return false
		}
	}
	last := lens[len(lens)-1]
	return last >= 1 && last <= 4
}

// ssn finds a US SSN starting with the digit run text[i:j]: 3-2-4 with
// one separator (space, dash or dot) used twice scores 0.5; nine bare
// digits, 5-4 and 3-6 with a dash are weak shapes scoring 0.05, which
// context words lift.
func (st *piiState) ssn(i, j int, nb byte) int {
	text := st.text
	n := len(text)
	var d [9]byte
	digits := func(p, k int) bool {
		if p+k > n {
			return false
		}
		for q := p; q < p+k; q++ {
			if !piiIsDigit(text[q]) {
				return false
			}
		}
		return true
	}
	// boundary: no word byte after, nor the same separator and a digit
	free := func(e int, sep byte) bool {
		if e >= n {
			return true
		}
		c := text[e]
		if piiIsWordByte(c) {
			return false
		}
		return !(c == sep && e+1 < n && piiIsDigit(text[e+1]))
	}
	switch j - i {
	case 9:
		copy(d[:], text[i:j])
		if piiSSNValid(d[:]) && free(j, 0) {
			st.emit(piiSSN, i, j, 0.05, "ssn-bare")
			return j
		}
	case 3:
		if nb != '-' && nb != ' ' && nb != '.' {
			return i
		}
		if digits(j+1, 2) && j+3 < n && text[j+3] == nb && digits(j+4, 4) && free(j+8, nb) {
			copy(d[:3], text[i:j])
			copy(d[3:5], text[j+1:j+3])
			copy(d[5:], text[j+4:j+8])
			if piiSSNValid(d[:]) {
				st.emit(piiSSN, i, j+8, 0.5, "ssn")
				return j + 8
			}
			return i
		}
		if nb == '-' && digits(j+1, 6) && free(j+7, nb) {
			copy(d[:3], text[i:j])
			copy(d[3:], text[j+1:j+7])
			if piiSSNValid(d[:]) {
				st.emit(piiSSN, i, j+7, 0.05, "ssn-weak")
				return j + 7
			}
		}
	case 5:
		if nb == '-' && digits(j+1, 4) && free(j+5, nb) {
			copy(d[:5], text[i:j])
			copy(d[5:], text[j+1:j+5])
			if piiSSNValid(d[:]) {
				st.emit(piiSSN, i, j+5, 0.05, "ssn-weak")
				return j + 5
			}
		}
	}
	return i
}

// piiPhoneTok is a phone number candidate cut into digit groups.
type piiPhoneTok struct {
	lens  [8]uint8
	ng    int
	dig   [17]byte
	nd    int
	plus  bool // written with a leading '+'
	paren int  // index of the group in parentheses, or -1
	sep   byte // the separator between groups, or 0
	mixed bool // more than one kind of separator
	end   int
}

// read cuts the candidate at text[i:]: an optional '+', then up to eight
// digit groups joined by one space, dash or dot, one group of which may
// be in parentheses.
func (t *piiPhoneTok) read(text string, i int) bool {
	n := len(text)
	p := i
	t.paren = -1
	if text[p] == '+' {
		t.plus = true
		p++
	}
	for t.ng < len(t.lens) {
		open := p < n && text[p] == '('
		if open {
			if t.paren >= 0 {
				break
			}
			p++
		}
		q := p
		for q < n && piiIsDigit(text[q]) {
			q++
		}
		gl := q - p
		if gl == 0 || gl > 12 || t.nd+gl > len(t.dig) {
			if t.ng == 0 {
				return false
			}
			break
		}
		if open {
			if q >= n || text[q] != ')' {
				if t.ng == 0 {
					return false
				}
				break
			}
			t.paren = t.ng
			q++
		}
		copy(t.dig[t.nd:], text[p:q])
		t.nd += gl
		t.lens[t.ng] = uint8(gl)
		t.ng++
		t.end = q
		p = q
		if p >= n {
			break
		}
		// the separator before the next group
		c := text[p]
		k := p
		var sep byte
		switch {
		case c == ' ' || c == '-' || c == '.':
			k++
			if text[p-1] != ')' && !(k < n && text[k] == '(') {
				sep = c
			}
		case c == '(' || (text[p-1] == ')' && piiIsDigit(c)):
		default:
			return true
		}
		if k >= n || !(piiIsDigit(text[k]) || text[k] == '(' && k+1 < n && piiIsDigit(text[k+1])) {
			break
		}
		if sep != 0 {
			if t.sep == 0 {
				t.sep = sep
			} else if t.sep != sep {
				t.mixed = true
			}
		}
		p = k
	}
	return t.ng > 0
}

// classify returns the score and rule of the candidate, or 0 when it is
// not a phone number at this leniency.
func (t *piiPhoneTok) classify(lv PhoneLeniency) (float64, string) {
	if t.nd < 7 {
		return 0, "" // no shape below has fewer digits
	}
	d := t.dig[:t.nd]
	lens := t.lens[:t.ng]
	intl := t.plus
	off := 0
	if !intl && t.nd > 4 && d[0] == '0' && d[1] == '0' && lens[0] >= 2 && t.paren != 0 {
		intl, off = true, 2 // "00" international prefix
	}
	if intl {
		cc := piiCallingCodeLen(d[off:])
		if cc == 0 || int(lens[0])-off < cc || t.nd-off > 15 {
			return 0, ""
		}
		nsn := t.nd - off - cc
		if d[off] == '1' {
			if nsn != 10 || !piiNANP(d[off+1:]) {
				return 0, ""
			}
		} else if nsn < 7 || nsn > 12 {
			return 0, ""
		}
		if lv == PhoneExactGrouping {
			groups := lens[1:]
			first := int(lens[0]) - off - cc
			count := len(groups)
			if first > 0 {
				count++
			}
			if count >= 2 {
				if first > 4 {
					return 0, ""
				}
				for _, l := range groups {
					if l > 4 {
						return 0, ""
					}
				}
			}
		}
		return 0.75, "phone-intl"
	}
	if t.mixed {
		return 0, ""
	}
	switch {
	case t.ng == 3 && lens[0] == 3 && lens[1] == 3 && lens[2] == 4 && t.paren <= 0 && piiNANP(d):
		return 0.6, "phone-nanp"
	case t.ng == 4 && lens[0] == 1 && d[0] == '1' && lens[1] == 3 && lens[2] == 3 && lens[3] == 4 &&
		(t.paren == -1 || t.paren == 1) && piiNANP(d[1:]):
		return 0.6, "phone-nanp"
	case d[0] == '0' && d[1] != '0' && t.ng >= 2 && t.ng <= 5 && t.nd >= 9 && t.nd <= 11 && t.paren <= 0 && piiMinGroup(lens) >= 2 &&
		!(t.ng == 3 && lens[0] == 3 && lens[1] == 2 && lens[2] == 4): // 3-2-4 is an SSN's shape
		return 0.5, "phone-trunk"
	case t.ng == 4 && lens[0] <= 3 && lens[1] == 3 && lens[2] == 3 && lens[3] == 4 && t.paren == -1 &&
		d[0] != '0' && piiCallingCodeLen(d) == int(lens[0]) && d[lens[0]] >= '2':
		if lv == PhoneStrictGrouping || lv == PhoneExactGrouping {
			return 0, ""
		}
		return 0.4, "phone-cc"
	case t.ng == 1 && t.paren == -1 && t.nd == 11 && d[0] == '1' && d[1] >= '3':
		return 0.4, "phone-cn-mobile"
	case t.ng == 1 && t.paren == -1 && t.nd == 10 && piiNANP(d):
		return 0.3, "phone-nanp-bare"
	}
	return 0, ""
}

func piiMinGroup(lens []uint8) uint8 {
	m := lens[0]
	for _, l := range lens[1:] {
		m = min(m, l)
	}
	return m
}

// phone finds a phone number starting at text[i] (a digit, '+' or '(');
// glued says a letter touches it on the left.
func (st *piiState) phone(i int, glued bool) int {
	text := st.text
	lv := st.s.phone
	if glued && lv != PhonePossible {
		return i
	}
	var t piiPhoneTok
	if !t.read(text, i) {
		return i
	}
	if t.end < len(text) && piiIsWordByte(text[t.end]) && lv != PhonePossible {
		return i
	}
	score, rule := t.classify(lv)
	if score == 0 {
		return i
	}
	st.emit(piiPhone, i, t.end, score, rule)
	return t.end
}

// dobNumeric finds a numeric date at text[i:] (after a birth word):
// YYYY-MM-DD, or DD/MM/YYYY and MM/DD/YYYY (also with '.' or '-', and
// two-digit years with '/' or '.'), with a real month and day.
func (st *piiState) dobNumeric(i int) int {
	text := st.text
	n := len(text)
	var g [3]int
	var l [3]int
	p := i
	var sep byte
	for k := 0; k < 3; k++ {
		if k > 0 {
			if p >= n || (k == 1 && text[p] != '/' && text[p] != '-' && text[p] != '.') || (k == 2 && text[p] != sep) {
				return i
			}
			sep = text[p]
			p++
		}
		q := p
		v := 0
		for q < n && piiIsDigit(text[q]) && q-p < 4 {
			v = v*10 + int(text[q]-'0')
			q++
		}
		if q == p || (q < n && piiIsDigit(text[q])) {
			return i
		}
		g[k], l[k] = v, q-p
		p = q
	}
	if p < n && (piiIsWordByte(text[p]) || text[p] == sep && p+1 < n && piiIsDigit(text[p+1])) {
		return i
	}
	ok := false
	switch {
	case l[0] == 4 && l[1] <= 2 && l[2] <= 2:
		ok = piiYear(g[0]) && piiDay(g[1], g[2])
	case l[0] <= 2 && l[1] <= 2 && l[2] == 4:
		ok = piiYear(g[2]) && (piiDay(g[1], g[0]) || piiDay(g[0], g[1]))
	case l[0] <= 2 && l[1] <= 2 && l[2] == 2 && sep == '/': // "6.5.16" is a version more often than a date
		ok = piiDay(g[1], g[0]) || piiDay(g[0], g[1])
	}
	if !ok || !st.birthBefore(i) {
		return i
	}
	st.emit(piiDOB, i, p, 0.75, "dob-numeric")
	return p
}

// birthBefore reports whether a birth word ("born", "birth", "birthday",
// "birthdate", "DOB", any case) ends within the 48 bytes (or the
// ContextWindow, when larger) before p: only then is a date a date of
// birth.
func (st *piiState) birthBefore(p int) bool {
	text := st.text
	from := max(0, p-max(48, st.s.window))
	for q := p; q > from; {
		if !piiIsAlpha(text[q-1]) {
			q--
			continue
		}
		e := q
		for q > from && piiIsAlpha(text[q-1]) {
			q--
		}
		if q == from && q > 0 && piiIsAlpha(text[q-1]) {
			break // cut by the window
		}
		if e-q >= 3 && e-q <= 9 && piiKeywordKind(text[q:e], false) == piiKwBirth {
			return true
		}
	}
	return false
}

// dobMonthFirst handles a day number at text[i:] right after a month
// name ("March 12, 1985").
func (st *piiState) dobMonthFirst(i int) int {
	text := st.text
	n := len(text)
	// a year must follow: "12, 1985", "12th 1985"
	p := i
	for p < n && p-i < 4 && piiIsAlnum(text[p]) {
		p++
	}
	if p < n && text[p] == ',' {
		p++
	}
	if p+5 > n || text[p] != ' ' || !piiIsDigit(text[p+1]) || !piiIsDigit(text[p+4]) {
		return i
	}
	e := i - 1
	if text[e-1] == '.' {
		e--
	}
	s := e
	for s > 0 && e-s < 9 && piiIsAlpha(text[s-1]) {
		s--
	}
	if e-s < 3 || s > 0 && piiIsWordByte(text[s-1]) || piiMonth(text[s:e]) == 0 {
		return i
	}
	return st.dobText(s, e)
}

func piiYear(y int) bool { return y >= 1900 && y <= 2099 }

// piiDay reports whether month m has a day d (29 February allowed).
func piiDay(m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	switch m {
	case 2:
		return d <= 29
	case 4, 6, 9, 11:
		return d <= 30
	}
	return d <= 31
}

// dobText finds a date written with a month name after a birth word:
// "12 March 1985", "12th of March, 1985", "March 12, 1985", "Mar. 12th
// 1985". The word text[i:j] is the day or the month.
func (st *piiState) dobText(i, j int) int {
	text := st.text
	n := len(text)
	// word reads the next word after p (skipping one space, and one ','
	// or '.' before it when allowed) and returns its bounds.
	word := func(p int, punct bool) (int, int) {
		if punct && p < n && (text[p] == ',' || text[p] == '.') {
			p++
		}
		if p >= n || text[p] != ' ' {
			return -1, -1
		}
		p++
		q := p
		for q < n && piiIsWordByte(text[q]) {
			q++
		}
		if q == p {
			return -1, -1
		}
		return p, q
	}
	day := func(w string) int {
		k := 0
		v := 0
		for k < len(w) && k < 2 && piiIsDigit(w[k]) {
			v = v*10 + int(w[k]-'0')
			k++
		}
		if k == 0 {
			return 0
		}
		switch w[k:] {
		case "", "st", "nd", "rd", "th":
			return v
		}
		return 0
	}
	year := func(a, b int) bool {
		if b-a != 4 {
			return false
		}
		y := 0
		for k := a; k < b; k++ {
			if !piiIsDigit(text[k]) {
				return false
			}
			y = y*10 + int(text[k]-'0')
		}
		return piiYear(y)
	}
	var dd, mm, end int
	if piiIsDigit(text[i]) {
		dd = day(text[i:j])
		a, b := word(j, false)
		if a < 0 {
			return i
		}
		if text[a:b] == "of" {
			if a, b = word(b, false); a < 0 {
				return i
			}
		}
		if mm = piiMonth(text[a:b]); mm == 0 {
			return i
		}
		ya, yb := word(b, true)
		if ya < 0 || !year(ya, yb) {
			return i
		}
		end = yb
	} else {
		if mm = piiMonth(text[i:j]); mm == 0 {
			return i
		}
		a, b := word(j, true)
		if a < 0 {
			return i
		}
		dd = day(text[a:b])
		ya, yb := word(b, true)
		if ya < 0 || !year(ya, yb) {
			return i
		}
		end = yb
	}
	if mm == 0 || !piiDay(mm, dd) || !st.birthBefore(i) {
		return i
	}
	st.emit(piiDOB, i, end, 0.75, "dob-text")
	return end
}

// address finds a US-style street address starting with the house
// number text[i:j]: an optional direction, one to four capitalised words
// (or an ordinal such as "5th") and a street suffix, then optionally a
// direction, a unit ("Apt 4B", "Suite 200") and ", City, ST 12345".
// Without the suffix nothing is reported: a number before capitalised
// words is too common to mean an address.
func (st *piiState) address(i, j int) int {
	text := st.text
	n := len(text)
	next := func(p int) (int, int) {
		if p+1 >= n || text[p] != ' ' {
			return -1, -1
		}
		p++
		q := p
		for q < n && piiIsAlnum(text[q]) {
			q++
		}
		if q == p {
			return -1, -1
		}
		return p, q
	}
	p := j
	a, b := next(p)
	if a < 0 {
		return i
	}
	if piiDirection(text[a:b]) {
		p = b
		if p < n && text[p] == '.' {
			p++
		}
		if a, b = next(p); a < 0 {
			return i
		}
	}
	words := 0
	end := -1
	for words < 5 {
		w := text[a:b]
		if words > 0 && piiStreetSuffix(w) {
			end = b
			break
		}
		if !(piiIsUpper(w[0]) && piiIsLower(w[len(w)-1])) && !piiOrdinal(w) {
			return i
		}
		words++
		if a, b = next(b); a < 0 {
			return i
		}
	}
	if end < 0 {
		return i
	}
	score := 0.6
	// trailing direction ("NW") and unit; the period of an abbreviated
	// suffix ("St.") belongs to the address only when more follows
	if a, b := next(end); a >= 0 && piiDirection(text[a:b]) && len(text[a:b]) <= 2 {
		end = b
	}
	comma := func(e int) int {
		if e+1 < n && text[e] == '.' && text[e+1] == ',' {
			e++
		}
		if e+2 < n && text[e] == ',' {
			return e
		}
		return -1
	}
	if c := comma(end); c >= 0 {
		if a, b := next(c + 1); a >= 0 && piiUnitWord(text[a:b]) {
			q := b
			if q < n && text[q] == '.' {
				q++
			}
			if c, d := next(q); c >= 0 && (piiIsDigit(text[c]) || d-c <= 3) {
				end = d
			}
		}
	}
	// ", City, ST 12345"
	if c := comma(end); c >= 0 {
		p := c + 1
		city := 0
		for city < 3 {
			a, b := next(p)
			if a < 0 || !piiIsUpper(text[a]) {
				break
			}
			city++
			p = b
			if p < n && text[p] == ',' {
				break
			}
		}
		if city > 0 && p+1 < n && text[p] == ',' {
			if a, b := next(p + 1); a >= 0 && b-a == 2 && piiUSState(text[a:b]) {
				if za, zb := next(b); za >= 0 && zb-za == 5 && piiAllDigits(text[za:zb]) {
					end = zb
					if end+5 < n && text[end] == '-' && piiAllDigits(text[end+1:end+5]) && (end+5 == n || !piiIsWordByte(text[end+5])) {
						end += 5
					}
					score = 0.8
				}
			}
		}
	}
	st.emit(piiAddress, i, end, score, "us-street-address")
	return end
}

func piiOrdinal(w string) bool {
	k := 0
	for k < len(w) && piiIsDigit(w[k]) {
		k++
	}
	if k == 0 {
		return false
	}
	switch w[k:] {
	case "st", "nd", "rd", "th":
		return true
	}
	return false
}

func piiAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !piiIsDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}
