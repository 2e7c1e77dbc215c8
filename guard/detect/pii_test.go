package detect

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// piiFound is a finding as the tests compare it: type and exact text.
type piiFound struct{ typ, text string }

func piiScanFound(d Detector, text string) []piiFound {
	var out []piiFound
	for _, f := range Scan(text, d) {
		if f.Start < 0 || f.End > len(text) || f.Start >= f.End {
			panic("bad span")
		}
		out = append(out, piiFound{f.Type, text[f.Start:f.End]})
	}
	return out
}

// TestPIIDetectors covers each PII detector: true positives with their
// exact spans, and near misses that must not match.
func TestPIIDetectors(t *testing.T) {
	tests := []struct {
		name string
		d    Detector
		text string
		want []piiFound
	}{
		// email
		{"email plus tag and subdomain", Email(), "write to a.b+c@sub.example.co.uk today", []piiFound{{TypeEmail, "a.b+c@sub.example.co.uk"}}},
		{"email punycode", Email(), "user@xn--80ak6aa92e.com", []piiFound{{TypeEmail, "user@xn--80ak6aa92e.com"}}},
		{"email in brackets and mailto", Email(), "<ann@example.org>, mailto:bo@example.net.", []piiFound{{TypeEmail, "ann@example.org"}, {TypeEmail, "bo@example.net"}}},
		{"email trailing dot is not the domain", Email(), "mail me at jo@example.com.", []piiFound{{TypeEmail, "jo@example.com"}}},
		{"email without a dotted domain", Email(), "root@localhost and @handle and a@b.c", nil},
		{"email domain cut short", Email(), "info@presidio.", nil},

		// phone
		{"phone NANP forms", Phone(), "(415) 555-0132 or 415.555.0133 or 1-800-555-0199", []piiFound{{TypePhone, "(415) 555-0132"}, {TypePhone, "415.555.0133"}, {TypePhone, "1-800-555-0199"}}},
		{"phone international", Phone(), "+44 20 7946 0958, +49 30 901820, +33 1 42 68 53 00", []piiFound{{TypePhone, "+44 20 7946 0958"}, {TypePhone, "+49 30 901820"}, {TypePhone, "+33 1 42 68 53 00"}}},
		{"phone 00 prefix", Phone(), "dial 0044 20 7946 0958", []piiFound{{TypePhone, "0044 20 7946 0958"}}},
		{"phone trunk prefix", Phone(), "office 020 7946 0321, mobile 090-1234-5678", []piiFound{{TypePhone, "020 7946 0321"}, {TypePhone, "090-1234-5678"}}},
		{"phone near misses", Phone(), "call 555-0132, (555) 123-4567, +999 123 4567, 2024-01-15, v1.2.3.4, 12:30", nil},
		{"phone glued to a word", Phone(), "is415-555-0132", nil},
		{"phone SSN shape is not a phone", Phone(), "078-05-1123", nil},

		// cards
		{"card forms", CreditCard(), "4111 1111 1111 1111, 5555-5555-5555-4444, 378282246310005, 3782 822463 10005", []piiFound{
			{TypeCreditCard, "4111 1111 1111 1111"}, {TypeCreditCard, "5555-5555-5555-4444"}, {TypeCreditCard, "378282246310005"}, {TypeCreditCard, "3782 822463 10005"}}},
		{"card failing Luhn", CreditCard(), "4111 1111 1111 1112 and order 4539148803436468", nil},
		{"card unknown issuer", CreditCard(), "0000 0000 0000 0000 and 9999999999999995", nil},
		{"card mixed separators", CreditCard(), "4111-1111 1111-1111", nil},
		{"card glued to letters", CreditCard(), "x4111111111111111 4111111111111111y", nil},

		// IBAN
		{"iban grouped and plain", IBAN(), "DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432", []piiFound{{TypeIBAN, "DE89 3704 0044 0532 0130 00"}, {TypeIBAN, "GB82WEST12345698765432"}}},
		{"iban bad checksum", IBAN(), "DE89 3704 0044 0532 0130 01", nil},
		{"iban unknown country and wrong length", IBAN(), "XX89 3704 0044 0532 0130 00, DE89370400440532013", nil},
		{"iban lowercase", IBAN(), "de89 3704 0044 0532 0130 00", nil},

		// SSN
		{"ssn", USSSN(), "SSN 536-22-1467.", []piiFound{{TypeUSSSN, "536-22-1467"}}},
		{"ssn invalid ranges and examples", USSSN(), "000-12-3456 666-12-3456 912-12-3456 536-00-1467 536-22-0000 078-05-1120 123-45-6789 987-65-4320", nil},
		{"ssn mixed separators", USSSN(), "536-22.1467", nil},

		// IP
		{"ipv4 and cidr", IPAddress(), "from 203.0.113.7 via 10.0.0.0/8.", []piiFound{{TypeIPAddress, "203.0.113.7"}, {TypeIPAddress, "10.0.0.0/8"}}},
		{"ipv6 forms", IPAddress(), "[2001:db8::1]:443, fe80::1%eth0, ::ffff:192.0.2.1", []piiFound{{TypeIPAddress, "2001:db8::1"}, {TypeIPAddress, "fe80::1%eth0"}, {TypeIPAddress, "::ffff:192.0.2.1"}}},
		{"ip near misses", IPAddress(), "999.1.1.1 1.2.3 std::cout 12:34:56 1:2:3:4 2001::db8::1", nil},

		// MAC
		{"mac forms", MACAddress(), "00:1A:2B:3C:4D:5E and 00-1a-2b-3c-4d-5f and 0012.3456.789a", []piiFound{{TypeMACAddress, "00:1A:2B:3C:4D:5E"}, {TypeMACAddress, "00-1a-2b-3c-4d-5f"}, {TypeMACAddress, "0012.3456.789a"}}},
		{"mac broadcast, zero, short, mixed", MACAddress(), "FF:FF:FF:FF:FF:FF 00:00:00:00:00:00 00:1A:2B:3C:4D 10:2F:33-AC-29-C3", nil},

		// URL
		{"url with scheme", URL(), "see https://example.com/a/b?q=1#top, then (http://x.io/path).", []piiFound{{TypeURL, "https://example.com/a/b?q=1#top"}, {TypeURL, "http://x.io/path"}}},
		{"url bare domains", URL(), "visit example.org or www.example.co.uk/help today", []piiFound{{TypeURL, "example.org"}, {TypeURL, "www.example.co.uk/help"}}},
		{"url quoted keeps its quotes", URL(), `href="https://example.com/"`, []piiFound{{TypeURL, `"https://example.com/"`}}},
		{"url near misses", URL(), "README.md setup.py e.g. file.txt http://localhost www.example", nil},
		{"url not code", URL(), "tt.name c.store tc.ID ev.ToolCall.ID t.in s.at b.mu fmt.Println", nil},
		{"url short names", URL(), "t.co x.com EXAMPLE.COM", []piiFound{{TypeURL, "t.co"}, {TypeURL, "x.com"}, {TypeURL, "EXAMPLE.COM"}}},
		{"url not the domain of an email", URL(), "ann@example.org", nil},

		// crypto
		{"btc base58", Crypto(), "pay 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 or 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", []piiFound{{TypeCrypto, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"}, {TypeCrypto, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"}}},
		{"btc bech32 and bech32m", Crypto(), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", []piiFound{
			{TypeCrypto, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}, {TypeCrypto, "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"}}},
		{"eth checksummed and lowercase", Crypto(), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed 0x52908400098527886e0f7030069857d2e4169ee7", []piiFound{
			{TypeCrypto, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}, {TypeCrypto, "0x52908400098527886e0f7030069857d2e4169ee7"}}},
		{"crypto bad checksums", Crypto(), "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3 bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp 0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", nil},
		{"bech32 mixed case", Crypto(), "bc1qAr0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", nil},

		// dates of birth
		{"dob forms", DateOfBirth(), "I was born on 12 March 1985. DOB: 03/22/1979. Birthday: July 4th, 1990", []piiFound{
			{TypeDateOfBirth, "12 March 1985"}, {TypeDateOfBirth, "03/22/1979"}, {TypeDateOfBirth, "July 4th, 1990"}}},
		{"dob lowercase month", DateOfBirth(), "she was born 3 march 1990 and he was born june 7, 1988", []piiFound{{TypeDateOfBirth, "3 march 1990"}, {TypeDateOfBirth, "june 7, 1988"}}},
		{"dob needs birth context", DateOfBirth(), "shipped on 12 March 2024, invoice dated 2024-03-12", nil},
		{"dob impossible date", DateOfBirth(), "born 31 February 1985", nil},

		// addresses
		{"street address", StreetAddress(), "ship to 221 Baker Street please", []piiFound{{TypeStreetAddress, "221 Baker Street"}}},
		{"street address with city", StreetAddress(), "1600 Pennsylvania Ave NW, Washington, DC 20500.", []piiFound{{TypeStreetAddress, "1600 Pennsylvania Ave NW, Washington, DC 20500"}}},
		{"street address with unit", StreetAddress(), "350 5th Avenue, Suite 300, New York, NY 10118", []piiFound{{TypeStreetAddress, "350 5th Avenue, Suite 300, New York, NY 10118"}}},
		{"no street suffix", StreetAddress(), "3 Big Problems and 2019 Annual Report", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := piiScanFound(tt.d, tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q:\n got %v\nwant %v", tt.text, got, tt.want)
			}
		})
	}
}

