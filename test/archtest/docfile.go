package archtest

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
)

// ReadRule reads the rule of a package from its doc.go: the last paragraph
// of the package comment, which doc.go alone carries. The error names the
// package and says what is missing or wrong.
func (g *Graph) ReadRule(pkg string) (Rule, error) {
	p, name := g.Packages[pkg], g.Short(pkg)
	docPath := filepath.Join(p.Dir, "doc.go")
	doc, err := packageComment(docPath)
	if errors.Is(err, os.ErrNotExist) {
		return Rule{}, fmt.Errorf("%s has no doc.go: want one whose package comment says what the package is for and ends with its dependency rule", name)
	}
	if err != nil {
		return Rule{}, fmt.Errorf("%s: %w", name, err)
	}
	if doc == nil {
		return Rule{}, fmt.Errorf("%s: doc.go has no package comment: want one that says what the package is for and ends with its dependency rule", name)
	}
	// A second package comment would be joined to doc.go's by go doc, and
	// the rule would no longer end the package's documentation.
	for _, file := range slices.Concat(p.GoFiles, p.TestGoFiles) {
		if file == "doc.go" {
			continue
		}
		other, err := packageComment(filepath.Join(p.Dir, file))
		if err != nil {
			return Rule{}, fmt.Errorf("%s: %w", name, err)
		}
		if other != nil {
			return Rule{}, fmt.Errorf("%s: %s has a package comment too: want it in doc.go alone", name, file)
		}
	}
	rule, err := ParseRule(doc.Text())
	if err != nil {
		return Rule{}, fmt.Errorf("%s/doc.go: %w", name, err)
	}
	return rule, nil
}

// Generated reports whether every Go file of the package says it is
// generated ("Code generated ... DO NOT EDIT."). Such a package is rewritten
// by its generator, so it carries no doc.go and no rule.
func (g *Graph) Generated(pkg string) (bool, error) {
	p := g.Packages[pkg]
	if len(p.GoFiles) == 0 {
		return false, nil
	}
	for _, file := range p.GoFiles {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, file), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return false, err
		}
		if !ast.IsGenerated(f) {
			return false, nil
		}
	}
	return true, nil
}

// packageComment returns the package comment of one Go file, nil if it
// has none.
func packageComment(path string) (*ast.CommentGroup, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		return nil, err
	}
	return f.Doc, nil
}
