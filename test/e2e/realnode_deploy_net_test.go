package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/imagebuild"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubenode"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// deployedOverlay is what a user applies to a dual-stack kind cluster with
// its telemetry: the kind overlay, Jaeger and Prometheus. kubelab has
// kind's Pod and Service CIDRs, so it is applied here unchanged.
const deployedOverlay = "deploy/overlays/observability"

// The Pods the observability overlay runs, by namespace and label
// selector: the kind overlay's coordinator's two replicas and a prober in
// each team namespace, then Jaeger and Prometheus.
var deployedPods = []struct {
	namespace, selector string
	replicas            int
}{
	{"dsprobe", "app.kubernetes.io/name=dsprobe-coordinator", 2},
	{"team-a", "app.kubernetes.io/name=dsprobe-prober", 1},
	{"team-b", "app.kubernetes.io/name=dsprobe-prober", 1},
	{"team-c", "app.kubernetes.io/name=dsprobe-prober", 1},
	{"observability", "app.kubernetes.io/name=jaeger", 1},
	{"observability", "app.kubernetes.io/name=prometheus", 1},
}

// imageBuild is images being built while the cluster starts: the project's
// from the checkout's HEAD commit, as scripts/images builds them
// (buildImages), or the telemetry's (packageTelemetryImages).
type imageBuild struct {
	done  chan struct{}
	built []imagebuild.Built
	err   error
	took  time.Duration
}

// buildImages starts building the images into a directory of the test's,
// for importInto. The build ends with the test at the latest.
func buildImages(t *testing.T) *imageBuild {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	epoch, err := imagebuild.SourceDateEpoch(t.Context(), repo)
	if err != nil {
		t.Fatal(err)
	}
	o := imagebuild.Options{
		Repo: repo, Out: t.TempDir(), Registry: imagebuild.DefaultRegistry, Tag: imagebuild.DefaultTag,
		Source: imagebuild.DefaultSource, CABundle: imagebuild.DefaultCABundle, Epoch: epoch,
	}
	b := &imageBuild{done: make(chan struct{})}
	began := time.Now()
	go func() {
		defer close(b.done)
		b.built, b.err = imagebuild.Build(t.Context(), o)
		b.took = time.Since(began)
	}()
	// The build's files are in the test's directory: it must be over
	// before that is removed.
	t.Cleanup(func() { <-b.done })
	return b
}

// importInto waits for the build and imports every image into the node.
func (b *imageBuild) importInto(t *testing.T, n *kubenode.Node) {
	t.Helper()
	<-b.done
	if b.err != nil {
		t.Fatalf("building the images: %v", b.err)
	}
	began := time.Now()
	for _, img := range b.built {
		n.ImportImage(t, img.Archive)
	}
	for _, img := range b.built {
		t.Logf("imported %s %s (built in %v; the build's images imported in %v)", img.Ref, img.Digest, b.took.Round(time.Second), time.Since(began).Round(time.Second))
	}
}

// renderOverlay renders deployedOverlay with the pinned kustomize.
func renderOverlay(t *testing.T) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), testhost.Tool(t, "kustomize"), "build", filepath.Join("../..", deployedOverlay))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	manifests, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", deployedOverlay, err, stderr.Bytes())
	}
	return manifests
}

// applyOverlay applies manifests with server-side apply, as `kubectl apply
// --server-side -k` would; the API server must warn of nothing (its
// namespaces warn at restricted, so a Pod template that breaks it would say
// so).
func applyOverlay(t *testing.T, c *kubelab.Cluster, manifests []byte) {
	t.Helper()
	for _, w := range c.Apply(t, manifests, kubelab.ApplyOptions{FieldManager: "dsprobe-e2e"}) {
		t.Errorf("%s: the API server warned: %s", deployedOverlay, w)
	}
}

// waitDeployed waits for every Pod of the overlay to be Ready on the real
// node.
func waitDeployed(t *testing.T, n *kubenode.Node) {
	t.Helper()
	for _, d := range deployedPods {
		for _, p := range n.WaitPodsReady(t, d.namespace, d.selector, d.replicas) {
			if p.Spec.NodeName != kubenode.NodeName || len(p.Status.PodIPs) != 2 {
				t.Errorf("Pod %s/%s: got node %s and podIPs %v, want node %s and one of each family", p.Namespace, p.Name, p.Spec.NodeName, p.Status.PodIPs, kubenode.NodeName)
			}
		}
	}
}

