// Package detect finds sensitive things in text: personal data (emails,
// phone numbers, payment cards, IBANs, national ids, addresses, ...),
// secrets (API keys with known prefixes, tokens, private keys, passwords
// in URLs), and prompt-injection and jailbreak attempts. It is the text
// scanning half of package guard, usable on its own in a pipeline, a
// batch job or a test: every Detector is a plain value with a Detect
// method, safe for concurrent use, linear in the length of its input, and
// never panicking on hostile text.
//
//	findings := detect.Scan(text, detect.Email(), detect.CreditCard())
//	for _, f := range findings {
//		fmt.Println(f.Type, f.Start, f.End, f.Score, f.Rule)
//	}
//
// Findings carry exact byte spans, a confidence score and the rule that
// matched; Resolve picks a non-overlapping set for redaction.
package detect
