package config

import (
	"flag"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// A flagSpec binds a command-line flag to a field of a configuration,
// named by its path in files ("admission.maxConcurrent"). The flag's
// default is the field's default.
type flagSpec struct {
	flag, field, usage string
}

// serverFlags are a Server's flags; routes are the REST routes
// --http-listen serves, for its help.
func serverFlags(routes string) []flagSpec {
	return []flagSpec{
		{"listen", "server.listen", "gRPC listen `address`"},
		{"http-listen", "server.httpListen", "serve the REST mapping (" + routes + ") on this `address`, with the same TLS and authentication (off when empty)"},
		{"metrics-listen", "server.metricsListen", "serve Prometheus /metrics on this `address` (off when empty)"},
		{"tls-cert", "server.tls.cert", "server certificate `file` (PEM)"},
		{"tls-key", "server.tls.key", "server private key `file` (PEM)"},
		{"tls-ca", "server.tls.ca", "CA `file` that signs client certificates; makes them mandatory (mTLS)"},
		{"token-file", "server.tokenFile", "`file` holding a bearer token callers may present instead of a certificate"},
		{"insecure", "server.insecure", "allow plaintext off loopback and unauthenticated callers (logs a warning)"},
	}
}

var admissionFlags = []flagSpec{
	{"max-concurrent", "admission.maxConcurrent", "jobs run at once"},
	{"max-waiting", "admission.maxWaiting", "jobs that may wait for a slot; more are refused with RESOURCE_EXHAUSTED"},
	{"rate", "admission.rate", "new jobs per second admitted on average (0 = no rate limit)"},
	{"burst", "admission.burst", "jobs admitted at once above the rate"},
}

var otlpFlags = []flagSpec{
	{"otlp-endpoint", "otlp.endpoint", "send traces here (host:port for OTLP/gRPC, http(s):// URL for OTLP/HTTP); default: OTEL_EXPORTER_OTLP_* variables"},
	{"otlp-insecure", "otlp.insecure", "send traces without TLS"},
}

var proberFlags = slices.Concat(serverFlags("POST /v1/probe"), []flagSpec{
	{"token-review", "tokenReview.enabled", "accept the coordinator's projected ServiceAccount token, checked with TokenReview"},
	{"token-audience", "tokenReview.audience", "`audience` a caller's token must be for"},
	{"token-allow-user", "tokenReview.allowedUsers", "a Kubernetes `user` let in, e.g. system:serviceaccount:dsprobe:coordinator (repeatable; required with --token-review)"},
	{"allow-cidr", "allow.cidrs", "`CIDR` targets and their resolved addresses may be in (repeatable; the cluster's Pod and Service CIDRs)"},
	{"allow-name", "allow.names", "host `name` a target may use: exact, *.suffix, or * for any (repeatable)"},
	{"allow-port", "allow.ports", "`PORT` or FROM-TO a target may use (repeatable; default every port)"},
	{"job-timeout", "jobTimeout", "budget of a job that sets none"},
	{"name", "name", "this prober's name in results (default $POD_NAME)"},
	{"namespace", "namespace", "this prober's namespace label (default $POD_NAMESPACE)"},
}, admissionFlags, otlpFlags)

// coordinatorFlags leave out the probers: --prober and --probers-file are
// not one field's value each (see CoordinatorFlags).
var coordinatorFlags = slices.Concat(serverFlags("POST /v1/jobs, GET /v1/probers, GET /v1/jobs/{id}"), []flagSpec{
	{"token-review", "tokenReview.enabled", "check callers' Kubernetes bearer tokens with TokenReview and authorise each job with a SubjectAccessReview per prober namespace"},
	{"token-audience", "tokenReview.audience", "`audience` a caller's token must be for (default: the API server's)"},
	{"token-allow-user", "tokenReview.allowedUsers", "the only Kubernetes `user` let in, e.g. system:serviceaccount:ci:deployer (repeatable; default every user)"},
	{"prober-tls-cert", "proberAuth.tls.cert", "client certificate `file` presented to probers (mTLS)"},
	{"prober-tls-key", "proberAuth.tls.key", "client private key `file` for probers"},
	{"prober-tls-ca", "proberAuth.tls.ca", "CA `file` that signs the certificates of probers (default: system roots)"},
	{"prober-tls-server-name", "proberAuth.serverName", "name to verify in the certificates of probers (default: each prober's host)"},
	{"prober-token-file", "proberAuth.tokenFile", "`file` holding a bearer token for probers"},
	{"prober-insecure", "proberAuth.insecure", "talk to probers in plaintext off loopback"},
	{"concurrency", "concurrency", "probers asked at once per job"},
	{"prober-timeout", "proberTimeout", "each prober's budget when a job sets none (raised to the probe's own timeout plus 15s when that is longer)"},
	{"keep-jobs", "keepJobs", "finished jobs kept for GetJob"},
	{"discover-label-selector", "discovery.kubernetes.labelSelector", "discover the probers as the Pods this Kubernetes label `selector` selects, instead of --prober"},
	{"discover-namespace", "discovery.kubernetes.namespaces", "search this `namespace` for prober Pods (repeatable; default every namespace)"},
	{"discover-namespace-selector", "discovery.kubernetes.namespaceSelector", "search the namespaces this label `selector` selects for prober Pods"},
	{"discover-port", "discovery.kubernetes.port", "`name` of the prober container's gRPC port"},
	{"kubeconfig", "discovery.kubernetes.kubeconfig", "kubeconfig `file` (default: $KUBECONFIG, ~/.kube/config, else in-cluster)"},
	{"kube-context", "discovery.kubernetes.context", "kubeconfig `context` (default: the current context)"},
	{"ladders", "ladders.enabled", "run the cluster's DNSLadders on their schedules, one replica at a time (needs --discover-label-selector)"},
	{"ladder-lease-namespace", "ladders.leaseNamespace", "`namespace` of the Lease that elects the replica running the ladders (default: the coordinator's own, in-cluster, else the kubeconfig context's)"},
	{"ladder-lease-name", "ladders.leaseName", "`name` of that Lease"},
}, admissionFlags, otlpFlags)

// commandLine is a daemon's flags bound to its configuration C, and the
// layering of the defaults, the --config file and the flags given.
type commandLine[C any] struct {
	fs   *flag.FlagSet
	kind string
	// defaults are the configuration before a file or a flag sets
	// anything; flagged starts as a copy and holds what the flags set.
	defaults, flagged C
	specs             []flagSpec
	configFile        string
}

func newCommandLine[C any](fs *flag.FlagSet, kind string, defaults C, specs []flagSpec) *commandLine[C] {
	cl := &commandLine[C]{fs: fs, kind: kind, defaults: defaults, flagged: defaults, specs: specs}
	fs.StringVar(&cl.configFile, "config", "", "read the configuration from this YAML `file` (kind "+kind+", see docs/configuration.md); flags given override it")
	for _, s := range specs {
		bind(fs, s, field(&cl.flagged, s.field).Addr().Interface())
	}
	return cl
}

// resolve is the configuration once fs has parsed the command line: the
// defaults, overridden by the --config file, overridden by the flags
// given. Its validator names each field where its value came from.
func (cl *commandLine[C]) resolve() (C, *validator, error) {
	v := &validator{configFile: cl.configFile, flagOf: map[string]string{}, set: map[string]bool{}, entries: map[string]origin{}}
	fieldOf := map[string]string{}
	for _, s := range cl.specs {
		v.flagOf[s.field], fieldOf[s.flag] = s.flag, s.field
	}
	cl.fs.Visit(func(f *flag.Flag) {
		if path, ok := fieldOf[f.Name]; ok {
			v.set[path] = true
		}
	})
	if cl.configFile == "" {
		return cl.flagged, v, nil
	}
	cfg := cl.defaults
	if err := readFile(cl.configFile, cl.kind, &cfg); err != nil {
		return cfg, nil, err
	}
	for path := range v.set {
		field(&cfg, path).Set(field(&cl.flagged, path))
	}
	return cfg, v, nil
}

// field is the field at path ("admission.maxConcurrent") of the struct
// c points to. Paths come from this package's flag tables, which a test
// holds to the types, so a path that names no field is a defect here.
func field(c any, path string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for name := range strings.SplitSeq(path, ".") {
		f, ok := jsonFields(v.Type())[name]
		if !ok {
			panic(fmt.Sprintf("config: %s has no field %q", v.Type(), path))
		}
		v = v.FieldByIndex(f.Index)
	}
	return v
}

// bind registers s's flag, bound to the field p points to, whose value
// is the flag's default.
func bind(fs *flag.FlagSet, s flagSpec, p any) {
	switch p := p.(type) {
	case *string:
		fs.StringVar(p, s.flag, *p, s.usage)
	case *int:
		fs.IntVar(p, s.flag, *p, s.usage)
	case *float64:
		fs.Float64Var(p, s.flag, *p, s.usage)
	case *bool:
		fs.BoolVar(p, s.flag, *p, s.usage)
	case *Duration:
		fs.DurationVar((*time.Duration)(p), s.flag, time.Duration(*p), s.usage)
	case *[]string:
		fs.Var(&listFlag[string]{list: p}, s.flag, s.usage)
	case *[]PortRange:
		fs.Var(&listFlag[PortRange]{list: p}, s.flag, s.usage)
	default:
		panic(fmt.Sprintf("config: no flag type for %s (%T)", s.field, p))
	}
}

// listFlag is a repeatable flag. Its first use on the command line
// replaces the list (a default or the file's), and each later use adds to
// it: flags given override the file as a whole.
type listFlag[T ~string] struct {
	list *[]T
	set  bool
}

func (l *listFlag[T]) String() string {
	if l == nil || l.list == nil {
		return ""
	}
	s := make([]string, len(*l.list))
	for i, v := range *l.list {
		s[i] = string(v)
	}
	return strings.Join(s, ",")
}

func (l *listFlag[T]) Set(v string) error {
	if !l.set {
		*l.list, l.set = nil, true
	}
	*l.list = append(*l.list, T(v))
	return nil
}
