package rag_test

import (
	"fmt"
	"log"

	"github.com/keel-go/keel/rag"
)

func ExampleRecursiveSplitter() {
	s, err := rag.NewRecursiveSplitter(rag.SplitOptions{MaxTokens: 16, Overlap: 4})
	if err != nil {
		log.Fatal(err)
	}
	text := "Refunds take five business days. Annual plans are refunded pro rata.\n\n" +
		"Invoices are sent on the first of the month. They list every seat."
	for _, span := range s.Split(text) {
		fmt.Printf("%q\n", text[span.Start:span.End])
	}
	// Output:
	// "Refunds take five business days."
	// "business days. Annual plans are refunded pro rata."
	// "rata.\n\nInvoices are sent on the first of the month."
	// "the month. They list every seat."
}

func ExampleMarkdownSplitter() {
	s, err := rag.NewMarkdownSplitter(rag.MarkdownOptions{
		MaxTokens:      64,
		HeadingContext: rag.HeadingBreadcrumb, // the breadcrumb is embedded with each chunk
	})
	if err != nil {
		log.Fatal(err)
	}
	doc := "# Install\n\nDownload the binary.\n\n## On Linux\n\n```sh\n# as root\napt install keel\n```\n\n## On macOS\n\nUse Homebrew."
	for _, span := range s.Split(doc) {
		fmt.Printf("%q: %q\n", span.Headings, doc[span.Start:span.End])
	}
	// What to embed for the second chunk:
	spans := s.Split(doc)
	fmt.Printf("%q\n", rag.HeadingBreadcrumb(spans[1].Headings)+doc[spans[1].Start:spans[1].End])
	// Output:
	// ["Install"]: "# Install\n\nDownload the binary."
	// ["Install" "On Linux"]: "## On Linux\n\n```sh\n# as root\napt install keel\n```"
	// ["Install" "On macOS"]: "## On macOS\n\nUse Homebrew."
	// "Install > On Linux\n\n## On Linux\n\n```sh\n# as root\napt install keel\n```"
}

func ExampleEstimateCounter() {
	text := "The estimate never under-counts GPT-4o's tokenizer."
	exact, err := rag.ExactCounter("o200k_base")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rag.EstimateCounter{}.CountTokens(text), exact.CountTokens(text))
	// Output:
	// 16 13
}
