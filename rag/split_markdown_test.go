package rag

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// spGenMarkdown returns a seeded Markdown document: ATX and setext
// headings at varying depths, paragraphs, lists, fenced code holding
// lines that look like headings, and now and then CRLF line ends.
func spGenMarkdown(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(2) == 0 {
		b.WriteString(spGenProse(r, 10+r.IntN(40)) + "\n\n")
	}
	for range 3 + r.IntN(12) {
		title := spGenProse(r, 1+r.IntN(4))
		title = strings.TrimRight(strings.ReplaceAll(title, "\n", " "), ".")
		switch r.IntN(6) {
		case 0:
			fmt.Fprintf(&b, "%s\n%s\n\n", title, strings.Repeat("=", 1+r.IntN(8)))
		case 1:
			fmt.Fprintf(&b, "%s\n%s\n\n", title, strings.Repeat("-", 1+r.IntN(8)))
		case 2:
			fmt.Fprintf(&b, "%s %s ##\n\n", strings.Repeat("#", 1+r.IntN(6)), title)
		default:
			fmt.Fprintf(&b, "%s %s\n\n", strings.Repeat("#", 1+r.IntN(6)), title)
		}
		for range r.IntN(4) {
			switch r.IntN(5) {
			case 0:
				fence := []string{"```", "~~~", "````"}[r.IntN(3)]
				fmt.Fprintf(&b, "%sgo\n# not a heading\nfunc f() {\n\n\treturn // %s\n}\n%s\n\n", fence, spGenProse(r, 5), fence)
			case 1:
				for range 1 + r.IntN(4) {
					fmt.Fprintf(&b, "- %s\n", spGenProse(r, 3+r.IntN(10)))
				}
				b.WriteString("\n")
			default:
				b.WriteString(spGenProse(r, 5+r.IntN(120)) + "\n\n")
			}
		}
	}
	if r.IntN(4) == 0 {
		return strings.ReplaceAll(b.String(), "\n", "\r\n")
	}
	return b.String()
}

