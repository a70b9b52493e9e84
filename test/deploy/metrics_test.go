package deploy_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// documentedMetrics are the metrics of docs/contracts.md's tables
// (<!-- contract:metrics ... -->), by name, with their label names and
// whether each is a histogram. test/apicontract holds those tables to the
// code both ways, so a name found here is a name the servers expose.
func documentedMetrics(t *testing.T) map[string]documentedMetric {
	t.Helper()
	metrics := map[string]documentedMetric{}
	inTable := false
	for line := range strings.SplitSeq(string(readRepoFile(t, "docs/contracts.md")), "\n") {
		switch {
		case strings.HasPrefix(line, "<!-- contract:metrics "):
			inTable = true
		case strings.HasPrefix(line, "<!-- /contract:metrics"):
			inTable = false
		case inTable && strings.HasPrefix(line, "| `"):
			cells := strings.Split(line, "|")
			if len(cells) < 5 {
				t.Fatalf("docs/contracts.md: a metrics row with too few cells: %q", line)
			}
			m := documentedMetric{histogram: strings.TrimSpace(cells[2]) == "histogram"}
			for l := range strings.SplitSeq(cells[3], ",") {
				if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" {
					m.labels = append(m.labels, l)
				}
			}
			metrics[strings.Trim(strings.TrimSpace(cells[1]), "`")] = m
		}
	}
	if len(metrics) == 0 {
		t.Fatal("docs/contracts.md: no metrics table found")
	}
	return metrics
}

type documentedMetric struct {
	labels    []string
	histogram bool
}

var (
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// Label names in matchers ({result="fail"}) and in by/without
	// clauses.
	matcherLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	grouping     = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	jobMatcher   = regexp.MustCompile(`job\s*=\s*"([^"]*)"`)
)

// scrapeJobs are the job names of the shipped Prometheus configuration and
// the target labels each adds to what it scrapes.
func scrapeJobs(t *testing.T) map[string][]string {
	t.Helper()
	var cfg struct {
		ScrapeConfigs []struct {
			JobName        string `json:"job_name"`
			RelabelConfigs []struct {
				TargetLabel string `json:"target_label"`
			} `json:"relabel_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/overlays/observability/prometheus.yml"), &cfg); err != nil {
		t.Fatal(err)
	}
	jobs := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		targetLabels := []string{"job", "instance"}
		for _, rc := range sc.RelabelConfigs {
			if rc.TargetLabel != "" {
				targetLabels = append(targetLabels, rc.TargetLabel)
			}
		}
		jobs[sc.JobName] = targetLabels
	}
	return jobs
}

// checkQuery fails unless every series query names a metric documented
// (or up, of a shipped scrape job) and every label it matches or groups by
// is one those series carry.
func checkQuery(t *testing.T, where, query string, metrics map[string]documentedMetric, jobs map[string][]string) {
	t.Helper()
	// Template variables and Grafana's intervals are not PromQL.
	query = regexp.MustCompile(`\$\{?\w+\}?`).ReplaceAllString(query, "x")
	withoutStrings := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(query, `""`)
	allowed := map[string]bool{}
	for _, labels := range jobs {
		for _, l := range labels {
			allowed[l] = true // every series scraped carries its job's target labels
		}
	}
	named := 0
	for _, id := range identifier.FindAllString(withoutStrings, -1) {
		base, suffix := id, ""
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(id, s); ok {
				if m, found := metrics[b]; found && m.histogram {
					base, suffix = b, s
				}
			}
		}
		switch m, ok := metrics[base]; {
		case ok:
			named++
			for _, l := range m.labels {
				allowed[l] = true
			}
			if suffix == "_bucket" {
				allowed["le"] = true
			}
		case id == "up":
			named++
		case strings.HasPrefix(id, "dsprobe_"):
			t.Errorf("%s: metric %s is not in docs/contracts.md (a histogram's series end in _bucket, _sum or _count): %s", where, id, query)
		}
	}
	if named == 0 {
		t.Errorf("%s: names no metric: %s", where, query)
	}
	var used []string
	for _, m := range matcherLabel.FindAllStringSubmatch(query, -1) {
		used = append(used, m[1])
	}
	for _, g := range grouping.FindAllStringSubmatch(query, -1) {
		for l := range strings.SplitSeq(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				used = append(used, l)
			}
		}
	}
	for _, l := range used {
		if !allowed[l] {
			t.Errorf("%s: label %s is on none of the series it queries: %s", where, l, query)
		}
	}
	for _, m := range jobMatcher.FindAllStringSubmatch(query, -1) {
		if _, ok := jobs[m[1]]; !ok {
			t.Errorf("%s: job %q is not a scrape job of prometheus.yml: %s", where, m[1], query)
		}
	}
}

// The alert rules and the dashboard ask only for metrics the servers
// expose, by labels those metrics carry, and for scrape jobs Prometheus
// has: a rule on a misspelt metric would never fire, and nothing else
// would say so.
func TestAlertsAndDashboardQueryExistingMetrics(t *testing.T) {
	metrics, jobs := documentedMetrics(t), scrapeJobs(t)

	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert  string            `json:"alert"`
				Expr   string            `json:"expr"`
				For    string            `json:"for"`
				Labels map[string]string `json:"labels"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/overlays/observability/alerts.yaml"), &rules); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkQuery(t, "alert "+r.Alert, r.Expr, metrics, jobs)
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity label", r.Alert)
			}
		}
	}
	// The three: a family failing from a namespace, fallback delay
	// above a bound, probers missing.
	for _, want := range []string{"DsprobeFamilyFailing", "DsprobeFallbackDelayHigh", "DsprobeProbersMissing"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s among %v", want, alerts)
		}
	}

	var dashboard struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(readRepoFile(t, "deploy/overlays/observability/grafana/dsprobe.json"), &dashboard); err != nil {
		t.Fatal(err)
	}
	if len(dashboard.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for _, p := range dashboard.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			checkQuery(t, "panel "+p.Title, target.Expr, metrics, jobs)
		}
	}
}
