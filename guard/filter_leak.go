package guard

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/keel-go/keel/guard/detect"
)

// SystemPromptLeak finds the system prompt repeated in an answer, two
// ways:
//
//   - n-gram overlap: the answer and the prompt are cut into words
//     (runs of ASCII letters, digits and non-ASCII characters, ASCII
//     case folded); the overlap is the share of the prompt's distinct runs of
//     N consecutive words that appear in the answer. When it exceeds
//     MaxOverlap, the n-gram that crossed the threshold, and every
//     prompt n-gram after it, is a finding. An n-gram counts only if its
//     N words end within Window bytes of its first word's start.
//   - canary: a Canary planted in the prompt (see Canary.Plant) that
//     appears in the answer, in any letter case, is a finding.
//
// Findings have type "SYSTEM_PROMPT_LEAK" and rule "ngram-overlap" or
// "canary". Up to MaxOverlap of the prompt may pass before the n-gram
// check fires; the canary catches a verbatim leak at its first
// occurrence.
type SystemPromptLeak struct {
	// SystemPrompt is the prompt to protect. It may be empty when
	// Canary is set.
	SystemPrompt string
	// N is the n-gram size in words; 0 means 8. At most 64.
	N int
	// MaxOverlap is the share of the prompt's n-grams, in (0, 1], that
	// the answer may repeat before the filter fires; 0 means 0.1, and a
	// negative value turns the n-gram check off.
	MaxOverlap float64
	// Canary, when set, is the token planted in the prompt.
	Canary Canary
	// Action is FilterBlock unless set; all three actions are supported.
	Action FilterAction
}

// Name returns "system_prompt_leak".
func (SystemPromptLeak) Name() string { return "system_prompt_leak" }

// Check implements OutputFilter.
func (f SystemPromptLeak) Check(text string) ([]OutputFinding, error) { return fltCheck(f, text) }

const (
	fltLeakDefaultN          = 8
	fltLeakMaxN              = 64
	fltLeakDefaultMaxOverlap = 0.1
)

type fltLeak struct {
	name   string
	window int
	action FilterAction
	n      int
	grams  map[uint64]int32 // prompt n-gram hash -> index
	pow    uint64           // fltGramBase^(n-1)
	limit  int              // fire when more than limit distinct n-grams are seen
	canary string           // lower case; "" for none
}

func (f SystemPromptLeak) compile(window int) (fltCompiled, error) {
	name := f.Name()
	action, err := fltAction(name, f.Action, FilterBlock, FilterFlag, FilterStrip, FilterBlock)
	if err != nil {
		return nil, err
	}
	c := &fltLeak{name: name, window: window, action: action, n: f.N}
	if c.n == 0 {
		c.n = fltLeakDefaultN
	}
	if c.n < 1 || c.n > fltLeakMaxN {
		return nil, fmt.Errorf("guard: %s: N = %d: want 1 to %d words", name, f.N, fltLeakMaxN)
	}
	c.pow = fltPow(c.n)
	overlap := f.MaxOverlap
	if math.IsNaN(overlap) || overlap > 1 {
		return nil, fmt.Errorf("guard: %s: MaxOverlap %v: want a share in (0, 1], 0 for the default or negative for none", name, f.MaxOverlap)
	}
	if overlap == 0 {
		overlap = fltLeakDefaultMaxOverlap
	}
	if overlap > 0 {
		c.grams = fltPromptGrams(f.SystemPrompt, c.n)
		c.limit = int(math.Floor(overlap * float64(len(c.grams))))
	}
	if f.Canary != "" {
		if err := f.Canary.check(window); err != nil {
			return nil, fmt.Errorf("guard: %s: %w", name, err)
		}
		c.canary = strings.ToLower(string(f.Canary))
	}
	if len(c.grams) == 0 && c.canary == "" {
		return nil, fmt.Errorf("guard: %s: nothing to check: give a SystemPrompt of at least N = %d words, or a Canary", name, c.n)
	}
	return c, nil
}

func (c *fltLeak) scanner() fltScanner {
	s := &fltLeakScanner{c: c}
	if len(c.grams) > 0 {
		s.ring = make([]fltWord, c.n)
		s.seen = make([]uint64, (len(c.grams)+63)/64)
	}
	return s
}

