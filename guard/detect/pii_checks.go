package detect

import (
	"crypto/sha256"
	"math"
	"strings"

	"golang.org/x/crypto/sha3"
)

// Checksums and number-plan rules, each over a candidate the scanner has
// already cut out of the text.

// piiLuhn reports whether the digits d pass the Luhn check.
func piiLuhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// piiCardIssuer reports whether the digits d start with an issuer prefix
// that issues numbers of this length: UATP (1, 15 digits), Mastercard
// 2-series and 51-55, American Express, Diners Club, JCB, Visa,
// Maestro, Discover and UnionPay.
func piiCardIssuer(d []byte) bool {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch d[0] {
	case '1':
		return n == 15
	case '2':
		return n == 16 && p4 >= 2221 && p4 <= 2720
	case '3':
		switch {
		case p2 == 34 || p2 == 37:
			return n == 15
		case p2 == 30 || p2 == 36 || p2 == 38 || p2 == 39:
			return n >= 14 && n <= 19
		case p2 == 35:
			return n >= 16 && n <= 19 && p4 >= 3528 && p4 <= 3589
		}
	case '4':
		return n == 13 || n == 16 || n == 19
	case '5':
		if p2 >= 51 && p2 <= 55 {
			return n == 16
		}
		return n >= 12 && n <= 19 // Maestro
	case '6':
		return n >= 16 && n <= 19
	}
	return false
}

// piiSSNValid reports whether the nine digits d can be a US social
// security number: not area 000, 666 or 900-999, group 00 or serial 0000,
// not one repeated digit, and not a number published as an example
// (078-05-1120, 219-09-9999, 123-45-6789, 987-65-432x).
func piiSSNValid(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	s := string(d[:]) // nine bytes; the compiler keeps it on the stack
	area := s[:3]
	if area == "000" || area == "666" || s[0] == '9' || s[3:5] == "00" || s[5:] == "0000" {
		return false
	}
	if strings.Count(s, s[:1]) == 9 {
		return false
	}
	switch s {
	case "078051120", "219099999", "123456789":
		return false
	}
	return !strings.HasPrefix(s, "98765432")
}

// piiNANP reports whether the ten digits d are a North American number:
// area code and exchange start with 2-9 and are not N11 service codes.
func piiNANP(d []byte) bool {
	if len(d) != 10 {
		return false
	}
	if d[0] < '2' || d[3] < '2' {
		return false
	}
	if d[1] == '1' && d[2] == '1' || d[4] == '1' && d[5] == '1' {
		return false
	}
	return true
}

// piiIBANValid reports whether s (the IBAN without separators) has its
// country's length and BBAN format and a mod-97 remainder of 1.
func piiIBANValid(s string) bool {
	if len(s) < 5 {
		return false
	}
	n, format := piiIBANFormat(s[:2])
	if n == 0 || len(s) != n || !piiIsDigit(s[2]) || !piiIsDigit(s[3]) {
		return false
	}
	// the BBAN format
	p := 4
	for f := 0; f < len(format); {
		cnt := 0
		for f < len(format) && piiIsDigit(format[f]) {
			cnt = cnt*10 + int(format[f]-'0')
			f++
		}
		class := format[f]
		f++
		for ; cnt > 0; cnt-- {
			if p >= len(s) {
				return false
			}
			c := s[p]
			switch class {
			case 'n':
				if !piiIsDigit(c) {
					return false
				}
			case 'a':
				if !piiIsUpper(c) {
					return false
				}
			default:
				if !piiIsDigit(c) && !piiIsUpper(c) {
					return false
				}
			}
			p++
		}
	}
	if p != len(s) {
		return false
	}
	// mod 97 over the rearranged string, letters as 10..35
	rem := 0
	for k := 0; k < len(s); k++ {
		c := s[(k+4)%len(s)]
		if piiIsDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A') + 10) % 97
		}
	}
	return rem == 1
}

// piiBase58Check reports whether s is a base58check Bitcoin address with
// a P2PKH (0x00) or P2SH (0x05) version byte.
func piiBase58Check(s string) bool {
	if len(s) < 26 || len(s) > 35 {
		return false
	}
	var buf [25]byte
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	for i := 0; i < len(s); i++ {
		v := piiBase58Val(s[i])
		if v < 0 {
			return false
		}
		carry := v
		for k := len(buf) - 1; k >= 0; k-- {
			carry += 58 * int(buf[k])
			buf[k] = byte(carry)
			carry >>= 8
		}
		if carry != 0 {
			return false
		}
	}
	lead := 0
	for lead < len(buf) && buf[lead] == 0 {
		lead++
	}
	if lead != zeros || (buf[0] != 0x00 && buf[0] != 0x05) {
		return false
	}
	h1 := sha256.Sum256(buf[:21])
	h2 := sha256.Sum256(h1[:])
	return h2[0] == buf[21] && h2[1] == buf[22] && h2[2] == buf[23] && h2[3] == buf[24]
}

