package apicontract

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/resolve"
)

// apiFiles are the API's proto files: every enum and message in them is a
// contract.
func apiFiles() []protoreflect.FileDescriptor {
	return []protoreflect.FileDescriptor{
		dsprobev1.File_dsprobe_v1_enums_proto, dsprobev1.File_dsprobe_v1_probe_proto,
		dsprobev1.File_dsprobe_v1_prober_proto, dsprobev1.File_dsprobe_v1_coordinator_proto,
	}
}

// apiMessages returns every message of the API by name.
func apiMessages() map[string]protoreflect.MessageDescriptor {
	msgs := map[string]protoreflect.MessageDescriptor{}
	var walk func(protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			msgs[string(ms.Get(i).Name())] = ms.Get(i)
			walk(ms.Get(i).Messages())
		}
	}
	for _, f := range apiFiles() {
		walk(f.Messages())
	}
	return msgs
}

// apiEnums returns every enum of the API by name, top-level or nested.
func apiEnums() map[string]protoreflect.EnumDescriptor {
	enums := map[string]protoreflect.EnumDescriptor{}
	add := func(es protoreflect.EnumDescriptors) {
		for i := range es.Len() {
			enums[string(es.Get(i).Name())] = es.Get(i)
		}
	}
	for _, f := range apiFiles() {
		add(f.Enums())
	}
	for _, m := range apiMessages() {
		add(m.Enums())
	}
	return enums
}

// Every enum value is documented in docs/contracts.md with its number, in
// number order, and every documented value exists with that number: a
// value renamed, renumbered, added or removed on one side only fails here.
func TestEnumsAreDocumented(t *testing.T) {
	tables := contractTables(t)
	enums := apiEnums()
	compareSets(t, "enum", namesWithPrefix(tables, "enum "), slices.Sorted(maps.Keys(enums)))
	for name, e := range enums {
		t.Run(name, func(t *testing.T) {
			tb := table(t, tables, "enum "+name)
			names, numbers := tb.column(t, "name"), tb.column(t, "number")
			documented := map[string]int{}
			last := -1
			for i, value := range names {
				n, err := strconv.Atoi(numbers[i])
				if err != nil {
					t.Fatalf("%s: number %q of %s is not a number", name, numbers[i], value)
				}
				if _, dup := documented[value]; dup {
					t.Errorf("%s %s is documented twice", name, value)
				}
				if n <= last {
					t.Errorf("%s %s (%d) is documented after %d: want number order", name, value, n, last)
				}
				documented[value], last = n, n
				v := e.Values().ByName(protoreflect.Name(value))
				if v == nil {
					t.Errorf("%s %s is documented but the enum has no such value", name, value)
					continue
				}
				if int(v.Number()) != n {
					t.Errorf("%s %s: got number %d in the code, want %d as documented", name, value, v.Number(), n)
				}
			}
			for i := range e.Values().Len() {
				v := e.Values().Get(i)
				if _, ok := documented[string(v.Name())]; !ok {
					t.Errorf("%s %s (%d) is in the code but not documented in %s", name, v.Name(), v.Number(), contractsPath)
				}
			}
		})
	}
}

// jsonType is the type column of the contract reference for a field: what
// its protojson value is. Enums and messages go by their names (a JSON
// string, an object), a google.protobuf.Timestamp is a "timestamp" (an RFC
// 3339 string), every numeric kind a "number"; "[]" marks a list.
func jsonType(f protoreflect.FieldDescriptor) string {
	var typ string
	switch f.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		typ = "string"
	case protoreflect.BoolKind:
		typ = "bool"
	case protoreflect.EnumKind:
		typ = string(f.Enum().Name())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		typ = string(f.Message().Name())
		if f.Message().FullName() == "google.protobuf.Timestamp" {
			typ = "timestamp"
		}
	default:
		typ = "number"
	}
	if f.IsList() {
		typ += "[]"
	}
	return typ
}

// Every field of every API message is documented with its JSON key and
// type, and every documented key is a field of that type.
func TestMessagesAreDocumented(t *testing.T) {
	tables := contractTables(t)
	msgs := apiMessages()
	compareSets(t, "message", namesWithPrefix(tables, "message "), slices.Sorted(maps.Keys(msgs)))
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			documented := documentedKeys(t, tables, name)
			for key, typ := range documented {
				f := m.Fields().ByJSONName(key)
				if f == nil {
					t.Errorf("%s.%s is documented but the message has no field with that JSON name", name, key)
					continue
				}
				if got := jsonType(f); got != typ {
					t.Errorf("%s.%s: got type %s in the code, want %s as documented", name, key, got, typ)
				}
			}
			for i := range m.Fields().Len() {
				f := m.Fields().Get(i)
				if _, ok := documented[f.JSONName()]; !ok {
					t.Errorf("%s.%s (%s) is in the code but not documented in %s", name, f.JSONName(), jsonType(f), contractsPath)
				}
			}
		})
	}
}

