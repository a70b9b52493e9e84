package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// observability is where the shipped Prometheus configuration, alert rules
// and Grafana dashboard are, from this package's directory.
const observability = "../../deploy/overlays/observability"

// A real Prometheus, the version the observability overlay deploys, scrapes
// the mesh with the shipped scrape configuration and evaluates the shipped
// alert rules; after jobs of both verdicts, every query of the shipped
// dashboard returns numbers. Only service discovery differs: the mesh's
// processes are presented as Kubernetes' discovery presents their Pods, so
// the shipped relabelling picks the targets and names their labels.
func TestDashboardQueriesInPrometheus(t *testing.T) {
	prometheus := testhost.Tool(t, "prometheus")
	lab := testhost.New(t)
	web, promHost := lab.AddHost("web"), lab.AddHost("prometheus")
	// web.e2e.test has A and AAAA; :8080 listens on both families, :8081
	// on IPv4 only, so IPv6 fails there at the listener.
	webServer(t, web, "tcp", "[::]:8080")
	webServer(t, web, "tcp4", "0.0.0.0:8081")
	dnsAddr := serveName(t, web, "web.e2e.test")
	m := startMesh(t, lab, meshOptions{
		proberArgs: []string{"--allow-name", "*.e2e.test", "--metrics-listen", ":9090"},
		coordArgs:  []string{"--metrics-listen", ":9090"},
		proberEtc:  map[string]string{"resolv.conf": fmt.Sprintf("nameserver %s\noptions timeout:1 attempts:1\n", dnsAddr.Addr())},
	})

	// The Pods of deploy/base, with the mesh's addresses.
	withPort := func(ap netip.AddrPort, port uint16) netip.AddrPort { return netip.AddrPortFrom(ap.Addr(), port) }
	pods := []sdPod{{namespace: "dsprobe", name: "dsprobe-coordinator-0", app: "dsprobe-coordinator",
		ports: map[string]netip.AddrPort{"grpc": m.coordAddr, "metrics": withPort(m.coordAddr, 9090)}}}
	for i, p := range probers {
		pods = append(pods, sdPod{namespace: p.namespace, name: p.name, app: "dsprobe-prober",
			ports: map[string]netip.AddrPort{"grpc": m.proberAddrs[i], "metrics": withPort(m.proberAddrs[i], 9090)}})
	}
	api := startPrometheus(t, promHost, prometheus, pods)

	// Exactly each Pod's metrics port is scraped, with the target labels
	// the dashboard and the alerts group by.
	want := []string{fmt.Sprintf("dsprobe-coordinator %s kubernetes_namespace=dsprobe pod=dsprobe-coordinator-0", withPort(m.coordAddr, 9090))}
	for i, p := range probers {
		want = append(want, fmt.Sprintf("dsprobe-prober %s namespace=%s pod=%s", withPort(m.proberAddrs[i], 9090), p.namespace, p.name))
	}
	// Prometheus' discovery hands targets to the scrapes every 5 s, so the
	// first scrape is about 5 s after its start.
	seen := ""
	poll(t, fmt.Sprintf("the targets up to be %q", want), func() bool {
		targets := api.upTargets(t)
		if s := fmt.Sprintf("%q", targets); s != seen {
			t.Logf("targets up: %s", s)
			seen = s
		}
		return slices.Equal(targets, want)
	})

	// Each job twice: a counter's first sample is its first value, so its
	// rate is zero until a scrape has seen it before it grows.
	jobs := 0
	for range 2 {
		for _, target := range []struct {
			url  string
			exit int
		}{{"http://web.e2e.test:8080/", 0}, {"http://web.e2e.test:8081/", 1}} {
			if _, stderr, code := m.probe(t, nil, append(m.withCert, target.url)...); code != target.exit {
				t.Fatalf("%s: got exit %d (%s), want %d", target.url, code, stderr, target.exit)
			}
			jobs++
		}
		// The coordinator counts a job before it sends the summary the
		// CLI waits for.
		api.awaitScrape(t, "dsprobe-coordinator", time.Now())
		if v, ok := api.scalar(t, "sum(dsprobe_coordinator_jobs_total)"); !ok || v != float64(jobs) {
			t.Fatalf("Prometheus has %v jobs (%v) from the coordinator, want %d", v, ok, jobs)
		}
	}

	var namespaces []string
	for _, p := range probers {
		namespaces = append(namespaces, p.namespace)
	}
	checkDashboard(t, api, namespaces)
	checkAlertRules(t, api)
}

