package deploy_test

import (
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/testsupport/modroot"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// observability holds the Prometheus configuration, its alert rules and
// their unit tests, as the observability overlay ships them.
const observability = "deploy/overlays/observability"

// promtool runs the pinned promtool (the deployed Prometheus' version,
// scripts/install-deps.sh) with args in dir and returns its output, failing
// the test with that output unless promtool succeeds.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), testhost.Tool(t, "promtool"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The alert rules are valid, free of what promtool lints (duplicate rules),
// and fire, with the labels and annotations alerts_test.yaml expects, on
// the series it feeds them.
func TestAlertRulesPassPromtool(t *testing.T) {
	dir := filepath.Join(modroot.Dir(t), observability)
	t.Log(promtool(t, dir, "check", "rules", "--lint-fatal", "alerts.yaml"))
	t.Log(promtool(t, dir, "test", "rules", "alerts_test.yaml"))
}

// The scrape configuration loads in the Prometheus the overlay deploys,
// with the rule files it names: files shipped beside it, which the
// overlay mounts from the same ConfigMap.
func TestPrometheusConfigPassesPromtool(t *testing.T) {
	dir := filepath.Join(modroot.Dir(t), observability)
	var cfg map[string]any
	if err := yaml.Unmarshal(readRepoFile(t, observability+"/prometheus.yml"), &cfg); err != nil {
		t.Fatal(err)
	}
	ruleFiles, _ := cfg["rule_files"].([]any)
	if len(ruleFiles) == 0 {
		t.Fatal("prometheus.yml loads no rule files: no alert of alerts.yaml would ever fire")
	}
	// The deployed paths are the ConfigMap's mount; here the same files are
	// read where they are shipped.
	for i, f := range ruleFiles {
		ruleFiles[i] = filepath.Join(dir, path.Base(fmt.Sprint(f)))
	}
	local, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(promtool(t, dir, "check", "config", "--lint-fatal", writeTemp(t, "prometheus.yml", string(local))))
}
