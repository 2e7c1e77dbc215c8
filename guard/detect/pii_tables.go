package detect

import "strings"

// This file holds the fixed data the validators consult: top-level
// domains, IBAN formats, telephone calling codes, US states, street
// suffixes, month names and keywords. All of it is written as switch
// statements, so there is no package-level state and a lookup costs a few
// comparisons.

func piiIsDigit(c byte) bool { return c >= '0' && c <= '9' }
func piiIsUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func piiIsLower(c byte) bool { return c >= 'a' && c <= 'z' }
func piiIsAlpha(c byte) bool { return piiIsUpper(c) || piiIsLower(c) }
func piiIsAlnum(c byte) bool { return piiIsDigit(c) || piiIsAlpha(c) }

// piiIsWordByte reports whether c continues a word: a letter, a digit or
// '_'.
func piiIsWordByte(c byte) bool { return piiIsAlnum(c) || c == '_' }

func piiIsHex(c byte) bool {
	return piiIsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// piiIPv6Glue reports whether c, just before "::" or a hex group, makes
// the text part of something else (a word, "std::", a longer address).
func piiIPv6Glue(c byte) bool { return piiIsWordByte(c) || c == ':' || c == '.' }

// piiLower returns the ASCII lowercase form of s; it allocates only when
// s has an uppercase letter.
func piiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if piiIsUpper(s[i]) {
			return strings.ToLower(s)
		}
	}
	return s
}

// piiBareTLD reports whether tld (lowercase) is a top-level domain that
// makes a bare "name.tld" a domain: the common generic ones and the
// country codes. Left out are generic TLDs that double as identifiers
// (".name", ".store", ".top" in "tc.name", "b.store") and country codes
// that are English words or common file extensions ("in", "at", "by",
// "is", "it", "to", "id", "md", "py", "sh", ...): "README.md" and
// "t.in" are not URLs. A URL with a scheme accepts any alphabetic
// top-level domain.
func piiBareTLD(tld string) bool {
	switch tld {
	case "com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "io", "ai", "co", "app", "dev":
		return true
	case "ac", "ae", "af", "ag", "al", "ao", "aq", "ar", "au", "aw", "ax", "az", "ba", "bb",
		"bd", "bf", "bg", "bh", "bi", "bj", "bm", "bn", "bo", "br", "bs", "bt", "bw", "bz",
		"ca", "cd", "cf", "cg", "ch", "ci", "ck", "cl", "cm", "cn", "cr", "cu", "cv", "cw",
		"cx", "cy", "cz", "de", "dj", "dk", "dm", "dz", "ec", "ee", "eg", "er", "es", "et",
		"eu", "fi", "fj", "fk", "fm", "fo", "fr", "ga", "gd", "ge", "gf", "gg", "gh", "gi",
		"gl", "gm", "gn", "gp", "gq", "gr", "gt", "gu", "gw", "gy", "hk", "hn", "hr", "ht",
		"hu", "ie", "il", "im", "iq", "ir", "je", "jm", "jo", "jp", "ke", "kg", "kh", "ki",
		"km", "kn", "kp", "kr", "kw", "ky", "kz", "la", "lb", "lc", "li", "lk", "lr", "ls",
		"lt", "lu", "lv", "ly", "ma", "mc", "mg", "mh", "mn", "mo", "mp", "mq", "mr", "mt",
		"mv", "mw", "mx", "mz", "na", "nc", "ne", "nf", "ng", "ni", "nl", "np", "nr", "nu",
		"nz", "om", "pa", "pe", "pf", "pg", "ph", "pk", "pn", "pr", "pt", "pw", "qa", "ro",
		"ru", "rw", "sa", "sb", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "sr",
		"ss", "st", "su", "sv", "sx", "sy", "sz", "tc", "td", "tg", "th", "tj", "tk", "tl",
		"tm", "tn", "tr", "tt", "tv", "tw", "tz", "ua", "ug", "uk", "us", "uy", "uz", "va",
		"vc", "ve", "vg", "vi", "vn", "vu", "wf", "ws", "ye", "yt", "za", "zm", "zw":
		return true
	}
	return false
}

// piiShortNameTLD reports whether a one- or two-letter name may stand
// before tld in a bare domain ("x.com", "t.co"); before other top-level
// domains such a name is a variable ("tc.uk" is rare, "c.name" common).
func piiShortNameTLD(tld string) bool {
	switch tld {
	case "com", "org", "net", "io", "ai", "co":
		return true
	}
	return false
}