// fltPromptGrams returns the distinct n-grams of prompt, numbered by
// their rolling hash.
func fltPromptGrams(prompt string, n int) map[uint64]int32 {
	var words []uint64
	fltWords(prompt, func(_, _ int, h uint64) { words = append(words, h) })
	if len(words) < n {
		return nil
	}
	grams := make(map[uint64]int32, len(words)-n+1)
	pow := fltPow(n)
	var roll uint64
	for i, w := range words {
		if i >= n {
			roll -= words[i-n] * pow
		}
		roll = roll*fltGramBase + w
		if i >= n-1 {
			if _, ok := grams[roll]; !ok {
				grams[roll] = int32(len(grams))
			}
		}
	}
	return grams
}

// fltGramBase is the base of the rolling n-gram hash: the hash of words
// w[0..n-1] is the sum of w[i] * base^(n-1-i), so sliding by one word
// costs one multiplication whatever n is.
const fltGramBase = 0x9e3779b97f4a7c15

// fltPow returns fltGramBase^(n-1).
func fltPow(n int) uint64 {
	p := uint64(1)
	for range n - 1 {
		p *= fltGramBase
	}
	return p
}

// FNV-1a, for words; n-grams combine word hashes in order.
const (
	fltFNVOffset = 14695981039346656037
	fltFNVPrime  = 1099511628211
)

// fltWordByte reports whether b belongs to a word: ASCII letters and
// digits, and every byte of a non-ASCII character (so the cut never
// depends on decoding, and any script makes words).
func fltWordByte(b byte) bool {
	return b >= 0x80 || ('a' <= b|0x20 && b|0x20 <= 'z') || ('0' <= b && b <= '9')
}

func fltFoldByte(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}

// fltWords calls fn with the start, end and hash of every word of s.
func fltWords(s string, fn func(start, end int, h uint64)) {
	start, h := -1, uint64(0)
	for i := 0; i < len(s); i++ {
		b := s[i]
		if fltWordByte(b) {
			if start < 0 {
				start, h = i, fltFNVOffset
			}
			h = (h ^ uint64(fltFoldByte(b))) * fltFNVPrime
			continue
		}
		if start >= 0 {
			fn(start, i, h)
			start = -1
		}
	}
	if start >= 0 {
		fn(start, len(s), h)
	}
}

type fltWord struct {
	start int
	hash  uint64
}

type fltLeakScanner struct {
	c *fltLeak
	// n-grams
	pos      int // next byte to read
	inWord   bool
	wstart   int
	whash    uint64
	ring     []fltWord // the last N complete words; ring[head] is the oldest
	head     int       // count % N
	count    int
	roll     uint64   // rolling hash of the last N complete words
	seen     []uint64 // bitset of prompt n-grams seen
	distinct int
	// canary
	cpos int // next position a canary may start at
}

func (s *fltLeakScanner) advance(dst []OutputFinding, text string, final bool) ([]OutputFinding, int) {
	frontier := len(text)
	if s.ring != nil {
		var f int
		dst, f = s.grams(dst, text, final)
		frontier = min(frontier, f)
	}
	if s.c.canary != "" {
		var f int
		dst, f = s.canary(dst, text, final)
		frontier = min(frontier, f)
	}
	return dst, frontier
}

func (s *fltLeakScanner) grams(dst []OutputFinding, text string, final bool) ([]OutputFinding, int) {
	// Locals keep the byte loop in registers.
	inWord, wstart, whash := s.inWord, s.wstart, s.whash
	for i := s.pos; i < len(text); i++ {
		b := text[i]
		if fltWordByte(b) {
			if !inWord {
				inWord, wstart, whash = true, i, fltFNVOffset
			}
			whash = (whash ^ uint64(fltFoldByte(b))) * fltFNVPrime
			continue
		}
		if inWord {
			inWord = false
			s.wstart, s.whash = wstart, whash
			dst = s.word(dst, i)
		}
	}
	s.pos, s.inWord, s.wstart, s.whash = len(text), inWord, wstart, whash
	if final {
		if s.inWord {
			s.inWord = false
			dst = s.word(dst, len(text))
		}
		return dst, len(text)
	}
	// The n-grams still open start at the last N-1 complete words and at
	// the word being read; those that can no longer end within the
	// window are decided (they do not count).
	n := s.c.n
	for k := max(s.count-(n-1), 0); k < s.count; k++ {
		if w := s.ring[k%n]; w.start+s.c.window > len(text) {
			return dst, w.start
		}
	}
	if s.inWord && s.wstart+s.c.window > len(text) {
		return dst, s.wstart
	}
	return dst, len(text)
}

