package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// origin is where a value came from, so that a message names it as the
// user wrote it: a field of a file (at is the file, path the field), a
// flag, or a place that holds the value whole (at alone: a --prober flag
// with its value, a line of an old-format probers file).
type origin struct {
	at, path, flag string
}

// under is the origin of the value at rest (".address", "[1]") inside
// the value o is the origin of.
func (o origin) under(rest string) origin {
	if o.path != "" {
		o.path += rest
	}
	return o
}

func (o origin) name() string {
	switch {
	case o.flag != "":
		return "--" + o.flag
	case o.path != "":
		return o.path
	default:
		return o.at
	}
}

// validator collects every problem of a configuration, each named by
// where its value came from.
type validator struct {
	// configFile is the --config file; "" when there is none.
	configFile string
	// flagOf is the flag of each field path that has one.
	flagOf map[string]string
	// set holds the field paths that flags given on the command line
	// set.
	set map[string]bool
	// entries are the origins of values that came from neither the
	// --config file nor a field's flag: the probers of --prober and
	// --probers-file, by their path in the configuration ("probers[2]").
	entries map[string]origin
	// probersUnread says a --prober or --probers-file could not be read
	// (and was reported): an empty list of probers is no news then.
	probersUnread bool
	errs          []error
}

// origin is where the value at path came from: an entry read from
// elsewhere, else a flag given, else the --config file (which also names
// the defaults it leaves in place, for that is where to change them),
// else the field's flag.
func (v *validator) origin(path string) origin {
	for p := path; p != ""; p = parent(p) {
		if o, ok := v.entries[p]; ok {
			return o.under(path[len(p):])
		}
	}
	for p := path; p != ""; p = parent(p) {
		if v.set[p] {
			return origin{flag: v.flagOf[p]}
		}
	}
	if v.configFile != "" {
		return origin{at: v.configFile, path: path}
	}
	for p := path; p != ""; p = parent(p) {
		if f, ok := v.flagOf[p]; ok {
			return origin{flag: f}
		}
	}
	return origin{path: path}
}

// parent is the path of the value that holds the one at path:
// "probers[2]" for "probers[2].address", "probers" for "probers[2]", ""
// at the top.
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		return path[:strings.LastIndexByte(path, '[')]
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// name is how a message names the value at path.
func (v *validator) name(path string) string { return v.origin(path).name() }

// fieldf reports a problem of the value at path, the message beginning
// with its name: "prober.yaml: admission.maxConcurrent: must be positive,
// got 0" for a file's field, "--max-concurrent must be positive, got 0"
// for a flag's.
func (v *validator) fieldf(path, format string, args ...any) {
	o, msg := v.origin(path), fmt.Sprintf(format, args...)
	switch {
	case o.flag != "":
		msg = "--" + o.flag + " " + msg
	case o.at != "" && o.path != "":
		msg = o.at + ": " + o.path + ": " + msg
	case o.at != "":
		msg = o.at + ": " + msg
	default:
		msg = o.path + ": " + msg
	}
	v.errs = append(v.errs, errors.New(msg))
}