// checkDashboard evaluates every query of the shipped dashboard in
// Prometheus, with its variables at All and at one value, and fails the
// test for each that gives no number; each variable must list the probers'
// namespaces.
func checkDashboard(t *testing.T, api *promAPI, namespaces []string) {
	t.Helper()
	// Each query with its variables at All, and at a value each lists, as
	// a user picks them.
	dash := loadDashboard(t)
	all, one := map[string]string{}, map[string]string{}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		if !v.IncludeAll || v.AllValue == "" {
			t.Fatalf("variable %s: the test selects All, its allValue; this variable has none", v.Name)
		}
		// The variable's own query lists the probers' namespaces.
		values := api.labelValues(t, v.query())
		for _, ns := range namespaces {
			if !slices.Contains(values, ns) {
				t.Fatalf("variable %s: %s gives %v, without %s", v.Name, v.query(), values, ns)
			}
		}
		all[v.Name], one[v.Name] = v.AllValue, values[0]
	}
	for _, vars := range []map[string]string{all, one} {
		// Longer than this Prometheus has run: the rates span every sample.
		vars["__rate_interval"] = "1h"
		for _, p := range dash.Panels {
			for _, target := range p.Targets {
				query := substitute(t, target.Expr, vars)
				if numbers := api.numbers(t, query); len(numbers) == 0 {
					t.Errorf("panel %q: no number from %s", p.Title, query)
				} else {
					t.Logf("panel %q: %s: %v", p.Title, target.LegendFormat, numbers)
				}
			}
		}
	}
}

// checkAlertRules waits until Prometheus has evaluated every shipped alert
// rule, failing the test on one that does not evaluate; with every target
// up, none of the rules on up may even be pending.
func checkAlertRules(t *testing.T, api *promAPI) {
	t.Helper()
	alerts, onUp := shippedAlerts(t), []string{"DsprobeProberDown", "DsprobeProbersMissing", "DsprobeCoordinatorDown"}
	var rules map[string]promRule
	poll(t, "every alert rule evaluated", func() bool {
		rules = api.rules(t)
		for _, name := range alerts {
			r := rules[name]
			if r.Health == "err" {
				t.Fatalf("alert %s fails to evaluate: %s", name, r.LastError)
			}
			if r.Health != "ok" || slices.Contains(onUp, name) && r.State != "inactive" {
				t.Logf("alert %s: health %q, state %q", name, r.Health, r.State)
				return false
			}
		}
		return true
	})
	if len(rules) != len(alerts) {
		t.Errorf("Prometheus loaded the rules %v, want the alerts %v", rules, alerts)
	}
	for _, name := range onUp {
		if !slices.Contains(alerts, name) {
			t.Errorf("alerts.yaml has no alert %s", name)
		}
	}
}

// sdPod is a Pod as Kubernetes service discovery (role pod) presents it to
// relabelling: a target per container port, with the Pod's namespace,
// name, app.kubernetes.io/name label and the port's name.
type sdPod struct {
	namespace, name, app string
	ports                map[string]netip.AddrPort
}

