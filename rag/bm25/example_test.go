package bm25_test

import (
	"fmt"
	"strings"

	"github.com/keel-go/keel/rag/bm25"
)

func ExampleIndex_Search() {
	ix := bm25.New(bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true})
	docs := map[string]string{
		"kb-1": "Resetting your password requires access to the account's email.",
		"kb-2": "Invoices are emailed on the first day of each month.",
		"kb-3": "Passwords must be at least twelve characters long.",
	}
	for id, text := range docs {
		if err := ix.Add(id, text); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, r := range ix.Search("How do I reset my password?", 5, nil) {
		fmt.Printf("%s %.3f\n", r.DocID, r.Score)
	}

	// A filter applies before the top k is chosen.
	onlyInvoices := func(id string) bool { return id == "kb-2" }
	fmt.Println(ix.Search("password email", 1, onlyInvoices)[0].DocID)
	// Output:
	// kb-1 1.422
	// kb-3 0.475
	// kb-2
}

func ExampleTokenizer_Tokens() {
	plain := bm25.Tokenizer{}
	fmt.Println(strings.Join(plain.Tokens("Naïve COVID-19 patients' outcomes"), " "))

	english := bm25.Tokenizer{StopWords: bm25.EnglishStopWords(), Stem: true}
	fmt.Println(strings.Join(english.Tokens("Naïve COVID-19 patients' outcomes"), " "))
	// Output:
	// naive covid 19 patients outcomes
	// naiv covid 19 patient outcom
}

func ExampleStem() {
	for _, w := range []string{"running", "generalization", "skies", "agreed"} {
		fmt.Println(w, bm25.Stem(w))
	}
	// Output:
	// running run
	// generalization general
	// skies sky
	// agreed agre
}