// errorf reports a problem of the value at path as a sentence that names
// the values it is about itself (with name), after the file the value
// came from, if any.
func (v *validator) errorf(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if o := v.origin(path); o.at != "" {
		msg = o.at + ": " + msg
	}
	v.errs = append(v.errs, errors.New(msg))
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func validateProber(c *Prober, v *validator) {
	v.server(c.Server)
	v.tokenReview(c.TokenReview)
	if c.TokenReview.Enabled && len(c.TokenReview.AllowedUsers) == 0 {
		// Any ServiceAccount can mint a token for any audience: the
		// audience alone does not say the caller is the coordinator.
		v.errorf("tokenReview.allowedUsers", "%s without %s would let every ServiceAccount of the cluster trigger probes: name the coordinator's (system:serviceaccount:NAMESPACE:NAME)",
			v.name("tokenReview.enabled"), v.name("tokenReview.allowedUsers"))
	}
	if len(c.Allow.CIDRs) == 0 {
		v.errorf("allow.cidrs", "no %s: the prober would refuse every target (give the cluster's Pod and Service CIDRs)", v.name("allow.cidrs"))
	}
	for i, s := range c.Allow.CIDRs {
		_, err := allowlist.Parse([]string{s}, nil, nil)
		v.check(index("allow.cidrs", i), err)
	}
	for i, s := range c.Allow.Names {
		_, err := allowlist.Parse(nil, []string{s}, nil)
		v.check(index("allow.names", i), err)
	}
	for i, s := range c.Allow.Ports {
		_, err := allowlist.Parse(nil, nil, []string{string(s)})
		v.check(index("allow.ports", i), err)
	}
	v.admission(c.Admission)
	if c.JobTimeout <= 0 {
		v.fieldf("jobTimeout", "must be positive, got %v", c.JobTimeout)
	}
	v.otlp(c.OTLP)
}

func validateCoordinator(c *Coordinator, v *validator) {
	v.server(c.Server)
	v.tokenReview(c.TokenReview)
	if t := c.ProberAuth.TLS; (t.Cert == "") != (t.Key == "") {
		v.tlsPairMissing("proberAuth.tls")
	}
	v.discovery(c.Discovery.Kubernetes, len(c.Probers) > 0)
	v.ladders(c.Ladders, c.Discovery.Kubernetes.Enabled())
	if len(c.Probers) == 0 && !v.probersUnread && !c.Discovery.Kubernetes.Enabled() {
		if v.configFile == "" {
			v.errs = append(v.errs, errors.New("no prober: give --prober NAME/NAMESPACE=HOST:PORT or --probers-file, or discover them with --discover-label-selector"))
		} else {
			v.errorf("probers", "no prober: list them under %s, or give --prober or --probers-file, or discover them with %s",
				v.name("probers"), v.name("discovery.kubernetes.labelSelector"))
		}
	}
	plaintext := !c.ProberAuth.TLS.Files().Enabled() && !c.ProberAuth.Insecure
	seen := map[string]bool{}
	for i, p := range c.Probers {
		at := index("probers", i)
		if p.Name == "" {
			v.fieldf(at+".name", "must not be empty")
		} else if seen[p.Name] {
			v.fieldf(at+".name", "prober %q is listed twice", p.Name)
		}
		seen[p.Name] = true
		if p.Namespace == "" {
			v.fieldf(at+".namespace", "must not be empty")
		}
		if err := checkProberAddress(p.Address); err != nil {
			v.fieldf(at+".address", "%v", err)
		} else if plaintext && authn.CheckPlaintext(p.Address, false) != nil {
			v.fieldf(at+".address", "refusing plaintext to %s off loopback: configure TLS to probers (%s, %s and %s) or use %s",
				p.Address, v.name("proberAuth.tls.cert"), v.name("proberAuth.tls.key"), v.name("proberAuth.tls.ca"), v.name("proberAuth.insecure"))
		}
	}
	if c.Concurrency < 1 {
		v.fieldf("concurrency", "must be positive, got %d", c.Concurrency)
	}
	if c.ProberTimeout <= 0 {
		v.fieldf("proberTimeout", "must be positive, got %v", c.ProberTimeout)
	}
	if c.KeepJobs < 1 {
		v.fieldf("keepJobs", "must be positive, got %d", c.KeepJobs)
	}
	v.admission(c.Admission)
	v.otlp(c.OTLP)
}

func (v *validator) tokenReview(tr TokenReview) {
	for i, u := range tr.AllowedUsers {
		if name := strings.TrimSpace(u); name == "" || name != u {
			v.fieldf(index("tokenReview.allowedUsers", i), "%q: want a Kubernetes user name, e.g. system:serviceaccount:NAMESPACE:NAME", u)
		}
	}
	if len(tr.AllowedUsers) > 0 && !tr.Enabled {
		v.errorf("tokenReview.allowedUsers", "%s has no effect without %s", v.name("tokenReview.allowedUsers"), v.name("tokenReview.enabled"))
	}
}

// ladders checks the ladders' settings; discovering says the probers are
// discovered in a cluster, whose API server holds the ladders.
func (v *validator) ladders(l Ladders, discovering bool) {
	if !l.Enabled {
		return
	}
	if !discovering {
		v.errorf("ladders.enabled", "%s needs %s: the ladders are resources of the cluster whose probers are discovered",
			v.name("ladders.enabled"), v.name("discovery.kubernetes.labelSelector"))
	}
	if l.LeaseNamespace != "" {
		for _, problem := range validation.IsDNS1123Label(l.LeaseNamespace) {
			v.fieldf("ladders.leaseNamespace", "namespace %q: %s", l.LeaseNamespace, problem)
		}
	}
	if l.LeaseName == "" {
		v.fieldf("ladders.leaseName", "must not be empty with %s", v.name("ladders.enabled"))
	} else {
		for _, problem := range validation.IsDNS1123Subdomain(l.LeaseName) {
			v.fieldf("ladders.leaseName", "name %q: %s", l.LeaseName, problem)
		}
	}
}

// discovery checks the Kubernetes discovery's settings; withProbers says
// the probers are listed too, which it excludes.
func (v *validator) discovery(k KubernetesDiscovery, withProbers bool) {
	const at = "discovery.kubernetes."
	if !k.Enabled() {
		if len(k.Namespaces) > 0 || k.NamespaceSelector != "" {
			v.fieldf(at+"labelSelector", "must select the prober Pods when namespaces are given")
		}
		return
	}
	if withProbers {
		v.errorf(at+"labelSelector", "%s and a list of probers exclude each other: the list is for running without a cluster", v.name(at+"labelSelector"))
	}
	v.check(at+"labelSelector", checkSelector(k.LabelSelector))
	if k.NamespaceSelector != "" {
		v.check(at+"namespaceSelector", checkSelector(k.NamespaceSelector))
		if len(k.Namespaces) > 0 {
			v.errorf(at+"namespaceSelector", "%s and %s exclude each other", v.name(at+"namespaceSelector"), v.name(at+"namespaces"))
		}
	}
	for i, ns := range k.Namespaces {
		for _, problem := range validation.IsDNS1123Label(ns) {
			v.fieldf(index(at+"namespaces", i), "namespace %q: %s", ns, problem)
		}
		if slices.Contains(k.Namespaces[:i], ns) {
			v.fieldf(index(at+"namespaces", i), "namespace %q is listed twice", ns)
		}
	}
	for _, problem := range validation.IsValidPortName(k.Port) {
		v.fieldf(at+"port", "port name %q: %s", k.Port, problem)
	}
}

// checkSelector parses a Kubernetes label selector as the API server
// would, so a typo is reported with the rest of the configuration.
func checkSelector(s string) error {
	if _, err := labels.Parse(s); err != nil {
		return fmt.Errorf("selector %q: %w", s, err)
	}
	return nil
}

// check reports err, a problem of the value at path that names the value
// itself, after the value's name.
func (v *validator) check(path string, err error) {
	if err != nil {
		v.errorf(path, "%s: %v", v.name(path), err)
	}
}

func (v *validator) server(s Server) {
	tls := s.TLS.Files().Enabled()
	if tls && (s.TLS.Cert == "" || s.TLS.Key == "") {
		v.tlsPairMissing("server.tls")
	}
	listeners := []struct {
		path, addr string
		// plaintext needs loopback or Insecure: metrics carry no address
		// and no error text, and are served in plaintext always.
		authenticated bool
	}{
		{"server.listen", s.Listen, true},
		{"server.httpListen", s.HTTPListen, true},
		{"server.metricsListen", s.MetricsListen, false},
	}
	for _, l := range listeners {
		if l.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			v.check(l.path, err)
		} else if l.authenticated && !tls && !s.Insecure && authn.CheckPlaintext(l.addr, false) != nil {
			v.errorf(l.path, "%s: refusing plaintext on %s off loopback: configure TLS (%s, %s and %s) or use %s to accept unauthenticated plaintext explicitly",
				v.name(l.path), l.addr, v.name("server.tls.cert"), v.name("server.tls.key"), v.name("server.tls.ca"), v.name("server.insecure"))
		}
	}
}