// piiIBANFormat returns the IBAN length and BBAN format of a country
// (ISO 13616 registry, release 2024): the format is a sequence of counts
// and classes, n for digits, a for uppercase letters, c for either.
func piiIBANFormat(cc string) (int, string) {
	switch cc {
	case "AD":
		return 24, "8n12c"
	case "AE":
		return 23, "19n"
	case "AL":
		return 28, "8n16c"
	case "AT":
		return 20, "16n"
	case "AZ":
		return 28, "4a20c"
	case "BA":
		return 20, "16n"
	case "BE":
		return 16, "12n"
	case "BG":
		return 22, "4a6n8c"
	case "BH":
		return 22, "4a14c"
	case "BI":
		return 27, "23n"
	case "BR":
		return 29, "23n1a1c"
	case "BY":
		return 28, "4c4n16c"
	case "CH":
		return 21, "5n12c"
	case "CR":
		return 22, "18n"
	case "CY":
		return 28, "8n16c"
	case "CZ":
		return 24, "20n"
	case "DE":
		return 22, "18n"
	case "DJ":
		return 27, "23n"
	case "DK":
		return 18, "14n"
	case "DO":
		return 28, "4c20n"
	case "EE":
		return 20, "16n"
	case "EG":
		return 29, "25n"
	case "ES":
		return 24, "20n"
	case "FI":
		return 18, "14n"
	case "FK":
		return 18, "2a12n"
	case "FO":
		return 18, "14n"
	case "FR":
		return 27, "10n11c2n"
	case "GB":
		return 22, "4a14n"
	case "GE":
		return 22, "2a16n"
	case "GI":
		return 23, "4a15c"
	case "GL":
		return 18, "14n"
	case "GR":
		return 27, "7n16c"
	case "GT":
		return 28, "4c20c"
	case "HN":
		return 28, "4a20n"
	case "HR":
		return 21, "17n"
	case "HU":
		return 28, "24n"
	case "IE":
		return 22, "4c14n"
	case "IL":
		return 23, "19n"
	case "IQ":
		return 23, "4a15n"
	case "IS":
		return 26, "22n"
	case "IT":
		return 27, "1a10n12c"
	case "JO":
		return 30, "4a4n18c"
	case "KW":
		return 30, "4a22c"
	case "KZ":
		return 20, "3n13c"
	case "LB":
		return 28, "4n20c"
	case "LC":
		return 32, "4a24c"
	case "LI":
		return 21, "5n12c"
	case "LT":
		return 20, "16n"
	case "LU":
		return 20, "3n13c"
	case "LV":
		return 21, "4a13c"
	case "LY":
		return 25, "21n"
	case "MC":
		return 27, "10n11c2n"
	case "MD":
		return 24, "20c"
	case "ME":
		return 22, "18n"
	case "MK":
		return 19, "3n10c2n"
	case "MN":
		return 20, "16n"
	case "MR":
		return 27, "23n"
	case "MT":
		return 31, "4a5n18c"
	case "MU":
		return 30, "4a19n3a"
	case "NI":
		return 28, "4a20n"
	case "NL":
		return 18, "4a10n"
	case "NO":
		return 15, "11n"
	case "OM":
		return 23, "3n16c"
	case "PK":
		return 24, "4a16c"
	case "PL":
		return 28, "24n"
	case "PS":
		return 29, "4a21c"
	case "PT":
		return 25, "21n"
	case "QA":
		return 29, "4a21c"
	case "RO":
		return 24, "4a16c"
	case "RS":
		return 22, "18n"
	case "RU":
		return 33, "14n15c"
	case "SA":
		return 24, "2n18c"
	case "SC":
		return 31, "4a20n3a"
	case "SD":
		return 18, "14n"
	case "SE":
		return 24, "20n"
	case "SI":
		return 19, "15n"
	case "SK":
		return 24, "20n"
	case "SM":
		return 27, "1a10n12c"
	case "SO":
		return 23, "19n"
	case "ST":
		return 25, "21n"
	case "SV":
		return 28, "4a20n"
	case "TL":
		return 23, "19n"
	case "TN":
		return 24, "20n"
	case "TR":
		return 26, "5n17c"
	case "UA":
		return 29, "6n19c"
	case "VA":
		return 22, "18n"
	case "VG":
		return 24, "4c16n"
	case "XK":
		return 20, "16n"
	case "YE":
		return 30, "4a4n18c"
	}
	return 0, ""
}

