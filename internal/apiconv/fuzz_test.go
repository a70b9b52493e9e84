package apiconv

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
)

// Whatever bytes a caller sends as a ProbeRequest, the conversion either
// refuses it as an InvalidRequest (the servers' INVALID_ARGUMENT) or gives
// a request the engine accepts; never a panic, and never another error.
func FuzzProbeRequest(f *testing.F) {
	for _, req := range []*dsprobev1.ProbeRequest{
		{Target: "https://svc.example/healthz", Families: []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV6},
			Profiles: []string{"go", "node,attempt-delay=500ms"}, DnsServers: []string{"[2001:db8::53]:5353"}, AttemptTimeoutMs: 1500},
		{Target: "grpc://[fd00::1]:9000", Check: dsprobev1.Check_CHECK_GRPC, GrpcService: "x", TimeoutMs: 1},
		{Target: "svc.example", Families: []dsprobev1.Family{7}, Check: 42, Profiles: []string{"lynx"}, DnsServers: []string{"dns.example"}},
		{Target: "10.0.0.1:80", MaxConnectTimeMs: 4294967295, MaxHttpStatus: 1000, InsecureSkipVerify: true},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var msg dsprobev1.ProbeRequest
		if proto.Unmarshal(b, &msg) != nil {
			return // gRPC refuses it before any handler runs
		}
		req, err := ProbeRequest(&msg, Elsewhere)
		if err != nil {
			var invalid *InvalidRequest
			if !errors.As(err, &invalid) || len(invalid.Problems) == 0 {
				t.Fatalf("got %v (%T), want an InvalidRequest naming its problems", err, err)
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Errorf("accepted %v, but the engine refuses it: %v", &msg, err)
		}
	})
}
