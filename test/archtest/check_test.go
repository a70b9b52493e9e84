package archtest

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const testModule = "example.com/m"

// testGraph builds a graph from import lists. A path that starts with
// internal/ or cmd/ is the module's; one whose first element has no dot is
// the standard library's; the rest are third-party.
func testGraph(imports map[string][]string) *Graph {
	g := &Graph{Module: testModule, Packages: map[string]*Package{}}
	full := func(path string) string {
		if strings.HasPrefix(path, "internal/") || strings.HasPrefix(path, "cmd/") {
			return testModule + "/" + path
		}
		return path
	}
	add := func(path string) *Package {
		p := g.Packages[full(path)]
		if p != nil {
			return p
		}
		p = &Package{ImportPath: full(path)}
		first, _, _ := strings.Cut(path, "/")
		switch {
		case full(path) != path:
			p.Module = &Module{Path: testModule, Main: true}
			g.Own = append(g.Own, p.ImportPath)
		case !strings.Contains(first, "."):
			p.Standard = true
		}
		g.Packages[p.ImportPath] = p
		return p
	}
	for path, deps := range imports {
		p := add(path)
		for _, dep := range deps {
			add(dep)
			p.Imports = append(p.Imports, full(dep))
		}
		slices.Sort(p.Imports)
	}
	slices.Sort(g.Own)
	return g
}

// testRules parses a rule per module-relative package.
func testRules(t *testing.T, comments map[string]string) map[string]Rule {
	t.Helper()
	rules := map[string]Rule{}
	for pkg, comment := range comments {
		r, err := ParseRule(comment)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		rules[testModule+"/"+pkg] = r
	}
	return rules
}

// The packages of a small dsprobe, with the rules the real ones have.
var testImports = map[string][]string{
	"cmd/dsprobe":            {"os", "internal/cli"},
	"internal/cli":           {"internal/probe", "internal/demo", "internal/happyeyeballs"},
	"internal/demo":          {"internal/probe", "internal/dnstest"},
	"internal/probe":         {"internal/happyeyeballs", "internal/resolve", "internal/diagnose"},
	"internal/resolve":       {"internal/dualstack", "github.com/miekg/dns"},
	"internal/diagnose":      {"internal/dualstack", "fmt"},
	"internal/happyeyeballs": {"internal/dualstack", "net", "time"},
	"internal/dualstack":     {"fmt", "net/netip"},
	"internal/dnstest":       {"github.com/miekg/dns"},
	"internal/testhost":      {"golang.org/x/sys/unix"},
	"internal/kubelab":       {"internal/testhost", "k8s.io/client-go/kubernetes"},
	"github.com/miekg/dns":   {"crypto/tls", "golang.org/x/net/ipv4", "golang.org/x/net/ipv6", "net"},
	"golang.org/x/net/ipv4":  {"golang.org/x/net/bpf", "net"},
	"golang.org/x/net/ipv6":  {"golang.org/x/net/bpf", "net"},
	"net":                    {"internal/poll", "fmt"},
	"crypto/tls":             {"net", "crypto/x509"},
	"k8s.io/client-go/kubernetes": {
		"k8s.io/client-go/rest", "k8s.io/client-go/discovery",
	},
}

var testComments = map[string]string{
	"cmd/dsprobe":            "It must import nothing outside the standard library and internal/cli.",
	"internal/cli":           "Only cmd/dsprobe may import it. It may depend on any package but test support.",
	"internal/demo":          "Only internal/cli may import it. It may depend on any package but test support.",
	"internal/probe":         "It must not depend on k8s.io/client-go/....",
	"internal/resolve":       "It must depend on nothing outside the standard library, github.com/miekg/dns and internal/dualstack.",
	"internal/diagnose":      "It must depend on nothing outside the standard library and internal/dualstack. It must not depend on github.com/miekg/dns or crypto/tls.",
	"internal/happyeyeballs": "It must depend on nothing outside the standard library and internal/dualstack.",
	"internal/dualstack":     "It must depend on the standard library alone.",
	"internal/dnstest":       "It is test support: only tests and other test support may import it. It must depend on nothing outside the standard library and github.com/miekg/dns.",
	"internal/testhost":      "It is test support: only tests and other test support may import it. It must depend on nothing outside the standard library and golang.org/x/sys/unix.",
	"internal/kubelab":       "It is test support: only tests and other test support may import it. It must not depend on internal/probe.",
}

