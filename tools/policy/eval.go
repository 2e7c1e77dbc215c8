package policy

import (
	"cmp"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// tri is the three-valued result of a condition: a comparison that cannot
// be made (a missing argument, a string compared with a number) is
// unknown, ! keeps it unknown, and a rule holds only when every condition
// is true. This keeps allow rules closed when arguments are missing, even
// under negation.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// not negates t; unknown stays unknown.
func (t tri) not() tri {
	switch t {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUnknown
}

// kind is the type of a value seen by a condition.
type kind uint8

const (
	kMissing kind = iota // the path does not exist
	kNull
	kBool
	kNum
	kStr
	kArr   // []any from the arguments
	kStrs  // []string: the principal's roles or groups, or a Go argument
	kOther // an object or a value of a type conditions do not compare
)

// numKind says how a number is held.
type numKind uint8

const (
	numText    numKind = iota // json.Number, in s
	numInt                    // in i
	numUint                   // in u
	numFloat                  // float64 in f
	numFloat32                // float32 widened into f
	numLit                    // a parsed literal, in lit
)

// val is a value seen by a condition. It is a plain struct so that
// evaluating a condition allocates nothing.
type val struct {
	k    kind
	nk   numKind
	b    bool
	s    string
	i    int64
	u    uint64
	f    float64
	lit  *number
	arr  []any
	strs []string
}

// set makes v hold x, a value produced by a JSON decoder (or a Go
// caller). Only the fields that v's kind uses are written: the others may
// hold stale data and are never read.
func (v *val) set(x any) {
	switch t := x.(type) {
	case nil:
		v.k = kNull
	case bool:
		v.k, v.b = kBool, t
	case string:
		v.k, v.s = kStr, t
	case json.Number:
		v.k, v.nk, v.s = kNum, numText, string(t)
	case float64:
		v.k, v.nk, v.f = kNum, numFloat, t
	case float32:
		v.k, v.nk, v.f = kNum, numFloat32, float64(t)
	case int:
		v.k, v.nk, v.i = kNum, numInt, int64(t)
	case int64:
		v.k, v.nk, v.i = kNum, numInt, t
	case int32:
		v.k, v.nk, v.i = kNum, numInt, int64(t)
	case int16:
		v.k, v.nk, v.i = kNum, numInt, int64(t)
	case int8:
		v.k, v.nk, v.i = kNum, numInt, int64(t)
	case uint:
		v.k, v.nk, v.u = kNum, numUint, uint64(t)
	case uint64:
		v.k, v.nk, v.u = kNum, numUint, t
	case uint32:
		v.k, v.nk, v.u = kNum, numUint, uint64(t)
	case uint16:
		v.k, v.nk, v.u = kNum, numUint, uint64(t)
	case uint8:
		v.k, v.nk, v.u = kNum, numUint, uint64(t)
	case []any:
		v.k, v.arr = kArr, t
	case []string:
		v.k, v.strs = kStrs, t
	default:
		v.k = kOther
	}
}

func (v *val) scalar() bool {
	return v.k == kNull || v.k == kBool || v.k == kNum || v.k == kStr
}

func (v *val) isArray() bool { return v.k == kArr || v.k == kStrs }

// intValue returns the number as an int64 when that needs no parsing.
func (v *val) intValue() (int64, bool) {
	switch v.nk {
	case numInt:
		return v.i, true
	case numUint:
		if v.u <= math.MaxInt64 {
			return int64(v.u), true
		}
	case numLit:
		return v.lit.i, v.lit.isInt
	}
	return 0, false
}

// floatValue returns the number as a float64 when comparing it with
// other as floats is exact: both are float64 arguments, or one is and the
// other a literal that is the shortest form of its float.
func (v *val) floatValue(other *val) (float64, bool) {
	switch v.nk {
	case numFloat:
		return v.f, other.nk == numFloat || (other.nk == numLit && other.lit.fExact)
	case numLit:
		return v.lit.f, v.lit.fExact && other.nk == numFloat
	}
	return 0, false
}

// smallValue returns the number as a small decimal when it is one.
func (v *val) smallValue() (smallDec, bool) {
	const limit = 1_000_000_000_000_000_000 // 10^18
	switch v.nk {
	case numLit:
		return v.lit.small, v.lit.hasSmall
	case numText:
		return parseSmallDec(v.s)
	case numInt:
		if v.i > -limit && v.i < limit {
			if v.i < 0 {
				return smallDec{neg: true, m: uint64(-v.i)}, true
			}
			return smallDec{m: uint64(v.i)}, true
		}
	case numUint:
		if v.u < limit {
			return smallDec{m: v.u}, true
		}
	}
	return smallDec{}, false
}

// decimal returns the number as decimal text, written into buf when it is
// not text already, so that no allocation is needed.
func (v *val) decimal(buf *[64]byte) ([]byte, decInfo, bool) {
	var t []byte
	switch v.nk {
	case numLit:
		return v.lit.text, v.lit.info, true
	case numText:
		if len(v.s) <= len(buf) {
			t = buf[:copy(buf[:], v.s)]
		} else {
			// An absurdly long number: copying it is the price of
			// comparing it exactly.
			t = []byte(v.s)
		}
	case numInt:
		t = strconv.AppendInt(buf[:0], v.i, 10)
	case numUint:
		t = strconv.AppendUint(buf[:0], v.u, 10)
	case numFloat, numFloat32:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return nil, decInfo{}, false
		}
		size := 64
		if v.nk == numFloat32 {
			size = 32
		}
		t = strconv.AppendFloat(buf[:0], v.f, 'g', -1, size)
	}
	info, ok := parseDec(t)
	return t, info, ok
}

// cmpNum compares two numbers exactly; ok is false when either is not a
// number (NaN, infinity, or a json.Number that is not one).
func cmpNum(a, b *val) (int, bool) {
	if ai, ok := a.intValue(); ok {
		if bi, ok := b.intValue(); ok {
			return cmp.Compare(ai, bi), true
		}
	}
	if af, ok := a.floatValue(b); ok {
		if bf, ok := b.floatValue(a); ok {
			if math.IsNaN(af) || math.IsNaN(bf) || math.IsInf(af, 0) || math.IsInf(bf, 0) {
				return 0, false
			}
			return cmp.Compare(af, bf), true
		}
	}
	if as, ok := a.smallValue(); ok {
		if bs, ok := b.smallValue(); ok {
			return cmpSmall(as, bs), true
		}
	}
	var ba, bb [64]byte
	ta, da, ok := a.decimal(&ba)
	if !ok {
		return 0, false
	}
	tb, db, ok := b.decimal(&bb)
	if !ok {
		return 0, false
	}
	return cmpDec(ta, da, tb, db), true
}

// equal compares two scalars; ok is false when either is not a scalar or
// a number cannot be read. Values of different types are not equal.
func equal(a, b *val) (eq, ok bool) {
	if !a.scalar() || !b.scalar() {
		return false, false
	}
	if a.k != b.k {
		return false, true
	}
	switch a.k {
	case kNull:
		return true, true
	case kBool:
		return a.b == b.b, true
	case kStr:
		return a.s == b.s, true
	}
	c, ok := cmpNum(a, b)
	return ok && c == 0, ok
}

// valueSet is a list literal or a named list, prepared for membership
// tests.
type valueSet struct {
	strs    map[string]struct{} // when the list holds many strings
	strList []string
	nums    []val
	hasNull bool
	hasTrue bool
	hasFals bool
}

// setMapThreshold is the number of strings above which a map beats a
// linear scan.
const setMapThreshold = 8

func (s *valueSet) has(x *val) tri {
	switch x.k {
	case kStr:
		if s.strs != nil {
			_, ok := s.strs[x.s]
			return triOf(ok)
		}
		for _, e := range s.strList {
			if e == x.s {
				return triTrue
			}
		}
		return triFalse
	case kNum:
		for i := range s.nums {
			c, ok := cmpNum(x, &s.nums[i])
			if !ok {
				return triUnknown
			}
			if c == 0 {
				return triTrue
			}
		}
		return triFalse
	case kBool:
		return triOf((x.b && s.hasTrue) || (!x.b && s.hasFals))
	case kNull:
		return triOf(s.hasNull)
	}
	return triUnknown
}

// opKind is the operation of a condition node.
type opKind uint8

const (
	opAnd opKind = iota
	opOr
	opNot
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opIn
	opNotIn
	opContains
	opMatches
	opExists
)

// srcKind says where an operand's value comes from.
type srcKind uint8

const (
	srcLit    srcKind = iota // a literal, in v
	srcArg                   // a path into the arguments
	srcTenant                // principal.tenant
	srcUser                  // principal.user
	srcRoles                 // principal.roles
	srcGroups                // principal.groups
	srcTool                  // the tool name
	srcSet                   // a list literal or a named list
)

// seg is one step of an argument path: a key or an index.
type seg struct {
	key   string
	idx   int
	isIdx bool
}

// operand is one side of a comparison.
type operand struct {
	src  srcKind
	path []seg
	v    val
	set  *valueSet
}

// expr is a compiled condition. It is a closed set of node kinds walked by
// a switch, not an interface: calls through an interface would make the
// *Input escape to the heap at every Decide.
type expr struct {
	op   opKind
	kids []expr
	l, r operand
	re   *regexp.Regexp
}

// resolve follows path through decoded JSON into dst.
func resolve(root any, path []seg, dst *val) *val {
	cur := root
	for _, s := range path {
		if s.isIdx {
			switch a := cur.(type) {
			case []any:
				if s.idx >= len(a) {
					dst.k = kMissing
					return dst
				}
				cur = a[s.idx]
			case []string:
				if s.idx >= len(a) {
					dst.k = kMissing
					return dst
				}
				cur = a[s.idx]
			default:
				dst.k = kMissing
				return dst
			}
			continue
		}
		switch m := cur.(type) {
		case map[string]any:
			v, ok := m[s.key]
			if !ok {
				dst.k = kMissing
				return dst
			}
			cur = v
		case map[string]string:
			v, ok := m[s.key]
			if !ok {
				dst.k = kMissing
				return dst
			}
			cur = v
		default:
			dst.k = kMissing
			return dst
		}
	}
	dst.set(cur)
	return dst
}

// load returns the value of an operand for in: the literal itself, or
// scratch filled in. Empty principal fields are missing, so that an
// anonymous principal never equals an empty tenant in the arguments.
func (o *operand) load(in *Input, scratch *val) *val {
	switch o.src {
	case srcLit:
		return &o.v
	case srcArg:
		return resolve(in.Args, o.path, scratch)
	case srcTenant:
		scratch.k, scratch.s = kStr, in.Principal.Tenant
		if in.Principal.Tenant == "" {
			scratch.k = kMissing
		}
	case srcUser:
		scratch.k, scratch.s = kStr, in.Principal.User
		if in.Principal.User == "" {
			scratch.k = kMissing
		}
	case srcRoles:
		scratch.k, scratch.strs = kStrs, in.Principal.Roles
	case srcGroups:
		scratch.k, scratch.strs = kStrs, in.Principal.Groups
	case srcTool:
		scratch.k, scratch.s = kStr, in.Tool
	default:
		scratch.k = kMissing
	}
	return scratch
}

// eval evaluates e for in.
func (e *expr) eval(in *Input) tri {
	switch e.op {
	case opAnd:
		res := triTrue
		for i := range e.kids {
			switch e.kids[i].eval(in) {
			case triFalse:
				return triFalse
			case triUnknown:
				res = triUnknown
			}
		}
		return res
	case opOr:
		res := triFalse
		for i := range e.kids {
			switch e.kids[i].eval(in) {
			case triTrue:
				return triTrue
			case triUnknown:
				res = triUnknown
			}
		}
		return res
	case opNot:
		return e.kids[0].eval(in).not()
	case opExists:
		return triOf(e.l.exists(in))
	}
	var ls, rs val
	l := e.l.load(in, &ls)
	if l.k == kMissing {
		return triUnknown
	}
	switch e.op {
	case opIn:
		return member(l, &e.r, in, false)
	case opNotIn:
		return member(l, &e.r, in, true)
	case opMatches:
		if l.k != kStr {
			return triUnknown
		}
		return triOf(e.re.MatchString(l.s))
	}
	r := e.r.load(in, &rs)
	if r.k == kMissing {
		return triUnknown
	}
	switch e.op {
	case opEq, opNe:
		eq, ok := equal(l, r)
		if !ok {
			return triUnknown
		}
		return triOf(eq == (e.op == opEq))
	case opContains:
		return contains(l, r)
	}
	// Ordering: numbers with numbers, strings with strings.
	var c int
	switch {
	case l.k == kNum && r.k == kNum:
		var ok bool
		if c, ok = cmpNum(l, r); !ok {
			return triUnknown
		}
	case l.k == kStr && r.k == kStr:
		c = strings.Compare(l.s, r.s)
	default:
		return triUnknown
	}
	switch e.op {
	case opLt:
		return triOf(c < 0)
	case opLe:
		return triOf(c <= 0)
	case opGt:
		return triOf(c > 0)
	}
	return triOf(c >= 0)
}

// exists reports whether a path operand has a value.
func (o *operand) exists(in *Input) bool {
	switch o.src {
	case srcArg:
		var v val
		return resolve(in.Args, o.path, &v).k != kMissing
	case srcTenant:
		return in.Principal.Tenant != ""
	case srcUser:
		return in.Principal.User != ""
	case srcRoles:
		return len(in.Principal.Roles) > 0
	case srcGroups:
		return len(in.Principal.Groups) > 0
	}
	return true
}

// member evaluates "l in r" (or "l not in r" when notIn is set). An array
// on the left is in r when it is not empty and every element is; it is not
// in r when no element is.
func member(l *val, r *operand, in *Input, notIn bool) tri {
	if !l.isArray() {
		t := memberScalar(l, r, in)
		if notIn {
			return t.not()
		}
		return t
	}
	var anyIn, anyOut, unknown bool
	var e val
	for i := range l.len() {
		l.at(i, &e)
		switch memberScalar(&e, r, in) {
		case triTrue:
			anyIn = true
		case triFalse:
			anyOut = true
		default:
			unknown = true
		}
	}
	switch {
	case notIn && anyIn, !notIn && anyOut:
		return triFalse
	case unknown:
		return triUnknown
	case notIn:
		return triTrue
	}
	return triOf(anyIn)
}

func memberScalar(x *val, r *operand, in *Input) tri {
	if !x.scalar() {
		return triUnknown
	}
	if r.src == srcSet {
		return r.set.has(x)
	}
	var scratch val
	rv := r.load(in, &scratch)
	if !rv.isArray() {
		return triUnknown
	}
	return arrayHas(rv, x)
}

// arrayHas reports whether the array a holds the scalar x.
func arrayHas(a, x *val) tri {
	var e val
	for i := range a.len() {
		a.at(i, &e)
		if eq, ok := equal(&e, x); ok && eq {
			return triTrue
		}
	}
	return triFalse
}

// contains evaluates "l contains r": substring for strings, element for
// arrays.
func contains(l, r *val) tri {
	switch {
	case !r.scalar():
		return triUnknown
	case l.k == kStr && r.k == kStr:
		return triOf(strings.Contains(l.s, r.s))
	case l.isArray():
		return arrayHas(l, r)
	}
	return triUnknown
}

func (v *val) len() int {
	if v.k == kStrs {
		return len(v.strs)
	}
	return len(v.arr)
}

// at loads element i of an array into dst.
func (v *val) at(i int, dst *val) {
	if v.k == kStrs {
		dst.k, dst.s = kStr, v.strs[i]
		return
	}
	dst.set(v.arr[i])
}
