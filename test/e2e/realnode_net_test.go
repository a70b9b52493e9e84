package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubenode"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// The seed's lab with real containers on a real node: a third-party web
// server (busybox httpd) in a Deployment under Pod Security "restricted"
// gets an address of each family, both ClusterIPs of its RequireDualStack
// Service answer through kube-proxy, and dsprobe, reading the cluster as a
// Pod does, proves both families; the same server bound to 0.0.0.0 is the
// classic fault, found at the listener for IPv6. The namespace refuses a
// Pod without the restricted securityContext, the runtime enforces a
// read-only root filesystem, a container on the node reaches the Service by
// name and on both ClusterIPs, and a projected token for an audience is
// mounted where the Pod asked. dsprobe itself runs there as users install
// it: the images built from the commit and imported, the kind overlay with
// its telemetry (deploy/overlays/observability) applied server-side under
// restricted, every Pod Ready; the deployed coordinator, asked by the CLI
// and over REST with a token of the overlay's dsprobe-cli, discovers the
// probers of three namespaces, authenticates to them with its projected
// token, and gives the same verdicts. The deployed Jaeger (the pinned one,
// built from source and packaged under the overlay's image reference) holds
// a job's trace with the coordinator's and the probers' spans, and the
// deployed Prometheus finds and scrapes the coordinators and probers and
// answers every query of the shipped dashboard.
func TestRealNode(t *testing.T) {
	began := time.Now()
	images := buildImages(t)
	manifests := renderOverlay(t)
	telemetry := packageTelemetryImages(t, manifests)
	c := kubelab.Start(t)
	clusterUp := time.Since(began)
	n := kubenode.Start(t, c)
	nodeUp := time.Since(began)
	n.ImportBusybox(t)
	images.importInto(t, n)
	telemetry.importInto(t, n)
	publishProxyMode(t, c)
	applyOverlay(t, c, manifests)

	const namespace = "web"
	c.AddNamespace(t, namespace, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	createDeployment(t, c, namespace, "web-dual", 2, "httpd", "-f", "-p", "8080", "-h", "/etc")
	createDeployment(t, c, namespace, "web-v4", 1, "httpd", "-f", "-p", "0.0.0.0:8080", "-h", "/etc")
	dualIPs := createService(t, c, namespace, "web-dual", "web-dual", corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)
	v4IPs := createService(t, c, namespace, "web-v4", "web-v4", corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)
	webPods := n.WaitPodsReady(t, namespace, "app=web-dual", 2)
	n.WaitPodsReady(t, namespace, "app=web-v4", 1)
	waitDeployed(t, n)
	t.Logf("from nothing: cluster serving after %v, real node Ready after %v, every Pod Ready (the lab's and the observability overlay's) after %v",
		clusterUp.Round(time.Second), nodeUp.Round(time.Second), time.Since(began).Round(time.Second))

	for _, p := range webPods {
		if p.Spec.NodeName != kubenode.NodeName || len(p.Status.PodIPs) != 2 ||
			!n.PodCIDR4.Contains(netip.MustParseAddr(p.Status.PodIPs[0].IP)) || !n.PodCIDR6.Contains(netip.MustParseAddr(p.Status.PodIPs[1].IP)) {
			t.Errorf("Pod %s: got node %s and podIPs %v, want node %s and an address from %v and %v",
				p.Name, p.Spec.NodeName, p.Status.PodIPs, kubenode.NodeName, n.PodCIDR4, n.PodCIDR6)
		}
	}
	for _, ip := range dualIPs {
		c.WaitProxied(t, ip, 80, 2)
	}
	for _, ip := range v4IPs {
		c.WaitProxied(t, ip, 80, 1)
	}

	// A host outside the Pod network's namespaces under Pod Security (its
	// Pod is kubelab's, which restricted would refuse), routed through the
	// node as a machine on the cluster's network is.
	client := c.AddPod(t, "lab", "cli", nil)
	t.Run("both ClusterIPs answer HTTP through kube-proxy", func(t *testing.T) {
		var names []string
		for _, p := range webPods {
			names = append(names, p.Name)
		}
		for _, ip := range dualIPs {
			// httpd serves the Pod's /etc: its hostname is the Pod's name.
			if body := httpGet(t, client, netip.AddrPortFrom(ip, 80), "/hostname"); !slices.Contains(names, strings.TrimSpace(body)) {
				t.Errorf("GET http://%v/hostname: got %q, want one of %v", netip.AddrPortFrom(ip, 80), body, names)
			}
		}
	})

	kubeconfig := evidenceKubeconfig(t, c, "evidence-reader", evidenceRules)
	dsprobe := func(t *testing.T, wantCode int, args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		args = append([]string{args[0], "--kubeconfig", kubeconfig, "-n", namespace}, args[1:]...)
		stdout, stderr, code := testhost.RunExit(t, client.Command(ctx, bins["dsprobe"], args...))
		if code != wantCode {
			t.Errorf("dsprobe %s: got exit %d (stderr %q), want %d; output: %s", strings.Join(args, " "), code, stderr, wantCode, stdout)
		}
		return []byte(stdout)
	}
	t.Run("evidence svc/web-dual proves both families", func(t *testing.T) {
		var ev evidenceJSON
		if err := json.Unmarshal(dsprobe(t, 0, "evidence", "-o", "json", "svc/web-dual"), &ev); err != nil {
			t.Fatal(err)
		}
		for _, row := range evidenceRows {
			for _, f := range []string{"ipv4", "ipv6"} {
				if status, text := ev.cell(t, row, f); status != "proof" {
					t.Errorf("%s %s: got %s %q, want proof", row, f, status, text)
				}
			}
		}
		for i, f := range []string{"ipv4", "ipv6"} {
			for _, p := range webPods {
				if _, text := ev.cell(t, "Pod IPs", f); !strings.Contains(text, p.Status.PodIPs[i].IP) {
					t.Errorf("Pod IPs %s: got %q, want it to hold %s's %s", f, text, p.Name, p.Status.PodIPs[i].IP)
				}
			}
		}
		if !ev.Proven {
			t.Errorf("got verdicts %+v, not proven; want both families proven", ev.Verdicts)
		}
		t.Logf("dsprobe evidence -n %s svc/web-dual:\n%s", namespace, dsprobe(t, 0, "evidence", "svc/web-dual"))
	})
	t.Run("probe svc/web-v4 fails IPv6 at the listener", func(t *testing.T) {
		var res serviceProbeJSON
		if err := json.Unmarshal(dsprobe(t, 1, "probe", "-o", "json", "svc/web-v4"), &res); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"FAMILY_IPV4": "LAYER_NONE", "FAMILY_IPV6": "LAYER_LISTENER"}
		for _, v := range res.Verdicts {
			if v.FailingLayer != want[v.Family] {
				t.Errorf("%s: got %s %q, want %s", v.Family, v.FailingLayer, v.Detail, want[v.Family])
			}
		}
		if len(res.Verdicts) != 2 || res.Passed {
			t.Errorf("got verdicts %+v, passed %v; want two, failed", res.Verdicts, res.Passed)
		}
		t.Logf("dsprobe probe -n %s svc/web-v4:\n%s", namespace, dsprobe(t, 1, "probe", "svc/web-v4"))
	})

	t.Run("the deployed coordinator judges both Services from the deployed probers", func(t *testing.T) {
		checkDeployedProbes(t, c, client, namespace)
	})
	t.Run("the deployed Jaeger and Prometheus see the jobs", func(t *testing.T) {
		began := time.Now()
		checkDeployedTelemetry(t, c, client, namespace)
		t.Logf("took %v", time.Since(began).Round(time.Second))
	})

	t.Run("Pod Security restricted refuses a Pod without its securityContext", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "careless"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "httpd", Image: kubenode.BusyboxImage, ImagePullPolicy: corev1.PullNever, Args: []string{"httpd", "-f"},
			}}},
		}
		_, err := c.Client.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) {
			t.Fatalf("got %v, want Forbidden: violates PodSecurity \"restricted:latest\"", err)
		}
		for _, violation := range []string{"allowPrivilegeEscalation != false", "unrestricted capabilities", "runAsNonRoot != true", "seccompProfile"} {
			if !strings.Contains(err.Error(), violation) {
				t.Errorf("got %v, want it to name %q", err, violation)
			}
		}
	})

	t.Run("the root filesystem is read-only", func(t *testing.T) {
		ended := runToEnd(t, c, namespace, "writer", "touch", "/written")
		// The kernel answers EROFS before it checks the directory's
		// permissions, so the message tells a read-only root from a
		// non-root user's.
		if ended.ExitCode == 0 || !strings.Contains(ended.Message, "Read-only file system") {
			t.Errorf("touch /written: got exit %d %q, want a failure for a read-only file system", ended.ExitCode, ended.Message)
		}
	})

	t.Run("a container on the real node reaches web-dual by name and on both ClusterIPs", func(t *testing.T) {
		// Through cluster DNS, and through kube-proxy back onto the
		// bridge the client shares with the backends.
		var gets []string
		for _, target := range []string{"web-dual", dualIPs[0].String(), "[" + dualIPs[1].String() + "]"} {
			gets = append(gets, "wget -q -O- http://"+target+"/hostname")
		}
		ended := runToEnd(t, c, namespace, "client", "sh", "-c", "{ "+strings.Join(gets, " && ")+"; } >/dev/termination-log 2>&1")
		answers := strings.Fields(ended.Message)
		if ended.ExitCode != 0 || len(answers) != 3 {
			t.Fatalf("got exit %d %q, want three answers", ended.ExitCode, ended.Message)
		}
		for _, name := range answers {
			if !slices.ContainsFunc(webPods, func(p corev1.Pod) bool { return p.Name == name }) {
				t.Errorf("got an answer from %q, want one of web-dual's Pods", name)
			}
		}
	})

	t.Run("a projected token for an audience is mounted", func(t *testing.T) {
		const audience = "dsprobe-coordinator"
		expiry := int64(600)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "token-holder", Labels: map[string]string{"app": "token-holder"}},
			Spec: restrictedPodSpec([]string{"httpd", "-f", "-p", "8080", "-h", "/var/run/secrets/dsprobe"}, func(spec *corev1.PodSpec) {
				spec.AutomountServiceAccountToken = new(false)
				spec.Volumes = []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
						Audience: audience, ExpirationSeconds: &expiry, Path: "token",
					}}},
				}}}}
				spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "token", MountPath: "/var/run/secrets/dsprobe", ReadOnly: true}}
			}),
		}
		if _, err := c.Client.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		holder := n.WaitPodsReady(t, namespace, "app=token-holder", 1)[0]
		token := httpGet(t, client, netip.AddrPortFrom(netip.MustParseAddr(holder.Status.PodIP), 8080), "/token")
		claims := jwtClaims(t, token)
		if !slices.Contains(claims.Audience, audience) || claims.Kubernetes.ServiceAccount.Name != "default" || claims.Kubernetes.Pod.Name != "token-holder" {
			t.Errorf("got claims %+v, want audience %s for the default ServiceAccount bound to Pod token-holder", claims, audience)
		}
	})
}

