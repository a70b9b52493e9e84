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

// discovery is where cfg says the probers come from: the Kubernetes API
// when discovery.kubernetes is on, else the static list. Whenever a
// prober Pod changes, connector keeps only the connections to the probers
// still there. stop ends the watches; it is never nil.
func discovery(ctx context.Context, cfg config.Coordinator, connector *GRPCConnector) (d Discovery, stop func(), logAttrs []any, err error) {
	k := cfg.Discovery.Kubernetes
	if !k.Enabled() {
		return staticProbers(cfg), func() {}, []any{"probers", len(cfg.Probers)}, nil
	}
	client, _, err := kube.Client(kube.Target{Kubeconfig: k.Kubeconfig, Context: k.Context})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("discovering probers: %w", err)
	}
	pods, err := kube.NewDiscovery(client, kube.DiscoveryOptions{
		LabelSelector: k.LabelSelector, Namespaces: k.Namespaces, NamespaceSelector: k.NamespaceSelector, PortName: k.Port,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := pods.OnChange(func() { retainDiscovered(ctx, pods, connector) }); err != nil {
		return nil, nil, nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, discoveryStartBudget)
	defer cancel()
	if err := pods.Start(startCtx); err != nil {
		pods.Stop()
		return nil, nil, nil, err
	}
	return pods, pods.Stop, []any{"discovery", "kubernetes", "labelSelector", k.LabelSelector}, nil
}

// retainDiscovered keeps connector's connections to the probers d knows
// (ready or not: a terminating prober finishes the calls it has).
func retainDiscovered(ctx context.Context, d Discovery, connector *GRPCConnector) {
	if probers, err := d.Probers(ctx); err == nil {
		connector.Retain(probers)
	}
}
