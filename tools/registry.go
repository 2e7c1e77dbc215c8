package tools

import (
	"fmt"
	"slices"
	"sync"

	"github.com/keel-go/keel/llm"
)

// Registry holds the tools an application offers, by name. It is safe for
// concurrent use.
type Registry struct {
	mu    sync.RWMutex
	tools map[string]*Tool
	order []string
}

// NewRegistry returns a registry holding tools; two tools with one name
// are an error.
func NewRegistry(tools ...*Tool) (*Registry, error) {
	r := &Registry{tools: map[string]*Tool{}}
	for _, t := range tools {
		if err := r.Add(t); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add registers t; a name already taken is an error.
func (r *Registry) Add(t *Tool) error {
	if t == nil {
		return fmt.Errorf("tools: Registry.Add: nil tool")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.tools[t.Name()]; dup {
		return fmt.Errorf("tools: a tool named %q is already registered", t.Name())
	}
	r.tools[t.Name()] = t
	r.order = append(r.order, t.Name())
	return nil
}

// Get returns the tool named name.
func (r *Registry) Get(name string) (*Tool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tools[name]
	return t, ok
}

// Names returns the registered names in the order they were added.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.order)
}

// Definitions returns the tools as llm.Request.Tools lists them, in the
// order they were added.
func (r *Registry) Definitions() []llm.ToolDef {
	r.mu.RLock()
	defer r.mu.RUnlock()
	defs := make([]llm.ToolDef, 0, len(r.order))
	for _, n := range r.order {
		defs = append(defs, r.tools[n].Definition())
	}
	return defs
}