// createDeployment creates a Deployment app=name of replicas busybox Pods
// running busybox with args, each Ready once it accepts connections on
// port 8080.
func createDeployment(t *testing.T, c *kubelab.Cluster, namespace, name string, replicas int32, args ...string) {
	t.Helper()
	labels := map[string]string{"app": name}
	spec := restrictedPodSpec(args, func(spec *corev1.PodSpec) {
		spec.Containers[0].ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1,
		}
	})
	_, err := c.Client.AppsV1().Deployments(namespace).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Deployment %s/%s: %v", namespace, name, err)
	}
}

// restrictedPodSpec is a Pod of one busybox container running args that
// Pod Security "restricted" admits, with a read-only root filesystem;
// adjust changes it further.
func restrictedPodSpec(args []string, adjust func(*corev1.PodSpec)) corev1.PodSpec {
	user := int64(65532)
	spec := corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot: new(true), RunAsUser: &user, RunAsGroup: &user, FSGroup: &user,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name: "main", Image: kubenode.BusyboxImage, ImagePullPolicy: corev1.PullNever, Args: args,
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: new(false),
				ReadOnlyRootFilesystem:   new(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
	if adjust != nil {
		adjust(&spec)
	}
	return spec
}

// runToEnd runs a restricted busybox Pod with args that is never
// restarted, and returns how its container ended; the message is what it
// wrote to /dev/termination-log or else the end of its log.
func runToEnd(t *testing.T, c *kubelab.Cluster, namespace, name string, args ...string) *corev1.ContainerStateTerminated {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: restrictedPodSpec(args, func(spec *corev1.PodSpec) {
			spec.RestartPolicy = corev1.RestartPolicyNever
			spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
		}),
	}
	if _, err := c.Client.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ended *corev1.ContainerStateTerminated
	poll(t, "Pod "+name+" to end", func() bool {
		p, err := c.Client.CoreV1().Pods(namespace).Get(t.Context(), name, metav1.GetOptions{})
		if err == nil && len(p.Status.ContainerStatuses) == 1 {
			ended = p.Status.ContainerStatuses[0].State.Terminated
		}
		return ended != nil
	})
	return ended
}

// httpGet fetches path from ap inside host and returns the body of a 200
// answer; anything else fails the test.
func httpGet(t *testing.T, host *testhost.Host, ap netip.AddrPort, path string) string {
	t.Helper()
	client := host.HTTPClient(5 * time.Second)
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + ap.String() + path)
	if err != nil {
		t.Fatalf("GET http://%v%s: %v", ap, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET http://%v%s: got %s %q (%v), want 200", ap, path, resp.Status, body, err)
	}
	return string(body)
}

// tokenClaims are the claims of a ServiceAccount token the test checks.
type tokenClaims struct {
	Audience   []string `json:"aud"`
	Kubernetes struct {
		ServiceAccount struct{ Name string } `json:"serviceaccount"`
		Pod            struct{ Name string } `json:"pod"`
	} `json:"kubernetes.io"`
}

// jwtClaims decodes a JWT's claims without verifying it: the API server
// signed it, and what is checked is what the kubelet mounted.
func jwtClaims(t *testing.T, token string) tokenClaims {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		t.Fatalf("got %q, want a JWT", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var claims tokenClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("JWT claims %s: %v", payload, err)
	}
	return claims
}
