package policy

import (
	"cmp"
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
)

// Numbers are compared exactly as decimals, not through float64: a
// json.Number "100.000000000000000001" is greater than the literal 100,
// although both round to the same float64. A float64 argument is compared
// through its shortest decimal form (the text a JSON encoder writes), so
// 0.1 is 0.1.

// maxExponent bounds the decimal exponent of a parsed number. Numbers
// beyond 10^±(10^15) are not meaningful arguments; saturating keeps the
// arithmetic from overflowing.
const maxExponent = 1_000_000_000_000_000

// decInfo describes a decimal number written in JSON number syntax: its
// value is sign × 0.d₁d₂…dₙ × 10^exp with d₁ ≠ 0, where d₁ is the byte at
// first and dₙ the byte at last (a '.' between them is skipped).
type decInfo struct {
	neg   bool
	zero  bool
	exp   int64
	first int
	last  int
}

// parseDec parses s as a JSON number (leading zeros are tolerated). It
// does not allocate.
func parseDec(s []byte) (decInfo, bool) {
	var d decInfo
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intLen := i - intStart
	if intLen == 0 {
		return d, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == fracStart {
			return d, false
		}
	}
	mantEnd := i
	var exp10 int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		negExp := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			negExp = s[i] == '-'
			i++
		}
		expStart := i
		for i < len(s) && isDigit(s[i]) {
			if exp10 < maxExponent {
				exp10 = exp10*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == expStart {
			return d, false
		}
		exp10 = min(exp10, maxExponent)
		if negExp {
			exp10 = -exp10
		}
	}
	if i != len(s) {
		return d, false
	}
	// Find the first and last non-zero digits and the position of the
	// first among all digits.
	d.first, d.last = -1, -1
	digitIdx := 0
	firstIdx := 0
	for j := intStart; j < mantEnd; j++ {
		c := s[j]
		if c == '.' {
			continue
		}
		if c != '0' {
			if d.first < 0 {
				d.first = j
				firstIdx = digitIdx
			}
			d.last = j
		}
		digitIdx++
	}
	if d.first < 0 {
		d.zero = true
		d.neg = false
		return d, true
	}
	d.exp = int64(intLen-firstIdx) + exp10
	return d, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// cmpDec compares two numbers parsed by parseDec.
func cmpDec(a []byte, da decInfo, b []byte, db decInfo) int {
	sa, sb := decSign(da), decSign(db)
	if sa != sb {
		return cmp.Compare(sa, sb)
	}
	if sa == 0 {
		return 0
	}
	m := cmpMag(a, da, b, db)
	if sa < 0 {
		return -m
	}
	return m
}

func decSign(d decInfo) int {
	switch {
	case d.zero:
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmpMag compares the magnitudes of two non-zero numbers.
func cmpMag(a []byte, da decInfo, b []byte, db decInfo) int {
	if da.exp != db.exp {
		return cmp.Compare(da.exp, db.exp)
	}
	i, j := da.first, db.first
	for i <= da.last && j <= db.last {
		if a[i] == '.' {
			i++
			continue
		}
		if b[j] == '.' {
			j++
			continue
		}
		if a[i] != b[j] {
			return cmp.Compare(a[i], b[j])
		}
		i++
		j++
	}
	// The side with digits left is larger: its last digit is non-zero.
	switch {
	case i <= da.last:
		return 1
	case j <= db.last:
		return -1
	}
	return 0
}

// smallDec is a decimal of at most 18 digits without an exponent:
// (-1)^neg × m / 10^frac. Most arguments and literals are small decimals,
// and comparing two of them is a 128-bit multiplication instead of a walk
// over the digits.
type smallDec struct {
	neg  bool
	m    uint64
	frac uint8
}

// maxSmallDigits keeps m below 10^18, so m × 10^18 fits in 128 bits.
const maxSmallDigits = 18

// parseSmallDec parses plain decimal text ("-42.50"); it refuses an
// exponent, more than 18 digits, or anything that is not a number.
func parseSmallDec(s string) (smallDec, bool) {
	var d smallDec
	i := 0
	if len(s) > 0 && s[0] == '-' {
		d.neg = true
		i = 1
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			d.m = d.m*10 + uint64(c-'0')
			digits++
			if dot {
				d.frac++
			}
		case c == '.' && !dot && digits > 0:
			dot = true
		default:
			return d, false
		}
		if digits > maxSmallDigits {
			return d, false
		}
	}
	if digits == 0 || (dot && d.frac == 0) {
		return d, false
	}
	if d.m == 0 {
		d.neg = false
	}
	return d, true
}

// cmpSmall compares two small decimals exactly.
func cmpSmall(a, b smallDec) int {
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	// a.m / 10^a.frac vs b.m / 10^b.frac  ⇔  a.m × 10^b.frac vs b.m × 10^a.frac
	ahi, alo := bits.Mul64(a.m, pow10(b.frac))
	bhi, blo := bits.Mul64(b.m, pow10(a.frac))
	c := cmp.Compare(ahi, bhi)
	if c == 0 {
		c = cmp.Compare(alo, blo)
	}
	if a.neg {
		return -c
	}
	return c
}

func pow10(n uint8) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// number is a numeric literal of a condition or a named list, parsed once.
type number struct {
	text     []byte
	info     decInfo
	isInt    bool // the value is an integer that fits in an int64
	i        int64
	small    smallDec
	hasSmall bool
	// f is the nearest float64. fExact reports that the literal is the
	// shortest decimal form of f, so comparing a float64 argument with f
	// gives the same answer as comparing decimals (the shortest form is
	// monotonic in the float).
	f      float64
	fExact bool
}

// newNumber parses a literal written in JSON number syntax.
func newNumber(text string) (*number, bool) {
	b := []byte(text)
	info, ok := parseDec(b)
	if !ok {
		return nil, false
	}
	n := &number{text: b, info: info}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		n.isInt, n.i = true, i
	}
	n.small, n.hasSmall = parseSmallDec(text)
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		n.f = f
		short := strconv.AppendFloat(nil, f, 'g', -1, 64)
		if si, ok := parseDec(short); ok && cmpDec(short, si, b, info) == 0 {
			n.fExact = true
		}
	}
	return n, true
}

// numberOf converts a Go number (from a Config built in Go) to a literal.
func numberOf(x any) (*number, bool) {
	var buf []byte
	switch v := x.(type) {
	case json.Number:
		return newNumber(string(v))
	case int:
		buf = strconv.AppendInt(nil, int64(v), 10)
	case int8:
		buf = strconv.AppendInt(nil, int64(v), 10)
	case int16:
		buf = strconv.AppendInt(nil, int64(v), 10)
	case int32:
		buf = strconv.AppendInt(nil, int64(v), 10)
	case int64:
		buf = strconv.AppendInt(nil, v, 10)
	case uint:
		buf = strconv.AppendUint(nil, uint64(v), 10)
	case uint8:
		buf = strconv.AppendUint(nil, uint64(v), 10)
	case uint16:
		buf = strconv.AppendUint(nil, uint64(v), 10)
	case uint32:
		buf = strconv.AppendUint(nil, uint64(v), 10)
	case uint64:
		buf = strconv.AppendUint(nil, v, 10)
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, false
		}
		buf = strconv.AppendFloat(nil, float64(v), 'g', -1, 32)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false
		}
		buf = strconv.AppendFloat(nil, v, 'g', -1, 64)
	default:
		return nil, false
	}
	return newNumber(string(buf))
}
