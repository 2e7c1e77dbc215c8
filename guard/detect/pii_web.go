package detect

// Emails, URLs and the passwords that URLs carry.

func piiIsLocalByte(c byte) bool {
	return piiIsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// piiDomainEnd reads a host name at text[p:]: labels of letters, digits
// and inner hyphens joined by dots. It returns the end of the last label
// that forms a valid name, the start of that last label, and the label
// count.
func piiDomainEnd(text string, p int) (end, last, labels int) {
	n := len(text)
	end = p
	q := p
	for labels < 127 {
		a := q
		for q < n && (piiIsAlnum(text[q]) || text[q] == '-') && q-a < 64 {
			q++
		}
		if q == a || text[a] == '-' || text[q-1] == '-' || q-a > 63 {
			return
		}
		labels++
		end, last = q, a
		if q+1 < n && text[q] == '.' && piiIsAlnum(text[q+1]) {
			q++
			continue
		}
		return
	}
	return
}

// piiTLDOK reports whether the top-level label tld is alphabetic (two or
// more letters) or punycode ("xn--p1ai").
func piiTLDOK(tld string) bool {
	if len(tld) > 4 && (tld[:4] == "xn--" || tld[:4] == "XN--") {
		return true
	}
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !piiIsAlpha(tld[i]) {
			return false
		}
	}
	return true
}

// email handles an '@' at text[at]: it walks back over the local part
// (not past the last finding) and forward over the domain.
func (st *piiState) email(at int) int {
	text := st.text
	n := len(text)
	if at < st.authEnd {
		return at // user info of a URL, handled with the URL
	}
	ls := at
	for ls > st.done && at-ls < 64 && piiIsLocalByte(text[ls-1]) {
		ls--
	}
	for ls < at && (text[ls] == '.' || text[ls] == '-' || text[ls] == '+') {
		ls++
	}
	if ls == at || text[at-1] == '.' || at+1 >= n {
		return at
	}
	end, last, labels := piiDomainEnd(text, at+1)
	if labels < 2 || !piiTLDOK(text[last:end]) || end-at > 254 {
		return at
	}
	if end < n && (text[end] == '_' || text[end] == '@') {
		return at
	}
	// what the scan found inside the local part was part of the address
	k := len(st.dst)
	for k > st.base && st.dst[k-1].Start >= ls {
		k--
	}
	st.dst = st.dst[:k]
	st.emit(piiEmail, ls, end, 0.9, "email")
	return end
}

// piiURLByte reports whether c may appear in a URL after the host.
func piiURLByte(c byte) bool {
	if piiIsAlnum(c) {
		return true
	}
	switch c {
	case '-', '.', '_', '~', ':', '/', '?', '#', '[', ']', '@', '!', '$', '&', '\'',
		'(', ')', '*', '+', ',', ';', '=', '%':
		return true
	}
	return false
}

// piiURLTail extends a URL ending at p over its port, path, query and
// fragment and trims the punctuation that usually ends the sentence
// instead: trailing ".,;:!?'*" and a ')' or ']' with no opening partner.
func piiURLTail(text string, p int) int {
	n := len(text)
	q := p
	for q < n && piiURLByte(text[q]) && q-p < 8192 {
		q++
	}
	// parens and brackets still open at q: a closing one with no
	// opening partner is punctuation around the URL
	paren, bracket := 0, 0
	for k := p; k < q; k++ {
		switch text[k] {
		case '(':
			paren++
		case ')':
			paren--
		case '[':
			bracket++
		case ']':
			bracket--
		}
	}
	for q > p {
		switch text[q-1] {
		case '.', ',', ';', ':', '!', '?', '\'', '*':
			q--
			continue
		case ')':
			if paren < 0 {
				paren++
				q--
				continue
			}
		case ']':
			if bracket < 0 {
				bracket++
				q--
				continue
			}
		}
		break
	}
	return q
}

// emitURL reports a URL, with the quotes around it when it is quoted
// exactly ("'https://x.io/'"), as Presidio does, so redacting the finding
// leaves no empty quotes behind.
func (st *piiState) emitURL(s, e int, score float64, rule string) {
	text := st.text
	if s > 0 && e < len(text) && (text[s-1] == '"' || text[s-1] == '\'') && text[e] == text[s-1] {
		s--
		e++
		rule += "-quoted"
	}
	st.emit(piiURL, s, e, score, rule)
}