// documentedKeys returns the documented JSON keys of a message and their
// types.
func documentedKeys(t *testing.T, tables map[string]*contractTable, message string) map[string]string {
	t.Helper()
	tb := table(t, tables, "message "+message)
	keys, types := tb.column(t, "key"), tb.column(t, "type")
	documented := make(map[string]string, len(keys))
	for i, k := range keys {
		if _, dup := documented[k]; dup {
			t.Errorf("%s.%s is documented twice", message, k)
		}
		documented[k] = types[i]
	}
	return documented
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
// google.protobuf.Duration as "1.5s" (docs/contracts.md: durations are
// milliseconds as JSON numbers, never strings). Every ..._ms field is a
// double in a result, and a 32-bit integer at most in a request.
func TestNoDurationRendersAsString(t *testing.T) {
	requests := map[protoreflect.FullName]bool{
		"dsprobe.v1.ProbeRequest": true, "dsprobe.v1.RunProbeRequest": true,
		"dsprobe.v1.ListProbersRequest": true, "dsprobe.v1.GetJobRequest": true,
	}
	for _, m := range apiMessages() {
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

// populatedJob is a finished job with one prober's result and another's
// failure.
func populatedJob() *dsprobev1.Job {
	return &dsprobev1.Job{
		JobId: "j1", State: dsprobev1.JobState_JOB_STATE_FINISHED, TraceId: "0123456789abcdef0123456789abcdef",
		Request: &dsprobev1.RunProbeRequest{
			Probe:   &dsprobev1.ProbeRequest{Target: "svc.example:80", Families: []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV6}, TimeoutMs: 5000},
			Probers: []string{"p1", "p2"}, Namespaces: []string{"team-a"}, ProberTimeoutMs: 20000,
		},
		Started: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Probers: []*dsprobev1.ProberResult{
			{Prober: "p1", Namespace: "team-a", DurationMs: 12.5, Outcome: &dsprobev1.ProberResult_Result{Result: populatedResult()}},
			{Prober: "p2", Namespace: "team-a", DurationMs: 20000, Outcome: &dsprobev1.ProberResult_Error{Error: &dsprobev1.ProberError{Code: "DEADLINE_EXCEEDED", Message: "too slow"}}},
		},
		Summary: &dsprobev1.JobSummary{
			Probers: 2, Answered: 1, Failed: 1, DurationMs: 20000.5,
			Families: []*dsprobev1.FamilyVerdict{{Family: dsprobev1.Family_FAMILY_IPV6, FailingLayer: dsprobev1.Layer_LAYER_LISTENER, Detail: "failed on 1 of 1 prober(s): p1"}},
		},
	}
}

// populatedServiceJob is a finished Service job with every field set, as
// dsprobe probe svc/NAME --coordinator -o json writes it.
func populatedServiceJob() *dsprobev1.Job {
	job := populatedJob()
	job.Request.Probe.Target = ""
	job.Request.Service = &dsprobev1.ServiceRef{Namespace: "shop", Name: "web", Port: "http", ClusterDomain: "cluster.local"}
	cell := func(status, text string) *dsprobev1.EvidenceCell {
		return &dsprobev1.EvidenceCell{Status: status, Text: text}
	}
	job.Probers[0].Service = &dsprobev1.ServiceResult{
		Service: "shop/web", Name: "web.shop.svc.cluster.local", Port: "80/TCP",
		Families: []*dsprobev1.FamilyVerdict{{Family: dsprobev1.Family_FAMILY_IPV6, FailingLayer: dsprobev1.Layer_LAYER_SERVICE, Detail: "Service shop/web is SingleStack [IPv4]"}},
		Paths: []*dsprobev1.ServicePath{
			{Path: "name", Connects: []*dsprobev1.ServiceConnect{{Family: dsprobev1.Family_FAMILY_IPV4, Address: "10.96.0.20:80", Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED, ConnectMs: 0.25}}},
			{Path: "clusterIP"}, {Path: "endpoint"},
		},
		Listener: &dsprobev1.ListenerInference{Accepts: dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_IPV4_ONLY, Reason: "only IPv4 was probed"},
		Evidence: []*dsprobev1.EvidenceRow{{Row: "Service IPs", Ipv4: cell("proof", "SingleStack [IPv4], ClusterIP 10.96.0.20"), Ipv6: cell("missing", "missing: SingleStack [IPv4]: no IPv6 clusterIPs entry")}},
	}
	return job
}

// The JSON -o json writes has exactly the documented keys, each a JSON
// value of its documented type, with enums as their names and every
// duration a JSON number. Marshalled with EmitDefaultValues, as -o json and
// the REST mapping are: without it protojson drops "ok": false,
// "startMs": 0, empty lists and every other zero value (the fixture's first
// race attempt starts at 0); unlike EmitUnpopulated it leaves an unset
// message out instead of writing null (dns.aaaa of an IPv4-only probe).
func TestJSONIsDocumented(t *testing.T) {
	tables := contractTables(t)
	for _, m := range []proto.Message{populatedResult(), populatedJob(), populatedServiceJob()} {
		name := string(m.ProtoReflect().Descriptor().Name())
		t.Run(name, func(t *testing.T) {
			checkDocumentedJSON(t, tables, name, m.ProtoReflect(), marshalJSON(t, m))
		})
	}

	// Enums are their proto names, the contract's strings; a timestamp is
	// RFC 3339.
	doc := marshalJSON(t, populatedResult())
	for _, tt := range []struct{ path, want string }{
		{"families.1.failingLayer", "LAYER_LISTENER"},
		{"happyEyeballs.family", "FAMILY_IPV4"},
		{"happyEyeballs.outcome", "OUTCOME_CONNECTED"},
		{"happyEyeballs.timeToConnectMs", "301.25"},
		{"started", "2026-01-02T03:04:05Z"},
	} {
		if got := lookupJSON(doc, tt.path); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.path, got, tt.want)
		}
	}
}

