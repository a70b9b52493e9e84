package ladder

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"

	"github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/target"
)

// dnsLabel is what a rung's name must be (RFC 1123 label): it becomes a
// JUnit test case's name and, later, a metric label.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// dnsSubdomain is what a ServiceAccount's name must be (RFC 1123
// subdomain).
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// Validate reports every problem of the ladder at once, each named by its
// field ("spec.rungs[1].vantage: ..."). The CRD's schema checks the shape
// of a ladder in a cluster; Validate checks everything, and is what a
// ladder file and the coordinator go by.
func (l *DNSLadder) Validate() error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if l.APIVersion != APIVersion {
		fail("apiVersion", "want %s, got %q", APIVersion, l.APIVersion)
	}
	if l.Kind != Kind {
		fail("kind", "want %s, got %q", Kind, l.Kind)
	}
	if l.Metadata.Name == "" {
		fail("metadata.name", "missing")
	}
	s := &l.Spec
	if _, err := target.Parse(s.Target.Address); err != nil {
		fail("spec.target.address", "%v", err)
	}
	for i, server := range s.Target.DNSServers {
		if !validServer(server) {
			fail(fmt.Sprintf("spec.target.dnsServers[%d]", i), "want an IP address with an optional port (192.0.2.53, [2001:db8::53]:5353), got %q", server)
		}
	}
	if t := time.Duration(s.Target.Timeout); t != 0 && (t < time.Millisecond || t > MaxTimeout) {
		fail("spec.target.timeout", "must be from 1ms to %s (or left out for 30s), got %s", MaxTimeout, t)
	}
	if sa := s.ServiceAccountName; sa != "" && !dnsSubdomain.MatchString(sa) {
		fail("spec.serviceAccountName", "want a ServiceAccount's name, got %q", sa)
	}
	if every := time.Duration(s.Schedule.Every); every != 0 && every < MinInterval {
		fail("spec.schedule.every", "must be at least %s (or left out for %s), got %s", MinInterval, DefaultInterval, every)
	}
	var profiles []string
	for i, c := range s.Clients {
		field := fmt.Sprintf("spec.clients[%d]", i)
		if _, err := happyeyeballs.LookupProfile(c.Profile); err != nil {
			fail(field+".profile", "%v", err)
		}
		if slices.Contains(profiles, c.Profile) {
			fail(field+".profile", "%q is listed twice", c.Profile)
		}
		profiles = append(profiles, c.Profile)
		if c.MaxTimeToConnect < 0 {
			fail(field+".maxTimeToConnect", "must not be negative, got %s", c.MaxTimeToConnect)
		}
		if c.MaxFallbackDelay < 0 {
			fail(field+".maxFallbackDelay", "must not be negative, got %s", c.MaxFallbackDelay)
		}
	}
	if len(s.Rungs) == 0 {
		fail("spec.rungs", "want at least one rung")
	}
	var names []string
	withheldBelow := "" // the lowest rung without AAAA, once there is one
	for i, r := range s.Rungs {
		field := fmt.Sprintf("spec.rungs[%d]", i)
		if !dnsLabel.MatchString(r.Name) {
			fail(field+".name", "want a DNS label (lower-case letters, digits and '-', at most 63), got %q", r.Name)
		}
		if slices.Contains(names, r.Name) {
			fail(field+".name", "%q names two rungs", r.Name)
		}
		names = append(names, r.Name)
		if len(r.Vantage.Namespaces) == 0 && len(r.Vantage.Probers) == 0 {
			fail(field+".vantage", "want namespaces or probers: a rung without vantage points would probe from every prober")
		}
		for j, ns := range r.Vantage.Namespaces {
			if !dnsLabel.MatchString(ns) {
				fail(fmt.Sprintf("%s.vantage.namespaces[%d]", field, j), "want a namespace name, got %q", ns)
			}
		}
		for j, p := range r.Vantage.Probers {
			if p == "" {
				fail(fmt.Sprintf("%s.vantage.probers[%d]", field, j), "empty: want NAME or NAMESPACE/NAME")
			}
		}
		switch {
		case !r.AAAAExpected && withheldBelow == "":
			withheldBelow = r.Name
		case r.AAAAExpected && withheldBelow != "":
			fail(field+".aaaaExpected", "rung %q expects AAAA but rung %q below it does not: publication widens from the lowest rung up", r.Name, withheldBelow)
		}
		for j, c := range r.Gates.Clients {
			if !slices.Contains(profiles, c) {
				fail(fmt.Sprintf("%s.gates.clients[%d]", field, j), "%q is not one of spec.clients (%q)", c, profiles)
			}
		}
		if r.Gates.ConsecutivePasses < 0 {
			fail(field+".gates.consecutivePasses", "must not be negative, got %d", r.Gates.ConsecutivePasses)
		}
	}
	return errors.Join(errs...)
}

// validServer accepts what a probe's dns_servers accepts: an IP address,
// with an optional port ([v6]:port for IPv6).
func validServer(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParseAddrPort(s)
	return err == nil
}

// Interval is the ladder's schedule with its default.
func (s Schedule) Interval() time.Duration {
	if s.Every == 0 {
		return DefaultInterval
	}
	return time.Duration(s.Every)
}

// NextRun is when a ladder whose last run started at last runs next,
// seen at now: one interval after last, or now when that has passed
// (a coordinator that was down runs once on its return, not once per
// missed interval) or when the ladder never ran.
func (s Schedule) NextRun(last, now time.Time) time.Time {
	if last.IsZero() {
		return now
	}
	next := last.Add(s.Interval())
	if next.Before(now) {
		return now
	}
	return next
}

// client is the spec's client of the profile given, with its defaults (a
// profile the spec does not list, which Validate refuses, gets them all).
func (s *Spec) client(profile string) Client {
	c := Client{Profile: profile}
	if i := slices.IndexFunc(s.Clients, func(c Client) bool { return c.Profile == profile }); i >= 0 {
		c = s.Clients[i]
	}
	if c.MaxTimeToConnect == 0 {
		c.MaxTimeToConnect = Duration(DefaultMaxTimeToConnect)
	}
	return c
}
