package deploy_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/ladder"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
)

const ladders = "/apis/dsprobe.io/v1alpha1/namespaces/shop/dnsladders"

// The CRD on a real API server: it is accepted and established; the
// ladder file of the no-cluster mode is accepted as a resource unchanged
// (one schema for both); ladders the schema refuses are refused, each
// naming its field; a status written through the status subresource comes
// back whole (nothing pruned: the status schema holds every field the Go
// types write); and kubectl get dnsladders shows the printer columns.
func TestDNSLadderCRDOnARealAPIServer(t *testing.T) {
	c := kubelab.Start(t)
	o := render(t, "deploy/base")
	for _, w := range c.Apply(t, o.yaml, kubelab.ApplyOptions{FieldManager: "dsprobe-deploy-test"}) {
		t.Errorf("the API server warned: %s", w)
	}
	waitServed(t, c, "dsprobe.io/v1alpha1", "dnsladders")
	c.AddNamespace(t, "shop", nil)
	rest := c.Client.Discovery().RESTClient()
	create := func(doc []byte) error {
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		return rest.Post().AbsPath(ladders).Param("fieldValidation", "Strict").
			SetHeader("Content-Type", "application/json").Body(j).Do(t.Context()).Error()
	}

	valid := readRepoFile(t, "internal/config/testdata/ladders/valid-web.yaml")
	if err := create(valid); err != nil {
		t.Fatalf("the valid ladder file as a resource: %v", err)
	}

	for _, tt := range []struct{ name, from, to, field string }{
		{"no rungs", "  rungs:\n", "  rungs: []\n", "spec.rungs"},
		{"a rung name that is no DNS label", "- name: internal", "- name: Internal", "spec.rungs[0].name"},
		{"aaaaExpected not a boolean", "aaaaExpected: true", `aaaaExpected: "yes"`, "spec.rungs[0].aaaaExpected"},
		{"a negative soak", "consecutivePasses: 3", "consecutivePasses: -3", "spec.rungs[0].gates.consecutivePasses"},
		{"an unknown field", "    timeout: 10s", "    timeot: 10s", "timeot"},
		{"no target", "    address: http://web.shop.example:8080/healthz\n", "", "spec.target.address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(string(valid), tt.from, tt.to, 1)
			if tt.from == "  rungs:\n" { // cut the list off
				doc = doc[:strings.Index(doc, tt.to)] + tt.to
			}
			doc = strings.Replace(doc, "name: web", "name: invalid", 1)
			if doc == string(valid) {
				t.Fatalf("%q is not in the fixture", tt.from)
			}
			err := create([]byte(doc))
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("got %v, want the schema to refuse it, naming %s", err, tt.field)
			}
		})
	}

	// A status as a run records it, every field set.
	l, err := readLadder(valid)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	run := ladder.RungRun{Time: at, JobID: "job-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Vantages: []ladder.VantageRun{{
		Prober: "prober-0", Namespace: "dsprobe-internal",
		A:            ladder.DNSAnswer{Status: "DNS_STATUS_POSITIVE", Rcode: "NOERROR", Addresses: []string{"10.0.0.8"}, Server: "10.96.0.10:53"},
		AAAA:         ladder.DNSAnswer{Status: "DNS_STATUS_POSITIVE", Rcode: "NOERROR", Addresses: []string{"fd00::8"}, Server: "10.96.0.10:53"},
		Attempted:    []string{"[fd00::8]:8080", "10.0.0.8:8080"},
		ChosenFamily: "FAMILY_IPV4",
		Families: []ladder.FamilyVerdict{
			{Family: "FAMILY_IPV4", OK: true, FailingLayer: "LAYER_NONE"},
			{Family: "FAMILY_IPV6", FailingLayer: "LAYER_LISTENER", Detail: "[fd00::8]:8080 refused while 10.0.0.8:8080 connected"},
		},
		Clients: []ladder.ClientRun{{Profile: "node", Family: "FAMILY_IPV4", Outcome: "OUTCOME_CONNECTED", TimeToConnectMs: 1.5, FallbackDelayMs: 0.25, FailingLayer: "LAYER_NONE"}},
	}}}
	status := &ladder.Status{}
	status.Record(&l.Spec, []ladder.RungRun{l.Spec.Judge(0, run)}, at)
	l.Status = status

	var current map[string]any
	raw, err := rest.Get().AbsPath(ladders, "web").Do(t.Context()).Raw()
	if err == nil {
		err = json.Unmarshal(raw, &current)
	}
	if err != nil {
		t.Fatal(err)
	}
	current["status"] = status
	body, err := json.Marshal(current)
	if err != nil {
		t.Fatal(err)
	}
	if err := rest.Put().AbsPath(ladders, "web", "status").SetHeader("Content-Type", "application/json").Body(body).Do(t.Context()).Error(); err != nil {
		t.Fatalf("writing the status: %v", err)
	}
	raw, err = rest.Get().AbsPath(ladders, "web").Do(t.Context()).Raw()
	if err != nil {
		t.Fatal(err)
	}
	var back ladder.DNSLadder
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Status, status) {
		got, _ := json.Marshal(back.Status)
		want, _ := json.Marshal(status)
		t.Errorf("the status read back differs from the status written:\n got %s\nwant %s", got, want)
	}
	if status.Rungs[0].State != ladder.Failing {
		t.Errorf("got rung state %s, want Failing (the status under test is a failing one)", status.Rungs[0].State)
	}

	// kubectl get dnsladders: the server's table.
	table, err := rest.Get().AbsPath(ladders).SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(t.Context()).Raw()
	if err != nil {
		t.Fatal(err)
	}
	var tab struct {
		ColumnDefinitions []struct{ Name string }
		Rows              []struct{ Cells []any }
	}
	if err := json.Unmarshal(table, &tab); err != nil {
		t.Fatal(err)
	}
	var columns []string
	for _, col := range tab.ColumnDefinitions {
		columns = append(columns, col.Name)
	}
	if want := []string{"Name", "Target", "Cleared", "Rungs", "State", "Last-Run", "Age"}; !reflect.DeepEqual(columns, want) {
		t.Errorf("got columns %q, want %q", columns, want)
	}
	if len(tab.Rows) != 1 || len(tab.Rows[0].Cells) != len(columns) {
		t.Fatalf("got rows %+v, want one row for web", tab.Rows)
	}
	cells := tab.Rows[0].Cells
	if cells[0] != "web" || cells[1] != "http://web.shop.example:8080/healthz" || cells[4] != string(ladder.LadderFailing) {
		t.Errorf("got row %v, want web, its target, and state Failing", cells)
	}
}

// readLadder decodes a ladder file's YAML.
func readLadder(doc []byte) (*ladder.DNSLadder, error) {
	var l ladder.DNSLadder
	if err := yaml.UnmarshalStrict(doc, &l); err != nil {
		return nil, err
	}
	return &l, l.Validate()
}

// waitServed waits until the API server serves resource in groupVersion:
// a CRD is served a moment after it is created.
func waitServed(t *testing.T, c *kubelab.Cluster, groupVersion, resource string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		list, err := c.Client.Discovery().ServerResourcesForGroupVersion(groupVersion)
		if err == nil {
			for _, r := range list.APIResources {
				if r.Name == resource {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s %s is not served after 30s (last: %v)", groupVersion, resource, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
