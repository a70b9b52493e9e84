package e2e

import (
	"context"
	"debug/elf"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dsprobe/dsprobe/internal/imagebuild"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// telemetryTools are the observability overlay's third-party images, by
// repository, as the pinned tools scripts/install-deps.sh builds from the
// module proxy (static, as the upstream images' binaries are), with the
// arguments that make each print its version.
var telemetryTools = map[string]struct {
	tool        string
	versionArgs []string
}{
	"jaegertracing/jaeger": {"jaeger", []string{"version"}},
	"prom/prometheus":      {"prometheus", []string{"--version"}},
}

// packageTelemetryImages starts packaging, while the cluster starts, every
// image of manifests that is not one of dsprobe's: the cached tool of that
// repository, as an image under the manifests' exact reference, for
// importInto, since the node has no registry to pull the upstream image
// from. The tool must be static (it runs alone in the image) and report the
// image's tag as its version.
func packageTelemetryImages(t *testing.T, manifests []byte) *imageBuild {
	t.Helper()
	type image struct {
		ref  string
		o    imagebuild.Options
		spec imagebuild.Spec
	}
	var images []image
	out := t.TempDir()
	for _, m := range regexp.MustCompile(`(?m)^\s+image: (\S+)$`).FindAllSubmatch(manifests, -1) {
		ref := string(m[1])
		if strings.HasPrefix(ref, imagebuild.DefaultRegistry+"/") || slices.ContainsFunc(images, func(i image) bool { return i.ref == ref }) {
			continue
		}
		repo, tag, ok := strings.Cut(ref, ":")
		tool, known := telemetryTools[repo]
		if !ok || !known || strings.Count(repo, "/") != 1 {
			t.Fatalf("image %s: want a Docker Hub image REPO/NAME:TAG of %v (teach the test its tool)", ref, slices.Sorted(maps.Keys(telemetryTools)))
		}
		binary := testhost.Tool(t, tool.tool)
		checkStatic(t, binary)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		version, err := exec.CommandContext(ctx, binary, tool.versionArgs...).CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(version), strings.TrimPrefix(tag, "v")) {
			t.Fatalf("%s %s: got %q (%v), want version %s: rerun scripts/install-deps.sh", binary, strings.Join(tool.versionArgs, " "), version, err, tag)
		}
		// The container runtime looks an unqualified reference up as
		// docker.io's.
		images = append(images, image{
			ref: ref,
			o:   imagebuild.Options{Out: out, Registry: "docker.io/" + path.Dir(repo), Tag: tag, CABundle: imagebuild.DefaultCABundle},
			spec: imagebuild.Spec{Name: path.Base(repo), Binary: binary, Version: tag,
				Description: "the pinned " + tool.tool + ", built from source by scripts/install-deps.sh"},
		})
	}
	if len(images) == 0 {
		t.Fatal("the manifests name no third-party image")
	}
	b := &imageBuild{done: make(chan struct{})}
	began := time.Now()
	go func() {
		defer close(b.done)
		for _, i := range images {
			built, err := imagebuild.Image(i.o, i.spec)
			if err != nil {
				b.err = err
				return
			}
			b.built = append(b.built, built)
		}
		b.took = time.Since(began)
	}()
	// The archives are in the test's directory: packaging must be over
	// before that is removed.
	t.Cleanup(func() { <-b.done })
	return b
}

// checkStatic fails the test unless binary asks for no dynamic loader: an
// image holds the binary alone.
func checkStatic(t *testing.T, binary string) {
	t.Helper()
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked, so it cannot run alone in an image: rerun scripts/install-deps.sh, which builds it static", binary)
		}
	}
}

