package kube

import (
	"errors"
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Target says which API server to talk to, as kubectl's flags say it.
type Target struct {
	// Kubeconfig is an explicit kubeconfig file (kubectl --kubeconfig).
	// Empty follows kubectl: $KUBECONFIG (a list of files, merged), else
	// ~/.kube/config, else the in-cluster ServiceAccount when running in a
	// Pod.
	Kubeconfig string
	// Context is the kubeconfig context to use (kubectl --context); empty
	// means the current context.
	Context string
	// Namespace overrides the context's namespace (kubectl -n); empty
	// means the context's, else "default".
	Namespace string
}

// ErrNoCluster is wrapped by Config's error when no kubeconfig and no
// in-cluster configuration exist: there is no cluster to ask.
var ErrNoCluster = errors.New("no Kubernetes API configured (no kubeconfig, not in a Pod)")

// Config resolves t to a REST configuration and the namespace to use, with
// kubectl's precedence: an explicit file, then $KUBECONFIG, then
// ~/.kube/config, then the in-cluster configuration.
func Config(t Target) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = t.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: t.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, "", fmt.Errorf("%w: set KUBECONFIG or --kubeconfig", ErrNoCluster)
		}
		return nil, "", fmt.Errorf("reading the Kubernetes client configuration: %w", err)
	}
	ns := t.Namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("reading the namespace of the Kubernetes context: %w", err)
		}
	}
	cfg.UserAgent = "dsprobe"
	return cfg, ns, nil
}

// Client is a clientset for t, and the namespace to use.
func Client(t Target) (kubernetes.Interface, string, error) {
	cfg, ns, err := Config(t)
	if err != nil {
		return nil, "", err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("building the Kubernetes client: %w", err)
	}
	return cs, ns, nil
}
