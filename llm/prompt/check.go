package prompt

import (
	"fmt"
	"maps"
	"text/template/parse"
)

// taint says whether an expression holds untrusted text. The template
// never sees untrusted text itself, only a sentinel that stands for it, so
// anything but printing or testing it would compute on the sentinel: the
// checker refuses those uses at parse time.
type taint uint8

const (
	clean       taint = iota // trusted, or not text
	taintedText              // one untrusted value
	taintedList              // a list of untrusted values
)

// dot is what "." is bound to in a scope.
type dot uint8

const (
	dotRoot  dot = iota // the variable set
	dotClean            // a trusted value (inside with or range)
	dotText             // an untrusted value
	dotList             // a list of untrusted values
)

// scope is the checker's view of one point of a template.
type scope struct {
	dot  dot
	vars map[string]taint // template variables ($x) in scope
}

func (s scope) with(d dot) scope {
	return scope{dot: d, vars: maps.Clone(s.vars)}
}

// checker verifies the sections of one template: that every variable they
// reference is declared, and that untrusted variables are only printed
// whole ({{.x}}), tested ({{if .x}}, {{with .x}}) or ranged over when they
// are lists ({{range .x}}). It records which variables are used.
type checker struct {
	t    *Template
	tree *parse.Tree
	used map[string]bool
}

func newChecker(t *Template) *checker {
	return &checker{t: t, used: make(map[string]bool, len(t.vars))}
}

func (c *checker) section(tree *parse.Tree) error {
	c.tree = tree
	return c.list(tree.Root, scope{dot: dotRoot, vars: map[string]taint{"$": clean}})
}

func (c *checker) errorf(n parse.Node, format string, args ...any) error {
	loc, _ := c.tree.ErrorContext(n)
	return fmt.Errorf("%s: %s", loc, fmt.Sprintf(format, args...))
}

func (c *checker) untrustedUse(n parse.Node, name string) error {
	return c.errorf(n, "untrusted variable %s can only be printed whole ({{%s}}), tested ({{if %s}}, {{with %s}}) or, for a list, ranged over: the template never sees its value, so it cannot transform or compare it",
		name, name, name, name)
}

func (c *checker) list(l *parse.ListNode, s scope) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := c.node(n, s); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) node(n parse.Node, s scope) error {
	switch n := n.(type) {
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
		return nil
	case *parse.ActionNode:
		if arg, ok := bare(n.Pipe); ok && len(n.Pipe.Decl) == 0 {
			tt, name, err := c.arg(arg, s)
			if err != nil {
				return err
			}
			if tt == taintedList {
				return c.errorf(n, "untrusted list %s: print each item with {{range %s}}{{.}}{{end}}", name, name)
			}
			return nil
		}
		return c.pipe(n.Pipe, s)
	case *parse.IfNode:
		inner, err := c.cond(n.Pipe, s, false)
		if err != nil {
			return err
		}
		if err := c.list(n.List, inner); err != nil {
			return err
		}
		return c.list(n.ElseList, inner.with(inner.dot))
	case *parse.WithNode:
		inner, err := c.cond(n.Pipe, s, true)
		if err != nil {
			return err
		}
		if err := c.list(n.List, inner); err != nil {
			return err
		}
		// The else branch keeps the outer dot, and sees the declarations.
		inner.dot = s.dot
		return c.list(n.ElseList, inner)
	case *parse.RangeNode:
		inner, err := c.rangeHead(n, s)
		if err != nil {
			return err
		}
		if err := c.list(n.List, inner); err != nil {
			return err
		}
		return c.list(n.ElseList, s.with(s.dot))
	case *parse.TemplateNode:
		return c.errorf(n, "{{template}} is not supported: a section is one template")
	case *parse.ListNode:
		return c.list(n, s)
	}
	return c.errorf(n, "unsupported template construct %s", n)
}

// bare returns the single argument of a pipeline that is just one value.
func bare(p *parse.PipeNode) (parse.Node, bool) {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return nil, false
	}
	return p.Cmds[0].Args[0], true
}

// cond checks the pipeline of an if or a with and returns the scope of its
// body; rebind says the body's dot is the pipeline's value (with).
func (c *checker) cond(p *parse.PipeNode, s scope, rebind bool) (scope, error) {
	inner := s.with(s.dot)
	if rebind {
		inner.dot = dotClean
	}
	if arg, ok := bare(p); ok {
		tt, name, err := c.arg(arg, s)
		if err != nil {
			return inner, err
		}
		if tt != clean {
			if p.IsAssign {
				return inner, c.untrustedUse(p, name)
			}
			for _, d := range p.Decl {
				inner.vars[d.Ident[0]] = tt
			}
			if rebind {
				inner.dot = dotOf(tt)
			}
			return inner, nil
		}
		for _, d := range p.Decl {
			inner.vars[d.Ident[0]] = clean
		}
		return inner, nil
	}
	if err := c.pipe(p, inner); err != nil {
		return inner, err
	}
	return inner, nil
}

