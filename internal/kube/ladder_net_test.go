package kube_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/ladder"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
)

// stoppedClock is a clock the test sets; the scheduler never waits on it
// here (RunDue alone is called).
type stoppedClock struct{ now time.Time }

func (c *stoppedClock) Now() time.Time                       { return c.now }
func (c *stoppedClock) After(time.Duration) <-chan time.Time { return nil }

// The scheduler over a real API server: it finds the DNSLadders of every
// namespace, writes each climb through the status subresource, and a new
// scheduler (a restarted coordinator) carries on from the status it reads
// back — the soak continues and the schedule holds. A status written whole
// drops what the new one leaves out (the rung no longer cleared).
func TestDNSLadderStoreInCluster(t *testing.T) {
	c := kubelab.Start(t)
	crd, err := os.ReadFile("../../deploy/base/dnsladder-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(t, crd, kubelab.ApplyOptions{})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.Client.Discovery().ServerResourcesForGroupVersion(ladder.APIVersion); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dnsladders.dsprobe.io is not served after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, ns := range []string{"shop", "team"} {
		c.AddNamespace(t, ns, nil)
	}
	c.Apply(t, []byte(`apiVersion: dsprobe.io/v1alpha1
kind: DNSLadder
metadata: {name: web, namespace: shop}
spec:
  target: {address: "web.shop.example:80"}
  schedule: {every: 1m}
  rungs:
    - {name: internal, vantage: {namespaces: [team-a]}, aaaaExpected: true, gates: {consecutivePasses: 2}}
---
apiVersion: dsprobe.io/v1alpha1
kind: DNSLadder
metadata: {name: api, namespace: team}
spec:
  target: {address: "api.team.example:443"}
  rungs:
    - {name: internal, vantage: {namespaces: [team-a]}, aaaaExpected: true}
`), kubelab.ApplyOptions{})

	ipv6OK := true
	run := func(context.Context, ladder.Rung) (ladder.RungRun, error) {
		ipv6 := ladder.FamilyVerdict{Family: "FAMILY_IPV6", OK: true, FailingLayer: "LAYER_NONE"}
		if !ipv6OK {
			ipv6 = ladder.FamilyVerdict{Family: "FAMILY_IPV6", FailingLayer: "LAYER_LISTENER", Detail: "refused"}
		}
		return ladder.RungRun{JobID: "job", Vantages: []ladder.VantageRun{{
			Prober: "p", Namespace: "team-a",
			A:        ladder.DNSAnswer{Status: "DNS_STATUS_POSITIVE", Addresses: []string{"192.0.2.1"}},
			AAAA:     ladder.DNSAnswer{Status: "DNS_STATUS_POSITIVE", Addresses: []string{"2001:db8::1"}},
			Families: []ladder.FamilyVerdict{{Family: "FAMILY_IPV4", OK: true, FailingLayer: "LAYER_NONE"}, ipv6},
		}}}, nil
	}
	clock := &stoppedClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	scheduler := func(t *testing.T) *ladder.Scheduler {
		store, err := kube.NewDNSLadderStore(c.RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		return &ladder.Scheduler{Store: store, RunRung: ladder.EveryLadder(run), Clock: clock, Resync: time.Hour,
			OnError: func(err error) { t.Errorf("the scheduler reports: %v", err) }}
	}
	read := func(t *testing.T, namespace, name string) *ladder.Status {
		t.Helper()
		store, err := kube.NewDNSLadderStore(c.RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		all, err := store.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range all {
			if l.Metadata.Namespace == namespace && l.Metadata.Name == name {
				return l.Status
			}
		}
		t.Fatalf("no DNSLadder %s/%s", namespace, name)
		return nil
	}

	if wait := scheduler(t).RunDue(t.Context()); wait != time.Minute {
		t.Errorf("got wait %s, want 1m (web's schedule)", wait)
	}
	if st := read(t, "team", "api"); st == nil || st.State != ladder.LadderPassing || st.HighestRungCleared != "internal" {
		t.Errorf("team/api: got %+v, want Passing with internal cleared", st)
	}
	if st := read(t, "shop", "web"); st == nil || st.State != ladder.LadderSoaking || st.Rungs[0].ConsecutivePasses != 1 {
		t.Errorf("shop/web: got %+v, want Soaking after 1 of 2 passes", st)
	}

	// A restarted scheduler: nothing is due 30 s later; at a minute web
	// passes again and is cleared.
	clock.now = clock.now.Add(30 * time.Second)
	if wait := scheduler(t).RunDue(t.Context()); wait != 30*time.Second {
		t.Errorf("after a restart: got wait %s, want 30s", wait)
	}
	clock.now = clock.now.Add(30 * time.Second)
	scheduler(t).RunDue(t.Context())
	if st := read(t, "shop", "web"); st.State != ladder.LadderPassing || st.HighestRungCleared != "internal" || len(st.Rungs[0].LastRuns) != 2 {
		t.Errorf("shop/web: got %+v, want Passing, internal cleared, 2 runs kept", st)
	}

	ipv6OK = false
	clock.now = clock.now.Add(time.Minute)
	scheduler(t).RunDue(t.Context())
	if st := read(t, "shop", "web"); st.State != ladder.LadderFailing || st.HighestRungCleared != "" || st.Rungs[0].FailingLayer != "LAYER_LISTENER" {
		t.Errorf("shop/web: got state %s, highest cleared %q, layer %q, want Failing, none, LAYER_LISTENER", st.State, st.HighestRungCleared, st.Rungs[0].FailingLayer)
	}
}