func piiBase58Val(c byte) int {
	switch {
	case c >= '1' && c <= '9':
		return int(c - '1')
	case c >= 'A' && c <= 'H':
		return int(c-'A') + 9
	case c >= 'J' && c <= 'N':
		return int(c-'J') + 17
	case c >= 'P' && c <= 'Z':
		return int(c-'P') + 22
	case c >= 'a' && c <= 'k':
		return int(c-'a') + 33
	case c >= 'm' && c <= 'z':
		return int(c-'m') + 44
	}
	return -1
}

// piiBech32Val maps a bech32 data character (lowercase) to its value.
func piiBech32Val(c byte) int {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	return strings.IndexByte(charset, c)
}

// piiSegwit reports whether s is a mainnet segwit address ("bc1..."):
// bech32 for witness version 0 with a 20- or 32-byte program, bech32m
// for versions 1 to 16, all in one case.
func piiSegwit(s string) bool {
	if len(s) < 14 || len(s) > 90 {
		return false
	}
	lower, upper := false, false
	for i := 0; i < len(s); i++ {
		if piiIsLower(s[i]) {
			lower = true
		} else if piiIsUpper(s[i]) {
			upper = true
		}
	}
	if lower && upper {
		return false
	}
	s = piiLower(s)
	if !strings.HasPrefix(s, "bc1") {
		return false
	}
	data := s[3:]
	if len(data) < 7 {
		return false
	}
	var vals [87]byte
	for i := 0; i < len(data); i++ {
		v := piiBech32Val(data[i])
		if v < 0 {
			return false
		}
		vals[i] = byte(v)
	}
	// polymod over the expanded hrp "bc" and the data
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	step := func(v byte) {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	for _, c := range []byte("bc") {
		step(c >> 5)
	}
	step(0)
	for _, c := range []byte("bc") {
		step(c & 31)
	}
	for i := 0; i < len(data); i++ {
		step(vals[i])
	}
	version := vals[0]
	if version > 16 {
		return false
	}
	// program: the 5-bit groups between the version and the checksum
	groups := len(data) - 1 - 6
	if groups*5%8 >= 5 {
		return false
	}
	prog := groups * 5 / 8
	// the padding bits must be zero
	if pad := groups * 5 % 8; pad > 0 && vals[len(data)-7]&(1<<pad-1) != 0 {
		return false
	}
	if prog < 2 || prog > 40 {
		return false
	}
	if version == 0 {
		return chk == 1 && (prog == 20 || prog == 32)
	}
	return chk == 0x2bc830a3
}

// piiEIP55 reports whether the 40 hex digits h of an Ethereum address,
// in mixed case, carry a valid EIP-55 checksum: each letter is uppercase
// exactly when the matching nibble of Keccak-256(lowercase address) is 8
// or more.
func piiEIP55(h string) bool {
	var lower [40]byte
	for i := 0; i < 40; i++ {
		c := h[i]
		if piiIsUpper(c) {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	k := sha3.NewLegacyKeccak256()
	k.Write(lower[:])
	var sum [32]byte
	k.Sum(sum[:0])
	for i := 0; i < 40; i++ {
		c := h[i]
		if piiIsDigit(c) {
			continue
		}
		nib := sum[i/2] >> 4
		if i%2 == 1 {
			nib = sum[i/2] & 0x0f
		}
		if (nib >= 8) != piiIsUpper(c) {
			return false
		}
	}
	return true
}

// piiEntropy returns the Shannon entropy of s in bits per byte.
func piiEntropy(s string) float64 {
	var counts [256]uint16
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// piiPlaceholder reports whether a secret candidate is a documentation
// example or a placeholder rather than a credential: it spells "example"
// (AKIAIOSFODNN7EXAMPLE), repeats one character eight times
// ("sk_live_xxxxxxxx"), or is a template ("<token>", "${TOKEN}").
func piiPlaceholder(s string) bool {
	if len(s) == 0 {
		return true
	}
	switch s[0] {
	case '<', '$', '{', '%', '*':
		return true
	}
	for i := 0; i+7 <= len(s); i++ {
		if (s[i] == 'e' || s[i] == 'E') && strings.EqualFold(s[i:i+7], "example") {
			return true
		}
	}
	run := 1
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			run++
			if run >= 8 {
				return true
			}
		} else {
			run = 1
		}
	}
	return false
}

// piiClasses returns which of lowercase letters, uppercase letters,
// digits and other bytes s holds.
func piiClasses(s string) (lower, upper, digit, other bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case piiIsLower(c):
			lower = true
		case piiIsUpper(c):
			upper = true
		case piiIsDigit(c):
			digit = true
		default:
			other = true
		}
	}
	return
}