// withImports returns a copy of testImports where pkg imports deps too.
func withImports(pkg string, deps ...string) map[string][]string {
	imports := map[string][]string{}
	for p, d := range testImports {
		imports[p] = slices.Clone(d)
	}
	imports[pkg] = append(imports[pkg], deps...)
	return imports
}

func TestCheck(t *testing.T) {
	const testSupport = "It is test support: only tests and other test support may import it."
	tests := []struct {
		name    string
		imports map[string][]string
		want    []Violation
	}{
		{
			// A product package importing test support (the demo once did).
			name:    "a product package imports test support",
			imports: testImports,
			want: []Violation{
				{Chain: []string{"internal/demo", "internal/dnstest"}, Import: true, Owner: "internal/dnstest", Promise: testSupport},
			},
		},
		{
			// The mutant of the task: a pure package reaches the prober's
			// pipeline (an import cycle in a real tree, still reported).
			name:    "happyeyeballs imports probe",
			imports: withImports("internal/happyeyeballs", "internal/probe"),
			want: []Violation{
				{Chain: []string{"internal/demo", "internal/dnstest"}, Import: true, Owner: "internal/dnstest", Promise: testSupport},
				{Chain: []string{"internal/happyeyeballs", "internal/probe"}, Owner: "internal/happyeyeballs",
					Promise: "It must depend on nothing outside the standard library and internal/dualstack."},
			},
		},
		{
			// Only the first forbidden package on each path is reported:
			// resolve, not everything resolve brings along.
			name:    "diagnose reaches the DNS library through resolve",
			imports: withImports("internal/diagnose", "internal/resolve"),
			want: []Violation{
				{Chain: []string{"internal/demo", "internal/dnstest"}, Import: true, Owner: "internal/dnstest", Promise: testSupport},
				{Chain: []string{"internal/diagnose", "internal/resolve"}, Owner: "internal/diagnose",
					Promise: "It must depend on nothing outside the standard library and internal/dualstack."},
				{Chain: []string{"internal/diagnose", "internal/resolve", "github.com/miekg/dns"}, Owner: "internal/diagnose",
					Promise: "It must not depend on github.com/miekg/dns or crypto/tls."},
				{Chain: []string{"internal/diagnose", "internal/resolve", "github.com/miekg/dns", "crypto/tls"}, Owner: "internal/diagnose",
					Promise: "It must not depend on github.com/miekg/dns or crypto/tls."},
			},
		},
		{
			// An allowed package of the module is followed: dualstack
			// importing the DNS library makes happyeyeballs impure too.
			name:    "an allowed package of the module goes impure",
			imports: withImports("internal/dualstack", "github.com/miekg/dns"),
			want: []Violation{
				{Chain: []string{"internal/demo", "internal/dnstest"}, Import: true, Owner: "internal/dnstest", Promise: testSupport},
				{Chain: []string{"internal/diagnose", "internal/dualstack", "github.com/miekg/dns"}, Owner: "internal/diagnose",
					Promise: "It must depend on nothing outside the standard library and internal/dualstack."},
				{Chain: []string{"internal/diagnose", "internal/dualstack", "github.com/miekg/dns"}, Owner: "internal/diagnose",
					Promise: "It must not depend on github.com/miekg/dns or crypto/tls."},
				{Chain: []string{"internal/diagnose", "internal/dualstack", "github.com/miekg/dns", "crypto/tls"}, Owner: "internal/diagnose",
					Promise: "It must not depend on github.com/miekg/dns or crypto/tls."},
				{Chain: []string{"internal/dualstack", "github.com/miekg/dns"}, Owner: "internal/dualstack",
					Promise: "It must depend on the standard library alone."},
				{Chain: []string{"internal/happyeyeballs", "internal/dualstack", "github.com/miekg/dns"}, Owner: "internal/happyeyeballs",
					Promise: "It must depend on nothing outside the standard library and internal/dualstack."},
			},
		},
		{
			// A subtree pattern reports where the subtree is entered, once.
			name:    "probe reaches client-go through test support",
			imports: withImports("internal/probe", "internal/kubelab"),
			want: []Violation{
				{Chain: []string{"internal/demo", "internal/dnstest"}, Import: true, Owner: "internal/dnstest", Promise: testSupport},
				{Chain: []string{"internal/probe", "internal/kubelab"}, Import: true, Owner: "internal/kubelab", Promise: testSupport},
				{Chain: []string{"internal/probe", "internal/kubelab", "k8s.io/client-go/kubernetes"}, Owner: "internal/probe",
					Promise: "It must not depend on k8s.io/client-go/...."},
			},
		},
		{
			// A command may only wire: a direct import outside its list is
			// reported, what internal/cli brings along is not.
			name:    "a command imports more than its package",
			imports: withImports("cmd/dsprobe", "internal/probe"),
			want: []Violation{
				{Chain: []string{"cmd/dsprobe", "internal/probe"}, Import: true, Owner: "cmd/dsprobe",
					Promise: "It must import nothing outside the standard library and internal/cli."},
				{Chain: []string{"internal/demo", "internal/dnstest"}, Import: true, Owner: "internal/dnstest", Promise: testSupport},
			},
		},
		{
			name:    "only its own command may import the command line",
			imports: withImports("internal/kubelab", "internal/cli"),
			want: []Violation{
				{Chain: []string{"internal/demo", "internal/dnstest"}, Import: true, Owner: "internal/dnstest", Promise: testSupport},
				{Chain: []string{"internal/kubelab", "internal/cli"}, Import: true, Owner: "internal/cli", Promise: "Only cmd/dsprobe may import it."},
				{Chain: []string{"internal/kubelab", "internal/cli", "internal/probe"}, Owner: "internal/kubelab", Promise: "It must not depend on internal/probe."},
			},
		},
	}
	rules := testRules(t, testComments)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(testGraph(tt.imports), rules)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", lines(got), lines(tt.want))
			}
		})
	}
}

