package structured

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DuplicateKeyError reports an object with a repeated key. Such documents
// are refused: JSON parsers disagree on them (jsonschema/v6 validates the
// last copy, encoding/json merges every copy into a struct), so a value
// the schema never checked could reach the program.
type DuplicateKeyError struct {
	// Path is the JSON pointer of the object; Key is the repeated key.
	Path, Key string
}

// Error implements error.
func (e *DuplicateKeyError) Error() string {
	path := e.Path
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("the JSON repeats the key %s in the object at %s; give each key once", strconv.Quote(e.Key), path)
}

// findDuplicateKey returns the first repeated key in doc, which must be
// valid JSON (the reference path checks it first), or nil.
func findDuplicateKey(doc []byte) *DuplicateKeyError {
	if !bytes.Contains(doc, []byte(`"`)) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]struct{}
		// next is whether the next string token in an object is a key;
		// index counts array elements.
		next  bool
		index int
		key   string
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack[:len(stack)-1] {
			b.WriteByte('/')
			if f.object {
				b.WriteString(strings.ReplaceAll(strings.ReplaceAll(f.key, "~", "~0"), "/", "~1"))
			} else {
				b.WriteString(strconv.Itoa(f.index - 1))
			}
		}
		return b.String()
	}
	// value marks that a value ended in the innermost container.
	value := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].next = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return nil
		}
		n := len(stack)
		if n > 0 && stack[n-1].object && stack[n-1].next {
			if k, ok := tok.(string); ok {
				f := &stack[n-1]
				if _, dup := f.keys[k]; dup {
					f.key = k
					return &DuplicateKeyError{Path: path(), Key: k}
				}
				f.keys[k] = struct{}{}
				f.key, f.next = k, false
				continue
			}
		}
		if n > 0 && !stack[n-1].object {
			if d, ok := tok.(json.Delim); !ok || d != ']' {
				stack[n-1].index++
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, keys: map[string]struct{}{}, next: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:n-1]
			value()
		default:
			value()
		}
	}
}
