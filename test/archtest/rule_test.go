package archtest

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	clause := func(sentence string, standard bool, patterns ...Pattern) *Clause {
		return &Clause{Sentence: sentence, StandardLibrary: standard, Patterns: patterns}
	}
	tests := []struct {
		name    string
		comment string
		want    Rule
	}{
		{
			name:    "the standard library alone",
			comment: "Package dualstack is the vocabulary.\n\nIt must depend on the standard library alone.\n",
			want:    Rule{DependOnly: clause("It must depend on the standard library alone.", true)},
		},
		{
			name:    "nothing outside, a list joined by and",
			comment: "It must depend on nothing outside the standard library,\ninternal/dualstack and internal/smallfile.",
			want: Rule{DependOnly: clause("It must depend on nothing outside the standard library, internal/dualstack and internal/smallfile.",
				true, "internal/dualstack", "internal/smallfile")},
		},
		{
			name:    "a list alone without the standard library",
			comment: "It must depend on internal/layer and internal/dualstack alone.",
			want:    Rule{DependOnly: clause("It must depend on internal/layer and internal/dualstack alone.", false, "internal/layer", "internal/dualstack")},
		},
		{
			name:    "not depend on, with a colon and an Oxford comma",
			comment: "It must not depend on: internal/probe, internal/resolve, and github.com/miekg/dns.",
			want: Rule{DependNone: clause("It must not depend on: internal/probe, internal/resolve, and github.com/miekg/dns.",
				false, "internal/probe", "internal/resolve", "github.com/miekg/dns")},
		},
		{
			name:    "not depend on, joined by or, a subtree ending the sentence",
			comment: "It must not depend on crypto/tls or k8s.io/client-go/....",
			want:    Rule{DependNone: clause("It must not depend on crypto/tls or k8s.io/client-go/....", false, "crypto/tls", "k8s.io/client-go/...")},
		},
		{
			name:    "a subtree inside the list is not a full stop",
			comment: "It must not depend on gen/... or internal/telemetry.",
			want:    Rule{DependNone: clause("It must not depend on gen/... or internal/telemetry.", false, "gen/...", "internal/telemetry")},
		},
		{
			name:    "one item",
			comment: "It must not depend on internal/prober.",
			want:    Rule{DependNone: clause("It must not depend on internal/prober.", false, "internal/prober")},
		},
		{
			name:    "import nothing outside, with who may import it",
			comment: "Command main wires.\n\nOnly cmd/dsprobe may import it.\nIt must import nothing outside the standard library and internal/cli.",
			want: Rule{
				ImportersOnly: clause("Only cmd/dsprobe may import it.", false, "cmd/dsprobe"),
				ImportOnly:    clause("It must import nothing outside the standard library and internal/cli.", true, "internal/cli"),
			},
		},
		{
			name:    "test support",
			comment: "Package testpki makes certificates.\n\nIt is test support: only tests and other test support\nmay import it. It must depend on the standard library alone.",
			want:    Rule{TestSupport: true, DependOnly: clause("It must depend on the standard library alone.", true)},
		},
		{
			name:    "any package but test support",
			comment: "Only internal/cli may import it. It may depend on any package but test support.",
			want:    Rule{AnyProduct: true, ImportersOnly: clause("Only internal/cli may import it.", false, "internal/cli")},
		},
		{
			name:    "an allow list and a deny list together",
			comment: "It must depend on nothing outside the standard library and internal/layer.\nIt must not depend on crypto/tls.",
			want: Rule{
				DependOnly: clause("It must depend on nothing outside the standard library and internal/layer.", true, "internal/layer"),
				DependNone: clause("It must not depend on crypto/tls.", false, "crypto/tls"),
			},
		},
		{
			name:    "only the last paragraph is the rule",
			comment: "Package x does things. It must not depend on the project's network-facing packages (DNS, probing).\n\nIt must depend on the standard library alone.",
			want:    Rule{DependOnly: clause("It must depend on the standard library alone.", true)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRule(tt.comment)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", describe(got), describe(tt.want))
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct {
		name    string
		comment string
		want    []string // substrings of the error
	}{
		{
			name:    "no package comment",
			comment: "",
			want:    []string{"no package comment", "It must depend on LIST alone."},
		},
		{
			name:    "prose as the last paragraph",
			comment: "Package x does things.\n\nThe package depends on the standard library only.",
			want:    []string{`"The package depends on the standard library only." is not a rule sentence`, "a rule sentence is one of", "Only LIST may import it."},
		},
		{
			name:    "a malformed sentence beside a good one",
			comment: "It must depend on the standard library alone. It must never depend on internal/probe.",
			want:    []string{`"It must never depend on internal/probe." is not a rule sentence`},
		},
		{
			name:    "no full stop",
			comment: "It must depend on the standard library alone",
			want:    []string{`ends in "It must depend on the standard library alone", without a full stop`},
		},
		{
			name:    "a list with and before a comma",
			comment: "It must not depend on internal/probe and internal/dial, internal/resolve.",
			want:    []string{`"internal/probe and internal/dial" is not an import path`, "separated by commas"},
		},
		{
			name:    "an empty item",
			comment: "It must not depend on internal/probe, , internal/dial.",
			want:    []string{"empty item"},
		},
		{
			name:    "words where a path belongs",
			comment: "It must not depend on the probing packages.",
			want:    []string{`"the probing packages" is not an import path`},
		},
		{
			name:    "dots inside a path",
			comment: "It must not depend on internal/.../probe.",
			want:    []string{`"internal/.../probe" is not an import path`, "only end a pattern"},
		},
		{
			name:    "a character no import path has",
			comment: "It must not depend on internal/probe;dial.",
			want:    []string{`"internal/probe;dial" is not an import path`, `';'`},
		},
		{
			name:    "the standard library forbidden",
			comment: "It must not depend on the standard library.",
			want:    []string{`"the standard library" can only be allowed`},
		},
		{
			name:    "only who may import it, not what it may depend on",
			comment: "Only cmd/dsprobe may import it.",
			want:    []string{"does not say what the package may depend on"},
		},
		{
			name:    "test support alone",
			comment: "It is test support: only tests and other test support may import it.",
			want:    []string{"does not say what the package may depend on"},
		},
		{
			name:    "any package contradicted",
			comment: "It may depend on any package but test support. It must not depend on internal/probe.",
			want:    []string{"contradicts"},
		},
		{
			name:    "test support and an importer list",
			comment: "It is test support: only tests and other test support may import it. Only internal/cli may import it. It must depend on the standard library alone.",
			want:    []string{"both say who may import the package"},
		},
		{
			name:    "two sentences of one kind",
			comment: "It must not depend on internal/probe. It must not depend on internal/dial.",
			want:    []string{"say the same kind of thing twice"},
		},
		{
			name:    "a fixed sentence twice",
			comment: "It may depend on any package but test support. It may depend on any package but test support.",
			want:    []string{"written twice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRule(tt.comment)
			if err == nil {
				t.Fatalf("got rule %+v and no error, want an error saying %q", describe(got), tt.want)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %q, want it to say %q", err, want)
				}
			}
		})
	}
}

func TestPatternMatch(t *testing.T) {
	const module = "example.com/m"
	tests := []struct {
		pattern Pattern
		pkg     string
		want    bool
	}{
		{"internal/probe", "example.com/m/internal/probe", true},
		{"internal/probe", "example.com/m/internal/prober", false},
		{"internal/probe", "example.com/m/internal/probe/sub", false},
		{"internal/probe/...", "example.com/m/internal/probe", true},
		{"internal/probe/...", "example.com/m/internal/probe/sub", true},
		{"internal/probe/...", "example.com/m/internal/prober", false},
		{"cmd/dsprobe", "example.com/m/cmd/dsprobe", true},
		{"gen/...", "example.com/m/gen/dsprobe/v1", true},
		// The standard library's own internal packages are not the module's.
		{"internal/probe", "internal/probe", false},
		{"crypto/tls", "crypto/tls", true},
		{"net", "net/netip", false},
		{"net/...", "net/netip", true},
		{"github.com/miekg/dns", "github.com/miekg/dns", true},
		{"k8s.io/client-go/...", "k8s.io/client-go/kubernetes", true},
		{"k8s.io/client-go/...", "k8s.io/client-gopher", false},
	}
	for _, tt := range tests {
		if got := tt.pattern.Match(tt.pkg, module); got != tt.want {
			t.Errorf("Pattern(%q).Match(%q): got %v, want %v", tt.pattern, tt.pkg, got, tt.want)
		}
	}
}

// describe prints a rule's clauses by value, for failure messages.
func describe(r Rule) map[string]any {
	d := map[string]any{"TestSupport": r.TestSupport, "AnyProduct": r.AnyProduct}
	for name, c := range map[string]*Clause{"DependOnly": r.DependOnly, "ImportOnly": r.ImportOnly, "DependNone": r.DependNone, "ImportersOnly": r.ImportersOnly} {
		if c != nil {
			d[name] = *c
		}
	}
	return d
}
