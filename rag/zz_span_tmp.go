package rag

// Span is a placeholder until the splitters land.
type Span struct {
	Start, End int
	Headings   []string
}