func TestViolationString(t *testing.T) {
	v := Violation{
		Chain: []string{"internal/diagnose", "internal/resolve", "github.com/miekg/dns"},
		Owner: "internal/diagnose", Promise: "It must not depend on github.com/miekg/dns or crypto/tls.",
	}
	const want = `internal/diagnose: got internal/diagnose -> internal/resolve -> github.com/miekg/dns, ` +
		`want no dependency on github.com/miekg/dns, as internal/diagnose/doc.go says: "It must not depend on github.com/miekg/dns or crypto/tls."`
	if got := v.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestExcuse(t *testing.T) {
	demo := Violation{Chain: []string{"internal/demo", "internal/dnstest"}, Import: true, Owner: "internal/dnstest"}
	diagnose := Violation{Chain: []string{"internal/diagnose", "internal/resolve"}, Owner: "internal/diagnose"}
	known := []Exception{
		{Package: "internal/demo", Dependency: "internal/dnstest", Why: "known defect"},
		{Package: "internal/cli", Dependency: "internal/testhost", Why: "fixed long ago"},
	}
	unexcused, excused, stale := Excuse([]Violation{demo, diagnose}, known)
	if want := []Violation{diagnose}; !reflect.DeepEqual(unexcused, want) {
		t.Errorf("unexcused: got %v, want %v", unexcused, want)
	}
	if want := []Violation{demo}; !reflect.DeepEqual(excused, want) {
		t.Errorf("excused: got %v, want %v", excused, want)
	}
	if want := known[1:]; !reflect.DeepEqual(stale, want) {
		t.Errorf("stale: got %v, want %v", stale, want)
	}
}

func TestReadRule(t *testing.T) {
	const rule = "It must depend on the standard library alone."
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string // empty: the rule parses
	}{
		{
			name:  "doc.go with a rule",
			files: map[string]string{"doc.go": "// Package x is for x.\n//\n// " + rule + "\npackage x\n", "x.go": "package x\n"},
		},
		{
			name:    "no doc.go",
			files:   map[string]string{"x.go": "// Package x is for x.\npackage x\n"},
			wantErr: "internal/x has no doc.go",
		},
		{
			name:    "doc.go without a package comment",
			files:   map[string]string{"doc.go": "package x\n"},
			wantErr: "internal/x: doc.go has no package comment",
		},
		{
			name:    "doc.go without a rule",
			files:   map[string]string{"doc.go": "// Package x is for x.\npackage x\n"},
			wantErr: `internal/x/doc.go: "Package x is for x." is not a rule sentence`,
		},
		{
			name: "a second package comment",
			files: map[string]string{
				"doc.go":    "// Package x is for x.\n//\n// " + rule + "\npackage x\n",
				"x_test.go": "// Package x is tested.\npackage x\n",
			},
			wantErr: "internal/x: x_test.go has a package comment too: want it in doc.go alone",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := &Package{ImportPath: testModule + "/internal/x", Dir: dir}
			for name, src := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(name, "_test.go") {
					p.TestGoFiles = append(p.TestGoFiles, name)
				} else {
					p.GoFiles = append(p.GoFiles, name)
				}
			}
			g := &Graph{Module: testModule, Packages: map[string]*Package{p.ImportPath: p}, Own: []string{p.ImportPath}}
			got, err := g.ReadRule(p.ImportPath)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr == "" && (got.DependOnly == nil || got.DependOnly.Sentence != rule):
				t.Errorf("got rule %+v, want %q", describe(got), rule)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestGenerated(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.pb.go": "// Code generated by protoc-gen-go. DO NOT EDIT.\n\npackage v1\n",
		"b.pb.go": "// Code generated by protoc-gen-go-grpc. DO NOT EDIT.\n\npackage v1\n",
		"hand.go": "package v1\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		files []string
		want  bool
	}{
		{[]string{"a.pb.go", "b.pb.go"}, true},
		{[]string{"a.pb.go", "hand.go"}, false},
		{nil, false},
	} {
		g := &Graph{Packages: map[string]*Package{"v1": {ImportPath: "v1", Dir: dir, GoFiles: tt.files}}}
		got, err := g.Generated("v1")
		if err != nil || got != tt.want {
			t.Errorf("Generated with files %v: got %v, %v; want %v", tt.files, got, err, tt.want)
		}
	}
}

// TestDecodeGraph reads go list's JSON stream: the module's own packages
// are those of the main module that were asked for.
func TestDecodeGraph(t *testing.T) {
	const stream = `{"ImportPath": "fmt", "Standard": true, "DepOnly": true}
{"ImportPath": "github.com/miekg/dns", "DepOnly": true, "Module": {"Path": "github.com/miekg/dns"}, "Imports": ["fmt"]}
{"ImportPath": "example.com/m/internal/b", "Module": {"Path": "example.com/m", "Main": true}, "Imports": ["github.com/miekg/dns"]}
{"ImportPath": "example.com/m/internal/a", "Module": {"Path": "example.com/m", "Main": true}, "Imports": ["example.com/m/internal/b"],
 "Error": {"Err": "import cycle not allowed"}}`
	g, err := decodeGraph(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"example.com/m/internal/a", "example.com/m/internal/b"}; !reflect.DeepEqual(g.Own, want) {
		t.Errorf("Own: got %v, want %v", g.Own, want)
	}
	if g.Module != testModule {
		t.Errorf("Module: got %q, want %q", g.Module, testModule)
	}
	if !g.standard("fmt") || g.standard("github.com/miekg/dns") || !g.inModule("example.com/m/internal/b") || g.inModule("github.com/miekg/dns") {
		t.Errorf("got a graph that misplaces the standard library or the module: %+v", g.Packages)
	}
	if e := g.Packages["example.com/m/internal/a"].Error; e == nil || e.Err != "import cycle not allowed" {
		t.Errorf("Error: got %+v, want the import cycle", e)
	}
	if _, err := decodeGraph(strings.NewReader(`{"ImportPath": "fmt", "Standard": true}`)); err == nil {
		t.Error("got no error for a graph without the module's packages, want one")
	}
	if _, err := decodeGraph(strings.NewReader(`{"ImportPath": `)); err == nil {
		t.Error("got no error for truncated JSON, want one")
	}
}

func lines(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("\t" + v.String() + "\n")
	}
	return b.String()
}
