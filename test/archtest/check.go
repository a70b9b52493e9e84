package archtest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// A Violation is one broken promise: a package that depends on (or
// imports) what a rule forbids it. Names are as Graph.Short gives them.
type Violation struct {
	// Chain runs from the package that breaks the promise to the package it
	// must not have, through the imports that bring it in (the shortest chain).
	Chain   []string
	Import  bool   // the promise is about direct imports
	Owner   string // the package whose doc.go makes the promise
	Promise string // the sentence broken, as written
}

// Package is the package that breaks the promise.
func (v Violation) Package() string { return v.Chain[0] }

// Dependency is the package it must not have.
func (v Violation) Dependency() string { return v.Chain[len(v.Chain)-1] }

func (v Violation) String() string {
	kind := "dependency on"
	if v.Import {
		kind = "import of"
	}
	return fmt.Sprintf("%s: got %s, want no %s %s, as %s/doc.go says: %q",
		v.Package(), strings.Join(v.Chain, " -> "), kind, v.Dependency(), v.Owner, v.Promise)
}

// Check holds each of the module's packages to the promises of its own rule
// and to those the packages it imports make about their importers, and
// returns every violation, sorted by package, the shortest chain first.
func Check(g *Graph, rules map[string]Rule) []Violation {
	var vs []Violation
	for _, pkg := range g.Own {
		if rule, ok := rules[pkg]; ok {
			vs = append(vs, checkDependencies(g, pkg, rule)...)
		}
		vs = append(vs, checkImporter(g, pkg, rules)...)
	}
	slices.SortStableFunc(vs, func(a, b Violation) int {
		return cmp.Or(strings.Compare(a.Package(), b.Package()),
			cmp.Compare(len(a.Chain), len(b.Chain)),
			strings.Compare(a.Dependency(), b.Dependency()))
	})
	return vs
}

// checkDependencies checks the sentences of pkg's rule about what it may
// depend on and import.
func checkDependencies(g *Graph, pkg string, rule Rule) []Violation {
	var vs []Violation
	add := func(c *Clause, imports bool, chains [][]string) {
		for _, chain := range chains {
			vs = append(vs, Violation{Chain: g.shortChain(chain), Import: imports, Owner: g.Short(pkg), Promise: c.Sentence})
		}
	}
	if c := rule.DependOnly; c != nil {
		outside := func(dep string) bool { return !c.Allows(dep, g.standard(dep), g.Module) }
		// The project's own packages in the list are followed, so a pure
		// package stays pure whatever its allowed neighbours import; a
		// third-party package in the list brings its dependencies with it.
		add(c, false, firstReached(g, pkg, outside, g.inModule))
	}
	if c := rule.ImportOnly; c != nil {
		for _, dep := range g.imports(pkg) {
			if !c.Allows(dep, g.standard(dep), g.Module) {
				add(c, true, [][]string{{pkg, dep}})
			}
		}
	}
	if c := rule.DependNone; c != nil {
		followAll := func(string) bool { return true }
		for _, p := range c.Patterns {
			match := func(dep string) bool { return p.Match(dep, g.Module) }
			add(c, false, firstReached(g, pkg, match, followAll))
		}
	}
	return vs
}

// checkImporter checks pkg against the promises the module's packages it
// imports make about their importers.
func checkImporter(g *Graph, pkg string, rules map[string]Rule) []Violation {
	var vs []Violation
	for _, dep := range g.imports(pkg) {
		depRule, ok := rules[dep]
		if !ok || !g.inModule(dep) {
			continue
		}
		violation := Violation{Chain: g.shortChain([]string{pkg, dep}), Import: true, Owner: g.Short(dep)}
		switch {
		case depRule.TestSupport && !rules[pkg].TestSupport:
			violation.Promise = testSupportSentence + "."
		case depRule.ImportersOnly != nil && !depRule.ImportersOnly.Allows(pkg, false, g.Module):
			violation.Promise = depRule.ImportersOnly.Sentence
		default:
			continue
		}
		vs = append(vs, violation)
	}
	return vs
}

// firstReached walks the imports from root breadth first, through the
// packages follow admits, and returns the shortest import chain to each
// package that is a target, not walking on past a target: the chains show
// where a forbidden dependency enters, not everything it brings along.
func firstReached(g *Graph, root string, target, follow func(string) bool) [][]string {
	parent := map[string]string{root: ""}
	queue := []string{root}
	var chains [][]string
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		for _, dep := range g.imports(pkg) {
			if _, seen := parent[dep]; seen {
				continue
			}
			parent[dep] = pkg
			switch {
			case target(dep):
				chains = append(chains, chainTo(parent, dep))
			case follow(dep):
				queue = append(queue, dep)
			}
		}
	}
	return chains
}

// chainTo returns the chain of imports from the walk's root to pkg.
func chainTo(parent map[string]string, pkg string) []string {
	var chain []string
	for ; pkg != ""; pkg = parent[pkg] {
		chain = append(chain, pkg)
	}
	slices.Reverse(chain)
	return chain
}

func (g *Graph) shortChain(chain []string) []string {
	short := make([]string, len(chain))
	for i, pkg := range chain {
		short[i] = g.Short(pkg)
	}
	return short
}

// An Exception is a violation the project knows of and means to fix. It
// is written down with its reason so the check can pass meanwhile, and it
// must go as soon as the violation does (Excuse reports it stale), so the
// list cannot outlive the defects it names.
type Exception struct {
	Package, Dependency string // as a Violation names them
	Why                 string
}

// Excuse sets apart the violations a known exception covers, and returns
// the exceptions that cover none.
func Excuse(vs []Violation, known []Exception) (unexcused, excused []Violation, stale []Exception) {
	used := make([]bool, len(known))
	for _, v := range vs {
		i := slices.IndexFunc(known, func(e Exception) bool {
			return e.Package == v.Package() && e.Dependency == v.Dependency()
		})
		if i < 0 {
			unexcused = append(unexcused, v)
			continue
		}
		used[i] = true
		excused = append(excused, v)
	}
	for i, e := range known {
		if !used[i] {
			stale = append(stale, e)
		}
	}
	return unexcused, excused, stale
}
