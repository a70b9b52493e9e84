package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/ladder"
)

// APIVersion is the version of every file's shape. A file names it, so a
// later shape can be told apart and converted rather than misread.
const APIVersion = "dsprobe.io/v1alpha1"

// The kinds of file, one per shape.
const (
	KindProber      = "ProberConfig"
	KindCoordinator = "CoordinatorConfig"
	KindProberList  = "ProberList"
)

// Prober is the prober's configuration (kind ProberConfig).
type Prober struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Name is this prober's name in results; the default is $POD_NAME.
	Name string `json:"name"`
	// Namespace is this prober's namespace, its vantage point; the
	// default is $POD_NAMESPACE.
	Namespace string `json:"namespace"`
	Server    Server `json:"server"`
	// TokenReview checks the coordinator's projected ServiceAccount
	// token (audience dsprobe-prober).
	TokenReview TokenReview `json:"tokenReview"`
	// Allow is where the prober may connect. It has no default: a prober
	// must be told its cluster's CIDRs.
	Allow     Allow     `json:"allow"`
	Admission Admission `json:"admission"`
	// JobTimeout is the budget of a job that sets none.
	JobTimeout Duration `json:"jobTimeout"`
	OTLP       OTLP     `json:"otlp"`
}

// Coordinator is the coordinator's configuration (kind
// CoordinatorConfig).
type Coordinator struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Server     Server `json:"server"`
	// TokenReview checks callers' Kubernetes tokens.
	TokenReview TokenReview `json:"tokenReview"`
	// ProberAuth is how the coordinator authenticates to its probers.
	ProberAuth ClientAuth `json:"proberAuth"`
	// Probers are the probers a job may use when they are not discovered
	// (Discovery), e.g. without a cluster. There is no default.
	Probers []StaticProber `json:"probers"`
	// Discovery finds the probers instead of Probers.
	Discovery Discovery `json:"discovery"`
	// Ladders runs the cluster's DNSLadders on their schedules.
	Ladders Ladders `json:"ladders"`
	// Concurrency bounds the probers asked at once per job.
	Concurrency int `json:"concurrency"`
	// ProberTimeout is each prober's budget when a job sets none, raised
	// to the probe's own timeout plus 15s when that is longer.
	ProberTimeout Duration `json:"proberTimeout"`
	// KeepJobs is how many finished jobs are kept for GetJob.
	KeepJobs  int       `json:"keepJobs"`
	Admission Admission `json:"admission"`
	OTLP      OTLP      `json:"otlp"`
}

// ProberList is a file of probers alone (kind ProberList), read by the
// coordinator's --probers-file.
type ProberList struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Probers    []StaticProber `json:"probers"`
}

// Server is how a daemon serves: its gRPC service on Listen, the REST
// mapping on HTTPListen and Prometheus /metrics on MetricsListen (each off
// when empty), its callers authenticated by TLS client certificates or the
// bearer token of TokenFile. Without either, it serves plaintext only on
// loopback, unless Insecure.
type Server struct {
	Listen        string `json:"listen"`
	HTTPListen    string `json:"httpListen"`
	MetricsListen string `json:"metricsListen"`
	TLS           TLS    `json:"tls"`
	TokenFile     string `json:"tokenFile"`
	Insecure      bool   `json:"insecure"`
}

// TokenReview checks the bearer tokens callers present with the
// Kubernetes API (TokenReview; on the coordinator, then a
// SubjectAccessReview per namespace of a job's probers), asked with the
// Pod's ServiceAccount (the coordinator also takes $KUBECONFIG). Audience
// is the audience a token must be for (empty: the API server's own, so a
// caller's kubectl token works); AllowedUsers, if any, are the only users
// let in (system:serviceaccount:NAMESPACE:NAME): a prober must list them.
type TokenReview struct {
	Enabled      bool     `json:"enabled"`
	Audience     string   `json:"audience"`
	AllowedUsers []string `json:"allowedUsers"`
}

// TLS names PEM files: a certificate, its private key, and a CA. On a
// server, the CA signs client certificates and makes them mandatory
// (mTLS); on a client, it signs the server's (the system roots when
// empty).
type TLS struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca"`
}

// Files are the files as internal/authn takes them.
func (t TLS) Files() authn.TLSFiles { return authn.TLSFiles{Cert: t.Cert, Key: t.Key, CA: t.CA} }

// ClientAuth is how a client authenticates to its servers: a client
// certificate (mTLS) and the CA of theirs, the name verified in their
// certificates (each server's host when empty), a bearer token, and
// plaintext off loopback on purpose.
type ClientAuth struct {
	TLS        TLS    `json:"tls"`
	ServerName string `json:"serverName"`
	TokenFile  string `json:"tokenFile"`
	Insecure   bool   `json:"insecure"`
}

// Flags are the settings as internal/authn takes them.
func (c ClientAuth) Flags() authn.ClientFlags {
	return authn.ClientFlags{TLS: c.TLS.Files(), ServerName: c.ServerName, TokenFile: c.TokenFile, Insecure: c.Insecure}
}

// Allow is a prober's allow-list: the CIDRs targets and their resolved
// addresses may be in, the host names a target may use (exact, *.suffix,
// or * for any; IP literals only when empty), and its ports (PORT or
// FROM-TO; every port when empty).
type Allow struct {
	CIDRs []string    `json:"cidrs"`
	Names []string    `json:"names"`
	Ports []PortRange `json:"ports"`
}

// Policy is the allow-list as internal/allowlist checks it.
func (a Allow) Policy() (allowlist.Policy, error) {
	ports := make([]string, len(a.Ports))
	for i, p := range a.Ports {
		ports[i] = string(p)
	}
	return allowlist.Parse(a.CIDRs, a.Names, ports)
}

