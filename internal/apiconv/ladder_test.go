package apiconv

import (
	"reflect"
	"testing"
	"time"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/ladder"
)

func TestLadderJob(t *testing.T) {
	spec := &ladder.Spec{Target: ladder.Target{Address: "http://web.example:8080/", DNSServers: []string{"10.96.0.10"}, Timeout: ladder.Duration(12 * time.Second)}}
	rung := ladder.Rung{Name: "internal", Vantage: ladder.Vantage{Namespaces: []string{"team-a"}, Probers: []string{"team-a/p0"}}}
	got := LadderJob(spec, rung)
	if p := got.GetProbe(); p.GetTarget() != "http://web.example:8080/" || p.GetTimeoutMs() != 12000 || !reflect.DeepEqual(p.GetDnsServers(), []string{"10.96.0.10"}) {
		t.Errorf("got probe %v, want the target, its DNS server and 12000 ms", p)
	}
	if !reflect.DeepEqual(got.GetNamespaces(), []string{"team-a"}) || !reflect.DeepEqual(got.GetProbers(), []string{"team-a/p0"}) {
		t.Errorf("got namespaces %q probers %q, want the rung's vantage", got.GetNamespaces(), got.GetProbers())
	}
}

func TestLadderRun(t *testing.T) {
	results := []*dsprobev1.ProberResult{
		{Prober: "p0", Namespace: "team-a", Outcome: &dsprobev1.ProberResult_Result{Result: &dsprobev1.ProbeResult{
			Dns: &dsprobev1.DnsAnswers{
				A:    &dsprobev1.DnsAnswer{Status: dsprobev1.DnsStatus_DNS_STATUS_POSITIVE, Rcode: "NOERROR", Addresses: []string{"10.0.0.8"}, Server: "10.96.0.10:53"},
				Aaaa: &dsprobev1.DnsAnswer{Status: dsprobev1.DnsStatus_DNS_STATUS_NODATA, Rcode: "NOERROR", Server: "10.96.0.10:53"},
			},
			Attempts: []*dsprobev1.Attempt{
				{Address: "10.0.0.8:8080", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED},
				{Address: "10.0.0.9:8080", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_NOT_ATTEMPTED},
			},
			HappyEyeballs: &dsprobev1.ClientPrediction{Family: dsprobev1.Family_FAMILY_IPV4},
			Families: []*dsprobev1.FamilyVerdict{
				{Family: dsprobev1.Family_FAMILY_IPV4, Ok: true, FailingLayer: dsprobev1.Layer_LAYER_NONE},
				{Family: dsprobev1.Family_FAMILY_IPV6, FailingLayer: dsprobev1.Layer_LAYER_DNS, Detail: "NODATA"},
			},
			Clients: []*dsprobev1.ClientPrediction{
				{Profile: "node", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED, TimeToConnectMs: 1.5, FailingLayer: dsprobev1.Layer_LAYER_NONE},
				{Profile: "curl", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED},
			},
		}}},
		{Prober: "p1", Namespace: "team-a", Outcome: &dsprobev1.ProberResult_Error{Error: &dsprobev1.ProberError{Code: "UNAVAILABLE", Message: "connection refused"}}},
	}
	got := LadderRun("job-1", "trace-1", results, ladder.Rung{Gates: ladder.Gates{Clients: []string{"node"}}})
	want := ladder.RungRun{JobID: "job-1", TraceID: "trace-1", Vantages: []ladder.VantageRun{
		{
			Prober: "p0", Namespace: "team-a",
			A:            ladder.DNSAnswer{Status: "DNS_STATUS_POSITIVE", Rcode: "NOERROR", Addresses: []string{"10.0.0.8"}, Server: "10.96.0.10:53"},
			AAAA:         ladder.DNSAnswer{Status: "DNS_STATUS_NODATA", Rcode: "NOERROR", Server: "10.96.0.10:53"},
			Attempted:    []string{"10.0.0.8:8080"},
			ChosenFamily: "FAMILY_IPV4",
			Families: []ladder.FamilyVerdict{
				{Family: "FAMILY_IPV4", OK: true, FailingLayer: "LAYER_NONE"},
				{Family: "FAMILY_IPV6", FailingLayer: "LAYER_DNS", Detail: "NODATA"},
			},
			Clients: []ladder.ClientRun{{Profile: "node", Family: "FAMILY_IPV4", Outcome: "OUTCOME_CONNECTED", TimeToConnectMs: 1.5, FailingLayer: "LAYER_NONE"}},
		},
		{Prober: "p1", Namespace: "team-a", Error: "UNAVAILABLE: connection refused"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n\t%+v\nwant\n\t%+v", got, want)
	}
}