// marshalJSON is m as -o json and the REST mapping write it, decoded.
func marshalJSON(t *testing.T, m proto.Message) map[string]any {
	t.Helper()
	b, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// lookupJSON follows a dotted path of keys and list indexes ("families.1.ok")
// and formats what it finds; "<missing>" when the path leads nowhere.
func lookupJSON(v any, path string) string {
	for step := range strings.SplitSeq(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			v = node[step]
		case []any:
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(node) {
				return "<missing>"
			}
			v = node[i]
		default:
			return "<missing>"
		}
	}
	if v == nil {
		return "<missing>"
	}
	return fmt.Sprint(v)
}

// checkDocumentedJSON checks the JSON object obj that protojson wrote for
// the message m, and the objects inside it: every key is documented, with a
// JSON value of its documented type, and every documented key is written
// unless its field is unset and protojson leaves it out (an unset message,
// oneof member or optional scalar such as appOk).
func checkDocumentedJSON(t *testing.T, tables map[string]*contractTable, path string, m protoreflect.Message, obj map[string]any) {
	t.Helper()
	md := m.Descriptor()
	documented := documentedKeys(t, tables, string(md.Name()))
	for key, v := range obj {
		typ, ok := documented[key]
		if !ok {
			t.Errorf("%s.%s is written but not documented in %s", path, key, contractsPath)
			continue
		}
		f := md.Fields().ByJSONName(key)
		if f == nil {
			t.Errorf("%s.%s is written but %s has no such field", path, key, md.Name())
			continue
		}
		elemType, isList := strings.CutSuffix(typ, "[]")
		if !isList {
			checkJSONValue(t, tables, path+"."+key, f, m.Get(f), elemType, v)
			continue
		}
		list, ok := v.([]any)
		if !ok || !f.IsList() || len(list) != m.Get(f).List().Len() {
			t.Errorf("%s.%s is %v, want an array (%s) of %d", path, key, v, typ, m.Get(f).List().Len())
			continue
		}
		for i, elem := range list {
			checkJSONValue(t, tables, fmt.Sprintf("%s.%s[%d]", path, key, i), f, m.Get(f).List().Get(i), elemType, elem)
		}
	}
	for key := range documented {
		if _, ok := obj[key]; ok {
			continue
		}
		if f := md.Fields().ByJSONName(key); f != nil && (!f.HasPresence() || m.Has(f)) {
			t.Errorf("%s.%s is documented and set but not written (it has %v)", path, key, mapKeys(obj))
		}
	}
}

// checkJSONValue checks the JSON value v written for value (a field's value
// or a list element) of field f, whose documented type is typ.
func checkJSONValue(t *testing.T, tables map[string]*contractTable, path string, f protoreflect.FieldDescriptor, value protoreflect.Value, typ string, v any) {
	t.Helper()
	want := "string"
	switch {
	case typ == "number" || typ == "bool":
		want = typ
	case f.Kind() == protoreflect.MessageKind && typ != "timestamp":
		want = "object"
	}
	if got := jsonKind(v); got != want {
		t.Errorf("%s is a JSON %s (%v), want a %s (%s)", path, got, v, want, typ)
		return
	}
	if want == "object" {
		checkDocumentedJSON(t, tables, path, value.Message(), v.(map[string]any))
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