// TestMarkdownSections checks the sections and heading paths the parser
// finds, through Split with a limit that holds every section whole.
func TestMarkdownSections(t *testing.T) {
	type chunk struct {
		headings []string
		text     string
	}
	tests := []struct {
		name string
		text string
		want []chunk
	}{
		{
			name: "ATX path",
			text: "# Install\n\nRun it.\n\n## On Linux\n\nUse apt.\n\n## On macOS\n\nUse brew.\n\n# Use\n\nCall it.",
			want: []chunk{
				{[]string{"Install"}, "# Install\n\nRun it."},
				{[]string{"Install", "On Linux"}, "## On Linux\n\nUse apt."},
				{[]string{"Install", "On macOS"}, "## On macOS\n\nUse brew."},
				{[]string{"Use"}, "# Use\n\nCall it."},
			},
		},
		{
			name: "preamble, closing hashes, skipped levels",
			text: "Intro text.\n\n### Deep ###\n\nx\n\n# Top #\ny",
			want: []chunk{
				{nil, "Intro text."},
				{[]string{"Deep"}, "### Deep ###\n\nx"},
				{[]string{"Top"}, "# Top #\ny"},
			},
		},
		{
			name: "setext",
			text: "Title\n=====\n\nSome text\nover two lines.\n\nSub part\n---\nmore",
			want: []chunk{
				{[]string{"Title"}, "Title\n=====\n\nSome text\nover two lines."},
				{[]string{"Title", "Sub part"}, "Sub part\n---\nmore"},
			},
		},
		{
			name: "fences hide headings",
			text: "# A\n\n```sh\n# not a heading\n```\n\n~~~~\n## nor this\n~~~\n~~~~\n\nend",
			want: []chunk{{[]string{"A"}, "# A\n\n```sh\n# not a heading\n```\n\n~~~~\n## nor this\n~~~\n~~~~\n\nend"}},
		},
		{
			name: "a heading with no body opens its subsection",
			text: "# Guide\n## Install\nsteps\n## Use\ncall",
			want: []chunk{
				{[]string{"Guide", "Install"}, "# Guide\n## Install\nsteps"},
				{[]string{"Guide", "Use"}, "## Use\ncall"},
			},
		},
		{
			name: "not headings",
			text: "#hashtag\n    # indented code\n####### seven\n- item\n---\n> # quoted",
			want: []chunk{{nil, "#hashtag\n    # indented code\n####### seven\n- item\n---\n> # quoted"}},
		},
		{
			name: "CRLF and an unclosed fence",
			text: "# A\r\ntext\r\n```\r\n# in code\r\n",
			want: []chunk{{[]string{"A"}, "# A\r\ntext\r\n```\r\n# in code"}},
		},
		{
			name: "empty heading",
			text: "#\nbody",
			want: []chunk{{[]string{""}, "#\nbody"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewMarkdownSplitter(MarkdownOptions{MaxTokens: 1000})
			if err != nil {
				t.Fatal(err)
			}
			spans := s.Split(tt.text)
			spCheckSpans(t, tt.text, spans, spCheck{max: 1000, count: spEstimate})
			var got []chunk
			for _, sp := range spans {
				got = append(got, chunk{sp.Headings, tt.text[sp.Start:sp.End]})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestMarkdownHeadingContext checks that the heading context counts toward
// the limit, and that a path too long for half of it loses outer headings.
func TestMarkdownHeadingContext(t *testing.T) {
	long := strings.Repeat("very ", 30) + "long"
	text := "# Guide\n\n## " + long + "\n\n### Step\n\n" + strings.Repeat("Do this and then that. ", 40)
	s, err := NewMarkdownSplitter(MarkdownOptions{MaxTokens: 60, Overlap: 5, HeadingContext: HeadingBreadcrumb})
	if err != nil {
		t.Fatal(err)
	}
	spans := s.Split(text)
	spCheckSpans(t, text, spans, spCheck{max: 60, overlap: 5, count: spEstimate, context: HeadingBreadcrumb})
	last := spans[len(spans)-1]
	if want := []string{"Step"}; !reflect.DeepEqual(last.Headings, want) {
		t.Errorf("last chunk's headings %q, want %q (the path without the headings too long for half the limit)", last.Headings, want)
	}
	if HeadingBreadcrumb(nil) != "" || HeadingBreadcrumb([]string{"A", "B"}) != "A > B\n\n" {
		t.Errorf("HeadingBreadcrumb: %q, %q", HeadingBreadcrumb(nil), HeadingBreadcrumb([]string{"A", "B"}))
	}
}

// TestMarkdownSplitterProperties checks the span properties on seeded
// Markdown, that spans never cross a section, and that each span carries
// its section's path.
func TestMarkdownSplitterProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 20))
	var texts []string
	for range 15 {
		texts = append(texts, spGenMarkdown(r))
	}
	texts = append(texts, spSplitTexts(r)[:10]...)
	for _, cfg := range spSplitConfigs {
		for _, context := range []func([]string) string{nil, HeadingBreadcrumb} {
			if context != nil && cfg.max < 8 {
				continue // the heading context leaves no room for a character
			}
			s, err := NewMarkdownSplitter(MarkdownOptions{MaxTokens: cfg.max, Overlap: cfg.overlap, HeadingContext: context})
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range texts {
				spans := s.Split(text)
				spCheckSpans(t, text, spans, spCheck{max: cfg.max, overlap: cfg.overlap, count: spEstimate, context: context, exact: i%5 == 0})
				spCheckSections(t, text, spans, context != nil)
			}
		}
	}
}

// spCheckSections checks that every span lies inside one section and has
// its heading path (or, with a heading context, a suffix of it).
func spCheckSections(t *testing.T, text string, spans []Span, shortened bool) {
	t.Helper()
	sections, _ := spParseMarkdown(text)
	for _, sp := range spans {
		i := len(sections) - 1
		for i > 0 && sections[i].start > sp.Start {
			i--
		}
		end := len(text)
		if i+1 < len(sections) {
			end = sections[i+1].start
		}
		if len(sections) == 0 || sp.Start < sections[i].start || sp.End > end {
			t.Fatalf("span [%d, %d) crosses a section boundary", sp.Start, sp.End)
		}
		want := sections[i].headings
		if shortened && len(sp.Headings) < len(want) {
			want = want[len(want)-len(sp.Headings):]
		}
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(sp.Headings, want) {
			t.Fatalf("span %q has headings %q, want %q", text[sp.Start:sp.End], sp.Headings, want)
		}
	}
}

func TestNewMarkdownSplitterErrors(t *testing.T) {
	for _, opts := range []MarkdownOptions{{MaxTokens: 0}, {MaxTokens: 5, Overlap: 5}, {MaxTokens: 5, Overlap: -2}} {
		if s, err := NewMarkdownSplitter(opts); err == nil || s != nil {
			t.Errorf("NewMarkdownSplitter(%+v) = %v, %v; want an error", opts, s, err)
		}
	}
	var zero MarkdownSplitter
	text := "# A\n\n" + spGenProse(rand.New(rand.NewPCG(21, 21)), 2000)
	spans := zero.Split(text)
	spCheckSpans(t, text, spans, spCheck{max: spDefaultMaxTokens, count: spEstimate})
	if len(spans) < 2 || !reflect.DeepEqual(spans[1].Headings, []string{"A"}) {
		t.Errorf("zero MarkdownSplitter: %d spans, headings %q", len(spans), spans[len(spans)-1].Headings)
	}
}

// FuzzMarkdownSplitter checks the span and section properties on
// arbitrary text, with and without heading context.
func FuzzMarkdownSplitter(f *testing.F) {
	r := rand.New(rand.NewPCG(22, 22))
	for range 10 {
		text := spGenMarkdown(r)
		if len(text) > 300 {
			text = strings.ToValidUTF8(text[:300], "") // small seeds minimize fast
		}
		f.Add(text, uint8(r.IntN(256)), uint8(r.IntN(256)), r.IntN(2) == 0)
	}
	f.Add("# A\n```\n# B\n", uint8(10), uint8(3), true)
	f.Add("x\n===\n\n---\ny\n-", uint8(1), uint8(0), false)
	f.Fuzz(func(t *testing.T, text string, maxSeed, overlapSeed uint8, context bool) {
		maxTokens := 8 + int(maxSeed)%120
		opts := MarkdownOptions{MaxTokens: maxTokens, Overlap: int(overlapSeed) % maxTokens}
		if context {
			opts.HeadingContext = HeadingBreadcrumb
		}
		s, err := NewMarkdownSplitter(opts)
		if err != nil {
			t.Fatal(err)
		}
		spans := s.Split(text)
		spCheckSpans(t, text, spans, spCheck{max: maxTokens, overlap: opts.Overlap, count: spEstimate, context: opts.HeadingContext})
		spCheckSections(t, text, spans, context)
	})
}
