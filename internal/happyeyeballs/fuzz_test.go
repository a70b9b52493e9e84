package happyeyeballs

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// A profile spec either is refused or yields a strategy that validates and
// simulates to an end over a path where every IPv6 address times out:
// no override can make the simulator panic or run forever.
func FuzzParseProfile(f *testing.F) {
	for _, s := range []string{
		"go", "node,attempt-delay=500ms", "python,attempt-timeout=1s", "curl,attempt-delay=0s",
		"chrome,resolution-delay=-1s", "java,attempt-timeout=1000000h", "rfc8305,,", "envoy,x", "wget,=1",
	} {
		f.Add(s)
	}
	blackholed := Scenario{Paths: []Path{
		{Address: netip.MustParseAddr("2001:db8::1"), Outcome: dualstack.OutcomeTimeout},
		{Address: netip.MustParseAddr("2001:db8::2"), Outcome: dualstack.OutcomeTimeout},
		{Address: netip.MustParseAddr("192.0.2.1"), Outcome: dualstack.OutcomeConnected, After: 2 * time.Millisecond},
	}}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := ParseProfile(spec)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("ParseProfile(%q): an empty error", spec)
			}
			return
		}
		if err := p.Strategy.Validate(); err != nil {
			t.Fatalf("ParseProfile(%q) accepted a strategy that does not validate: %v", spec, err)
		}
		if _, err := Simulate(p.Strategy, blackholed); err != nil {
			t.Errorf("Simulate with %q: %v", spec, err)
		}
	})
}

// A gai.conf of any content is refused with an error or gives a policy that
// sorts addresses; never a panic.
func FuzzParseGaiConf(f *testing.F) {
	for _, s := range []string{
		"precedence ::ffff:0:0/96 100\n", "label 2002::/16 6\nreload yes\n", "scopev4 ::ffff:169.254.0.0/112 2\n",
		"precedence ::1/128 50\nprecedence ::/0 40\n", "precedence 10.0.0.0/8 1\n", "label ::/129 1\n", "#x\n\n",
	} {
		f.Add(s)
	}
	addrs := []netip.Addr{netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseGaiConf(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, a := range addrs {
			p.Precedence(a)
			p.Label(a)
		}
		p.Rows()
	})
}

// A rule set either parses to one that prints and parses back the same, or
// is refused.
func FuzzParseRuleSet(f *testing.F) {
	for _, s := range []string{"all", "1,2,5,6,8,9,10", "", "0", "11", "1,,2", "10,1", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseRuleSet(s)
		if err != nil {
			return
		}
		again, err := ParseRuleSet(rs.String())
		if err != nil || again != rs {
			t.Errorf("ParseRuleSet(%q) = %v, whose String %q parses to %v (%v)", s, rs, rs.String(), again, err)
		}
	})
}
