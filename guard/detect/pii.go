package detect

import (
	"errors"
	"fmt"
	"strings"
)

// Finding types reported by the PII detectors.
const (
	TypeEmail         = "EMAIL_ADDRESS"
	TypePhone         = "PHONE_NUMBER"
	TypeCreditCard    = "CREDIT_CARD"
	TypeIBAN          = "IBAN_CODE"
	TypeUSSSN         = "US_SSN"
	TypeIPAddress     = "IP_ADDRESS"
	TypeMACAddress    = "MAC_ADDRESS"
	TypeURL           = "URL"
	TypeCrypto        = "CRYPTO"
	TypeDateOfBirth   = "DATE_OF_BIRTH"
	TypeStreetAddress = "STREET_ADDRESS"
)

// Finding types reported by the secret detectors.
const (
	TypeAWSAccessKey = "AWS_ACCESS_KEY"
	TypeGitHubToken  = "GITHUB_TOKEN"
	TypeGitLabToken  = "GITLAB_TOKEN"
	TypeSlackToken   = "SLACK_TOKEN"
	TypeStripeKey    = "STRIPE_KEY"
	TypeOpenAIKey    = "OPENAI_API_KEY"
	TypeAnthropicKey = "ANTHROPIC_API_KEY"
	TypeGoogleAPIKey = "GOOGLE_API_KEY"
	TypeJWT          = "JWT"
	TypePrivateKey   = "PRIVATE_KEY"
	TypePassword     = "PASSWORD"
	// TypeSecret is a credential without a vendor format: a high-entropy
	// token next to a word such as "key", "token" or "secret", or a
	// vendor token (Hugging Face, npm) that has no type of its own.
	TypeSecret = "SECRET"
)

// piiKind indexes the finding types of the built-in scanner; a Scanner
// holds a bit set of the kinds it reports.
type piiKind uint8

const (
	piiEmail piiKind = iota
	piiPhone
	piiCard
	piiIBAN
	piiSSN
	piiIP
	piiMAC
	piiURL
	piiCrypto
	piiDOB
	piiAddress
	secAWS
	secGitHub
	secGitLab
	secSlack
	secStripe
	secOpenAI
	secAnthropic
	secGoogle
	secJWT
	secPrivateKey
	secPassword
	secGeneric
	piiNumKinds
)

// piiMask is a set of piiKinds.
type piiMask uint32

const (
	piiMaskPII     piiMask = 1<<secAWS - 1
	piiMaskSecrets piiMask = (1<<piiNumKinds - 1) &^ piiMaskPII
	piiMaskAPIKeys piiMask = 1<<secAWS | 1<<secGitHub | 1<<secGitLab | 1<<secSlack |
		1<<secStripe | 1<<secOpenAI | 1<<secAnthropic | 1<<secGoogle
)

func (m piiMask) has(k piiKind) bool { return m&(1<<k) != 0 }

// typ returns the finding type of k.
func (k piiKind) typ() string {
	switch k {
	case piiEmail:
		return TypeEmail
	case piiPhone:
		return TypePhone
	case piiCard:
		return TypeCreditCard
	case piiIBAN:
		return TypeIBAN
	case piiSSN:
		return TypeUSSSN
	case piiIP:
		return TypeIPAddress
	case piiMAC:
		return TypeMACAddress
	case piiURL:
		return TypeURL
	case piiCrypto:
		return TypeCrypto
	case piiDOB:
		return TypeDateOfBirth
	case piiAddress:
		return TypeStreetAddress
	case secAWS:
		return TypeAWSAccessKey
	case secGitHub:
		return TypeGitHubToken
	case secGitLab:
		return TypeGitLabToken
	case secSlack:
		return TypeSlackToken
	case secStripe:
		return TypeStripeKey
	case secOpenAI:
		return TypeOpenAIKey
	case secAnthropic:
		return TypeAnthropicKey
	case secGoogle:
		return TypeGoogleAPIKey
	case secJWT:
		return TypeJWT
	case secPrivateKey:
		return TypePrivateKey
	case secPassword:
		return TypePassword
	case secGeneric:
		return TypeSecret
	}
	return ""
}

// PhoneLeniency says how strictly the phone detector reads a number. The
// levels follow libphonenumber's, simplified to rules that need no
// per-country metadata beyond calling codes.
type PhoneLeniency int

