//go:build tools

// Package tools makes the Kubernetes commands the cluster tier
// runs a dependency of this wrapper module, so go.mod and go.sum pin what
// they are built from. k8s.io/kubernetes cannot be installed with go install:
// its go.mod replaces every k8s.io staging module with a directory of its own
// tree, so this module replaces each with its published v0.Y.Z release.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