// tlsPairMissing reports the certificate and key of path ("server.tls")
// given apart.
func (v *validator) tlsPairMissing(path string) {
	v.errorf(path+".cert", "%s and %s go together", v.name(path+".cert"), v.name(path+".key"))
}

func (v *validator) admission(a Admission) {
	if a.MaxConcurrent < 1 {
		v.fieldf("admission.maxConcurrent", "must be positive, got %d", a.MaxConcurrent)
	}
	if a.MaxWaiting < 0 {
		v.fieldf("admission.maxWaiting", "must not be negative, got %d", a.MaxWaiting)
	}
	if !(a.Rate >= 0) || math.IsInf(a.Rate, 1) {
		v.fieldf("admission.rate", "must be a number not below 0, got %v", a.Rate)
	}
	if a.Burst < 0 {
		v.fieldf("admission.burst", "must not be negative, got %d", a.Burst)
	}
}

func (v *validator) otlp(o OTLP) {
	if o.Endpoint == "" {
		return
	}
	if err := telemetry.CheckEndpoint(o.Endpoint); err != nil {
		v.fieldf("otlp.endpoint", "%q: %v", o.Endpoint, err)
	}
}

// checkProberAddress accepts HOST:PORT with a port number.
func checkProberAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("address %s: want a port number from 1 to 65535", addr)
	}
	return nil
}