const (
	// PhoneValid, the default, requires a number shape the detector
	// knows (international with a valid calling code, North American,
	// trunk-prefixed national, Chinese mobile) and a number that does not
	// touch a letter.
	PhoneValid PhoneLeniency = iota
	// PhonePossible also accepts a number glued to a word ("call
	// me at415-555-0132").
	PhonePossible
	// PhoneStrictGrouping also rejects a calling code written without
	// "+" or "00" ("91-415-555-0132").
	PhoneStrictGrouping
	// PhoneExactGrouping also rejects an international number whose
	// national part is split into groups of more than four digits
	// ("+91 4155 550132"); a national part written as one group passes.
	PhoneExactGrouping
)

// ScannerOptions configures NewScanner. The zero value scans for every
// PII and secret type with the default rules.
type ScannerOptions struct {
	// Name is the detector's name; empty means "pii-secrets".
	Name string
	// Types limits the scanner to these finding types (TypeEmail,
	// TypeAWSAccessKey, ...); empty means every PII and secret type.
	Types []string
	// MinScore drops findings whose score, after context, is below it.
	MinScore float64
	// PhoneLeniency sets how strictly phone numbers are read.
	PhoneLeniency PhoneLeniency
	// ContextWindow is how many bytes before a finding are searched for
	// context words; zero means 48, negative turns context off.
	ContextWindow int
}

// Scanner finds every PII and secret type it is configured for in one
// pass over the text. A 256-entry byte-class table lets the pass skip
// lowercase letters, spaces and most punctuation, four bytes at a time
// where it can; only digits, uppercase letters, '_' and the bytes
// "@:+(-.=" start work. The word around such a byte is dispatched on its
// first byte, its character classes and the byte after it, and only the
// candidates that survive reach a hand-written validator (Luhn, mod-97,
// base58check, bech32, EIP-55, calling codes, entropy). No regular
// expression runs, and every validator reads a bounded window, so the
// cost is linear in the text. A Scanner is immutable and safe for
// concurrent use.
//
// Scores before context: 0.99 PEM private key; 0.95 IBAN, GitHub,
// GitLab, Stripe live and Anthropic keys; 0.9 email, grouped card
// number, Bitcoin address, EIP-55 Ethereum address, AWS key id, Slack
// token, OpenAI project key, password in a URL; 0.85 Google API key,
// JWT, Hugging Face and npm tokens; 0.8 ungrouped card number, street
// address with city, state and ZIP, PEM key without an END line; 0.75
// international phone number, date of birth; 0.7 password of letters
// and digits or symbols after "password:", keyword secret; 0.6 IP
// and MAC address, URL with a scheme, North American phone number,
// Ethereum address without checksum, street address, Stripe test key;
// 0.5 US SSN (3-2-4), bare domain, trunk-prefixed phone number, other
// passwords after "password:", password after "password is"; 0.4 phone number with a calling code but no "+",
// Chinese mobile number; 0.3 ten bare digits that form a North American
// number; 0.1 the IPv6 unspecified address "::"; 0.05 US SSN in a weak
// shape (nine bare digits, 5-4, 3-6).
//
// Context: for cards, SSNs, phone numbers, IBANs, IP and MAC addresses
// and wallet addresses, the scanner reads the ContextWindow bytes (48 by
// default) before a finding, as whole words of ASCII letters in any case.
// The listed word nearest the finding decides: a positive word for the
// type ("card", "visa", "ssn", "social", "phone", "mobile", "iban",
// "bank", "ip", "mac", "wallet", ...) adds 0.35 to the score, capped at
// 1; a negative word ("order", "invoice", "tracking", "reference",
// "confirmation", "ticket", "transaction", "serial", "case", ...), which
// only cards, SSNs and phone numbers have, multiplies it by 0.4. Dates
// are reported as dates of birth only after a birth word ("born",
// "birth", "birthday", "birthdate", "DOB") within 48 bytes before them,
// and keyword secrets and passwords only right after their keyword.
type Scanner struct {
	name     string
	mask     piiMask
	types    []string
	minScore float64
	phone    PhoneLeniency
	window   int
	cls      [256]uint8
	kwGate   [32 * 32]uint16
}

