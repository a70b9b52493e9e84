package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/dsprobe/dsprobe/internal/kube"
)

// discoveryStartBudget bounds the first List of the prober Pods: a
// coordinator whose ServiceAccount may not list them stops with an error
// saying so rather than serving with no prober.
const discoveryStartBudget = 30 * time.Second

// cluster is what the coordinator knows of where it runs: its probers,
// and, in a cluster, the objects of the Services a job may probe.
type cluster struct {
	probers Discovery
	// services is nil without the Kubernetes API, or when its objects
	// could not be listed (servicesOff says why): Service jobs are refused.
	services    ServiceReader
	servicesOff string
	// stop ends the watches; it is never nil.
	stop     func()
	logAttrs []any
}

// discovery is where cfg says the probers come from: the Kubernetes API
// when discovery.kubernetes is on, else the static list. Whenever a
// prober Pod changes, connector keeps only the connections to the probers
// still there. With the API, the coordinator also watches the objects of
// every Service's evidence (kube.EvidenceCache), for Service jobs.
func discovery(ctx context.Context, cfg config.Coordinator, connector *GRPCConnector) (cluster, error) {
	k := cfg.Discovery.Kubernetes
	if !k.Enabled() {
		return cluster{probers: staticProbers(cfg), stop: func() {}, logAttrs: []any{"probers", len(cfg.Probers)}}, nil
	}
	client, _, err := kube.Client(kube.Target{Kubeconfig: k.Kubeconfig, Context: k.Context})
	if err != nil {
		return cluster{}, fmt.Errorf("discovering probers: %w", err)
	}
	pods, err := kube.NewDiscovery(client, kube.DiscoveryOptions{
		LabelSelector: k.LabelSelector, Namespaces: k.Namespaces, NamespaceSelector: k.NamespaceSelector, PortName: k.Port,
	})
	if err != nil {
		return cluster{}, err
	}
	if err := pods.OnChange(func() { retainDiscovered(ctx, pods, connector) }); err != nil {
		return cluster{}, err
	}
	evidence, err := kube.NewEvidenceCache(client)
	if err != nil {
		return cluster{}, err
	}
	startCtx, cancel := context.WithTimeout(ctx, discoveryStartBudget)
	defer cancel()
	if err := pods.Start(startCtx); err != nil {
		pods.Stop()
		return cluster{}, err
	}
	found := cluster{
		probers: pods, services: evidence,
		stop:     func() { pods.Stop(); evidence.Stop() },
		logAttrs: []any{"discovery", "kubernetes", "labelSelector", k.LabelSelector},
	}
	// Without the rights to watch the Services' objects the coordinator
	// still serves jobs of targets, as it did before Service jobs: a
	// deployment granted only the discovery's rights keeps working, and
	// a Service job says what to grant.
	if err := evidence.Start(startCtx); err != nil {
		evidence.Stop()
		found.services, found.servicesOff, found.stop = nil, err.Error(), pods.Stop
	}
	return found, nil
}

// retainDiscovered keeps connector's connections to the probers d knows
// (ready or not: a terminating prober finishes the calls it has).
func retainDiscovered(ctx context.Context, d Discovery, connector *GRPCConnector) {
	if probers, err := d.Probers(ctx); err == nil {
		connector.Retain(probers)
	}
}
