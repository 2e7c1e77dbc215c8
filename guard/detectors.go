package guard

import (
	"fmt"

	"github.com/keel-go/keel/guard/detect"
)

// DefaultDetectors returns the standard detector set: every PII and
// secret type in one pass (detect.NewScanner, named "pii-secrets"), and
// the prompt-injection heuristics ("injection"). Policies name checks by
// these names or by the finding types they report ("EMAIL_ADDRESS",
// "AWS_ACCESS_KEY", "PROMPT_INJECTION").
func DefaultDetectors() ([]detect.Detector, error) {
	s, err := detect.NewScanner(detect.ScannerOptions{})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	return []detect.Detector{s, detect.Injection(detect.InjectionOptions{})}, nil
}
