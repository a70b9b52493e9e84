package apiconv

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/probe"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/target"
)

func TestProbeRequest(t *testing.T) {
	req, err := ProbeRequest(&dsprobev1.ProbeRequest{
		Target:           "https://svc.example/healthz",
		Families:         []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV6},
		Profiles:         []string{"go", "node,attempt-delay=500ms"},
		DnsServers:       []string{"[2001:db8::53]:5353"},
		AttemptTimeoutMs: 1500,
	}, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	// The port travels with the name; appcheck leaves HTTPS's 443 out of
	// the Host header.
	if req.Check.Kind != appcheck.HTTPS || req.Check.Path != "/healthz" || req.Check.Host != "svc.example:443" {
		t.Errorf("got check %+v, want https to /healthz for svc.example:443 (implied by the URL)", req.Check)
	}
	if len(req.Families) != 1 || req.Families[0] != dualstack.FamilyIPv6 {
		t.Errorf("got families %v, want [ipv6]", req.Families)
	}
	if req.Profile.Name != "go" || len(req.ExtraProfiles) != 1 || req.ExtraProfiles[0].AttemptDelay != 500*time.Millisecond {
		t.Errorf("got profile %q and extras %+v, want go plus node with 500ms", req.Profile.Name, req.ExtraProfiles)
	}
	if got := req.Resolver.Config.Servers; len(got) != 1 || got[0] != netip.MustParseAddrPort("[2001:db8::53]:5353") {
		t.Errorf("got DNS servers %v", got)
	}
	if req.AttemptTimeout != 1500*time.Millisecond {
		t.Errorf("got attempt timeout %v, want 1.5s", req.AttemptTimeout)
	}
}

func TestProbeRequestReportsEveryProblem(t *testing.T) {
	_, err := ProbeRequest(&dsprobev1.ProbeRequest{
		Target:     "svc.example",
		Families:   []dsprobev1.Family{dsprobev1.Family(7)},
		Check:      dsprobev1.Check(42),
		Profiles:   []string{"lynx"},
		DnsServers: []string{"dns.example"},
	}, Defaults{})
	var invalid *InvalidRequest
	if !errors.As(err, &invalid) {
		t.Fatalf("got %v, want *InvalidRequest", err)
	}
	for _, want := range []string{"want host:port", "family 7", "unknown check", `unknown profile "lynx"`, `"dns.example"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to mention %q", err, want)
		}
	}
}

func TestProbeRequestBrokenResolvConf(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("nameserver nope\n"), 0o644)
	_, err := ProbeRequest(&dsprobev1.ProbeRequest{Target: "svc.example:80"}, Defaults{ResolvConf: conf})
	if err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("got %v, want the resolv.conf line named", err)
	}
}

func TestProbeResultEnums(t *testing.T) {
	tgt, _ := target.Parse("http://svc.example/")
	r := &probe.Result{
		Target: tgt, Check: appcheck.HTTP, Started: time.Unix(0, 0),
		Families: []diagnose.Verdict{{Family: dualstack.FamilyIPv6, Layer: layer.Listener, Detail: "d"}},
		Listener: listener.Inference{Accepts: listener.IPv4Only, Reason: "r"},
		Attempts: []probe.Attempt{{Address: netip.MustParseAddrPort("[2001:db8::1]:80"), Family: dualstack.FamilyIPv6, Outcome: dualstack.OutcomeRefused, Duration: time.Millisecond}},
		HappyEyeballs: probe.Prediction{Profile: "rfc8305", Family: dualstack.FamilyIPv4, Outcome: dualstack.OutcomeConnected, FailingLayer: layer.None,
			FallbackDelay: 1500 * time.Microsecond},
	}
	r.DNS[dualstack.FamilyIPv6] = &resolve.Answer{Status: resolve.StatusNoData, Rcode: 0}
	p := ProbeResult(r)
	if p.Check != dsprobev1.Check_CHECK_HTTP || p.Listener.Accepts != dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_IPV4_ONLY {
		t.Errorf("got check %v listener %v, want CHECK_HTTP and LISTENER_ACCEPTS_IPV4_ONLY", p.Check, p.Listener.Accepts)
	}
	if f := p.Families[0]; f.Family != dsprobev1.Family_FAMILY_IPV6 || f.FailingLayer != dsprobev1.Layer_LAYER_LISTENER {
		t.Errorf("got %v %v, want FAMILY_IPV6 LAYER_LISTENER", f.Family, f.FailingLayer)
	}
	if a := p.Attempts[0]; a.Outcome != dsprobev1.Outcome_OUTCOME_REFUSED || a.DurationMs != 1 || a.AppOk != nil {
		t.Errorf("got attempt %v, want refused, 1 ms, no app result", a)
	}
	if p.Dns.Aaaa.Status != dsprobev1.DnsStatus_DNS_STATUS_NODATA || p.Dns.Aaaa.Rcode != "NOERROR" || p.Dns.A != nil {
		t.Errorf("got dns %v, want AAAA NODATA/NOERROR and no A", p.Dns)
	}
	if p.HappyEyeballs.FallbackDelayMs != 1.5 || p.HappyEyeballs.Family != dsprobev1.Family_FAMILY_IPV4 {
		t.Errorf("got race %v, want IPv4 with a 1.5 ms fallback delay", p.HappyEyeballs)
	}
}
