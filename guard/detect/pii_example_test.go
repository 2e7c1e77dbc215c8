package detect_test

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/keel-go/keel/guard/detect"
)

func ExampleNewScanner() {
	s, err := detect.NewScanner(detect.ScannerOptions{MinScore: 0.5})
	if err != nil {
		panic(err)
	}
	text := "Hi, I'm ann@example.org, card 4111 1111 1111 1111, key AKIAZ3MHT6W2XQ4PLN7K. Order 4539148803436468."
	for _, f := range detect.Scan(text, s) {
		fmt.Printf("%s %q %.2f %s\n", f.Type, text[f.Start:f.End], f.Score, f.Rule)
	}
	// Output:
	// EMAIL_ADDRESS "ann@example.org" 0.90 email
	// CREDIT_CARD "4111 1111 1111 1111" 1.00 card-grouped
	// AWS_ACCESS_KEY "AKIAZ3MHT6W2XQ4PLN7K" 0.90 aws-access-key-id
}

func ExampleScan_pii() {
	text := "Reach me at bo@example.net or pay with 5555-5555-5555-4444."
	for _, f := range detect.Scan(text, detect.Email(), detect.CreditCard()) {
		fmt.Println(f.Type, f.Start, f.End, f.Rule)
	}
	// Output:
	// EMAIL_ADDRESS 12 26 email
	// CREDIT_CARD 39 58 card-grouped
}

func ExampleTerms() {
	deny := detect.Terms("codenames", "CODENAME", []string{"Project Falcon", "Bluebird"}, true)
	text := "Is project falcon related to BLUEBIRD or to Bluebirds?"
	for _, f := range deny.Detect(nil, text) {
		fmt.Println(f.Type, text[f.Start:f.End])
	}
	// Output:
	// CODENAME project falcon
	// CODENAME BLUEBIRD
}

func ExampleRegex() {
	// ticket numbers with a mod-7 check digit
	re := regexp.MustCompile(`\bTKT-\d{6}\b`)
	valid := func(s string) bool {
		n, err := strconv.Atoi(s[4:9])
		return err == nil && n%7 == int(s[9]-'0')
	}
	d := detect.Regex("ticket", "TICKET_ID", re, valid, 0.7)
	text := "See TKT-123454 and TKT-123455."
	for _, f := range d.Detect(nil, text) {
		fmt.Println(f.Type, text[f.Start:f.End], f.Score)
	}
	// Output:
	// TICKET_ID TKT-123454 0.7
}

func ExampleWithAllowList() {
	d := detect.WithAllowList(detect.Email(), "support@example.com")
	text := "Write to support@example.com or to ann@example.org."
	for _, f := range d.Detect(nil, text) {
		fmt.Println(text[f.Start:f.End])
	}
	// Output:
	// ann@example.org
}