// schemeURL handles "scheme://" where the word text[i:j] is the scheme:
// a password in the user info is reported whatever the scheme and host
// ("postgres://app:pw@localhost"), the URL when its host is a dotted
// name, an IP address or a bracketed IPv6 address. Scanning resumes after
// "://", so the scan still finds the IPs, emails and keys inside.
func (st *piiState) schemeURL(i, j int) int {
	text := st.text
	n := len(text)
	if i < st.urlEnd {
		return j + 3 // a URL inside a URL is part of the outer finding
	}
	s := i
	// "mongodb+srv", "git+ssh": the scheme may hold '+', '.', '-'
	for s > st.done && s > i-32 && s >= 2 && (text[s-1] == '+' || text[s-1] == '.' || text[s-1] == '-') && piiIsAlnum(text[s-2]) {
		s -= 2
		for s > 0 && piiIsAlnum(text[s-1]) {
			s--
		}
	}
	p := j + 3
	// the authority ends at '/', '?', '#' or a byte no URL holds
	a := p
	at := -1
	for a < n && a-p < 512 {
		c := text[a]
		if c == '/' || c == '?' || c == '#' || !piiURLByte(c) {
			break
		}
		if c == '@' {
			at = a
		}
		a++
	}
	host := p
	if at >= 0 {
		host = at + 1
		st.authEnd = at + 1
		if st.s.mask.has(secPassword) {
			for k := p; k < at; k++ {
				if text[k] == ':' {
					if pw := text[k+1 : at]; len(pw) > 0 && !piiPlaceholder(pw) {
						st.emit(secPassword, k+1, at, 0.9, "url-userinfo")
					}
					break
				}
			}
		}
	}
	if !st.s.mask.has(piiURL) {
		return p
	}
	ok := false
	he := host
	switch {
	case host < n && text[host] == '[':
		k := host + 1
		for k < a && text[k] != ']' {
			if !piiIsHex(text[k]) && text[k] != ':' && text[k] != '.' && text[k] != '%' {
				break
			}
			k++
		}
		if k < a && text[k] == ']' && k > host+2 {
			ok, he = true, k+1
		}
	case host < n && piiIsDigit(text[host]):
		if e, good := piiParseIPv4(text, host); good {
			ok, he = true, e
		}
		if !ok {
			end, last, labels := piiDomainEnd(text, host)
			ok, he = labels >= 2 && piiTLDOK(text[last:end]), end
		}
	default:
		end, last, labels := piiDomainEnd(text, host)
		ok, he = labels >= 2 && piiTLDOK(text[last:end]), end
	}
	if !ok || he < n && (piiIsWordByte(text[he]) || text[he] == '@') {
		return p
	}
	end := piiURLTail(text, he)
	st.emitURL(s, end, 0.6, "url")
	st.urlEnd = end
	if at < 0 {
		st.authEnd = he
	}
	return p
}

// domain handles a bare domain starting with the word text[i:j] (which a
// '.' follows): two or more labels ending in a well-known top-level
// domain, not part of an email or a longer name, then an optional port
// and path.
func (st *piiState) domain(i, j int) int {
	text := st.text
	n := len(text)
	if i < st.urlEnd || i < st.domEnd {
		return i
	}
	if i > 0 {
		switch text[i-1] {
		case '@', '.', '/', ':', '-', '\\', '_', '%', '+', '=':
			return i
		}
	}
	end, last, labels := piiDomainEnd(text, i)
	st.domEnd = end
	if labels < 2 || end == j {
		return i
	}
	// the top-level domain in lowercase, or the whole name in uppercase
	// ("tc.ID" is a field, "EXAMPLE.COM" a domain)
	tld := text[last:end]
	lower, upper, _, _ := piiClasses(tld)
	if upper {
		if lower {
			return i
		}
		if l, _, _, _ := piiClasses(text[i:end]); l {
			return i
		}
	}
	tld = piiLower(tld)
	if !piiBareTLD(tld) {
		return i
	}
	// a short name.tld ("c.store", "tc.uk") is a variable unless the
	// top-level domain is one short names are registered under
	if labels == 2 && last-1-i <= 2 && !piiShortNameTLD(tld) {
		return i
	}
	if end < n && (text[end] == '@' || text[end] == '_') {
		return i
	}
	e := end
	if e+1 < n && text[e] == ':' && piiIsDigit(text[e+1]) {
		q := e + 1
		for q < n && piiIsDigit(text[q]) && q-e <= 5 {
			q++
		}
		if q == n || !piiIsWordByte(text[q]) {
			e = q
		}
	}
	if e < n && (text[e] == '/' || text[e] == '?' || text[e] == '#') {
		e = piiURLTail(text, e)
	}
	st.emitURL(i, e, 0.5, "domain")
	st.urlEnd = e
	return e
}
