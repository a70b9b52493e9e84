package archtest_test

import (
	"testing"

	"github.com/dsprobe/dsprobe/internal/testsupport/modroot"
	"github.com/dsprobe/dsprobe/test/archtest"
)

// knownViolations are the broken promises the project knows of and means to
// fix. Each is logged while it lasts; once it is fixed the test fails until
// its entry here is deleted, so the list cannot outlive the defects.
var knownViolations = []archtest.Exception{}

// TestDependencyRules holds every package of the module to the rule its
// doc.go ends with (see the package documentation for the sentences).
func TestDependencyRules(t *testing.T) {
	g, err := archtest.Load(t.Context(), modroot.Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]archtest.Rule{}
	for _, path := range g.Own {
		pkg := g.Packages[path]
		if pkg.Error != nil {
			// go list -e still lists a package it cannot load (an import
			// cycle, a missing module), so its rules are checked as well.
			t.Errorf("%s: go list: %s", g.Short(path), pkg.Error.Err)
		}
		generated, err := g.Generated(path)
		if err != nil {
			t.Errorf("%s: %v", g.Short(path), err)
			continue
		}
		if generated {
			continue
		}
		rule, err := g.ReadRule(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		rules[path] = rule
	}

	unexcused, excused, stale := archtest.Excuse(archtest.Check(g, rules), knownViolations)
	for _, v := range excused {
		t.Logf("known exception, still to fix: %s", v)
	}
	for _, e := range stale {
		t.Errorf("known exception %s -> %s no longer happens: delete it from knownViolations", e.Package, e.Dependency)
	}
	for _, v := range unexcused {
		t.Error(v)
	}
}