// Admission bounds the jobs a daemon accepts: MaxConcurrent running,
// MaxWaiting waiting for a slot, Rate new jobs per second on average (0:
// no rate limit) with Burst at once. Beyond them a job is refused with
// RESOURCE_EXHAUSTED.
type Admission struct {
	MaxConcurrent int     `json:"maxConcurrent"`
	MaxWaiting    int     `json:"maxWaiting"`
	Rate          float64 `json:"rate"`
	Burst         int     `json:"burst"`
}

// Limits are the bounds as internal/admission takes them.
func (a Admission) Limits() admission.Limits {
	return admission.Limits{MaxConcurrent: a.MaxConcurrent, MaxWaiting: a.MaxWaiting, Rate: a.Rate, Burst: a.Burst}
}

// OTLP is where traces go: Endpoint is host:port for OTLP/gRPC or an
// http(s):// URL for OTLP/HTTP; when empty, the OTEL_EXPORTER_OTLP_*
// variables decide (no tracing without them). Insecure sends them
// without TLS.
type OTLP struct {
	Endpoint string `json:"endpoint"`
	Insecure bool   `json:"insecure"`
}

// Discovery is where the coordinator finds its probers when it is not
// given a list.
type Discovery struct {
	Kubernetes KubernetesDiscovery `json:"kubernetes"`
}

// KubernetesDiscovery finds the probers as Pods, watched through the
// Kubernetes API (internal/kube). It is off while LabelSelector is empty.
type KubernetesDiscovery struct {
	// LabelSelector selects the prober Pods
	// ("app.kubernetes.io/name=dsprobe-prober"); empty turns discovery
	// off.
	LabelSelector string `json:"labelSelector"`
	// Namespaces are the namespaces searched; empty means every
	// namespace, or those NamespaceSelector selects.
	Namespaces []string `json:"namespaces"`
	// NamespaceSelector selects the namespaces searched by their labels;
	// it excludes Namespaces.
	NamespaceSelector string `json:"namespaceSelector"`
	// Port is the name of the prober container's gRPC port.
	Port string `json:"port"`
	// Kubeconfig and Context name the API server as kubectl's
	// --kubeconfig and --context do; empty follows kubectl ($KUBECONFIG,
	// ~/.kube/config, the current context, else the Pod's in-cluster
	// ServiceAccount).
	Kubeconfig string `json:"kubeconfig"`
	Context    string `json:"context"`
}

// Enabled reports whether the probers are discovered.
func (k KubernetesDiscovery) Enabled() bool { return k.LabelSelector != "" }

// Ladders runs every DNSLadder of the cluster (CRD dnsladders.dsprobe.io)
// on its schedule, as ordinary jobs, and writes their status: on one
// replica at a time, the holder of the Lease LeaseNamespace/LeaseName.
// It needs discovery.kubernetes, whose API server it asks. An empty
// LeaseNamespace is the coordinator's own (its ServiceAccount's in a Pod,
// else the kubeconfig context's).
type Ladders struct {
	Enabled        bool   `json:"enabled"`
	LeaseNamespace string `json:"leaseNamespace"`
	LeaseName      string `json:"leaseName"`
}

// StaticProber is a prober the coordinator is told about: its name, its
// namespace (its vantage point) and its gRPC address, HOST:PORT.
type StaticProber struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Address   string `json:"address"`
}

// DefaultProber is the prober's configuration before a file or a flag
// sets anything. Its name and namespace come from the environment (see
// ProberFlags); its allow-list is empty, which validation refuses.
func DefaultProber() Prober {
	return Prober{
		APIVersion: APIVersion,
		Kind:       KindProber,
		Server:     Server{Listen: "127.0.0.1:9443"},
		// A token is for probers or refused, so one minted for anything
		// else cannot trigger probes.
		TokenReview: TokenReview{Audience: authn.ProberAudience},
		Admission:   Admission{MaxConcurrent: 4, MaxWaiting: 8, Rate: 10, Burst: 20},
		JobTimeout:  Duration(30 * time.Second),
	}
}

// DefaultCoordinator is the coordinator's configuration before a file or
// a flag sets anything. It lists no prober and discovers none, which
// validation refuses.
func DefaultCoordinator() Coordinator {
	return Coordinator{
		APIVersion:    APIVersion,
		Kind:          KindCoordinator,
		Server:        Server{Listen: "127.0.0.1:9444"},
		Concurrency:   16,
		ProberTimeout: Duration(45 * time.Second),
		KeepJobs:      100,
		Discovery:     Discovery{Kubernetes: KubernetesDiscovery{Port: "grpc"}},
		Ladders:       Ladders{LeaseName: "dsprobe-ladders"},
		// A job holds up to Concurrency prober calls but does little work
		// of its own, so the coordinator runs and queues more jobs at
		// once than a prober.
		Admission: Admission{MaxConcurrent: 8, MaxWaiting: 16, Rate: 10, Burst: 20},
	}
}

// Duration is a time.Duration written in files as a Go duration string
// ("30s", "1m30s"), never as a number of nanoseconds: the ladder's own type,
// so a ladder file and a configuration file read durations alike.
type Duration = ladder.Duration

// PortRange is a port ("443", or the number 443 in a file) or a range of
// them ("8000-8999"), checked by internal/allowlist.
type PortRange string

// UnmarshalJSON reads a string or a whole number.
func (p *PortRange) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*p = PortRange(s)
		return nil
	}
	var n uint64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a port such as 443 or a range such as \"8000-8999\", got %s", b)
	}
	*p = PortRange(strconv.FormatUint(n, 10))
	return nil
}
