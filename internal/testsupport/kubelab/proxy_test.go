package kubelab

import "testing"

// The service chains kube-proxy's nftables mode writes, as `nft list chain`
// prints them: WaitProxied must count each endpoint whatever the layout.
func TestEndpointsIn(t *testing.T) {
	for _, tt := range []struct {
		name  string
		chain string
		want  int
	}{
		{
			name: "one endpoint: a dnat in the service chain",
			chain: `chain service-NWBZK7IH-kube-system/kube-dns/tcp/dns-tcp {
		meta l4proto tcp dnat to 10.244.0.11:53
	}`,
			want: 1,
		},
		{
			// The layout the count was first written for.
			name: "endpoint chains chosen at random",
			chain: `chain service-X3H2OAHG-web/web-dual/tcp/ {
		numgen random mod 2 vmap { 0 : goto endpoint-5OJB2KTY-web/web-dual/tcp/__10.244.1.2/8080, 1 : goto endpoint-UNZV3OEC-web/web-dual/tcp/__10.244.1.4/8080 }
	}`,
			want: 2,
		},
		{
			// kube-proxy v1.37.2 with two ready endpoints, on the real
			// node (test/e2e TestRealNode).
			name: "a random dnat map",
			chain: `chain service-X3H2OAHG-web/web-dual/tcp/ {
		meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.244.1.2 . 8080, 1 : 10.244.1.4 . 8080 }
	}`,
			want: 2,
		},
		{
			name:  "no endpoint",
			chain: "chain service-X3H2OAHG-web/web-dual/tcp/ {\n\t}",
			want:  0,
		},
	} {
		if got := endpointsIn(tt.chain); got != tt.want {
			t.Errorf("%s: got %d endpoints, want %d", tt.name, got, tt.want)
		}
	}
}
