package rag

import (
	"fmt"
	"reflect"
)

// Settings describes the splitter's configuration for an Ingester's
// fingerprint: change the limit, the overlap or the counter and every
// document is split and embedded again instead of mixing chunkings.
func (s *RecursiveSplitter) Settings() string {
	o := SplitOptions{MaxTokens: spDefaultMaxTokens}
	if s != nil && s.opts.MaxTokens > 0 {
		o = s.opts
	}
	return fmt.Sprintf("recursive/v1 max=%d overlap=%d counter=%s", o.MaxTokens, o.Overlap, counterName(o.Counter))
}

// Settings describes the splitter's configuration for an Ingester's
// fingerprint, as RecursiveSplitter.Settings does; a heading context
// function counts as "custom".
func (s *MarkdownSplitter) Settings() string {
	o := s.opts
	ctx := "none"
	if o.HeadingContext != nil {
		ctx = "custom"
		if reflect.ValueOf(o.HeadingContext).Pointer() == reflect.ValueOf(HeadingBreadcrumb).Pointer() {
			ctx = "breadcrumb"
		}
	}
	return fmt.Sprintf("markdown/v1 max=%d overlap=%d counter=%s headings=%s", o.MaxTokens, o.Overlap, counterName(o.Counter), ctx)
}

// counterName names a token counter: its type, which for the exact
// counters includes nothing of the encoding, so those say it themselves.
func counterName(c TokenCounter) string {
	if c == nil {
		return "estimate"
	}
	if n, ok := c.(interface{ String() string }); ok {
		return n.String()
	}
	return fmt.Sprintf("%T", c)
}
