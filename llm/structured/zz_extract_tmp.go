package structured

import (
	"errors"
	"strings"
)

// ExtractJSON is a placeholder until the real extractor lands.
func ExtractJSON(text string) ([]byte, error) {
	i := strings.IndexAny(text, "{[")
	j := strings.LastIndexAny(text, "}]")
	if i < 0 || j < i {
		return nil, errors.New("no JSON")
	}
	return []byte(text[i : j+1]), nil
}

// PartialParser is a placeholder until the real parser lands.
type PartialParser struct{ b strings.Builder }

// Write is a placeholder.
func (p *PartialParser) Write(s string) { p.b.WriteString(s) }

// Snapshot is a placeholder.
func (p *PartialParser) Snapshot() ([]byte, bool) { return nil, false }

// Reset is a placeholder.
func (p *PartialParser) Reset() { p.b.Reset() }