// piiCallingCodeLen returns the length of the ITU-T E.164 country calling
// code at the start of the digits d, or 0 when none matches. The codes
// form a prefix-free set, so at most one length fits.
func piiCallingCodeLen(d []byte) int {
	if len(d) == 0 {
		return 0
	}
	if d[0] == '1' || d[0] == '7' {
		return 1
	}
	if len(d) < 2 {
		return 0
	}
	two := int(d[0]-'0')*10 + int(d[1]-'0')
	switch two {
	case 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
		51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86,
		90, 91, 92, 93, 94, 95, 98:
		return 2
	}
	if len(d) < 3 {
		return 0
	}
	three := two*10 + int(d[2]-'0')
	switch three {
	case 211, 212, 213, 216, 218,
		220, 221, 222, 223, 224, 225, 226, 227, 228, 229,
		230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
		240, 241, 242, 243, 244, 245, 246, 247, 248, 249,
		250, 251, 252, 253, 254, 255, 256, 257, 258,
		260, 261, 262, 263, 264, 265, 266, 267, 268, 269,
		290, 291, 297, 298, 299,
		350, 351, 352, 353, 354, 355, 356, 357, 358, 359,
		370, 371, 372, 373, 374, 375, 376, 377, 378, 379,
		380, 381, 382, 383, 385, 386, 387, 389,
		420, 421, 423,
		500, 501, 502, 503, 504, 505, 506, 507, 508, 509,
		590, 591, 592, 593, 594, 595, 596, 597, 598, 599,
		670, 672, 673, 674, 675, 676, 677, 678, 679,
		680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692,
		800, 808, 850, 852, 853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888,
		960, 961, 962, 963, 964, 965, 966, 967, 968,
		970, 971, 972, 973, 974, 975, 976, 977, 979,
		992, 993, 994, 995, 996, 998:
		return 3
	}
	return 0
}

// piiUSState reports whether s is a US state, district or territory
// postal code.
func piiUSState(s string) bool {
	switch s {
	case "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID",
		"IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO",
		"MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
		"RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR",
		"GU", "VI", "AS", "MP":
		return true
	}
	return false
}

// piiStreetSuffix reports whether w is a street type that ends a street
// name ("Street", "St", "Avenue", ...).
func piiStreetSuffix(w string) bool {
	switch w {
	case "Street", "St", "Avenue", "Ave", "Av", "Road", "Rd", "Boulevard", "Blvd",
		"Lane", "Ln", "Drive", "Dr", "Court", "Ct", "Place", "Pl", "Way", "Terrace",
		"Ter", "Parkway", "Pkwy", "Circle", "Cir", "Highway", "Hwy", "Square", "Sq",
		"Trail", "Trl", "Plaza", "Plz", "Alley", "Crescent", "Close", "Row", "Pike",
		"Loop", "Run", "Path":
		return true
	}
	return false
}

// piiDirection reports whether w is a compass direction used in street
// addresses.
func piiDirection(w string) bool {
	switch w {
	case "N", "S", "E", "W", "NE", "NW", "SE", "SW", "North", "South", "East", "West":
		return true
	}
	return false
}

// piiUnitWord reports whether w introduces an apartment or suite number.
func piiUnitWord(w string) bool {
	switch w {
	case "Apt", "Apartment", "Suite", "Ste", "Unit", "Floor", "Fl", "Room", "Rm":
		return true
	}
	return false
}

// piiMonth returns the month number of an English month name or
// abbreviation (any case), or 0.
func piiMonth(w string) int {
	if len(w) < 3 || len(w) > 9 {
		return 0
	}
	var buf [9]byte
	for i := 0; i < len(w); i++ {
		buf[i] = w[i] | 0x20
	}
	switch string(buf[:len(w)]) {
	case "january", "jan":
		return 1
	case "february", "feb":
		return 2
	case "march", "mar":
		return 3
	case "april", "apr":
		return 4
	case "may":
		return 5
	case "june", "jun":
		return 6
	case "july", "jul":
		return 7
	case "august", "aug":
		return 8
	case "september", "sep", "sept":
		return 9
	case "october", "oct":
		return 10
	case "november", "nov":
		return 11
	case "december", "dec":
		return 12
	}
	return 0
}

// Keyword kinds: a secret keyword is followed by a token, a password
// keyword by a password, a birth keyword makes the next date a date of
// birth.
const (
	piiKwSecret uint8 = iota + 1
	piiKwPassword
	piiKwBirth
)

type piiKeyword struct {
	word string
	kind uint8
}

// piiKeywords lists the context keywords (lowercase). piiKeywordKind must
// agree with it; a test checks that it does.
func piiKeywords() []piiKeyword {
	return []piiKeyword{
		{"key", piiKwSecret}, {"token", piiKwSecret}, {"secret", piiKwSecret},
		{"apikey", piiKwSecret}, {"bearer", piiKwSecret}, {"authorization", piiKwSecret},
		{"credential", piiKwSecret}, {"credentials", piiKwSecret},
		{"accesstoken", piiKwSecret}, {"authtoken", piiKwSecret},
		{"secretkey", piiKwSecret}, {"accesskey", piiKwSecret}, {"clientsecret", piiKwSecret},
		{"password", piiKwPassword}, {"passwd", piiKwPassword}, {"pwd", piiKwPassword},
		{"passphrase", piiKwPassword}, {"passcode", piiKwPassword},
		{"born", piiKwBirth}, {"birth", piiKwBirth}, {"birthday", piiKwBirth},
		{"birthdate", piiKwBirth}, {"dob", piiKwBirth},
	}
}