// TestPIIContextWords checks the documented context rule: the listed word
// nearest before a finding raises its score by 0.35 (capped at 1) or, for
// number-like types, multiplies it by 0.4.
func TestPIIContextWords(t *testing.T) {
	tests := []struct {
		text  string
		typ   string
		score float64
	}{
		{"4111 1111 1111 1111", TypeCreditCard, 0.9},
		{"my card: 4111 1111 1111 1111", TypeCreditCard, 1},
		{"order 4111 1111 1111 1111", TypeCreditCard, 0.36},
		{"card for order 4111 1111 1111 1111", TypeCreditCard, 0.36},
		{"order paid by card 4111 1111 1111 1111", TypeCreditCard, 1},
		{"078051121", TypeUSSSN, 0.05},
		{"ssn 078051121", TypeUSSSN, 0.4},
		{"tracking no. 415-555-0132", TypePhone, 0.24},
		{"the iban is DE89 3704 0044 0532 0130 00", TypeIBAN, 1},
		{"invoice ann@example.org", TypeEmail, 0.9},
		// "card" is 49 bytes back: outside the window
		{"card " + strings.Repeat("x ", 22) + "4111 1111 1111 1111", TypeCreditCard, 0.9},
	}
	s, err := NewScanner(ScannerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		var got []float64
		for _, f := range Scan(tt.text, s) {
			if f.Type == tt.typ {
				got = append(got, f.Score)
			}
		}
		if len(got) != 1 || math.Abs(got[0]-tt.score) > 1e-9 {
			t.Errorf("%q: %s scores %v, want [%v]", tt.text, tt.typ, got, tt.score)
		}
	}
	off, err := NewScanner(ScannerOptions{ContextWindow: -1})
	if err != nil {
		t.Fatal(err)
	}
	if fs := Scan("my card: 4111 1111 1111 1111", off); len(fs) != 1 || fs[0].Score != 0.9 {
		t.Errorf("context off: %v", fs)
	}
}

