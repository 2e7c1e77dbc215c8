package prompt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"go.yaml.in/yaml/v3"
)

// parseRollout parses a rollout file: a YAML mapping from prompt name to
// either a version (shorthand for its default) or a mapping with default,
// canary and canary_percent. Unknown and repeated keys are errors.
//
//	support-answer: {default: v3, canary: v4, canary_percent: 10}
//	summarize: v2
func parseRollout(data []byte) (map[string]Rollout, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes", maxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]Rollout{}, nil // an empty file
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return map[string]Rollout{}, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return map[string]Rollout{}, nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping from prompt name to rollout", root.Line)
	}
	out := make(map[string]Rollout, len(root.Content)/2)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, fmt.Errorf("line %d: want a prompt name", k.Line)
		}
		if _, dup := out[k.Value]; dup {
			return nil, fmt.Errorf("line %d: prompt %q is listed twice", k.Line, k.Value)
		}
		ro, err := parseRolloutEntry(v)
		if err != nil {
			return nil, fmt.Errorf("line %d: prompt %q: %w", k.Line, k.Value, err)
		}
		out[k.Value] = ro
	}
	return out, nil
}

func parseRolloutEntry(n *yaml.Node) (Rollout, error) {
	var ro Rollout
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" || n.Value == "" {
			return ro, errors.New("want a version or {default: VERSION, canary: VERSION, canary_percent: N}")
		}
		ro.Default = n.Value
		return ro, nil
	case yaml.MappingNode:
	default:
		return ro, errors.New("want a version or {default: VERSION, canary: VERSION, canary_percent: N}")
	}
	seen := map[string]bool{}
	hasPercent := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return ro, fmt.Errorf("line %d: %q is repeated", k.Line, k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "default", "canary":
			if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" || v.Value == "" {
				return ro, fmt.Errorf("line %d: %s: want a version", v.Line, k.Value)
			}
			if k.Value == "default" {
				ro.Default = v.Value
			} else {
				ro.Canary = v.Value
			}
		case "canary_percent":
			var p float64
			if v.Kind != yaml.ScalarNode || v.Decode(&p) != nil {
				return ro, fmt.Errorf("line %d: canary_percent: want a number from 0 to 100", v.Line)
			}
			if math.IsNaN(p) || p < 0 || p > 100 {
				return ro, fmt.Errorf("line %d: canary_percent %v is outside [0, 100]", v.Line, p)
			}
			ro.CanaryPercent, hasPercent = p, true
		default:
			return ro, fmt.Errorf("line %d: unknown field %q (want default, canary, canary_percent)", k.Line, k.Value)
		}
	}
	switch {
	case ro.Canary != "" && !hasPercent:
		return ro, errors.New("canary without canary_percent")
	case ro.Canary == "" && hasPercent:
		return ro, errors.New("canary_percent without canary")
	}
	return ro, nil
}
