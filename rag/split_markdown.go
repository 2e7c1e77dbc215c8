package rag

import (
	"strings"
)

// MarkdownOptions configures NewMarkdownSplitter.
type MarkdownOptions struct {
	// MaxTokens, Overlap and Counter are as in SplitOptions.
	MaxTokens int
	Overlap   int
	Counter   TokenCounter
	// HeadingContext, if set, renders a chunk's heading path as the text
	// the caller will put in front of the chunk (to embed a chunk with its
	// context, say); HeadingBreadcrumb is a ready-made one. The splitter
	// then counts that text and the chunk together against MaxTokens. If
	// the rendered path would take more than half of MaxTokens, outer
	// headings are dropped from it, and from Span.Headings, until it fits
	// in half (HeadingContext(nil) should be short). Leave it nil if the
	// heading path is stored beside the chunk rather than sent with it.
	HeadingContext func(headings []string) string
}

// HeadingBreadcrumb renders a heading path for MarkdownOptions.HeadingContext
// as the headings joined by " > " and a blank line, "Install > On
// Linux\n\n", or "" for no headings. Use the same function to build the
// text that is embedded, so that what was counted is what is sent.
func HeadingBreadcrumb(headings []string) string {
	if len(headings) == 0 {
		return ""
	}
	return strings.Join(headings, " > ") + "\n\n"
}

// MarkdownSplitter splits Markdown into chunks of at most MaxTokens
// tokens that never cross a section: it cuts before every ATX heading
// ("#" to "######") and setext heading (a paragraph underlined with "=" or
// "-"), ignoring lines inside fenced code blocks ("```" or "~~~"), and
// records in each span the path of headings it sits under, such as
// ["Install", "On Linux"]. A section holding nothing but its heading stays
// with the subsection that follows it. A section too long for one chunk is
// split as RecursiveSplitter splits text, except that a fenced code block
// counts as one paragraph (its blank lines do not end paragraphs, nor its
// full stops sentences) and that the overlap never reaches into another
// section.
//
// Use NewMarkdownSplitter to build one. The zero value splits with a limit
// of 512 tokens, no overlap, EstimateCounter and no heading context. A
// MarkdownSplitter is safe for concurrent use.
type MarkdownSplitter struct {
	opts MarkdownOptions
}

// NewMarkdownSplitter returns a MarkdownSplitter, or an error if MaxTokens
// is below 1 or Overlap is not in [0, MaxTokens).
func NewMarkdownSplitter(opts MarkdownOptions) (*MarkdownSplitter, error) {
	if err := (SplitOptions{MaxTokens: opts.MaxTokens, Overlap: opts.Overlap}).check(); err != nil {
		return nil, err
	}
	return &MarkdownSplitter{opts: opts}, nil
}

// Split returns the chunks of text, section by section. It never fails,
// and never returns a span over the limit (heading context included),
// except for a lone character that alone exceeds it (see
// SplitOptions.MaxTokens).
func (s *MarkdownSplitter) Split(text string) []Span {
	opts := MarkdownOptions{MaxTokens: spDefaultMaxTokens}
	if s != nil && s.opts.MaxTokens > 0 {
		opts = s.opts
	}
	sections, fences := spParseMarkdown(text)
	c := spChunker{text: text, max: opts.MaxTokens, overlap: opts.Overlap, counter: opts.Counter}
	var out []Span
	for i, sec := range sections {
		end := len(text)
		if i+1 < len(sections) {
			end = sections[i+1].start
		}
		c.fences = c.fences[:0]
		for _, f := range fences {
			if f.end > sec.start && f.start < end {
				c.fences = append(c.fences, f)
			}
		}
		headings := sec.headings
		c.prefix, c.prefixCost = "", 0
		if opts.HeadingContext != nil {
			headings, c.prefix, c.prefixCost = spFitHeadings(headings, opts.HeadingContext, &c)
		}
		out = c.split(sec.start, end, headings, out)
	}
	return out
}

