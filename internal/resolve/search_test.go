package resolve

import (
	"slices"
	"testing"
)

// The cases follow glibc's __res_context_search (resolv/res_query.c); the
// comment of searchWalk quotes the rules. Outcomes not listed in a case's
// answers are NXDOMAIN, so the walk shows every name it would try.
func TestSearchWalk(t *testing.T) {
	k8s := []string{"ns.svc.cluster.local", "svc.cluster.local", "cluster.local"}
	two := []string{"a.example", "b.example"}
	tests := []struct {
		name       string
		query      string
		ndots      int
		search     []string
		noTLDQuery bool
		answers    map[string]outcome
		wantAsked  []string
		wantReport string // the name whose answer is reported
	}{
		{
			name: "0 dots, ndots 1: search list first, then as given", query: "www", ndots: 1, search: two,
			wantAsked:  []string{"www.a.example.", "www.b.example.", "www."},
			wantReport: "www.",
		},
		{
			name: "1 dot, ndots 1: as given first, then the search list", query: "www.svc", ndots: 1, search: two,
			wantAsked:  []string{"www.svc.", "www.svc.a.example.", "www.svc.b.example."},
			wantReport: "www.svc.", // the as-given outcome is reported
		},
		{
			name: "2 dots, ndots 1: as given first", query: "www.svc.example", ndots: 1, search: two,
			wantAsked:  []string{"www.svc.example.", "www.svc.example.a.example.", "www.svc.example.b.example."},
			wantReport: "www.svc.example.",
		},
		{
			name: "trailing dot: only as given, whatever the answer", query: "www.svc.", ndots: 1, search: two,
			answers:    map[string]outcome{"www.svc.": outcomeOther},
			wantAsked:  []string{"www.svc."},
			wantReport: "www.svc.",
		},
		{
			name: "trailing dot on a dotless name: root only", query: "www.", ndots: 5, search: two,
			wantAsked:  []string{"www."},
			wantReport: "www.",
		},
		{
			name: "Kubernetes ndots 5: 2 dots search first", query: "web.other", ndots: 5, search: k8s,
			answers:    map[string]outcome{"web.other.svc.cluster.local.": outcomeSuccess},
			wantAsked:  []string{"web.other.ns.svc.cluster.local.", "web.other.svc.cluster.local."},
			wantReport: "web.other.svc.cluster.local.",
		},
		{
			name: "success as given ends the walk", query: "www.example", ndots: 1, search: two,
			answers:    map[string]outcome{"www.example.": outcomeSuccess},
			wantAsked:  []string{"www.example."},
			wantReport: "www.example.",
		},
		{
			name: "NODATA goes on to the next domain and is reported", query: "www", ndots: 1, search: two,
			answers:    map[string]outcome{"www.a.example.": outcomeNoData},
			wantAsked:  []string{"www.a.example.", "www.b.example.", "www."},
			wantReport: "www.a.example.",
		},
		{
			name: "NODATA then success further down", query: "www", ndots: 1, search: two,
			answers:    map[string]outcome{"www.a.example.": outcomeNoData, "www.b.example.": outcomeSuccess},
			wantAsked:  []string{"www.a.example.", "www.b.example."},
			wantReport: "www.b.example.",
		},
		{
			name: "SERVFAIL goes on and is reported when nothing better came", query: "www", ndots: 1, search: two,
			answers:    map[string]outcome{"www.a.example.": outcomeServFail},
			wantAsked:  []string{"www.a.example.", "www.b.example.", "www."},
			wantReport: "www.a.example.",
		},
		{
			name: "NODATA is reported before SERVFAIL", query: "www", ndots: 1, search: two,
			answers:    map[string]outcome{"www.a.example.": outcomeServFail, "www.b.example.": outcomeNoData},
			wantAsked:  []string{"www.a.example.", "www.b.example.", "www."},
			wantReport: "www.b.example.",
		},
		{
			name: "a timeout stops the search list but the name is still tried as given", query: "www", ndots: 1, search: two,
			answers:    map[string]outcome{"www.a.example.": outcomeOther},
			wantAsked:  []string{"www.a.example.", "www."},
			wantReport: "www.",
		},
		{
			name: "a failure as given does not stop the search list", query: "www.svc", ndots: 1, search: two,
			answers:    map[string]outcome{"www.svc.": outcomeOther},
			wantAsked:  []string{"www.svc.", "www.svc.a.example.", "www.svc.b.example."},
			wantReport: "www.svc.",
		},
		{
			name: "no server reachable ends the walk at once", query: "www", ndots: 1, search: two,
			answers:    map[string]outcome{"www.a.example.": outcomeUnreachable},
			wantAsked:  []string{"www.a.example."},
			wantReport: "www.a.example.",
		},
		{
			name: "cancellation ends the walk at once", query: "www.svc", ndots: 1, search: two,
			answers:    map[string]outcome{"www.svc.": outcomeCanceled},
			wantAsked:  []string{"www.svc."},
			wantReport: "www.svc.",
		},
		{
			name: "the root in the search list replaces the final as-given try", query: "www", ndots: 1, search: []string{"a.example", "."},
			wantAsked:  []string{"www.a.example.", "www."},
			wantReport: "www.",
		},
		{
			name: "no-tld-query: a dotless name is not tried as given after the search list", query: "www", ndots: 1, search: two, noTLDQuery: true,
			wantAsked:  []string{"www.a.example.", "www.b.example."},
			wantReport: "www.b.example.",
		},
		{
			name: "no-tld-query without a search list still asks the name", query: "www", ndots: 1, noTLDQuery: true,
			wantAsked:  []string{"www."},
			wantReport: "www.",
		},
		{
			name: "ndots 0: every name as given first", query: "www", ndots: 0, search: two,
			wantAsked:  []string{"www.", "www.a.example.", "www.b.example."},
			wantReport: "www.",
		},
		{
			name: "search domains with a leading or trailing dot", query: "www", ndots: 1, search: []string{".a.example", "b.example."},
			wantAsked:  []string{"www.a.example.", "www.b.example.", "www."},
			wantReport: "www.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			i := searchWalk(tt.query, tt.ndots, tt.search, tt.noTLDQuery, func(fqdn string) outcome {
				asked = append(asked, fqdn)
				if o, ok := tt.answers[fqdn]; ok {
					return o
				}
				return outcomeNXDomain
			})
			if !slices.Equal(asked, tt.wantAsked) {
				t.Errorf("got names %q, want %q", asked, tt.wantAsked)
			}
			if i < 0 || i >= len(asked) || asked[i] != tt.wantReport {
				t.Errorf("got report of query %d of %q, want %q", i, asked, tt.wantReport)
			}
		})
	}
}
