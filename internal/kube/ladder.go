package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/dsprobe/dsprobe/internal/ladder"
)

// DNSLadderNotFoundError is a DNSLadder that does not exist, or a cluster
// without the CRD dnsladders.dsprobe.io: the user's input, not the API
// server's fault.
type DNSLadderNotFoundError struct {
	Namespace, Name string
	// NoCRD: the cluster does not serve dnsladders.dsprobe.io at all.
	NoCRD bool
}

func (e *DNSLadderNotFoundError) Error() string {
	if e.NoCRD {
		return "the cluster has no DNSLadder resource (CRD dnsladders.dsprobe.io): apply deploy/base"
	}
	return fmt.Sprintf("DNSLadder %s/%s not found", e.Namespace, e.Name)
}

// DNSLadderForbiddenError is a read of DNSLadders the caller's credentials
// may not make (RBAC: get or list dnsladders.dsprobe.io).
type DNSLadderForbiddenError struct{ Err error }

func (e *DNSLadderForbiddenError) Error() string {
	return fmt.Sprintf("reading DNSLadders: %v", e.Err)
}
func (e *DNSLadderForbiddenError) Unwrap() error { return e.Err }

// ReadDNSLadders reads, from the namespace of t (the context's unless t
// names one), the DNSLadder called name, or every DNSLadder there when
// name is empty, with their status, and returns them with the namespace
// read. A ladder or CRD that does not exist is a *DNSLadderNotFoundError,
// a read RBAC forbids a *DNSLadderForbiddenError; any other failure to ask
// the API server is an *APIError naming it.
func ReadDNSLadders(ctx context.Context, t Target, name string) ([]ladder.DNSLadder, string, error) {
	cfg, ns, err := Config(t)
	if err != nil {
		return nil, "", err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("building the Kubernetes client: %w", err)
	}
	resource := client.Resource(dnsLadders).Namespace(ns)
	var objects []map[string]any
	if name != "" {
		var obj *unstructured.Unstructured
		if obj, err = resource.Get(ctx, name, metav1.GetOptions{}); err == nil {
			objects = append(objects, obj.Object)
		}
	} else {
		var list *unstructured.UnstructuredList
		if list, err = resource.List(ctx, metav1.ListOptions{}); err == nil {
			for _, item := range list.Items {
				objects = append(objects, item.Object)
			}
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		disco, discoErr := discovery.NewDiscoveryClientForConfig(cfg)
		if discoErr == nil {
			_, discoErr = disco.ServerResourcesForGroupVersion(ladder.APIVersion)
		}
		return nil, ns, &DNSLadderNotFoundError{Namespace: ns, Name: name, NoCRD: apierrors.IsNotFound(discoErr)}
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return nil, ns, &DNSLadderForbiddenError{Err: err}
	case err != nil:
		return nil, ns, &APIError{Server: cfg.Host, Err: err}
	}
	ladders, err := decodeLadders(objects)
	if err != nil {
		return nil, ns, &APIError{Server: cfg.Host, Err: err}
	}
	return ladders, ns, nil
}

// decodeLadders decodes DNSLadder objects as the API server returns them.
// It validated them against the CRD's schema, which is the Go types'
// (test/deploy holds them together).
func decodeLadders(objects []map[string]any) ([]ladder.DNSLadder, error) {
	ladders := make([]ladder.DNSLadder, len(objects))
	for i, obj := range objects {
		b, err := json.Marshal(obj)
		if err == nil {
			err = json.Unmarshal(b, &ladders[i])
		}
		if err != nil {
			return nil, fmt.Errorf("decoding a DNSLadder: %w", err)
		}
	}
	return ladders, nil
}

// DNSLadderStore is a cluster's DNSLadders for ladder.Scheduler: every
// ladder of every namespace, each status written through the status
// subresource (the coordinator needs list on dnsladders.dsprobe.io and
// patch on dnsladders/status).
type DNSLadderStore struct {
	client dynamic.Interface
}

// NewDNSLadderStore is the DNSLadders of the cluster cfg reaches.
func NewDNSLadderStore(cfg *rest.Config) (*DNSLadderStore, error) {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	return &DNSLadderStore{client: client}, nil
}

// List returns every DNSLadder of every namespace, with its status.
func (s *DNSLadderStore) List(ctx context.Context) ([]ladder.DNSLadder, error) {
	list, err := s.client.Resource(dnsLadders).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing DNSLadders: %w", err)
	}
	objects := make([]map[string]any, len(list.Items))
	for i, item := range list.Items {
		objects[i] = item.Object
	}
	return decodeLadders(objects)
}

// WriteStatus replaces l's status in the cluster with l.Status, leaving
// its spec alone: a JSON patch adding /status replaces it whole, so a key
// the new status leaves out (no rung cleared any more) is gone too, which
// a merge patch would keep.
func (s *DNSLadderStore) WriteStatus(ctx context.Context, l *ladder.DNSLadder) error {
	patch, err := json.Marshal([]map[string]any{{"op": "add", "path": "/status", "value": l.Status}})
	if err != nil {
		return err
	}
	_, err = s.client.Resource(dnsLadders).Namespace(l.Metadata.Namespace).
		Patch(ctx, l.Metadata.Name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: "dsprobe-coordinator"}, "status")
	if err != nil {
		return fmt.Errorf("writing the status of DNSLadder %s/%s: %w", l.Metadata.Namespace, l.Metadata.Name, err)
	}
	return nil
}

// dnsLadders is the resource of the CRD dnsladders.dsprobe.io.
var dnsLadders = schema.GroupVersionResource{Group: ladder.Group, Version: ladder.Version, Resource: "dnsladders"}

// IsDNSLadderInput says whether err from ReadDNSLadders is about the
// caller's input or credentials (exit 2) rather than the API server.
func IsDNSLadderInput(err error) bool {
	var notFound *DNSLadderNotFoundError
	var forbidden *DNSLadderForbiddenError
	return errors.As(err, &notFound) || errors.As(err, &forbidden)
}