// spFitHeadings drops outer headings until the rendered path counts at
// most half the limit, and returns the path (nil if empty), its rendering
// and its count. A rendering of no headings is kept whatever it counts.
func spFitHeadings(headings []string, render func([]string) string, c *spChunker) ([]string, string, int) {
	for {
		prefix := render(headings)
		n := 0
		if prefix != "" {
			if c.counter == nil {
				n = spEstimate(prefix)
			} else {
				n = c.counter.CountTokens(prefix)
			}
		}
		if len(headings) == 0 {
			return nil, prefix, n
		}
		if n <= c.max/2 {
			return headings, prefix, n
		}
		headings = headings[1:]
	}
}

// spSection is a part of a Markdown text that starts at a heading (or at
// the start of the text) and runs to the next section.
type spSection struct {
	start    int
	headings []string
}

// spHeading is an entry of the heading path: its level (1 to 6) and text.
type spHeading struct {
	level int
	text  string
}

// spParseMarkdown finds the sections and the fenced code blocks of text.
// It reads the block structure of CommonMark only as far as headings
// need: fences, ATX headings, and setext underlines below a paragraph.
func spParseMarkdown(text string) (sections []spSection, fences []spRange) {
	var (
		path   []spHeading
		fence  spFence // the open fence, if fence.n > 0
		fence0 int     // where it started

		// The paragraph the current line may continue, and whether the
		// current section had a body before it (a setext underline turns
		// the paragraph into the next section's heading).
		paraStart  = -1
		paraLines  []string
		bodyBefore bool

		cur     = spSection{start: 0} // the section being read
		level   = 0                   // its heading's level; 0 before the first heading
		hasBody = false               // whether it holds more than its heading
	)
	heading := func(start, lvl int, title string) {
		for len(path) > 0 && path[len(path)-1].level >= lvl {
			path = path[:len(path)-1]
		}
		path = append(path, spHeading{level: lvl, text: title})
		headings := make([]string, len(path))
		for i, h := range path {
			headings[i] = h.text
		}
		if level > 0 && !hasBody && level < lvl {
			// The section is only its heading: it opens this subsection.
			cur.headings = headings
		} else {
			if level > 0 || !spBlank(text[cur.start:start]) {
				sections = append(sections, cur)
			}
			cur = spSection{start: start, headings: headings}
		}
		level, hasBody = lvl, false
		paraStart, paraLines = -1, paraLines[:0]
	}
	for ls := 0; ls < len(text); {
		le, next := spLineEnd(text, ls)
		line := text[ls:le]
		switch {
		case fence.n > 0:
			if fence.closes(line) {
				fences = append(fences, spRange{fence0, le})
				fence = spFence{}
			}
		case spIsFence(line, &fence):
			fence0, hasBody = ls, true
			paraStart, paraLines = -1, paraLines[:0]
		default:
			if lvl, title, ok := spATXHeading(line); ok {
				heading(ls, lvl, title)
				break
			}
			if lvl, ok := spSetextUnderline(line); ok && paraStart >= 0 {
				hasBody = bodyBefore
				heading(paraStart, lvl, strings.Join(paraLines, " "))
				break
			}
			switch {
			case spBlank(line):
				paraStart, paraLines = -1, paraLines[:0]
			case spParagraphLine(line):
				if paraStart < 0 {
					paraStart, bodyBefore = ls, hasBody
				}
				paraLines = append(paraLines, strings.TrimSpace(line))
				hasBody = true
			default:
				paraStart, paraLines = -1, paraLines[:0]
				hasBody = true
			}
		}
		ls = next
	}
	if fence.n > 0 {
		fences = append(fences, spRange{fence0, len(text)})
	}
	if level > 0 || !spBlank(text[cur.start:]) {
		sections = append(sections, cur)
	}
	return sections, fences
}

