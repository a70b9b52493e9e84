package apicontract

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/resolve"
)

// enumNames returns an enum's value names in number order, and fails if the
// numbers are not 0, 1, 2, ... (every contract enum is dense).
func enumNames(t *testing.T, e protoreflect.EnumDescriptor) []string {
	t.Helper()
	values := e.Values()
	names := make([]string, values.Len())
	for i := range values.Len() {
		v := values.Get(i)
		if int(v.Number()) != i {
			t.Fatalf("%s: value %s is number %d, want %d", e.FullName(), v.Name(), v.Number(), i)
		}
		names[i] = string(v.Name())
	}
	return names
}

// The enum names, in number order, exactly as shared/DESIGN.md lists them.
func TestEnumsAreDesignContract(t *testing.T) {
	tests := []struct {
		enum protoreflect.EnumDescriptor
		want []string
	}{
		{dsprobev1.Family(0).Descriptor(), []string{"FAMILY_UNSPECIFIED", "FAMILY_IPV4", "FAMILY_IPV6"}},
		{dsprobev1.Layer(0).Descriptor(), []string{
			"LAYER_UNSPECIFIED", "LAYER_NONE", "LAYER_DNS", "LAYER_SERVICE", "LAYER_ENDPOINTS",
			"LAYER_POD_ADDRESS", "LAYER_DATAPATH", "LAYER_ROUTE", "LAYER_POLICY", "LAYER_LISTENER",
			"LAYER_APPLICATION", "LAYER_CLIENT",
		}},
		{dsprobev1.Outcome(0).Descriptor(), []string{
			"OUTCOME_UNSPECIFIED", "OUTCOME_CONNECTED", "OUTCOME_REFUSED", "OUTCOME_TIMEOUT",
			"OUTCOME_UNREACHABLE", "OUTCOME_PROHIBITED", "OUTCOME_RESET", "OUTCOME_APP_FAILED",
			"OUTCOME_CANCELED", "OUTCOME_NOT_ATTEMPTED",
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.enum.Name()), func(t *testing.T) {
			if got := enumNames(t, tt.enum); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// internalEnum describes an internal enum type by its values' String(): a
// type whose String() of an undefined value starts with outOfRange ("Layer(").
type internalEnum struct {
	name       string
	proto      protoreflect.EnumDescriptor
	outOfRange string
	str        func(n int) string
	// protoName is the proto value name the internal value n must have.
	protoName func(n int) string
	// offset is the proto number minus the internal number.
	offset int
	// from is the first internal value with a proto counterpart (the
	// internal zero value may have none).
	from int
}

// Every internal constant has the proto value of the same name, at the
// internal number plus a fixed offset, and every proto value but the zero
// one has an internal constant: converting is a cast (plus the offset), and a
// value added on one side only fails here.
func TestEnumsMatchInternalConstants(t *testing.T) {
	upper := func(prefix string) func(string) string {
		return func(s string) string { return prefix + strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }
	}
	outcome, check, dnsStatus, accepts := upper("OUTCOME_"), upper("CHECK_"), upper("DNS_STATUS_"), upper("LISTENER_ACCEPTS_")
	tests := []internalEnum{
		{
			name: "layer.Layer", proto: dsprobev1.Layer(0).Descriptor(), outOfRange: "Layer(",
			str:       func(n int) string { return layer.Layer(n).String() },
			protoName: func(n int) string { return layer.Layer(n).String() },
		},
		{
			name: "dualstack.Outcome", proto: dsprobev1.Outcome(0).Descriptor(), outOfRange: "Outcome(",
			str:       func(n int) string { return dualstack.Outcome(n).String() },
			protoName: func(n int) string { return outcome(dualstack.Outcome(n).String()) },
		},
		{
			// Family's String() is the span attribute value ("ipv4"); the
			// zero value is "none" but the proto's FAMILY_UNSPECIFIED.
			name: "dualstack.Family", proto: dsprobev1.Family(0).Descriptor(), outOfRange: "Family(",
			str:       func(n int) string { return dualstack.Family(n).String() },
			protoName: func(n int) string { return upper("FAMILY_")(dualstack.Family(n).String()) },
			from:      1,
		},
		{
			// appcheck's zero Kind is TCP; the proto's zero is "from the
			// URL scheme", so CHECK_TCP is 1.
			name: "appcheck.Kind", proto: dsprobev1.Check(0).Descriptor(), outOfRange: "Kind(",
			str:       func(n int) string { return appcheck.Kind(n).String() },
			protoName: func(n int) string { return check(appcheck.Kind(n).String()) },
			offset:    1,
		},
		{
			// resolve.StatusNone ("no query") is DNS_STATUS_UNSPECIFIED.
			name: "resolve.Status", proto: dsprobev1.DnsStatus(0).Descriptor(), outOfRange: "Status(",
			str:       func(n int) string { return resolve.Status(n).String() },
			protoName: func(n int) string { return dnsStatus(resolve.Status(n).String()) },
			from:      1,
		},
		{
			// listener.Unknown, an inference, is LISTENER_ACCEPTS_UNKNOWN;
			// the proto's zero value means "not inferred".
			name: "listener.Accepts", proto: dsprobev1.ListenerAccepts(0).Descriptor(), outOfRange: "Accepts(",
			str:       func(n int) string { return listener.Accepts(n).String() },
			protoName: func(n int) string { return accepts(listener.Accepts(n).String()) },
			offset:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := tt.proto.Values()
			n := 0
			for ; !strings.HasPrefix(tt.str(n), tt.outOfRange); n++ {
				if n < tt.from {
					continue
				}
				want := tt.protoName(n)
				v := values.ByNumber(protoreflect.EnumNumber(n + tt.offset))
				if v == nil {
					t.Errorf("%s(%d) %q: no %s value numbered %d, want %s", tt.name, n, tt.str(n), tt.proto.Name(), n+tt.offset, want)
					continue
				}
				if got := string(v.Name()); got != want {
					t.Errorf("%s(%d) %q: %s value %d is %s, want %s", tt.name, n, tt.str(n), tt.proto.Name(), n+tt.offset, got, want)
				}
			}
			// Every proto value has an internal constant, but for the zero
			// value when the internal numbering starts above it.
			if got, want := values.Len(), n+tt.offset; got != want {
				t.Errorf("%s has %d values, want %d (one per %s constant)", tt.proto.Name(), got, want, tt.name)
			}
		})
	}
}

// JSON output is protojson of the result messages, so a duration must be a
// double: protojson renders 64-bit integers as strings and
// google.protobuf.Duration as "1.5s" (shared/DESIGN.md: "Durations in JSON
// are milliseconds as numbers, never strings"). Every ..._ms field is a
// double in a result, and a 32-bit integer at most in a request.
func TestNoDurationRendersAsString(t *testing.T) {
	files := []protoreflect.FileDescriptor{
		dsprobev1.File_dsprobe_v1_enums_proto, dsprobev1.File_dsprobe_v1_probe_proto,
		dsprobev1.File_dsprobe_v1_prober_proto, dsprobev1.File_dsprobe_v1_coordinator_proto,
	}
	requests := map[protoreflect.FullName]bool{
		"dsprobe.v1.ProbeRequest": true, "dsprobe.v1.RunProbeRequest": true,
		"dsprobe.v1.ListProbersRequest": true, "dsprobe.v1.GetJobRequest": true,
	}
	var walk func(protoreflect.MessageDescriptors)
	walk = func(msgs protoreflect.MessageDescriptors) {
		for i := range msgs.Len() {
			m := msgs.Get(i)
			walk(m.Messages())
			for j := range m.Fields().Len() {
				f := m.Fields().Get(j)
				switch f.Kind() {
				case protoreflect.Int64Kind, protoreflect.Uint64Kind, protoreflect.Sint64Kind,
					protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
					t.Errorf("%s is %v: protojson renders it as a JSON string", f.FullName(), f.Kind())
				case protoreflect.MessageKind:
					if f.Message().FullName() == "google.protobuf.Duration" {
						t.Errorf("%s is a google.protobuf.Duration: protojson renders it as a string; use double ..._ms", f.FullName())
					}
				}
				if !strings.HasSuffix(string(f.Name()), "_ms") {
					continue
				}
				if requests[m.FullName()] {
					if f.Kind() != protoreflect.Uint32Kind {
						t.Errorf("request field %s is %v, want uint32 (whole milliseconds)", f.FullName(), f.Kind())
					}
				} else if f.Kind() != protoreflect.DoubleKind {
					t.Errorf("result field %s is %v, want double", f.FullName(), f.Kind())
				}
			}
		}
	}
	for _, f := range files {
		walk(f.Messages())
	}
}

func populatedResult() *dsprobev1.ProbeResult {
	prediction := func(profile string) *dsprobev1.ClientPrediction {
		return &dsprobev1.ClientPrediction{
			Profile: profile, Family: dsprobev1.Family_FAMILY_IPV4, Address: "10.0.0.1",
			Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED, TimeToConnectMs: 301.25, FallbackDelayMs: 300,
			FailingLayer: dsprobev1.Layer_LAYER_NONE,
			Attempts: []*dsprobev1.Attempt{
				{Address: "fd00::1", Family: dsprobev1.Family_FAMILY_IPV6, Outcome: dsprobev1.Outcome_OUTCOME_CANCELED, DurationMs: 300, Error: "lost the race"},
				{Address: "10.0.0.1", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED, StartMs: 300, DurationMs: 1.25},
			},
		}
	}
	appOK := true
	return &dsprobev1.ProbeResult{
		Target: "svc.example:80",
		Check:  dsprobev1.Check_CHECK_HTTP,
		Families: []*dsprobev1.FamilyVerdict{
			{Family: dsprobev1.Family_FAMILY_IPV4, Ok: true, FailingLayer: dsprobev1.Layer_LAYER_NONE, Detail: "IPv4 works"},
			{Family: dsprobev1.Family_FAMILY_IPV6, FailingLayer: dsprobev1.Layer_LAYER_LISTENER, Detail: "fd00::1 refuses IPv6"},
		},
		Dns: &dsprobev1.DnsAnswers{
			A: &dsprobev1.DnsAnswer{
				Name: "svc.example.", Status: dsprobev1.DnsStatus_DNS_STATUS_POSITIVE, Rcode: "NOERROR",
				Addresses: []string{"10.0.0.1"}, Ttls: []uint32{30}, Cnames: []string{"alias.example."},
				RttMs: 0.5, ElapsedMs: 0.75, Server: "127.0.0.53:53", Transport: "udp", Truncated: true, Dns64: true,
				Error: "none",
			},
			Aaaa: &dsprobev1.DnsAnswer{
				Name: "svc.example.", Status: dsprobev1.DnsStatus_DNS_STATUS_POSITIVE, Rcode: "NOERROR",
				Addresses: []string{"fd00::1"}, RttMs: 0.5, ElapsedMs: 0.75,
			},
		},
		Order: []string{"fd00::1", "10.0.0.1"},
		Attempts: []*dsprobev1.Attempt{
			{Address: "[fd00::1]:80", Family: dsprobev1.Family_FAMILY_IPV6, Outcome: dsprobev1.Outcome_OUTCOME_REFUSED, StartMs: 1, DurationMs: 0.25, Error: "connection refused"},
			{Address: "10.0.0.1:80", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED, StartMs: 1, DurationMs: 0.5, AppOk: &appOK, AppDetail: "HTTP 200"},
		},
		Listener:      &dsprobev1.ListenerInference{Accepts: dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_IPV4_ONLY, Reason: "IPv6 refused"},
		HappyEyeballs: prediction("rfc8305"),
		Clients:       []*dsprobev1.ClientPrediction{prediction("go"), prediction("curl")},
		Started:       timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		RaceStartMs:   2.5,
	}
}

// The keys shared/DESIGN.md promises in -o json, with enums as their names
// and every duration a JSON number. Marshalled with EmitDefaultValues, as -o
// json must be to keep today's shape: without it protojson drops "ok": false,
// "startMs": 0, empty lists and every other zero value (the fixture's first
// race attempt starts at 0); unlike EmitUnpopulated it leaves an unset
// message out instead of writing null (dns.aaaa of an IPv4-only probe).
func TestProbeResultJSON(t *testing.T) {
	b, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(populatedResult())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	entry := func(path string, v any) map[string]any {
		t.Helper()
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s is %T, want an object", path, v)
		}
		return m
	}
	first := func(path string, v any) map[string]any {
		t.Helper()
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			t.Fatalf("%s is %v, want a non-empty array", path, v)
		}
		return entry(path+"[0]", list[0])
	}
	// want checks that obj has every key, with a JSON value of the kind
	// given: "string", "number", "bool", "array", "object".
	want := func(path string, obj map[string]any, keys map[string]string) {
		t.Helper()
		for key, kind := range keys {
			v, ok := obj[key]
			if !ok {
				t.Errorf("%s has no key %q; it has %v", path, key, mapKeys(obj))
				continue
			}
			if got := jsonKind(v); got != kind {
				t.Errorf("%s.%s is a JSON %s (%v), want a %s", path, key, got, v, kind)
			}
		}
	}
	attemptKeys := map[string]string{
		"address": "string", "family": "string", "outcome": "string",
		"startMs": "number", "durationMs": "number", "error": "string",
	}
	clientKeys := map[string]string{
		"profile": "string", "family": "string", "address": "string", "outcome": "string",
		"timeToConnectMs": "number", "fallbackDelayMs": "number", "failingLayer": "string",
		"attempts": "array",
	}
	dnsKeys := map[string]string{"rcode": "string", "addresses": "array", "rttMs": "number", "elapsedMs": "number"}

	want("result", doc, map[string]string{
		"target": "string", "check": "string", "families": "array", "dns": "object", "order": "array",
		"attempts": "array", "listener": "object", "happyEyeballs": "object", "clients": "array",
	})
	want("families[]", first("families", doc["families"]), map[string]string{
		"family": "string", "ok": "bool", "failingLayer": "string", "detail": "string",
	})
	dns := entry("dns", doc["dns"])
	want("dns.a", entry("dns.a", dns["a"]), dnsKeys)
	want("dns.aaaa", entry("dns.aaaa", dns["aaaa"]), dnsKeys)
	want("attempts[]", first("attempts", doc["attempts"]), attemptKeys)
	want("attempts[1]", entry("attempts[1]", doc["attempts"].([]any)[1]), map[string]string{"appOk": "bool", "appDetail": "string"})
	want("listener", entry("listener", doc["listener"]), map[string]string{"accepts": "string", "reason": "string"})
	client := first("clients", doc["clients"])
	want("clients[]", client, clientKeys)
	want("clients[].attempts[]", first("clients[].attempts", client["attempts"]), attemptKeys)
	race := entry("happyEyeballs", doc["happyEyeballs"])
	want("happyEyeballs", race, clientKeys)

	// Enums are their proto names, the contract's strings.
	for _, tt := range []struct{ path, got, want string }{
		{"families[1].failingLayer", fmt.Sprint(entry("families[1]", doc["families"].([]any)[1])["failingLayer"]), "LAYER_LISTENER"},
		{"happyEyeballs.family", fmt.Sprint(race["family"]), "FAMILY_IPV4"},
		{"happyEyeballs.outcome", fmt.Sprint(race["outcome"]), "OUTCOME_CONNECTED"},
		{"happyEyeballs.timeToConnectMs", fmt.Sprint(race["timeToConnectMs"]), "301.25"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %s, want %s", tt.path, tt.got, tt.want)
		}
	}
}

// appOk is present only when the application check ran, even when the
// caller asks protojson to emit default or unpopulated fields (it is a proto3
// optional); today's -o json omits it the same way.
func TestAppOKOnlyWhenCheckRan(t *testing.T) {
	ok := false
	tests := []struct {
		name    string
		attempt *dsprobev1.Attempt
		want    bool
	}{
		{"connect failed", &dsprobev1.Attempt{Outcome: dsprobev1.Outcome_OUTCOME_REFUSED}, false},
		{"check failed", &dsprobev1.Attempt{Outcome: dsprobev1.Outcome_OUTCOME_APP_FAILED, AppOk: &ok}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			options := map[string]protojson.MarshalOptions{
				"EmitDefaultValues": {EmitDefaultValues: true},
				"EmitUnpopulated":   {EmitUnpopulated: true},
			}
			for name, opts := range options {
				b, err := opts.Marshal(tt.attempt)
				if err != nil {
					t.Fatal(err)
				}
				var doc map[string]any
				if err := json.Unmarshal(b, &doc); err != nil {
					t.Fatal(err)
				}
				if _, got := doc["appOk"]; got != tt.want {
					t.Errorf("%s: appOk present = %v, want %v in %s", name, got, tt.want, b)
				}
			}
		})
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func mapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
