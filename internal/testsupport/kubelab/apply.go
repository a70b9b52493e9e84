package kubelab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// ApplyOptions say how Apply applies.
type ApplyOptions struct {
	// FieldManager owns the fields applied; empty: "kubelab".
	FieldManager string
	// DryRun asks the API server to admit and validate every object
	// (admission plugins included) without persisting any.
	DryRun bool
}

// Apply applies every object of manifests — YAML documents as `kubectl
// apply -f` reads them, such as `kustomize build` writes — with server-side
// apply as the administrator, in their order (kustomize puts Namespaces
// and RBAC before what uses them), and returns the warnings the API server
// sent (PodSecurity's warn level, deprecations), each prefixed with the
// object it came with. An object the API server refuses fails the test,
// naming it.
func (c *Cluster) Apply(t testing.TB, manifests []byte, opts ApplyOptions) []string {
	t.Helper()
	objects, err := decodeManifests(manifests)
	if err != nil {
		t.Fatalf("kubelab: reading the manifests: %v", err)
	}
	warnings := &warningRecorder{}
	cfg := rest.CopyConfig(c.config)
	cfg.WarningHandler = warnings
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	options := metav1.ApplyOptions{FieldManager: opts.FieldManager, Force: true}
	if options.FieldManager == "" {
		options.FieldManager = "kubelab"
	}
	if opts.DryRun {
		options.DryRun = []string{metav1.DryRunAll}
	}
	var all []string
	for _, obj := range objects {
		gvk := obj.GroupVersionKind()
		what := fmt.Sprintf("%s %s", gvk.Kind, obj.GetName())
		if ns := obj.GetNamespace(); ns != "" {
			what = fmt.Sprintf("%s %s/%s", gvk.Kind, ns, obj.GetName())
		}
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("kubelab: applying %s: %v", what, err)
		}
		var resource dynamic.ResourceInterface = client.Resource(mapping.Resource)
		if ns := obj.GetNamespace(); ns != "" {
			resource = client.Resource(mapping.Resource).Namespace(ns)
		}
		if _, err := resource.Apply(t.Context(), obj.GetName(), obj, options); err != nil {
			t.Fatalf("kubelab: applying %s: %v", what, err)
		}
		for _, w := range warnings.take() {
			all = append(all, what+": "+w)
		}
	}
	return all
}

// decodeManifests splits YAML (or JSON) documents into objects, skipping
// empty ones.
func decodeManifests(manifests []byte) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	var objects []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := decoder.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(objects)+1, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if obj.GetKind() == "" || obj.GetName() == "" {
			return nil, fmt.Errorf("document %d has no kind or name", len(objects)+1)
		}
		objects = append(objects, obj)
	}
}

// warningRecorder keeps the API server's Warning headers until taken.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (r *warningRecorder) HandleWarningHeader(code int, agent, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, text)
}

func (r *warningRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.warnings
	r.warnings = nil
	return w
}