func dotOf(tt taint) dot {
	switch tt {
	case taintedText:
		return dotText
	case taintedList:
		return dotList
	}
	return dotClean
}

// rangeHead checks the pipeline of a range and returns the scope of its
// body.
func (c *checker) rangeHead(n *parse.RangeNode, s scope) (scope, error) {
	inner := s.with(dotClean)
	p := n.Pipe
	if arg, ok := bare(p); ok {
		tt, name, err := c.arg(arg, s)
		if err != nil {
			return inner, err
		}
		switch tt {
		case taintedText:
			return inner, c.errorf(n, "cannot range over untrusted text %s", name)
		case taintedList:
			if p.IsAssign {
				return inner, c.untrustedUse(p, name)
			}
			inner.dot = dotText
			switch len(p.Decl) {
			case 1:
				inner.vars[p.Decl[0].Ident[0]] = taintedText
			case 2:
				inner.vars[p.Decl[0].Ident[0]] = clean
				inner.vars[p.Decl[1].Ident[0]] = taintedText
			}
			return inner, nil
		}
		for _, d := range p.Decl {
			inner.vars[d.Ident[0]] = clean
		}
		return inner, nil
	}
	if err := c.pipe(p, inner); err != nil {
		return inner, err
	}
	return inner, nil
}

// pipe checks a pipeline that computes on its arguments: none of them may
// be untrusted. Its declarations enter s.
func (c *checker) pipe(p *parse.PipeNode, s scope) error {
	if p == nil {
		return nil
	}
	for _, cmd := range p.Cmds {
		for _, a := range cmd.Args {
			tt, name, err := c.arg(a, s)
			if err != nil {
				return err
			}
			if tt != clean {
				return c.untrustedUse(a, name)
			}
		}
	}
	for _, d := range p.Decl {
		if !p.IsAssign {
			s.vars[d.Ident[0]] = clean
			continue
		}
		if tt := s.vars[d.Ident[0]]; tt != clean {
			return c.errorf(p, "cannot assign to %s, which holds untrusted text", d.Ident[0])
		}
	}
	return nil
}

// arg checks one argument and returns its taint and, when tainted, how the
// template wrote it.
func (c *checker) arg(n parse.Node, s scope) (taint, string, error) {
	switch n := n.(type) {
	case *parse.FieldNode:
		switch s.dot {
		case dotRoot:
			return c.field(n, n.Ident, "."+n.Ident[0])
		case dotText, dotList:
			return clean, "", c.untrustedUse(n, ".")
		}
		return clean, "", nil
	case *parse.VariableNode:
		if n.Ident[0] == "$" {
			if len(n.Ident) == 1 {
				return clean, "", c.errorf(n, "$ is the whole variable set; refer to one variable, such as $.name")
			}
			return c.field(n, n.Ident[1:], "$."+n.Ident[1])
		}
		tt := s.vars[n.Ident[0]]
		if tt != clean && len(n.Ident) > 1 {
			return clean, "", c.untrustedUse(n, n.Ident[0])
		}
		return tt, n.Ident[0], nil
	case *parse.DotNode:
		switch s.dot {
		case dotRoot:
			return clean, "", c.errorf(n, ". is the whole variable set here; refer to one variable, such as .name")
		case dotText:
			return taintedText, ".", nil
		case dotList:
			return taintedList, ".", nil
		}
		return clean, "", nil
	case *parse.ChainNode:
		tt, name, err := c.arg(n.Node, s)
		if err != nil {
			return clean, "", err
		}
		if tt != clean {
			return clean, "", c.untrustedUse(n, name)
		}
		return clean, "", nil
	case *parse.PipeNode:
		return clean, "", c.pipe(n, s.with(s.dot))
	case *parse.IdentifierNode, *parse.BoolNode, *parse.NumberNode, *parse.StringNode, *parse.NilNode:
		return clean, "", nil
	}
	return clean, "", c.errorf(n, "unsupported template construct %s", n)
}

// field resolves a reference to a declared variable: idents[0] is its
// name, the rest field accesses into it.
func (c *checker) field(n parse.Node, idents []string, written string) (taint, string, error) {
	i, ok := c.t.index[idents[0]]
	if !ok {
		return clean, "", c.errorf(n, "variable %q is not declared in the header", idents[0])
	}
	c.used[idents[0]] = true
	v := &c.t.vars[i]
	if v.Trusted || !v.Type.text() {
		return clean, "", nil
	}
	if len(idents) > 1 {
		return clean, "", c.untrustedUse(n, written)
	}
	if v.Type == TypeStrings {
		return taintedList, written, nil
	}
	return taintedText, written, nil
}
