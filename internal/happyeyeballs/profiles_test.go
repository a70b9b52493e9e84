package happyeyeballs

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// The names users script against (docs/contracts.md, Client profiles).
func TestBuiltinProfilesCoverTheDesign(t *testing.T) {
	names := ProfileNames()
	for _, want := range []string{"rfc8305", "go", "curl", "chrome", "firefox", "safari", "node", "python", "java", "okhttp", "dotnet", "envoy", "wget"} {
		if !slices.Contains(names, want) {
			t.Errorf("profile %q missing from %v", want, names)
		}
	}
	seen := map[string]bool{}
	for _, p := range BuiltinProfiles() {
		if seen[p.Name] {
			t.Errorf("profile %q defined twice", p.Name)
		}
		seen[p.Name] = true
		if err := p.Validate(); err != nil {
			t.Errorf("profile %s: %v", p.Name, err)
		}
		if len(p.Sources) == 0 || p.Client == "" {
			t.Errorf("profile %s has no source or client description", p.Name)
		}
	}
}

// BuiltinProfiles hands out copies: changing one must not change the next.
func TestBuiltinProfilesAreFresh(t *testing.T) {
	p := BuiltinProfiles()[0]
	p.AttemptDelay = time.Hour
	p.Sort.Policy.Name = "mutated"
	if q := BuiltinProfiles()[0]; q.AttemptDelay == time.Hour || q.Sort.Policy.Name == "mutated" {
		t.Errorf("got a mutated built-in profile: %+v", q)
	}
}

// LookupProfile hands out copies of profiles it builds once: changing one,
// its policy tables and sources included, must not change the next.
func TestLookupProfileIsFresh(t *testing.T) {
	p, err := LookupProfile("curl")
	if err != nil {
		t.Fatal(err)
	}
	p.AttemptDelay = time.Hour
	p.Sort.Policy.Name = "mutated"
	p.Sort.Policy.LabelTable[0].Value = 99
	p.Sources[0] = "mutated"
	q, err := LookupProfile("curl")
	if err != nil {
		t.Fatal(err)
	}
	want := BuiltinProfiles()[slices.IndexFunc(BuiltinProfiles(), func(p Profile) bool { return p.Name == "curl" })]
	if q.AttemptDelay != want.AttemptDelay || q.Sort.Policy.Name != want.Sort.Policy.Name ||
		q.Sort.Policy.LabelTable[0] != want.Sort.Policy.LabelTable[0] || q.Sources[0] != want.Sources[0] {
		t.Errorf("got a mutated built-in profile: %+v, want %+v", q, want)
	}
}

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile("node,attempt-delay=500ms,abort-on-attempt-delay=false,family-first=ipv4,first-family-count=2,rules=1+2+6")
	if err != nil {
		t.Fatal(err)
	}
	if p.AttemptDelay != 500*time.Millisecond || p.AbortOnAttemptDelay || p.FamilyFirst != dualstack.FamilyIPv4 || p.FirstFamilyCount != 2 || p.Sort.Rules != NewRuleSet(1, 2, 6) {
		t.Errorf("got %+v, want the overrides applied", p.Strategy)
	}
	if p.Name != "node,attempt-delay=500ms,abort-on-attempt-delay=false,family-first=ipv4,first-family-count=2,rules=1+2+6" {
		t.Errorf("got name %q, want the spec", p.Name)
	}
}

func TestParseProfileErrors(t *testing.T) {
	tests := []struct {
		spec string
		want []string // every problem is reported at once
	}{
		{"nope", []string{`unknown profile "nope"`}},
		{"go,bogus=1,attempt-delay=5ms", []string{`unknown parameter "bogus"`, "below RFC 8305's minimum"}},
		{"go,attempt-delay=soon", []string{"not a duration"}},
		{"go,connect=teleport", []string{`unknown connect "teleport"`}},
		{"go,max-attempts=-1", []string{"negative"}},
		{"go,attempt-delay", []string{"want key=value"}},
		{"go,family-first=ipv5", []string{"unknown address family"}},
		{"python,total-timeout=0s", []string{}}, // python has no split: fine
		{"go,total-timeout=0s", []string{"needs a total timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := ParseProfile(tt.spec)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// Every parameter prints a value that parses back to the same strategy.
func TestProfileParamsRoundTrip(t *testing.T) {
	for _, p := range BuiltinProfiles() {
		spec := p.Name
		for _, param := range ProfileParams() {
			spec += "," + param.Key + "=" + param.Value(&p.Strategy)
		}
		q, err := ParseProfile(spec)
		if err != nil {
			t.Errorf("%s: %v", p.Name, err)
			continue
		}
		for _, param := range ProfileParams() {
			if got, want := param.Value(&q.Strategy), param.Value(&p.Strategy); got != want {
				t.Errorf("%s: %s round-trips to %q, want %q", p.Name, param.Key, got, want)
			}
		}
	}
}
