package detect

import (
	"encoding/base64"
	"strings"
)

// Secrets: vendor keys recognised by their published prefixes, JWTs, PEM
// private keys, and passwords and tokens that follow a keyword. Wallet
// addresses share the prefix dispatch, so they live here too.

// piiSpan returns the end of the run of bytes at text[p:] for which ok
// holds, reading at most limit bytes.
func piiSpan(text string, p, limit int, ok func(byte) bool) int {
	q := p
	for q < len(text) && q-p < limit && ok(text[q]) {
		q++
	}
	return q
}

func secTokenByte(c byte) bool { return piiIsAlnum(c) || c == '_' || c == '-' }

// secEnd reports whether a token may end at e: no byte of the token's own
// alphabet follows, so a longer token is not cut short.
func secEnd(text string, e int) bool { return e >= len(text) || !secTokenByte(text[e]) }

// prefixed checks the word text[i:j] (followed by nb) for a known key or
// wallet prefix and returns the end of what it found, or i.
func (st *piiState) prefixed(i, j int, m uint8, nb byte) int {
	text := st.text
	w := text[i:j]
	mask := st.s.mask
	switch text[i] {
	case 'A':
		if len(w) == 20 && mask.has(secAWS) && m&(piiCLower|piiCUnder) == 0 {
			switch w[:4] {
			case "AKIA", "ASIA", "ABIA", "ACCA":
				if !piiPlaceholder(w) {
					st.emit(secAWS, i, j, 0.9, "aws-access-key-id")
				}
				return j
			}
		}
		if strings.HasPrefix(w, "AIza") && mask.has(secGoogle) {
			e := piiSpan(text, i, 40, secTokenByte)
			if e-i == 39 && secEnd(text, e) {
				if !piiPlaceholder(text[i+4 : e]) {
					st.emit(secGoogle, i, e, 0.85, "google-api-key")
				}
				return e
			}
		}
	case 'g':
		if !mask.has(secGitHub) && !mask.has(secGitLab) {
			return i
		}
		if len(w) == 40 && w[0] == 'g' && w[1] == 'h' && w[3] == '_' && strings.IndexByte("pousr", w[2]) >= 0 {
			if piiAllAlnum(w[4:]) && !piiPlaceholder(w[4:]) {
				st.emit(secGitHub, i, j, 0.95, "github-token")
			}
			return j
		}
		if strings.HasPrefix(w, "github_pat_") && len(w) >= 82 && len(w) <= 255 {
			if !piiPlaceholder(w[11:]) {
				st.emit(secGitHub, i, j, 0.95, "github-fine-grained-pat")
			}
			return j
		}
		if w == "glpat" && nb == '-' {
			e := piiSpan(text, j+1, 128, secTokenByte)
			if e-j-1 >= 20 && secEnd(text, e) && !piiPlaceholder(text[j+1:e]) {
				st.emit(secGitLab, i, e, 0.95, "gitlab-pat")
			}
			return e // the whole token was read: nothing else starts inside it
		}
	case 'x':
		if len(w) == 4 && w[:3] == "xox" && strings.IndexByte("baprse", w[3]) >= 0 && nb == '-' && mask.has(secSlack) {
			e := piiSpan(text, j, 256, func(c byte) bool { return piiIsAlnum(c) || c == '-' })
			body := text[j+1 : e]
			_, _, digit, _ := piiClasses(body)
			if len(body) >= 20 && digit && secEnd(text, e) && !piiPlaceholder(body) {
				st.emit(secSlack, i, e, 0.9, "slack-token")
			}
			return e
		}
	case 's', 'r':
		if len(w) > 8 && (w[1] == 'k') && w[2] == '_' && mask.has(secStripe) {
			live := strings.HasPrefix(w[3:], "live_")
			if (live || strings.HasPrefix(w[3:], "test_")) && len(w)-8 >= 20 && piiAllAlnum(w[8:]) {
				if !piiPlaceholder(w[8:]) {
					score := 0.95
					if !live {
						score = 0.6 // test-mode keys move no money
					}
					st.emit(secStripe, i, j, score, "stripe-key")
				}
				return j
			}
		}
		if w == "sk" && nb == '-' && (mask.has(secOpenAI) || mask.has(secAnthropic)) {
			e := piiSpan(text, j+1, 512, secTokenByte)
			body := text[j+1 : e]
			if !secEnd(text, e) || len(body) < 32 {
				return e
			}
			_, _, digit, _ := piiClasses(body)
			if !digit || piiPlaceholder(body) {
				return e
			}
			if strings.HasPrefix(body, "ant-") {
				st.emit(secAnthropic, i, e, 0.95, "anthropic-api-key")
				return e
			}
			score := 0.75
			if strings.Contains(body, "T3BlbkFJ") || strings.HasPrefix(body, "proj-") ||
				strings.HasPrefix(body, "svcacct-") || strings.HasPrefix(body, "admin-") {
				score = 0.9
			}
			st.emit(secOpenAI, i, e, score, "openai-api-key")
			return e
		}
	case 'e':
		if nb == '.' && strings.HasPrefix(w, "eyJ") && mask.has(secJWT) {
			return st.jwt(i)
		}
	case 'h':
		if len(w) == 37 && strings.HasPrefix(w, "hf_") && mask.has(secGeneric) && piiAllAlnum(w[3:]) {
			if !piiPlaceholder(w[3:]) {
				st.emit(secGeneric, i, j, 0.85, "huggingface-token")
			}
			return j
		}
	case 'n':
		if len(w) == 40 && strings.HasPrefix(w, "npm_") && mask.has(secGeneric) && piiAllAlnum(w[4:]) {
			if !piiPlaceholder(w[4:]) {
				st.emit(secGeneric, i, j, 0.85, "npm-token")
			}
			return j
		}
	case '1', '3':
		if len(w) >= 26 && len(w) <= 35 && mask.has(piiCrypto) && piiBase58Check(w) {
			st.emit(piiCrypto, i, j, 0.9, "btc-base58check")
			return j
		}
	case 'b', 'B':
		if len(w) >= 14 && (w[1] == 'c' || w[1] == 'C') && w[2] == '1' && mask.has(piiCrypto) && piiSegwit(w) {
			st.emit(piiCrypto, i, j, 0.9, "btc-bech32")
			return j
		}
	case '0':
		if len(w) == 42 && (w[1] == 'x' || w[1] == 'X') && mask.has(piiCrypto) {
			h := w[2:]
			for k := 0; k < len(h); k++ {
				if !piiIsHex(h[k]) {
					return i
				}
			}
			lower, upper, _, _ := piiClasses(h)
			switch {
			case lower && upper:
				if piiEIP55(h) {
					st.emit(piiCrypto, i, j, 0.9, "eth-eip55")
				}
				return j // a failed EIP-55 checksum is a typo, not an address
			default:
				st.emit(piiCrypto, i, j, 0.6, "eth")
				return j
			}
		}
	}
	return i
}

func piiAllAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !piiIsAlnum(s[i]) {
			return false
		}
	}
	return true
}

func secB64URLByte(c byte) bool { return piiIsAlnum(c) || c == '_' || c == '-' }

// jwt finds a JSON Web Token at text[i:] ("eyJ..." header, payload and
// signature joined by dots, the signature possibly empty) whose header
// decodes to a JSON object naming "alg".
func (st *piiState) jwt(i int) int {
	text := st.text
	h := piiSpan(text, i, 2048, secB64URLByte)
	if h >= len(text) || text[h] != '.' || h-i < 10 {
		return i
	}
	p := piiSpan(text, h+1, 16384, secB64URLByte)
	if p-h-1 < 2 || p >= len(text) || text[p] != '.' || text[h+1] != 'e' || text[h+2] != 'y' {
		return i
	}
	e := piiSpan(text, p+1, 4096, secB64URLByte)
	if !secEnd(text, e) || e < len(text) && text[e] == '.' && e+1 < len(text) && secB64URLByte(text[e+1]) {
		return i
	}
	// decode the start of the header: enough to see "alg"
	var hdr [96]byte
	src := text[i:min(h, i+128)]
	src = src[:len(src)/4*4]
	k, err := base64.RawURLEncoding.Decode(hdr[:], []byte(src))
	if err != nil || !strings.Contains(string(hdr[:k]), `"alg"`) {
		return i
	}
	st.emit(secJWT, i, e, 0.85, "jwt")
	return e
}

// pem finds a PEM private key block at text[i:] ("-----BEGIN ... PRIVATE
// KEY-----" through its END line). Without an END line within 64 KiB the
// finding covers the BEGIN line and the base64 body after it.
func (st *piiState) pem(i int) int {
	text := st.text
	n := len(text)
	const begin = "-----BEGIN "
	p := i + len(begin)
	k := strings.Index(text[p:min(n, p+64)], "-----")
	if k < 0 {
		return i
	}
	label := text[p : p+k]
	if !strings.Contains(label, "PRIVATE KEY") || !st.s.mask.has(secPrivateKey) {
		return i
	}
	body := p + k + 5
	from := max(body, st.pemSearched)
	limit := min(n, body+65536)
	endLine := "-----END " + label + "-----"
	if from < limit {
		if e := strings.Index(text[from:limit], endLine); e >= 0 {
			end := from + e + len(endLine)
			st.emit(secPrivateKey, i, end, 0.99, "pem-private-key")
			return end
		}
		st.pemSearched = max(st.pemSearched, limit-len(endLine))
	}
	// the body: following lines made only of base64 characters
	end := body
	for p := body; p < n && p-body < 65536; {
		if text[p] == '\r' {
			p++
		}
		if p >= n || text[p] != '\n' {
			break
		}
		q := piiSpan(text, p+1, 1024, func(c byte) bool { return piiIsAlnum(c) || c == '+' || c == '/' || c == '=' })
		if q == p+1 || q < n && text[q] != '\n' && text[q] != '\r' {
			break
		}
		end, p = q, q
	}
	if end == body {
		return body
	}
	st.emit(secPrivateKey, i, end, 0.9, "pem-private-key-unterminated")
	return end
}

