package detect

// Network identifiers: IPv4 and IPv6 addresses, MAC addresses, IBANs
// and wallet addresses, the PII that is one dense token.

// hexGroup handles a word of hex digits followed by ':', '-' or '.': the
// start of a MAC address or an IPv6 address.
func (st *piiState) hexGroup(i, j int, nb byte) int {
	text := st.text
	L := j - i
	if i > 0 && piiIPv6Glue(text[i-1]) || i > 0 && text[i-1] == '-' {
		return i
	}
	mask := st.s.mask
	switch nb {
	case ':':
		if L == 2 && mask.has(piiMAC) {
			if e := st.mac(i, ':'); e > j {
				return e
			}
		}
		if L <= 4 && mask.has(piiIP) {
			return st.ipv6At(i)
		}
	case '-':
		if L == 2 && mask.has(piiMAC) {
			return st.mac(i, '-')
		}
	case '.':
		if L == 4 && mask.has(piiMAC) {
			return st.macDot(i)
		}
	}
	return i
}

// mac finds six pairs of hex digits joined by sep at text[i:].
func (st *piiState) mac(i int, sep byte) int {
	text := st.text
	n := len(text)
	end := i + 17
	if end > n {
		return i
	}
	zero, ones := true, true
	for g := 0; g < 6; g++ {
		p := i + 3*g
		a, b := text[p], text[p+1]
		if !piiIsHex(a) || !piiIsHex(b) || g < 5 && text[p+2] != sep {
			return i
		}
		zero = zero && a == '0' && b == '0'
		ones = ones && (a == 'f' || a == 'F') && (b == 'f' || b == 'F')
	}
	if !piiMACEnd(text, end) {
		return i
	}
	if zero || ones {
		return end // the all-zero and broadcast addresses identify no one
	}
	st.emit(piiMAC, i, end, 0.6, "mac")
	return end
}

// macDot finds a Cisco-style MAC address, three groups of four hex digits
// joined by dots, at text[i:].
func (st *piiState) macDot(i int) int {
	text := st.text
	end := i + 14
	if end > len(text) {
		return i
	}
	zero, ones := true, true
	for k := i; k < end; k++ {
		c := text[k]
		if (k-i)%5 == 4 {
			if c != '.' {
				return i
			}
			continue
		}
		if !piiIsHex(c) {
			return i
		}
		zero = zero && c == '0'
		ones = ones && (c == 'f' || c == 'F')
	}
	if !piiMACEnd(text, end) {
		return i
	}
	if zero || ones {
		return end
	}
	st.emit(piiMAC, i, end, 0.6, "mac-cisco")
	return end
}

// piiMACEnd reports whether a MAC address may end at e: no word byte
// follows, nor another separator and hex digit (a longer sequence).
func piiMACEnd(text string, e int) bool {
	if e >= len(text) {
		return true
	}
	c := text[e]
	if piiIsWordByte(c) {
		return false
	}
	if (c == ':' || c == '-' || c == '.') && e+1 < len(text) && piiIsHex(text[e+1]) {
		return false
	}
	return true
}

// piiParseIPv4 reads a dotted quad at text[p:] and returns its end.
func piiParseIPv4(text string, p int) (int, bool) {
	n := len(text)
	for k := 0; k < 4; k++ {
		if k > 0 {
			if p+1 >= n || text[p] != '.' || !piiIsDigit(text[p+1]) {
				return p, false
			}
			p++
		}
		v, d := 0, 0
		for p < n && piiIsDigit(text[p]) {
			if d == 3 {
				return p, false
			}
			v = v*10 + int(text[p]-'0')
			d++
			p++
		}
		if d == 0 || v > 255 {
			return p, false
		}
	}
	return p, true
}

// piiPrefixLen extends an address ending at e by a "/prefix" of at most
// max, returning the new end (or e when there is none or it is too big).
func piiPrefixLen(text string, e, limit int) int {
	n := len(text)
	if e+1 >= n || text[e] != '/' || !piiIsDigit(text[e+1]) {
		return e
	}
	p := e + 1
	v := 0
	for p < n && piiIsDigit(text[p]) && p-e <= 4 {
		v = v*10 + int(text[p]-'0')
		p++
	}
	if v > limit || p < n && piiIsWordByte(text[p]) {
		return e
	}
	return p
}