// piiKeywordKind returns the keyword kind of the word w (any case), or 0.
// With ident it also reads identifiers ending in a keyword after '_' or
// '-' ("OPENAI_API_KEY", "db-password").
func piiKeywordKind(w string, ident bool) uint8 {
	eq := strings.EqualFold
	switch len(w) {
	case 3:
		switch {
		case eq(w, "key"):
			return piiKwSecret
		case eq(w, "pwd"):
			return piiKwPassword
		case eq(w, "dob"):
			return piiKwBirth
		}
	case 4:
		if eq(w, "born") {
			return piiKwBirth
		}
	case 5:
		switch {
		case eq(w, "token"):
			return piiKwSecret
		case eq(w, "birth"):
			return piiKwBirth
		}
	case 6:
		switch {
		case eq(w, "secret"), eq(w, "apikey"), eq(w, "bearer"):
			return piiKwSecret
		case eq(w, "passwd"):
			return piiKwPassword
		}
	case 8:
		switch {
		case eq(w, "password"), eq(w, "passcode"):
			return piiKwPassword
		case eq(w, "birthday"):
			return piiKwBirth
		}
	case 9:
		switch {
		case eq(w, "authtoken"), eq(w, "secretkey"), eq(w, "accesskey"):
			return piiKwSecret
		case eq(w, "birthdate"):
			return piiKwBirth
		}
	case 10:
		switch {
		case eq(w, "credential"):
			return piiKwSecret
		case eq(w, "passphrase"):
			return piiKwPassword
		}
	case 11:
		if eq(w, "credentials") || eq(w, "accesstoken") {
			return piiKwSecret
		}
	case 12:
		if eq(w, "clientsecret") {
			return piiKwSecret
		}
	case 13:
		if eq(w, "authorization") {
			return piiKwSecret
		}
	}
	if !ident {
		return 0
	}
	// identifiers: the part after the last '_' or '-'
	k := len(w) - 1
	for k > 0 && w[k] != '_' && w[k] != '-' {
		k--
	}
	if k <= 0 || k == len(w)-1 {
		return 0
	}
	switch tail := w[k+1:]; {
	case eq(tail, "key"), eq(tail, "token"), eq(tail, "secret"), eq(tail, "apikey"):
		return piiKwSecret
	case eq(tail, "password"), eq(tail, "passwd"), eq(tail, "pwd"), eq(tail, "pass"):
		return piiKwPassword
	}
	return 0
}

// piiContextWords returns the words that raise (pos) and lower (neg) the
// score of a finding of kind k when they appear just before it.
func piiContextWords(k piiKind, word string) (pos, neg bool) {
	var buf [16]byte
	if len(word) > len(buf) {
		return false, false
	}
	for i := 0; i < len(word); i++ {
		buf[i] = word[i] | 0x20 // ASCII letters only reach here
	}
	w := string(buf[:len(word)])
	switch k {
	case piiCard:
		switch w {
		case "card", "credit", "debit", "visa", "mastercard", "amex", "cc", "payment", "pan":
			return true, false
		}
	case piiSSN:
		switch w {
		case "ssn", "ssns", "social", "security", "ss", "ssid":
			return true, false
		}
	case piiPhone:
		switch w {
		case "phone", "tel", "telephone", "mobile", "cell", "call", "fax", "whatsapp", "sms", "text":
			return true, false
		}
	case piiIBAN:
		switch w {
		case "iban", "bank", "account", "transfer", "wire", "sepa":
			return true, false
		}
	case piiIP:
		switch w {
		case "ip", "ipv4", "ipv6", "host", "server", "address":
			return true, false
		}
	case piiMAC:
		switch w {
		case "mac", "ethernet", "hardware", "wifi", "physical":
			return true, false
		}
	case piiCrypto:
		switch w {
		case "wallet", "btc", "bitcoin", "eth", "ethereum", "crypto", "usdt":
			return true, false
		}
	}
	if k == piiCard || k == piiSSN || k == piiPhone {
		switch w {
		case "order", "invoice", "tracking", "ref", "reference", "confirmation", "ticket",
			"transaction", "sku", "serial", "isbn", "case", "po", "shipment", "parcel":
			return false, true
		}
	}
	return false, false
}