// Byte classes of Scanner.cls.
const (
	piiCWord   uint8 = 1 << iota // letter, digit or '_': part of a word
	piiCDigit                    // 0-9
	piiCUpper                    // A-Z
	piiCLower                    // a-z
	piiCNonHex                   // a letter outside a-f, A-F
	piiCUnder                    // '_'
	piiCTrig                     // starts work: a digit, an uppercase letter, '_' or one of "@:+(-.="
)

// ErrUnknownType is returned by NewScanner for a type it does not know.
var ErrUnknownType = errors.New("detect: unknown finding type")

// NewScanner returns a single-pass scanner for the PII and secret types
// in opts (all of them by default). Unknown types in opts.Types are an
// error wrapping ErrUnknownType.
func NewScanner(opts ScannerOptions) (*Scanner, error) {
	var mask piiMask
	if len(opts.Types) == 0 {
		mask = piiMaskPII | piiMaskSecrets
	}
	for _, t := range opts.Types {
		k, ok := piiKindOf(t)
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownType, t)
		}
		mask |= 1 << k
	}
	name := opts.Name
	if name == "" {
		name = "pii-secrets"
	}
	return piiNewScanner(name, mask, opts), nil
}

func piiKindOf(t string) (piiKind, bool) {
	for k := piiKind(0); k < piiNumKinds; k++ {
		if k.typ() == t {
			return k, true
		}
	}
	return 0, false
}

func piiNewScanner(name string, mask piiMask, opts ScannerOptions) *Scanner {
	s := &Scanner{name: name, mask: mask, minScore: opts.MinScore, phone: opts.PhoneLeniency, window: opts.ContextWindow}
	if s.window == 0 {
		s.window = 48
	}
	for k := piiKind(0); k < piiNumKinds; k++ {
		if mask.has(k) {
			s.types = append(s.types, k.typ())
		}
	}
	for c := 0; c < 256; c++ {
		var k uint8
		switch {
		case c >= '0' && c <= '9':
			k = piiCWord | piiCDigit | piiCTrig
		case c >= 'A' && c <= 'Z':
			k = piiCWord | piiCUpper | piiCTrig
			if c > 'F' {
				k |= piiCNonHex
			}
		case c >= 'a' && c <= 'z':
			k = piiCWord | piiCLower
			if c > 'f' {
				k |= piiCNonHex
			}
		case c == '_':
			k = piiCWord | piiCUnder | piiCTrig
		case strings.IndexByte("@:+(-.=", byte(c)) >= 0:
			k = piiCTrig
		}
		s.cls[c] = k
	}
	// kwGate[first two letters] has bit L set when some keyword of
	// length L starts with those letters (in either case: the index
	// keeps the low five bits of each), so most words are rejected by one
	// table load before any string comparison.
	for _, kw := range piiKeywords() {
		if len(kw.word) < 16 {
			s.kwGate[int(kw.word[0]&31)<<5|int(kw.word[1]&31)] |= 1 << len(kw.word)
		}
	}
	return s
}

// kwMaybe reports whether the word w may be a keyword.
func (s *Scanner) kwMaybe(w string) bool {
	if len(w) < 3 || len(w) > 15 {
		return false
	}
	return s.kwGate[int(w[0]&31)<<5|int(w[1]&31)]&(1<<len(w)) != 0
}

// Name returns the detector's name.
func (s *Scanner) Name() string { return s.name }

// Types returns the finding types the scanner reports.
func (s *Scanner) Types() []string { return append([]string(nil), s.types...) }

// Detect appends the PII and secrets in text to dst. Findings come in
// scan order; detect.Scan sorts them.
func (s *Scanner) Detect(dst []Finding, text string) []Finding {
	st := piiState{s: s, text: text, dst: dst, base: len(dst)}
	st.run()
	return st.dst
}

func piiMust(name string, mask piiMask) *Scanner {
	return piiNewScanner(name, mask, ScannerOptions{})
}

// PII returns the default PII detectors, one per type. For speed, scan
// with NewScanner, which finds all of them in one pass.
func PII() []Detector {
	return []Detector{Email(), Phone(), CreditCard(), IBAN(), USSSN(), IPAddress(),
		MACAddress(), URL(), Crypto(), DateOfBirth(), StreetAddress()}
}

// Secrets returns the default secret detectors. For speed, scan with
// NewScanner, which finds all of them in one pass.
func Secrets() []Detector {
	return []Detector{APIKeys(), JWT(), PrivateKey(), Passwords(), KeywordSecrets()}
}