// keyword handles the word text[i:j] that a ':' or '=' follows: a
// secret or password keyword looks for its value.
func (st *piiState) keyword(i, j int, m uint8) int {
	mask := st.s.mask
	switch piiKeywordKind(st.text[i:j], m&piiCUnder != 0) {
	case piiKwSecret:
		if mask.has(secGeneric) {
			return st.keyValue(j, false)
		}
	case piiKwPassword:
		if mask.has(secPassword) {
			return st.keyValue(j, true)
		}
	}
	return j
}

// wordBefore returns the bounds of the word (letters, digits, '_', '-')
// that ends at or before p after skipping up to skip bytes of spaces,
// quotes and the separators in seps, reading no further back than 32
// bytes; a, b are -1 when there is none.
func (st *piiState) wordBefore(p int, seps string) (int, int) {
	text := st.text
	lim := max(0, p-32)
	q := p
	for q > lim && (text[q-1] == ' ' || text[q-1] == '\t' || text[q-1] == '"' || text[q-1] == '\'' || strings.IndexByte(seps, text[q-1]) >= 0) {
		q--
	}
	e := q
	for q > lim && (piiIsWordByte(text[q-1]) || text[q-1] == '-') {
		q--
	}
	if q == e || q == lim && q > 0 && piiIsWordByte(text[q-1]) {
		return -1, -1
	}
	return q, e
}

// keywordBefore handles a ':' or '=' at text[i] that does not touch a
// word ("password" : ..., api_key = ...): the keyword is the word before.
func (st *piiState) keywordBefore(i int) int {
	a, b := st.wordBefore(i, "")
	if a < 0 || b-a > 48 {
		return i
	}
	if !st.s.kwMaybe(st.text[a:b]) && strings.IndexAny(st.text[a:b], "_-") < 0 {
		return i
	}
	var m uint8
	for k := a; k < b; k++ {
		m |= st.s.cls[st.text[k]]
	}
	if st.text[a:b] != "" && strings.IndexByte(st.text[a:b], '-') >= 0 {
		m |= piiCUnder // an identifier such as db-password
	}
	if e := st.keyword(a, b, m); e > b {
		return e
	}
	return i
}

// tokenAfterKeyword handles a word with letters and digits: when the
// token around it is long enough to be a secret and a secret keyword
// comes right before it ("token abc123...", "the key is abc123...",
// "Authorization: Bearer abc123..."), the keyword rule decides.
func (st *piiState) tokenAfterKeyword(i, j int) int {
	if !st.s.mask.has(secGeneric) {
		return j
	}
	text := st.text
	tok := func(c byte) bool {
		return piiIsAlnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.' || c == '~'
	}
	if i < st.tokEnd {
		return j
	}
	s := i
	for s > st.done && i-s < 512 && tok(text[s-1]) {
		s--
	}
	e := piiSpan(text, j, 512, tok)
	st.tokEnd = e
	if e-s < 16 {
		return j
	}
	a, b := st.wordBefore(s, ":=")
	if a < 0 {
		return j
	}
	w := text[a:b]
	switch {
	case strings.EqualFold(w, "is"), strings.EqualFold(w, "bearer") && s-b > 1, strings.EqualFold(w, "basic"):
		// "key is ...", "Authorization: Bearer ..."
		if a2, b2 := st.wordBefore(a, ":="); a2 >= 0 && piiKeywordKind(text[a2:b2], true) == piiKwSecret {
			a, b = a2, b2
		}
	}
	if piiKeywordKind(text[a:b], true) != piiKwSecret {
		return j
	}
	if end := st.keyValue(b, false); end > b {
		return end
	}
	return j
}

// passwordIs handles a word that may be a password after "password is".
func (st *piiState) passwordIs(i int) int {
	text := st.text
	if i < 5 || text[i-1] != ' ' || text[i-4] != ' ' || text[i-3]|0x20 != 'i' || text[i-2]|0x20 != 's' || !st.s.mask.has(secPassword) {
		return i
	}
	a, b := st.wordBefore(i-4, "")
	if a < 0 || b != i-4 || piiKeywordKind(text[a:b], true) != piiKwPassword {
		return i
	}
	return st.keyValue(b, true)
}