// checkDeployedTelemetry runs a Service job of each verdict through the
// deployed coordinator (REST, from client) and finds its work in the
// observability overlay's deployed Jaeger and Prometheus: the failing job's
// trace, by its trace ID, with the coordinator's spans and each prober's
// probes under them; every coordinator and prober scraped, with the labels
// the dashboard groups by, and every query of the dashboard and every alert
// rule answering.
func checkDeployedTelemetry(t *testing.T, c *kubelab.Cluster, client *testhost.Host, namespace string) {
	d := newDeployedCoordinator(t, c)
	prom := newPromAPI(client, netip.AddrPortFrom(serviceIP(t, c, "observability", "prometheus", 1), 9090))
	jaeger := newJaegerAPI(client, netip.AddrPortFrom(serviceIP(t, c, "observability", "jaeger", 1), 16686))

	// Kubernetes discovery with the shipped RBAC finds exactly the Pods'
	// metrics ports, labelled as the dashboard and the alerts group them.
	var want, namespaces []string
	for _, dp := range deployedPods {
		job, label := "dsprobe-prober", "namespace"
		switch {
		case dp.namespace == "dsprobe":
			job, label = "dsprobe-coordinator", "kubernetes_namespace"
		case dp.namespace == "observability":
			continue
		default:
			namespaces = append(namespaces, dp.namespace)
		}
		pods, err := c.Client.CoreV1().Pods(dp.namespace).List(t.Context(), metav1.ListOptions{LabelSelector: dp.selector})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			addr := netip.AddrPortFrom(netip.MustParseAddr(p.Status.PodIP), uint16(containerPort(t, &p, "metrics")))
			want = append(want, fmt.Sprintf("%s %s %s=%s pod=%s", job, addr, label, p.Namespace, p.Name))
		}
	}
	slices.Sort(want)
	seen := ""
	poll(t, fmt.Sprintf("the targets up to be %q", want), func() bool {
		targets := prom.upTargets(t)
		if s := fmt.Sprintf("%q", targets); s != seen {
			t.Logf("targets up: %s", s)
			seen = s
		}
		return slices.Equal(targets, want)
	})

	// A rate needs a counter's growth between two samples: the jobs run
	// between two scrapes of every coordinator.
	prom.awaitScrape(t, "dsprobe-coordinator", time.Now())
	restAddr := netip.AddrPortFrom(d.clusterIPs[1], 8444)
	checkDeployedJob(t, postServiceJob(t, client, restAddr, d.token, namespace, "web-dual"),
		map[string]string{"FAMILY_IPV4": "LAYER_NONE", "FAMILY_IPV6": "LAYER_NONE"})
	failing := postServiceJob(t, client, restAddr, d.token, namespace, "web-v4")
	checkDeployedJob(t, failing, map[string]string{"FAMILY_IPV4": "LAYER_NONE", "FAMILY_IPV6": "LAYER_LISTENER"})
	prom.awaitScrape(t, "dsprobe-coordinator", time.Now())

	t.Run("the job's trace is in the deployed Jaeger", func(t *testing.T) {
		if len(failing.TraceID) != 32 {
			t.Fatalf("the job %s has trace ID %q, want 32 hex digits: is the coordinator tracing?", failing.JobID, failing.TraceID)
		}
		tr := jaeger.await(t, failing.TraceID, func(tr *trace) bool { return tr.serviceJobComplete(namespaces) })
		job := tr.one(t, "dsprobe-coordinator", "", "job web-v4."+namespace+".svc.cluster.local:80")
		wantAttrs(t, job, map[string]string{
			"dsprobe.job.id": failing.JobID, "dsprobe.ipv4.failing_layer": "none", "dsprobe.ipv6.failing_layer": "listener",
		})
		for _, p := range failing.Probers {
			proberSpan := tr.one(t, "dsprobe-coordinator", "", "prober "+p.Namespace+"/"+p.Prober)
			if proberSpan.ParentSpanID != job.SpanID {
				t.Errorf("%s/%s: the coordinator's span for the prober is not a child of the job's", p.Namespace, p.Prober)
			}
			wantAttrs(t, proberSpan, map[string]string{"k8s.namespace.name": p.Namespace, "dsprobe.ipv6.failing_layer": "listener"})
			probes := tr.proberSpans(p.Namespace, "probe ")
			for _, s := range probes {
				if !tr.under(s, proberSpan) {
					t.Errorf("%s/%s: its span %v is not under the coordinator's span for it", p.Namespace, p.Prober, s)
				}
			}
			t.Logf("prober %s/%s: %d probe spans", p.Namespace, p.Prober, len(probes))
		}
		t.Logf("trace %s: %d spans", failing.TraceID, len(tr.spans))
	})
	t.Run("every query of the dashboard answers in the deployed Prometheus", func(t *testing.T) {
		checkDashboard(t, prom, namespaces)
		checkAlertRules(t, prom)
	})
}

// serviceJobComplete reports whether the spans of a Service job from every
// process have arrived: the coordinator's job span and, from the prober of
// each namespace, a probe span, and every span's parent.
func (tr *trace) serviceJobComplete(namespaces []string) bool {
	jobs := 0
	for _, s := range tr.spans {
		if _, ok := tr.byID[s.ParentSpanID]; s.ParentSpanID != "" && !ok {
			return false
		}
		if s.resource["service.name"] == "dsprobe-coordinator" && strings.HasPrefix(s.Name, "job ") {
			jobs++
		}
	}
	for _, ns := range namespaces {
		if len(tr.proberSpans(ns, "probe ")) == 0 {
			return false
		}
	}
	return jobs == 1
}

// proberSpans are the spans whose name begins with prefix from the prober
// of namespace.
func (tr *trace) proberSpans(namespace, prefix string) []span {
	var found []span
	for _, s := range tr.spans {
		if s.resource["service.name"] == "dsprobe-prober" && s.resource["k8s.namespace.name"] == namespace && strings.HasPrefix(s.Name, prefix) {
			found = append(found, s)
		}
	}
	return found
}

// serviceIP is the ClusterIP of family index i (0 IPv4, 1 IPv6) of the
// Service namespace/name, once kube-proxy routes it to a Ready Pod.
func serviceIP(t *testing.T, c *kubelab.Cluster, namespace, name string, i int) netip.Addr {
	t.Helper()
	svc, err := c.Client.CoreV1().Services(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.ClusterIPs) != 2 {
		t.Fatalf("Service %s/%s has ClusterIPs %v, want one of each family", namespace, name, svc.Spec.ClusterIPs)
	}
	ip := netip.MustParseAddr(svc.Spec.ClusterIPs[i])
	c.WaitProxied(t, ip, int(svc.Spec.Ports[0].Port), 1)
	return ip
}

// containerPort is the number of pod's container port named name.
func containerPort(t *testing.T, pod *corev1.Pod, name string) int32 {
	t.Helper()
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
	}
	t.Fatalf("Pod %s/%s has no container port %s", pod.Namespace, pod.Name, name)
	return 0
}