// Email finds email addresses (TypeEmail): a local part and a domain of
// at least two labels whose last label is alphabetic or punycode.
func Email() Detector { return piiMust("email", 1<<piiEmail) }

// Phone finds phone numbers (TypePhone) in international form (a "+" or
// "00" and a valid calling code), North American form, trunk-prefixed
// national form ("090-1234-5678") and Chinese mobile form, with the
// default PhoneValid leniency.
func Phone() Detector { return piiMust("phone", 1<<piiPhone) }

// CreditCard finds payment card numbers (TypeCreditCard): 13 to 19
// digits, ungrouped or in the usual groups, with a known issuer prefix
// and a valid Luhn check digit.
func CreditCard() Detector { return piiMust("credit-card", 1<<piiCard) }

// IBAN finds international bank account numbers (TypeIBAN): the
// country's length and BBAN format, grouped by four or not, with a valid
// mod-97 checksum.
func IBAN() Detector { return piiMust("iban", 1<<piiIBAN) }

// USSSN finds US social security numbers (TypeUSSSN), excluding the
// ranges never issued (area 000, 666, 900-999, group 00, serial 0000)
// and the numbers published as examples.
func USSSN() Detector { return piiMust("us-ssn", 1<<piiSSN) }

// IPAddress finds IPv4 and IPv6 addresses (TypeIPAddress), with an
// optional CIDR prefix length and IPv6 zone.
func IPAddress() Detector { return piiMust("ip-address", 1<<piiIP) }

// MACAddress finds MAC addresses (TypeMACAddress) written with colons,
// dashes or Cisco dots, except the broadcast and all-zero addresses.
func MACAddress() Detector { return piiMust("mac-address", 1<<piiMAC) }

// URL finds URLs (TypeURL): with a scheme and a dotted host, an IP
// address or a bracketed IPv6 address, or a bare domain with a common
// top-level domain ("example.org", "google.co.il", not "README.md" or
// "tc.name"). Sentence punctuation after a URL and unbalanced closing
// parentheses are not part of it; a URL in a matching pair of quotes is
// reported with the quotes, as Presidio does, so redacting it leaves no
// empty quotes behind.
func URL() Detector { return piiMust("url", 1<<piiURL) }

// Crypto finds cryptocurrency wallet addresses (TypeCrypto): Bitcoin
// base58check and bech32/bech32m addresses and Ethereum addresses (EIP-55
// checked when mixed case).
func Crypto() Detector { return piiMust("crypto", 1<<piiCrypto) }

// DateOfBirth finds dates (TypeDateOfBirth) that follow a birth context
// word ("born", "birthday", "date of birth", "DOB") within 48 bytes.
func DateOfBirth() Detector { return piiMust("date-of-birth", 1<<piiDOB) }

// StreetAddress finds US-style street addresses (TypeStreetAddress): a
// house number, capitalised street name and a street suffix ("221 Baker
// Street", "1600 Pennsylvania Ave NW"), extended by a unit and ", City, ST
// 12345" when present.
func StreetAddress() Detector { return piiMust("street-address", 1<<piiAddress) }

// APIKeys finds cloud and SaaS credentials by their published prefixes:
// AWS access key ids, GitHub and GitLab tokens, Slack tokens, Stripe
// secret keys, OpenAI and Anthropic API keys and Google API keys.
// Documentation examples (AKIAIOSFODNN7EXAMPLE, keys spelling "example"
// or made of one repeated character) are not reported.
func APIKeys() Detector { return piiMust("api-keys", piiMaskAPIKeys) }

// JWT finds JSON Web Tokens (TypeJWT) whose header decodes to JSON naming
// an algorithm.
func JWT() Detector { return piiMust("jwt", 1<<secJWT) }

// PrivateKey finds PEM private key blocks (TypePrivateKey), from BEGIN
// to END.
func PrivateKey() Detector { return piiMust("private-key", 1<<secPrivateKey) }

// Passwords finds passwords (TypePassword) in URLs
// ("postgres://app:s3cret@db") and after "password:", "pwd=" or
// "password is".
func Passwords() Detector { return piiMust("passwords", 1<<secPassword) }