func TestPIIScannerOptions(t *testing.T) {
	if _, err := NewScanner(ScannerOptions{Types: []string{"NOPE"}}); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type: err = %v", err)
	}
	s, err := NewScanner(ScannerOptions{Name: "cards", Types: []string{TypeCreditCard, TypeEmail}, MinScore: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "cards" || !slices.Equal(s.Types(), []string{TypeEmail, TypeCreditCard}) {
		t.Errorf("name %q types %v", s.Name(), s.Types())
	}
	text := "ann@example.org 4111 1111 1111 1111 order 4111 1111 1111 1111 203.0.113.7"
	got := piiScanFound(s, text)
	want := []piiFound{{TypeEmail, "ann@example.org"}, {TypeCreditCard, "4111 1111 1111 1111"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	all, err := NewScanner(ScannerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range append(PII(), Secrets()...) {
		types = append(types, d.Types()...)
	}
	slices.Sort(types)
	allTypes := all.Types()
	slices.Sort(allTypes)
	if !slices.Equal(types, allTypes) {
		t.Errorf("PII()+Secrets() types %v, NewScanner types %v", types, allTypes)
	}
}

// TestPIIDetectAppends checks that Detect appends to dst and leaves what
// was there alone, for the scanner and for the custom detectors.
func TestPIIDetectAppends(t *testing.T) {
	prev := Finding{Type: "X", Start: 1, End: 2}
	text := "ann@example.org"
	for _, d := range []Detector{Email(), Terms("t", "T", []string{"ann"}, false), WithAllowList(Email(), "bob@example.org")} {
		got := d.Detect([]Finding{prev}, text)
		if len(got) != 2 || got[0] != prev {
			t.Errorf("%s: %v", d.Name(), got)
		}
	}
}

// TestPIIPhoneLeniency checks the four leniency levels on the numbers that
// tell them apart.
func TestPIIPhoneLeniency(t *testing.T) {
	tests := []struct {
		text string
		want [4]bool // PhoneValid, PhonePossible, PhoneStrictGrouping, PhoneExactGrouping
	}{
		{"call (415) 555-0132", [4]bool{true, true, true, true}},
		{"call me at415-555-0132", [4]bool{false, true, false, false}},
		{"call 91-415-555-0132", [4]bool{true, true, false, false}},
		{"call +91 4155 550132", [4]bool{true, true, true, false}},
		{"call +91 4155550132", [4]bool{true, true, true, true}},
	}
	for _, tt := range tests {
		for lv := PhoneValid; lv <= PhoneExactGrouping; lv++ {
			s, err := NewScanner(ScannerOptions{Types: []string{TypePhone}, PhoneLeniency: lv})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(Scan(tt.text, s)) == 1; got != tt.want[lv] {
				t.Errorf("%q at leniency %d: found %v, want %v", tt.text, lv, got, tt.want[lv])
			}
		}
	}
}

// TestPIIKeywordTables checks that the keyword list used to build the gate
// agrees with the keyword matcher, in every case.
func TestPIIKeywordTables(t *testing.T) {
	s := piiMust("t", piiMaskPII)
	for _, kw := range piiKeywords() {
		for _, w := range []string{kw.word, strings.ToUpper(kw.word), strings.ToUpper(kw.word[:1]) + kw.word[1:]} {
			if got := piiKeywordKind(w, false); got != kw.kind {
				t.Errorf("piiKeywordKind(%q) = %d, want %d", w, got, kw.kind)
			}
			if !s.kwMaybe(w) {
				t.Errorf("kwMaybe(%q) = false", w)
			}
		}
	}
	for _, w := range []string{"OPENAI_API_KEY", "db_password", "client-secret", "GITHUB_TOKEN"} {
		if piiKeywordKind(w, true) == 0 {
			t.Errorf("identifier %q is not a keyword", w)
		}
	}
	for _, w := range []string{"monkey", "keyboard", "tokens", "_key", "key_"} {
		if k := piiKeywordKind(w, true); k != 0 {
			t.Errorf("%q is keyword kind %d", w, k)
		}
	}
}

// TestPIITriggerBytes checks that exactly the documented bytes start work
// in the scan: digits, uppercase letters, '_' and "@:+(-.=".
func TestPIITriggerBytes(t *testing.T) {
	s := piiMust("t", piiMaskPII|piiMaskSecrets)
	for c := 0; c < 256; c++ {
		want := c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c == '_' || strings.IndexByte("@:+(-.=", byte(c)) >= 0
		if got := s.cls[c]&piiCTrig != 0; got != want {
			t.Errorf("byte %#x: trigger %v, want %v", c, got, want)
		}
	}
}

func TestPIIChecks(t *testing.T) {
	if !piiIBANValid("GB82WEST12345698765432") || piiIBANValid("GB82WEST12345698765433") {
		t.Error("IBAN mod-97")
	}
	if !piiLuhn([]byte("79927398713")) || piiLuhn([]byte("79927398710")) {
		t.Error("Luhn")
	}
	if !piiEIP55("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") || piiEIP55("5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed") {
		t.Error("EIP-55")
	}
	if !piiSegwit("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4") {
		t.Error("segwit uppercase (BIP-173 test vector)")
	}
	if piiSegwit("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du") {
		// version 2 with a bech32 (not bech32m) checksum, BIP-350
		t.Error("bech32 checksum accepted for witness version 2")
	}
	if got := piiEntropy("aaaa"); got != 0 {
		t.Errorf("entropy(aaaa) = %v", got)
	}
	if got := piiEntropy("abcd"); got != 2 {
		t.Errorf("entropy(abcd) = %v", got)
	}
}