// attemptTimeout is each connect's budget in the deployed jobs. busybox
// httpd listens with a backlog of 9: the three probers' connects of a job,
// all at once, overflow it (the web Pods' netns count ListenOverflows), and
// the kernel drops a SYN, which the client sends again after 1 s, then 2 s
// more. The default 2 s would judge a second drop a timeout; 5 s lets the
// server's queue, not dsprobe, take the time.
const attemptTimeout = 5 * time.Second

// deployedCoordinator is the deployed coordinator as a caller outside the
// cluster reaches it: its Service's ClusterIPs and a token of the overlay's
// dsprobe-cli ServiceAccount, which may probe from team-a, team-b and
// team-c.
type deployedCoordinator struct {
	clusterIPs []netip.Addr
	tokenFile  string
	token      string
}

func newDeployedCoordinator(t *testing.T, c *kubelab.Cluster) *deployedCoordinator {
	t.Helper()
	svc, err := c.Client.CoreV1().Services("dsprobe").Get(t.Context(), "dsprobe-coordinator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := &deployedCoordinator{}
	for _, ip := range svc.Spec.ClusterIPs {
		d.clusterIPs = append(d.clusterIPs, netip.MustParseAddr(ip))
	}
	if len(d.clusterIPs) != 2 {
		t.Fatalf("the coordinator's Service has ClusterIPs %v, want one of each family", d.clusterIPs)
	}
	// kube-proxy routes each port to both replicas before a caller uses it.
	for _, ip := range d.clusterIPs {
		for _, port := range []int{9444, 8444} {
			c.WaitProxied(t, ip, port, 2)
		}
	}
	// kubectl -n dsprobe create token dsprobe-cli, as the README says.
	tr, err := c.Client.CoreV1().ServiceAccounts("dsprobe").CreateToken(t.Context(), "dsprobe-cli", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.token = tr.Status.Token
	d.tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(d.tokenFile, []byte(d.token), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// checkDeployedProbes runs Service jobs through the deployed coordinator
// from client, a host routed through the node: with the dsprobe CLI (gRPC)
// and with the REST mapping, on the IPv6 and the IPv4 ClusterIP. The
// coordinator discovers the three probers, presents each its projected
// token, and judges web-dual healthy on both families and web-v4 (bound to
// 0.0.0.0) failing IPv6 at the listener, from every prober.
func checkDeployedProbes(t *testing.T, c *kubelab.Cluster, client *testhost.Host, namespace string) {
	d := newDeployedCoordinator(t, c)
	grpcAddr := netip.AddrPortFrom(d.clusterIPs[1], 9444)
	restAddr := netip.AddrPortFrom(d.clusterIPs[0], 8444)
	cases := []struct {
		service  string
		wantCode int
		want     map[string]string // family -> failing layer, of every prober and the summary
	}{
		{"web-dual", 0, map[string]string{"FAMILY_IPV4": "LAYER_NONE", "FAMILY_IPV6": "LAYER_NONE"}},
		{"web-v4", 1, map[string]string{"FAMILY_IPV4": "LAYER_NONE", "FAMILY_IPV6": "LAYER_LISTENER"}},
	}
	dsprobe := func(t *testing.T, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		args = append([]string{"probe", "--coordinator", grpcAddr.String(), "--insecure", "--token-file", d.tokenFile, "-n", namespace,
			"--attempt-timeout", attemptTimeout.String()}, args...)
		return testhost.RunExit(t, client.Command(ctx, bins["dsprobe"], args...))
	}
	// A Service job shows the Service's namespace's objects, so the caller
	// must be let probe there too (docs/contracts.md, Service jobs): the
	// overlay's dsprobe-cli may probe from the team namespaces alone, and
	// is refused before the Service is read.
	t.Run("refused without dsprobe-user in the Service's namespace", func(t *testing.T) {
		_, stderr, code := dsprobe(t, "svc/web-dual")
		if code != 2 || !strings.Contains(stderr, "PERMISSION_DENIED") || !strings.Contains(stderr, "in namespace "+namespace) {
			t.Errorf("got exit %d %q, want 2 and PERMISSION_DENIED naming namespace %s", code, stderr, namespace)
		}
	})
	// kubectl -n web create rolebinding dsprobe-cli --clusterrole dsprobe-user --serviceaccount dsprobe:dsprobe-cli
	if _, err := c.Client.RbacV1().RoleBindings(namespace).Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "dsprobe-cli"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "dsprobe-user"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "dsprobe", Name: "dsprobe-cli"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("the probers take jobs from the coordinator's ServiceAccount alone", func(t *testing.T) {
		checkProberAuthentication(t, c, client)
	})
	for _, tc := range cases {
		t.Run("dsprobe probe --coordinator svc/"+tc.service, func(t *testing.T) {
			stdout, stderr, code := dsprobe(t, "-o", "json", "svc/"+tc.service)
			var job serviceJobJSON
			if err := json.Unmarshal([]byte(stdout), &job); err != nil || code != tc.wantCode {
				t.Fatalf("got exit %d (%s), %v, want exit %d and a Job: %.3000s", code, stderr, err, tc.wantCode, stdout)
			}
			checkDeployedJob(t, &job, tc.want)
			table, stderr, code := dsprobe(t, "svc/"+tc.service)
			if code != tc.wantCode {
				t.Errorf("the table: got exit %d (%s), want %d", code, stderr, tc.wantCode)
			}
			t.Logf("dsprobe probe --coordinator [%s]:9444 -n %s svc/%s:\n%s", d.clusterIPs[1], namespace, tc.service, table)
		})
		t.Run("POST /v1/jobs svc/"+tc.service, func(t *testing.T) {
			job := postServiceJob(t, client, restAddr, d.token, namespace, tc.service)
			checkDeployedJob(t, job, tc.want)
		})
	}
	// As a CI script probing its Services one after another does: each
	// Service job asks every prober one probe per path (7 for web-dual, up
	// to 19), so the probers must admit several jobs' probes in a row.
	t.Run("Service jobs back to back are all answered", func(t *testing.T) {
		for range 6 {
			checkDeployedJob(t, postServiceJob(t, client, restAddr, d.token, namespace, "web-dual"), cases[0].want)
		}
	})
}

// checkDeployedJob checks that job has a Service result from the prober of
// each team namespace, none an error (a prober refusing the coordinator's
// token would answer UNAUTHENTICATED), with the failing layers want, and a
// summary of the same.
func checkDeployedJob(t *testing.T, job *serviceJobJSON, want map[string]string) {
	t.Helper()
	var namespaces []string
	for _, p := range job.Probers {
		namespaces = append(namespaces, p.Namespace)
		if p.Error != nil || p.Service == nil {
			t.Errorf("prober %s/%s: got error %+v, want its Service result", p.Namespace, p.Prober, p.Error)
			continue
		}
		if got := failingLayers(p.Service.Families); !maps.Equal(got, want) {
			t.Errorf("prober %s/%s: got %+v, want %v", p.Namespace, p.Prober, p.Service.Families, want)
		}
	}
	slices.Sort(namespaces)
	if !slices.Equal(namespaces, []string{"team-a", "team-b", "team-c"}) {
		t.Errorf("got results from probers in %v, want one from each of team-a, team-b, team-c", namespaces)
	}
	passed := want["FAMILY_IPV4"] == "LAYER_NONE" && want["FAMILY_IPV6"] == "LAYER_NONE"
	if got := failingLayers(job.Summary.Families); !maps.Equal(got, want) || job.Summary.Passed != passed {
		t.Errorf("summary: got %+v, want %v, passed %v", job.Summary, want, passed)
	}
}

// postServiceJob runs a Service job through the coordinator's REST mapping
// (POST /v1/jobs, docs/contracts.md) from host, presenting token, and
// returns it as the CLI's JSON would hold it: the stream's prober results
// in order and its summary.
func postServiceJob(t *testing.T, host *testhost.Host, addr netip.AddrPort, token, namespace, service string) *serviceJobJSON {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"service": map[string]string{"namespace": namespace, "name": service},
		"probe":   map[string]any{"attemptTimeoutMs": attemptTimeout.Milliseconds()},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr.String() + "/v1/jobs"
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	httpClient := host.HTTPClient(90 * time.Second)
	defer httpClient.CloseIdleConnections()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var status bytes.Buffer
		status.ReadFrom(resp.Body)
		t.Fatalf("POST %s: got %s %s, want 200", url, resp.Status, status.Bytes())
	}
	// One {"result": RunProbeResponse} per line, each a prober's result
	// or, last, the summary, and each the job's ID and trace ID: gathered
	// into a Job's shape.
	var probers []json.RawMessage
	var summary json.RawMessage
	var jobID, traceID string
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var msg struct {
			Result *struct {
				JobID, TraceID  string
				Prober, Summary json.RawMessage
			}
		}
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil || msg.Result == nil {
			t.Fatalf("POST %s: got the line %s (%v), want a result", url, lines.Bytes(), err)
		}
		jobID, traceID = msg.Result.JobID, msg.Result.TraceID
		if msg.Result.Prober != nil {
			probers = append(probers, msg.Result.Prober)
		}
		if msg.Result.Summary != nil {
			summary = msg.Result.Summary
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatalf("POST %s: reading the stream: %v", url, err)
	}
	if summary == nil {
		t.Fatalf("POST %s: the stream ended without a summary", url)
	}
	gathered, err := json.Marshal(map[string]any{"jobId": jobID, "traceId": traceID, "probers": probers, "summary": summary})
	if err != nil {
		t.Fatal(err)
	}
	var job serviceJobJSON
	if err := json.Unmarshal(gathered, &job); err != nil {
		t.Fatalf("POST %s: %v in %s", url, err, gathered)
	}
	return &job
}

// failingLayers maps each family of a verdict list to its failing layer.
func failingLayers(families []struct{ Family, FailingLayer, Detail string }) map[string]string {
	out := map[string]string{}
	for _, f := range families {
		out[f.Family] = f.FailingLayer
	}
	return out
}

// checkProberAuthentication calls each deployed prober directly, as the
// coordinator does, with the tokens it might be shown: only one of the
// coordinator's ServiceAccount for the audience dsprobe-prober (what the
// coordinator's projected volume holds) is let in. So the jobs' answers
// are proof the probers reviewed the coordinator's projected token.
func checkProberAuthentication(t *testing.T, c *kubelab.Cluster, client *testhost.Host) {
	token := func(serviceAccount string, audiences ...string) string {
		t.Helper()
		namespace, name, _ := strings.Cut(serviceAccount, "/")
		tr, err := c.Client.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), name,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	const audience = "dsprobe-prober"
	tokens := []struct {
		what, token string
		want        codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"dsprobe-cli's token for the API server", token("dsprobe/dsprobe-cli"), codes.Unauthenticated},
		{"dsprobe-cli's token for " + audience, token("dsprobe/dsprobe-cli", audience), codes.Unauthenticated},
		{"the coordinator's token for " + audience, token("dsprobe/dsprobe-coordinator", audience), codes.OK},
	}
	for _, team := range []string{"team-a", "team-b", "team-c"} {
		pods, err := c.Client.CoreV1().Pods(team).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=dsprobe-prober"})
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("the prober Pod of %s: got %v, %v", team, pods, err)
		}
		addr := netip.AddrPortFrom(netip.MustParseAddr(pods.Items[0].Status.PodIP), 9443)
		conn, err := grpc.NewClient("passthrough:///"+addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, address string) (net.Conn, error) {
				return client.DialContext(ctx, "tcp", address)
			}))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		prober := dsprobev1.NewProberClient(conn)
		for _, tc := range tokens {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			if tc.token != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tc.token)
			}
			_, err := prober.Probe(ctx, &dsprobev1.ProbeRequest{Target: "web-dual.web.svc.cluster.local:80"})
			cancel()
			if status.Code(err) != tc.want {
				t.Errorf("prober in %s, %s: got %v, want %v", team, tc.what, err, tc.want)
			}
		}
	}
}