// keyValue looks for the value after a keyword ending at j: past a
// closing quote, spaces and one ':' or '=' (or ":=", "=>"), or the word
// "is", and an opening quote. For a secret keyword the value must be a
// token of 16 or more bytes with letters and digits and an entropy of at
// least 3 bits per byte; for a password keyword any six or more
// non-space bytes after ':' or '=', or six or more with a letter and a
// digit or symbol after "is".
func (st *piiState) keyValue(j int, password bool) int {
	text := st.text
	n := len(text)
	p := j
	for p < n && p-j < 3 && (text[p] == '"' || text[p] == '\'' || text[p] == ' ') {
		p++
	}
	assigned := false
	switch {
	case p < n && (text[p] == ':' || text[p] == '='):
		assigned = true
		p++
		if p < n && (text[p] == '=' || text[p] == '>') {
			p++
		}
	case p+3 <= n && text[p] == 'i' && text[p+1] == 's' && p > j && p+2 < n && text[p+2] == ' ':
		p += 3
	case password || p == j:
		return j
	}
	for p < n && p-j < 12 && (text[p] == ' ' || text[p] == '\t') {
		p++
	}
	var quote byte
	if p < n && (text[p] == '"' || text[p] == '\'' || text[p] == '`') {
		quote = text[p]
		p++
	}
	if !password {
		for _, scheme := range [...]string{"Bearer ", "bearer ", "Basic ", "token "} {
			if strings.HasPrefix(text[p:], scheme) {
				p += len(scheme)
				break
			}
		}
	}
	start := p
	var e int
	if password {
		e = piiSpan(text, p, 128, func(c byte) bool { return c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '`' })
	} else {
		e = piiSpan(text, p, 512, func(c byte) bool {
			return piiIsAlnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.' || c == '~'
		})
	}
	if quote == 0 {
		// sentence punctuation after the value; '!' and '?' are common
		// in passwords, so a password keeps them
		trim := ".,;:)!?"
		if password {
			trim = ".,;)"
		}
		for e > start && strings.IndexByte(trim, text[e-1]) >= 0 {
			e--
		}
	} else if e >= n || text[e] != quote {
		return j
	}
	v := text[start:e]
	lower, upper, digit, other := piiClasses(v)
	if password {
		if len(v) < 6 || piiPlaceholder(v) || piiKeywordKind(v, true) != 0 {
			return j
		}
		mixed := (lower || upper) && (digit || other)
		switch {
		case assigned && mixed:
			st.emit(secPassword, start, e, 0.7, "password-assignment")
		case assigned || mixed:
			st.emit(secPassword, start, e, 0.5, "password-assignment")
		default:
			return j
		}
		return e
	}
	if len(v) < 16 || !digit || !(lower || upper) || piiPlaceholder(v) || secKnownPrefix(v) {
		return j
	}
	if piiEntropy(v) < 3.0 {
		return j
	}
	st.emit(secGeneric, start, e, 0.7, "keyword-entropy")
	return e
}

// secKnownPrefix reports whether v starts like a token the prefix
// dispatch recognises, which then reports it under its own type.
func secKnownPrefix(v string) bool {
	for _, p := range [...]string{"AKIA", "ASIA", "AIza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
		"github_pat_", "glpat-", "xox", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk-", "eyJ", "hf_", "npm_"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// context adjusts the score of a finding of kind k starting at start by
// the words in the ContextWindow bytes before it (whole words of ASCII
// letters, any case). The word nearest the finding that is on one of the
// type's lists decides: a positive word (for a card "card", "visa", ...;
// for an SSN "ssn", "social", ...) adds 0.35, capped at 1; a negative
// word ("order", "invoice", "tracking", "reference", ...), which only
// number-like types (cards, SSNs, phone numbers) have, multiplies the
// score by 0.4. Emails, URLs, dates of birth, addresses and secrets are
// not adjusted: their own rules already carry their context.
func (st *piiState) context(k piiKind, start int, score float64) float64 {
	w := st.s.window
	if w <= 0 || start == 0 {
		return score
	}
	switch k {
	case piiCard, piiSSN, piiPhone, piiIBAN, piiIP, piiMAC, piiCrypto:
	default:
		return score
	}
	text := st.text
	from := max(0, start-w)
	pos, neg := false, false
	// backwards from the finding: the first listed word decides
	for q := start; q > from && !pos && !neg; {
		if !piiIsAlpha(text[q-1]) {
			q--
			continue
		}
		e := q
		for q > from && piiIsAlpha(text[q-1]) {
			q--
		}
		if q == from && q > 0 && piiIsAlpha(text[q-1]) {
			break // a word cut by the window does not count
		}
		if e-q >= 2 && e-q <= 11 {
			pos, neg = piiContextWords(k, text[q:e])
		}
	}
	switch {
	case pos:
		return min(1, score+0.35)
	case neg:
		return score * 0.4
	}
	return score
}
