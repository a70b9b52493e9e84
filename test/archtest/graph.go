package archtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// A Package is one node of the dependency graph, as go list describes it.
type Package struct {
	ImportPath  string
	Dir         string
	Imports     []string // direct imports, resolved, sorted
	Standard    bool     // part of the standard library
	DepOnly     bool     // only a dependency of the packages asked for
	Module      *Module  // nil for the standard library
	GoFiles     []string
	TestGoFiles []string
	Error       *struct{ Err string }
}

// A Module is the module a package belongs to.
type Module struct {
	Path string
	Main bool // the module go list ran in
}

// A Graph is the dependency graph of a module's packages, as built for the
// platform go list runs on, tests left out.
type Graph struct {
	Module   string              // the module's path
	Packages map[string]*Package // every package of the graph, by import path
	Own      []string            // the module's own packages, sorted
}

// listFields are the fields of go list's JSON that a Package reads.
const listFields = "ImportPath,Dir,Imports,Standard,DepOnly,Module,GoFiles,TestGoFiles,Error"

// Load lists the module in dir (its root) and everything its packages
// depend on, with one go list call. A package go list cannot load (an
// import cycle, a missing module) is not an error here: it is in the
// graph with its Error, so the caller can report it beside the rules it breaks.
func Load(ctx context.Context, dir string) (*Graph, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-deps", "-json="+listFields, "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return decodeGraph(bytes.NewReader(out))
}

// decodeGraph reads go list's stream of JSON packages.
func decodeGraph(r io.Reader) (*Graph, error) {
	g := &Graph{Packages: map[string]*Package{}}
	dec := json.NewDecoder(r)
	for {
		var p Package
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading go list's output: %w", err)
		}
		g.Packages[p.ImportPath] = &p
		if p.Module != nil && p.Module.Main && !p.DepOnly {
			g.Own = append(g.Own, p.ImportPath)
			g.Module = p.Module.Path
		}
	}
	if len(g.Own) == 0 {
		return nil, errors.New("go list found no packages of the module")
	}
	slices.Sort(g.Own)
	return g, nil
}

// inModule reports whether pkg is one of the module's own packages.
func (g *Graph) inModule(pkg string) bool {
	p := g.Packages[pkg]
	return p != nil && p.Module != nil && p.Module.Main
}

// standard reports whether pkg is in the standard library.
func (g *Graph) standard(pkg string) bool {
	p := g.Packages[pkg]
	return p != nil && p.Standard
}

// Short names a package as rules do: the module's own packages relative to
// the module, the others by their import path.
func (g *Graph) Short(pkg string) string {
	if rest, ok := strings.CutPrefix(pkg, g.Module+"/"); ok {
		return rest
	}
	return pkg
}

// imports returns the direct imports of pkg (none for a package the graph
// does not hold, such as cgo's "C").
func (g *Graph) imports(pkg string) []string {
	if p := g.Packages[pkg]; p != nil {
		return p.Imports
	}
	return nil
}