// KeywordSecrets finds high-entropy tokens right after a word such as
// "key", "token", "secret" or "Bearer" (TypeSecret), and Hugging Face
// and npm tokens.
func KeywordSecrets() Detector { return piiMust("keyword-secrets", 1<<secGeneric) }

// piiState is one scan: the text, the findings so far and the little
// state the single pass carries forward.
type piiState struct {
	s    *Scanner
	text string
	dst  []Finding
	base int // findings before base were in dst on entry
	// done is the end of the last finding: an email's local part is not
	// walked back past it.
	done int
	// urlEnd and authEnd are the ends of the last URL with a scheme and
	// of its authority: inside, no bare domain is reported again, and an
	// '@' before authEnd is user info, not an email.
	urlEnd, authEnd int
	// pemSearched is how far the text is known to hold no PEM END line,
	// so repeated BEGIN lines do not rescan it.
	pemSearched int
	// tokEnd and domEnd are the ends of the last token checked for a
	// keyword and of the last host name read: a word inside them was
	// already part of that attempt, so the scan stays linear on text
	// such as "a1.a1.a1..." or "a.a.a.a...".
	tokEnd, domEnd int
}

// emit appends a finding of kind k if the scanner reports k and its
// score after context reaches MinScore.
func (st *piiState) emit(k piiKind, start, end int, score float64, rule string) {
	if !st.s.mask.has(k) {
		return
	}
	score = st.context(k, start, score)
	if score < st.s.minScore {
		return
	}
	st.dst = append(st.dst, Finding{Type: k.typ(), Start: start, End: end, Score: score, Rule: rule})
	if end > st.done {
		st.done = end
	}
}

func (st *piiState) run() {
	text := st.text
	cls := &st.s.cls
	n := len(text)
	lo := 0 // where the last handler left off: nothing before it is read again
	for i := 0; i < n; {
		k := cls[text[i]]
		if k&piiCTrig == 0 {
			// lowercase letters, spaces and most punctuation start
			// nothing: the common case. Skip four bytes at a time while
			// none of them is a trigger (wider blocks measured slower on
			// chat text, where most of them hold a capital or a digit).
			i++
			for i+4 <= n {
				b := text[i : i+4] // one bounds check
				if (cls[b[0]]|cls[b[1]]|cls[b[2]]|cls[b[3]])&piiCTrig != 0 {
					break
				}
				i += 4
			}
			continue
		}
		if k&piiCWord != 0 {
			// a digit, an uppercase letter or '_': handle the whole
			// word around it
			s := i
			m := k
			for s > lo && cls[text[s-1]]&piiCWord != 0 {
				s--
				m |= cls[text[s]]
			}
			j := i + 1
			for j < n {
				c := cls[text[j]]
				if c&piiCWord == 0 {
					break
				}
				m |= c
				j++
			}
			i = st.word(s, j, m)
			lo = i
			continue
		}
		// punctuation: '.', ':', '-' and '=' first give the lowercase
		// word before them its turn ("example.com", "http:", "fe80:",
		// "password:")
		c := text[i]
		if i > lo && cls[text[i-1]]&piiCWord != 0 && (c == ':' || c == '=' ||
			(c == '.' || c == '-') && i+1 < n && cls[text[i+1]]&piiCWord != 0) {
			s := i - 1
			m := cls[text[s]]
			for s > lo && cls[text[s-1]]&piiCWord != 0 {
				s--
				m |= cls[text[s]]
			}
			if e := st.word(s, i, m); e > i {
				i = e
				lo = i
				continue
			}
		}
		i = st.punct(i)
		lo = i
	}
}

// word handles the word text[i:j] (letters, digits and '_', with the OR
// of their classes in m) and returns where scanning continues: j, or the
// end of a finding that extends past the word.
func (st *piiState) word(i, j int, m uint8) int {
	text := st.text
	var nb byte
	if j < len(text) {
		nb = text[j]
	}
	if m&(piiCDigit|piiCUnder) == 0 {
		special := false
		switch nb {
		case ':', '-', '=':
			special = true
		case '.':
			special = j+1 < len(text) && st.s.cls[text[j+1]]&piiCWord != 0
		}
		if !special {
			// letters only, with an uppercase letter: an all-letter AWS
			// or Google key, or a password after "password is"
			if text[i] == 'A' && j-i >= 4 {
				if e := st.prefixed(i, j, m, nb); e > j {
					return e
				}
			}
			if m&piiCUpper != 0 && i >= 5 && text[i-1] == ' ' && text[i-4] == ' ' {
				if e := st.passwordIs(i); e > j {
					return e
				}
			}
			return j
		}
	}
	if m&(piiCUpper|piiCLower|piiCUnder) == 0 {
		return st.numeric(i, j, nb)
	}
	return st.mixed(i, j, m, nb)
}