// word records a complete word ending at end and judges the n-gram it
// completes.
func (s *fltLeakScanner) word(dst []OutputFinding, end int) []OutputFinding {
	n := s.c.n
	slot := &s.ring[s.head]
	if s.count >= n {
		s.roll -= slot.hash * s.c.pow
	}
	s.roll = s.roll*fltGramBase + s.whash
	*slot = fltWord{start: s.wstart, hash: s.whash}
	s.count++
	if s.head++; s.head == n {
		s.head = 0
	}
	if s.count < n {
		return dst
	}
	first := s.ring[s.head] // the oldest of the last n
	if end >= first.start+s.c.window {
		return dst
	}
	idx, ok := s.c.grams[s.roll]
	if !ok {
		return dst
	}
	if bit := uint64(1) << (idx % 64); s.seen[idx/64]&bit == 0 {
		s.seen[idx/64] |= bit
		s.distinct++
	}
	if s.distinct <= s.c.limit {
		return dst
	}
	share := float64(s.distinct) / float64(len(s.c.grams))
	return append(dst, OutputFinding{
		Finding: detect.Finding{
			Type: "SYSTEM_PROMPT_LEAK", Start: first.start, End: end, Score: min(share, 1),
			Rule:   "ngram-overlap",
			Reason: fmt.Sprintf("the answer repeats %.0f%% of the system prompt's %d-word sequences", 100*share, n),
		},
		Filter: s.c.name, Action: s.c.action,
	})
}

func (s *fltLeakScanner) canary(dst []OutputFinding, text string, final bool) ([]OutputFinding, int) {
	c := s.c.canary
	m := len(c)
	i := s.cpos
	for ; i+m <= len(text); i++ {
		if fltFoldByte(text[i]) == c[0] && fltHasPrefixFold(text[i:], c, false) {
			dst = append(dst, OutputFinding{
				Finding: detect.Finding{
					Type: "SYSTEM_PROMPT_LEAK", Start: i, End: i + m, Score: 1, Rule: "canary",
					Reason: "the answer contains the canary token planted in the system prompt",
				},
				Filter: s.c.name, Action: s.c.action,
			})
			i += m - 1
		}
	}
	s.cpos = i
	if final {
		s.cpos = len(text)
		return dst, len(text)
	}
	// A canary may still be starting in the last m-1 bytes.
	for j := i; j < len(text); j++ {
		if fltFoldByte(text[j]) == c[0] && fltHasPrefixFold(c, text[j:], true) {
			return dst, j
		}
	}
	return dst, len(text)
}

// fltHasPrefixFold reports whether s starts with prefix, ASCII letters
// compared without case. lower says which of the two is lower case
// already: s when true, prefix when false.
func fltHasPrefixFold(s, prefix string, lower bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		a, b := s[i], prefix[i]
		if lower {
			b = fltFoldByte(b)
		} else {
			a = fltFoldByte(a)
		}
		if a != b {
			return false
		}
	}
	return true
}

// Canary is a token planted in a system prompt: it has no business in an
// answer, so seeing it there proves the prompt leaked. A Canary is
// ASCII, 8 or more bytes, without spaces; NewCanary makes a random one.
type Canary string

// NewCanary returns a fresh random canary, "ref-" and 20 hex digits,
// reading random (nil means crypto/rand).
func NewCanary(random io.Reader) (Canary, error) {
	if random == nil {
		random = rand.Reader
	}
	var b [10]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("guard: canary: reading randomness: %w", err)
	}
	return Canary("ref-" + hex.EncodeToString(b[:])), nil
}

// Plant returns systemPrompt with the canary in an HTML comment on a
// line of its own in front, where a model that recites its instructions
// recites it too, and that no legitimate answer has reason to quote.
func (c Canary) Plant(systemPrompt string) string {
	return "<!-- " + string(c) + " -->\n" + systemPrompt
}

func (c Canary) check(window int) error {
	if len(c) < 8 || len(c) > window {
		return fmt.Errorf("canary of %d bytes: want 8 to %d", len(c), window)
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; b <= ' ' || b >= 0x7f {
			return fmt.Errorf("canary: want printable ASCII without spaces")
		}
	}
	return nil
}