// spLineEnd returns the end of the line starting at ls (before its line
// break) and the start of the next line.
func spLineEnd(text string, ls int) (le, next int) {
	i := strings.IndexAny(text[ls:], "\r\n")
	if i < 0 {
		return len(text), len(text)
	}
	le = ls + i
	if text[le] == '\r' && le+1 < len(text) && text[le+1] == '\n' {
		return le, le + 2
	}
	return le, le + 1
}

// spFence is an open fenced code block: its character and length.
type spFence struct {
	char byte
	n    int
}

// spIsFence reports whether line opens a fenced code block, at most three
// spaces and then three or more backticks or tildes (a backtick fence's
// info string holds no backtick), and if so sets *f.
func spIsFence(line string, f *spFence) bool {
	rest, ok := spIndent3(line)
	if !ok || len(rest) < 3 || (rest[0] != '`' && rest[0] != '~') {
		return false
	}
	ch := rest[0]
	n := 0
	for n < len(rest) && rest[n] == ch {
		n++
	}
	if n < 3 || (ch == '`' && strings.IndexByte(rest[n:], '`') >= 0) {
		return false
	}
	*f = spFence{char: ch, n: n}
	return true
}

// closes reports whether line closes the fence: at most three spaces, at
// least as many fence characters, then only spaces or tabs.
func (f spFence) closes(line string) bool {
	rest, ok := spIndent3(line)
	if !ok {
		return false
	}
	n := 0
	for n < len(rest) && rest[n] == f.char {
		n++
	}
	return n >= f.n && strings.Trim(rest[n:], " \t") == ""
}

// spATXHeading parses an ATX heading: at most three spaces, one to six
// "#", then a space, a tab or the end of the line. The title drops the
// optional closing sequence of "#".
func spATXHeading(line string) (level int, title string, ok bool) {
	rest, ok := spIndent3(line)
	if !ok {
		return 0, "", false
	}
	for level < len(rest) && rest[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || (level < len(rest) && rest[level] != ' ' && rest[level] != '\t') {
		return 0, "", false
	}
	title = strings.Trim(rest[level:], " \t")
	if t := strings.TrimRight(title, "#"); t == "" {
		title = ""
	} else if len(t) < len(title) && (t[len(t)-1] == ' ' || t[len(t)-1] == '\t') {
		title = strings.TrimRight(t, " \t")
	}
	return level, title, true
}

// spSetextUnderline parses a setext heading underline: at most three
// spaces, a run of "=" (level 1) or "-" (level 2), then only spaces or
// tabs.
func spSetextUnderline(line string) (level int, ok bool) {
	rest, ok := spIndent3(line)
	if !ok || rest == "" || (rest[0] != '=' && rest[0] != '-') {
		return 0, false
	}
	ch := rest[0]
	n := 0
	for n < len(rest) && rest[n] == ch {
		n++
	}
	if strings.Trim(rest[n:], " \t") != "" {
		return 0, false
	}
	if ch == '=' {
		return 1, true
	}
	return 2, true
}

// spParagraphLine reports whether line can be part of a paragraph that a
// setext underline turns into a heading: not indented code, a block
// quote, a list item or a table row.
func spParagraphLine(line string) bool {
	rest, ok := spIndent3(line)
	if !ok || rest == "" {
		return false
	}
	switch rest[0] {
	case '>', '|', '<':
		return false
	case '-', '*', '+':
		return len(rest) > 1 && rest[1] != ' ' && rest[1] != '\t'
	}
	i := 0
	for i < len(rest) && i < 9 && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	return i == 0 || i == len(rest) || (rest[i] != '.' && rest[i] != ')')
}

// spIndent3 strips up to three leading spaces; ok is false if the line is
// indented further (indented code) or by a tab.
func spIndent3(line string) (rest string, ok bool) {
	i := 0
	for i < len(line) && i < 4 && line[i] == ' ' {
		i++
	}
	if i == 4 || (i < len(line) && line[i] == '\t') {
		return "", false
	}
	return line[i:], true
}

// spBlank reports whether s is only white space.
func spBlank(s string) bool {
	return spSkipSpace(s, 0, len(s)) == len(s)
}