// mixed handles a word that is not all digits and is either followed by
// ':', '-', '=' or ".x", or holds digits or '_': keys, hex groups, IBANs,
// wallet addresses, scheme names, domains and keywords.
func (st *piiState) mixed(i, j int, m uint8, nb byte) int {
	text := st.text
	L := j - i
	b0 := text[i]
	mask := st.s.mask
	hex := m&(piiCNonHex|piiCUnder) == 0
	// hex groups: IPv6 ("fe80::1"), MAC ("aa:bb:..", "AA-BB-..", "aabb.ccdd.eeff")
	if hex {
		if e := st.hexGroup(i, j, nb); e > j {
			return e
		}
	}
	if e := st.prefixed(i, j, m, nb); e > j {
		return e
	}
	switch nb {
	case ':':
		if m&piiCUnder == 0 && j+2 < len(text) && text[j+1] == '/' && text[j+2] == '/' {
			return st.schemeURL(i, j)
		}
	case '.':
		if mask.has(piiURL) {
			if e := st.domain(i, j); e > j {
				return e
			}
		}
	}
	if nb == ':' || nb == '=' {
		if st.s.kwMaybe(text[i:j]) || m&piiCUnder != 0 {
			if e := st.keyword(i, j, m); e > j {
				return e
			}
		}
	}
	if m&piiCDigit != 0 {
		if mask.has(piiIBAN) && L >= 4 && piiIsUpper(b0) && piiIsUpper(text[i+1]) && piiIsDigit(text[i+2]) && piiIsDigit(text[i+3]) {
			if e := st.iban(i, j); e > j {
				return e
			}
		}
		if st.s.phone == PhonePossible && mask.has(piiPhone) && !piiIsDigit(b0) {
			// a number glued to the end of a word ("is415-555-0132")
			k := i
			for k < j && !piiIsDigit(text[k]) {
				k++
			}
			if e := st.phone(k, true); e > j {
				return e
			}
		}
		if piiIsDigit(b0) && mask.has(piiDOB) && L <= 4 && piiOrdinal(text[i:j]) {
			// "12th March 1985", "March 12th, 1985"
			if e := st.dobText(i, j); e > j {
				return e
			}
			if i >= 5 && text[i-1] == ' ' {
				if e := st.dobMonthFirst(i); e > j {
					return e
				}
			}
		}
		if m&(piiCUpper|piiCLower) != 0 {
			if e := st.tokenAfterKeyword(i, j); e > j {
				return e
			}
			if e := st.passwordIs(i); e > j {
				return e
			}
		}
	}
	return j
}

// punct handles a trigger byte that is not part of a word.
func (st *piiState) punct(i int) int {
	text := st.text
	n := len(text)
	switch text[i] {
	case '@':
		if st.s.mask.has(piiEmail) {
			if e := st.email(i); e > i {
				return e
			}
		}
	case ':', '=':
		if text[i] == ':' && i+1 < n && text[i+1] == ':' && (i == 0 || !piiIPv6Glue(text[i-1])) {
			if e := st.ipv6At(i); e > i {
				return e
			}
			return i + 2
		}
		// "password": "...", api_key = "..." (a keyword touching its
		// ':' was handled with the word)
		if i > 0 && !piiIsWordByte(text[i-1]) {
			if e := st.keywordBefore(i); e > i {
				return e
			}
		}
	case '+', '(':
		if i+1 < n && (piiIsDigit(text[i+1]) || text[i] == '+' && text[i+1] == '(') && (i == 0 || !piiIsAlnum(text[i-1])) {
			if st.s.mask.has(piiPhone) {
				if e := st.phone(i, false); e > i {
					return e
				}
			}
		}
	case '-':
		if i+10 < n && text[i+1] == '-' && strings.HasPrefix(text[i:], "-----BEGIN ") {
			if e := st.pem(i); e > i {
				return e
			}
		}
	}
	return i + 1
}