// ipv4 finds an IPv4 address (and CIDR prefix) at the digit word text[i:].
func (st *piiState) ipv4(i int) int {
	text := st.text
	if i > 0 && (text[i-1] == '.' || piiIsWordByte(text[i-1])) {
		return i
	}
	end, ok := piiParseIPv4(text, i)
	if !ok || end < len(text) && piiIsWordByte(text[end]) {
		return i
	}
	end = piiPrefixLen(text, end, 32)
	st.emit(piiIP, i, end, 0.6, "ipv4")
	return end
}

// ipv6At finds an IPv6 address at text[p:] (a hex group or "::"): up to
// eight groups with at most one "::", optionally ending in a dotted quad,
// then an optional zone ("%eth0") and prefix length. The unspecified
// address "::" is reported with a low score.
func (st *piiState) ipv6At(p int) int {
	text := st.text
	n := len(text)
	if !st.s.mask.has(piiIP) {
		return p
	}
	q := p
	groups := 0
	ell := false
	if q+1 < n && text[q] == ':' && text[q+1] == ':' {
		ell = true
		q += 2
	}
	for {
		h := 0
		for q+h < n && h < 5 && piiIsHex(text[q+h]) {
			h++
		}
		if h == 0 {
			break
		}
		if h > 4 {
			return p
		}
		if q+h+1 < n && text[q+h] == '.' && piiIsDigit(text[q+h+1]) {
			// an embedded IPv4 address takes the last two groups
			if ell && groups > 5 || !ell && groups != 6 {
				return p
			}
			e, ok := piiParseIPv4(text, q)
			if !ok {
				return p
			}
			groups += 2
			q = e
			break
		}
		groups++
		q += h
		if q < n && text[q] == ':' {
			if q+1 < n && text[q+1] == ':' {
				if ell {
					return p
				}
				ell = true
				q += 2
				continue
			}
			if q+1 < n && piiIsHex(text[q+1]) {
				q++
				continue
			}
		}
		break
	}
	if ell && groups > 7 || !ell && groups != 8 {
		return p
	}
	if q < n && (piiIsWordByte(text[q]) || text[q] == ':') {
		return p
	}
	end := q
	if end+1 < n && text[end] == '%' && piiIsAlnum(text[end+1]) {
		end++
		for end < n && piiIsAlnum(text[end]) {
			end++
		}
	}
	end = piiPrefixLen(text, end, 128)
	score, rule := 0.6, "ipv6"
	if groups == 0 {
		score, rule = 0.1, "ipv6-unspecified"
	}
	st.emit(piiIP, p, end, score, rule)
	return end
}

// iban finds an IBAN starting with the word text[i:j] ("DE89" or the
// whole "DE89370400440532013000"): the country's exact length, either in
// one run or in groups of four joined by one space or dash, uppercase,
// with a valid format and checksum.
func (st *piiState) iban(i, j int) int {
	text := st.text
	n := len(text)
	L, _ := piiIBANFormat(text[i : i+2])
	if L == 0 {
		return i
	}
	if j-i == L {
		if piiIBANValid(text[i:j]) {
			st.emit(piiIBAN, i, j, 0.95, "iban")
			return j
		}
		return i
	}
	if j-i != 4 || j+1 >= n || (text[j] != ' ' && text[j] != '-') {
		return i
	}
	sep := text[j]
	var buf [34]byte
	copy(buf[:], text[i:j])
	got := 4
	p := j
	for got < L {
		if p+1 >= n || text[p] != sep {
			return i
		}
		p++
		want := min(4, L-got)
		for k := 0; k < want; k++ {
			if p >= n || !piiIsAlnum(text[p]) {
				return i
			}
			buf[got] = text[p]
			got++
			p++
		}
	}
	if p < n && piiIsWordByte(text[p]) {
		return i
	}
	if !piiIBANValid(string(buf[:L])) {
		return i
	}
	st.emit(piiIBAN, i, p, 0.95, "iban-grouped")
	return p
}