// startPrometheus runs Prometheus in host, scraping and evaluating every
// second, with the shipped configuration: its rule files, and its scrape
// jobs with their relabelling, each discovering pods as Kubernetes would
// (in the namespaces it names, if it names them).
func startPrometheus(t *testing.T, host *testhost.Host, prometheus string, pods []sdPod) *promAPI {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal(readFile(t, "prometheus.yml"), &cfg); err != nil {
		t.Fatal(err)
	}
	var shipped struct {
		Global        map[string]any   `json:"global"`
		RuleFiles     []string         `json:"rule_files"`
		ScrapeConfigs []map[string]any `json:"scrape_configs"`
	}
	if err := remarshal(cfg, &shipped); err != nil {
		t.Fatal(err)
	}
	global := shipped.Global
	if global == nil {
		global = map[string]any{}
	}
	global["scrape_interval"], global["evaluation_interval"] = "1s", "1s"
	for i, f := range shipped.RuleFiles {
		// Deployed, the ConfigMap that holds prometheus.yml holds these.
		abs, err := filepath.Abs(filepath.Join(observability, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		shipped.RuleFiles[i] = abs
	}
	for _, sc := range shipped.ScrapeConfigs {
		var sd []struct {
			Role       string
			Namespaces struct{ Names []string }
		}
		if err := remarshal(sc["kubernetes_sd_configs"], &sd); err != nil || len(sd) != 1 || sd[0].Role != "pod" {
			t.Fatalf("scrape job %s: want one kubernetes_sd_configs of role pod, got %v (%v)", sc["job_name"], sc["kubernetes_sd_configs"], err)
		}
		var static []map[string]any
		for _, p := range pods {
			if names := sd[0].Namespaces.Names; len(names) > 0 && !slices.Contains(names, p.namespace) {
				continue
			}
			for port, addr := range p.ports {
				static = append(static, map[string]any{"targets": []string{addr.String()}, "labels": map[string]string{
					"__meta_kubernetes_namespace":                        p.namespace,
					"__meta_kubernetes_pod_name":                         p.name,
					"__meta_kubernetes_pod_label_app_kubernetes_io_name": p.app,
					"__meta_kubernetes_pod_container_port_name":          port,
				}})
			}
		}
		delete(sc, "kubernetes_sd_configs")
		sc["static_configs"] = static
	}
	cfg["global"], cfg["rule_files"], cfg["scrape_configs"] = global, shipped.RuleFiles, shipped.ScrapeConfigs
	config, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, config, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(host.Addr4(), 9090)
	host.Start(t, prometheus, "--config.file", file, "--storage.tsdb.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr.String())
	api := newPromAPI(host, addr)
	// Its API answers 503 until the storage is open and the configuration
	// loaded.
	poll(t, "Prometheus ready", func() bool {
		resp, err := api.client.Get(fmt.Sprintf("http://%s/-/ready", addr))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return api
}

// remarshal converts a decoded YAML value into out.
func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(observability, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dashboard is what this test reads of a Grafana dashboard.
type dashboard struct {
	Templating struct {
		List []dashboardVar
	}
	Panels []struct {
		Title   string
		Targets []struct{ Expr, LegendFormat string }
	}
}

type dashboardVar struct {
	Name, Type, AllValue string
	IncludeAll           bool
	// Query is the query's text, or an object holding it.
	Query json.RawMessage
}

// query is the variable's query, as Grafana's Prometheus data source takes
// it: label_values(metric, label).
func (v dashboardVar) query() string {
	var text string
	if json.Unmarshal(v.Query, &text) == nil {
		return text
	}
	var object struct{ Query string }
	json.Unmarshal(v.Query, &object)
	return object.Query
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, "grafana/dsprobe.json"), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	return &d
}

// substitute replaces the Grafana variables of query ($name, ${name},
// ${name:format}) with vars' values, failing the test on one it lacks.
func substitute(t *testing.T, query string, vars map[string]string) string {
	t.Helper()
	return regexp.MustCompile(`\$(?:\{(\w+)(?::\w+)?\}|(\w+))`).ReplaceAllStringFunc(query, func(ref string) string {
		name := strings.Trim(strings.SplitN(ref, ":", 2)[0], "${}")
		v, ok := vars[name]
		if !ok {
			t.Fatalf("%s: variable %s has no value here: teach the test one", query, name)
		}
		return v
	})
}

// shippedAlerts are the names of alerts.yaml's alerts.
func shippedAlerts(t *testing.T) []string {
	t.Helper()
	var rules struct {
		Groups []struct{ Rules []struct{ Alert string } }
	}
	if err := yaml.Unmarshal(readFile(t, "alerts.yaml"), &rules); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
		}
	}
	return names
}

// promAPI is Prometheus' HTTP API.
type promAPI struct {
	base   string
	client *http.Client
}

// newPromAPI is the API of the Prometheus at addr, asked from host.
func newPromAPI(host *testhost.Host, addr netip.AddrPort) *promAPI {
	return &promAPI{base: fmt.Sprintf("http://%s/api/v1/", addr), client: host.HTTPClient(5 * time.Second)}
}

// get decodes the data of the answer to the API's path with params into
// data, failing the test on an error.
func (a *promAPI) get(t *testing.T, path string, params url.Values, data any) {
	t.Helper()
	u := a.base + path + "?" + params.Encode()
	resp, err := a.client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	answer := struct {
		Status, Error string
		Data          any
	}{Data: data}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Status != "success" {
		t.Fatalf("GET %s: %s (%v): %.500s", u, resp.Status, err, body)
	}
}

// numbers evaluates query now and returns its finite values, by series.
func (a *promAPI) numbers(t *testing.T, query string) map[string]float64 {
	t.Helper()
	var data struct {
		ResultType string
		Result     []struct {
			Metric map[string]string
			Value  [2]any
		}
	}
	a.get(t, "query", url.Values{"query": {query}}, &data)
	if data.ResultType != "vector" {
		t.Fatalf("%s: got a %s, want a vector", query, data.ResultType)
	}
	numbers := map[string]float64{}
	for _, r := range data.Result {
		v, err := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
		if err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
			numbers[fmt.Sprint(r.Metric)] = v
		}
	}
	return numbers
}

// scalar is the value of a query that gives one series, and whether it
// gave one.
func (a *promAPI) scalar(t *testing.T, query string) (float64, bool) {
	t.Helper()
	for _, v := range a.numbers(t, query) {
		return v, true
	}
	return 0, false
}

// awaitScrape waits until every target of job has been scraped by a
// scrape that starts after after.
func (a *promAPI) awaitScrape(t *testing.T, job string, after time.Time) {
	t.Helper()
	// Prometheus may align a scrape's timestamp to its schedule by up to
	// 2 ms (--scrape.timestamp-tolerance); a later one is surely later.
	after = after.Add(10 * time.Millisecond)
	poll(t, fmt.Sprintf("a scrape of %s after %v", job, after), func() bool {
		last, ok := a.scalar(t, fmt.Sprintf("min(timestamp(up{job=%q}))", job))
		return ok && last > float64(after.UnixMilli())/1000
	})
}

// labelValues answers a Grafana label_values(metric, label) query.
func (a *promAPI) labelValues(t *testing.T, query string) []string {
	t.Helper()
	parts := regexp.MustCompile(`^label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)$`).FindStringSubmatch(query)
	if parts == nil {
		t.Fatalf("%q is not a label_values(metric, label) query", query)
	}
	var values []string
	a.get(t, "label/"+parts[2]+"/values", url.Values{"match[]": {parts[1]}}, &values)
	return values
}

// upTargets are the healthy targets, sorted, each as its job, address and
// its labels other than job and instance.
func (a *promAPI) upTargets(t *testing.T) []string {
	t.Helper()
	var data struct {
		ActiveTargets []struct {
			Labels map[string]string
			Health string
		}
	}
	a.get(t, "targets", url.Values{"state": {"active"}}, &data)
	var up []string
	for _, target := range data.ActiveTargets {
		if target.Health != "up" {
			continue
		}
		s := target.Labels["job"] + " " + target.Labels["instance"]
		var labels []string
		for k, v := range target.Labels {
			if k != "job" && k != "instance" {
				labels = append(labels, k+"="+v)
			}
		}
		slices.Sort(labels)
		up = append(up, strings.Join(append([]string{s}, labels...), " "))
	}
	slices.Sort(up)
	return up
}

// promRule is a rule as Prometheus reports it.
type promRule struct {
	Name, Health, LastError, State string
}

// rules are the loaded rules, by name.
func (a *promAPI) rules(t *testing.T) map[string]promRule {
	t.Helper()
	var data struct {
		Groups []struct{ Rules []promRule }
	}
	a.get(t, "rules", nil, &data)
	rules := map[string]promRule{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			rules[r.Name] = r
		}
	}
	return rules
}
