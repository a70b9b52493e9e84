package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	fullProberFile      = "testdata/valid/prober-full.yaml"
	fullCoordinatorFile = "testdata/valid/coordinator-full.yaml"
)

func loadProber(t *testing.T, env map[string]string, args ...string) (Prober, error) {
	t.Helper()
	cfg, _, err := runCommandLine(t, "prober", env, args...)
	return cfg.(Prober), err
}

func loadCoordinator(t *testing.T, args ...string) (Coordinator, []string, error) {
	t.Helper()
	cfg, warnings, err := runCommandLine(t, "coordinator", nil, args...)
	return cfg.(Coordinator), warnings, err
}

// Without --config the flags work as they always have: each one sets its
// field over the defaults, and $POD_NAME and $POD_NAMESPACE name the
// prober.
func TestFlagsAlone(t *testing.T) {
	got, err := loadProber(t, map[string]string{"POD_NAME": "p1", "POD_NAMESPACE": "team-a"},
		"--allow-cidr", "10.0.0.0/8", "--allow-cidr", "fd00::/48", "--allow-port", "443", "--max-concurrent", "2", "--job-timeout", "5s")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultProber()
	want.Name, want.Namespace = "p1", "team-a"
	want.Allow = Allow{CIDRs: []string{"10.0.0.0/8", "fd00::/48"}, Ports: []PortRange{"443"}}
	want.Admission.MaxConcurrent = 2
	want.JobTimeout = Duration(5 * time.Second)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

// A flag given on the command line overrides the file, even when it sets
// a zero value (false, "", 0 are choices too); a flag not given leaves the
// file's value. A repeatable flag replaces the file's list, not adds to it.
func TestFlagsOverrideTheFile(t *testing.T) {
	file := func(change func(*Prober)) Prober {
		c, err := loadProber(t, nil, "--config", fullProberFile)
		if err != nil {
			t.Fatal(err)
		}
		change(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Prober
	}{
		{"no flag", nil, nil, file(func(*Prober) {})},
		{"a number", []string{"--max-concurrent", "2"}, nil, file(func(c *Prober) { c.Admission.MaxConcurrent = 2 })},
		{"a duration", []string{"--job-timeout", "1m"}, nil, file(func(c *Prober) { c.JobTimeout = Duration(time.Minute) })},
		{"false over true", []string{"--otlp-insecure=false"}, nil, file(func(c *Prober) { c.OTLP.Insecure = false })},
		{"empty over a value", []string{"--name", ""}, nil, file(func(c *Prober) { c.Name = "" })},
		{"a list, replaced", []string{"--allow-cidr", "192.168.0.0/16", "--allow-cidr", "fd01::/48"}, nil,
			file(func(c *Prober) { c.Allow.CIDRs = []string{"192.168.0.0/16", "fd01::/48"} })},
		{"the file over the environment", nil, map[string]string{"POD_NAME": "from-env"}, file(func(*Prober) {})},
		{"a flag over both", []string{"--name", "from-flag"}, map[string]string{"POD_NAME": "from-env"},
			file(func(c *Prober) { c.Name = "from-flag" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadProber(t, tt.env, append([]string{"--config", fullProberFile}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// The environment names a prober whose file does not.
func TestEnvironmentUnderTheFile(t *testing.T) {
	got, err := loadProber(t, map[string]string{"POD_NAME": "p1", "POD_NAMESPACE": "team-a"}, "--config", "testdata/valid/prober-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "p1" || got.Namespace != "team-a" {
		t.Errorf("got name %q and namespace %q, want p1 and team-a", got.Name, got.Namespace)
	}
}

// A message names a value where the user wrote it: by its flag when a flag
// set it, by the file and field when the file did, and by the file when a
// default the file could change is at fault.
func TestProblemsNameWhereTheValueCameFrom(t *testing.T) {
	headerOnly := filepath.Join(t.TempDir(), "prober.yaml")
	if err := os.WriteFile(headerOnly, []byte("apiVersion: dsprobe.io/v1alpha1\nkind: ProberConfig\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	limits := "testdata/invalid/prober-limits.yaml"
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"a flag over a good file", []string{"--config", fullProberFile, "--max-concurrent", "0"},
			[]string{"--max-concurrent must be positive, got 0"}},
		{"a good flag over a bad file", []string{"--config", limits, "--max-concurrent", "3", "--job-timeout", "1s"}, []string{
			limits + ": admission.maxWaiting: must not be negative, got -1",
			limits + ": admission.rate: must be a number not below 0, got -0.5",
			limits + ": admission.burst: must not be negative, got -2",
		}},
		{"a default the file leaves", []string{"--config", headerOnly},
			[]string{headerOnly + ": no allow.cidrs: the prober would refuse every target (give the cluster's Pod and Service CIDRs)"}},
		{"a flag fills what the file leaves", []string{"--config", headerOnly, "--allow-cidr", "10.0.0.0/8"}, nil},
		{"a list flag's entries", []string{"--config", fullProberFile, "--allow-name", "ok.example", "--allow-name", "bad name"},
			[]string{`--allow-name: allowed name "bad name": want a host name or *.suffix`}},
		{"a flag and a file in one message", []string{"--config", fullProberFile, "--tls-key", ""},
			[]string{fullProberFile + ": server.tls.cert and --tls-key go together"}},
		{"no file", []string{"--config", "testdata/no-such-file.yaml"},
			[]string{"open testdata/no-such-file.yaml: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadProber(t, nil, tt.args...)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// --prober and --probers-file replace the file's probers (the flags'
// first, then the file's, as without --config), and each prober is named
// where it was given.
func TestProberFlags(t *testing.T) {
	listed := []StaticProber{{"prober-a", "team-a", "127.0.0.1:9443"}, {"prober-b", "team-b", "[::1]:9443"}}
	tests := []struct {
		name string
		args []string
		want []StaticProber
	}{
		{"the file's", nil, []StaticProber{{"prober-a", "team-a", "prober.team-a.svc:9443"}, {"prober-b", "team-b", "[fd00:10:96::a]:9443"}}},
		{"--prober", []string{"--prober", "x/ns=127.0.0.1:1"}, []StaticProber{{"x", "ns", "127.0.0.1:1"}}},
		{"--probers-file", []string{"--probers-file", "testdata/valid/probers.yaml"}, listed},
		{"both", []string{"--probers-file", "testdata/valid/probers.yaml", "--prober", "x/ns=127.0.0.1:1"},
			append([]StaticProber{{"x", "ns", "127.0.0.1:1"}}, listed...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := loadCoordinator(t, append([]string{"--config", fullCoordinatorFile}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Probers, tt.want) {
				t.Errorf("got %+v, want %+v", got.Probers, tt.want)
			}
		})
	}
}

func TestProberFlagProblems(t *testing.T) {
	emptyList := filepath.Join(t.TempDir(), "probers.yaml")
	if err := os.WriteFile(emptyList, []byte("apiVersion: dsprobe.io/v1alpha1\nkind: ProberList\nprobers: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"malformed", []string{"--prober", "a=127.0.0.1:1"}, []string{`--prober "a=127.0.0.1:1": want NAME/NAMESPACE=HOST:PORT`}},
		{"bad address", []string{"--prober", "a/ns=nowhere"}, []string{`--prober "a/ns=nowhere": address nowhere: missing port in address`}},
		{"twice, across sources", []string{"--prober", "prober-b/x=127.0.0.1:1", "--probers-file", "testdata/valid/probers.yaml"},
			[]string{`testdata/valid/probers.yaml: probers[1].name: prober "prober-b" is listed twice`}},
		{"plaintext off loopback", []string{"--prober", "a/ns=192.0.2.1:9443"}, []string{`--prober "a/ns=192.0.2.1:9443": refusing plaintext to 192.0.2.1:9443 off loopback: ` +
			`configure TLS to probers (--prober-tls-cert, --prober-tls-key and --prober-tls-ca) or use --prober-insecure`}},
		{"no probers file", []string{"--probers-file", "testdata/no-such-file"}, []string{
			"--probers-file: open testdata/no-such-file: no such file or directory",
		}},
		{"an empty list", []string{"--probers-file", emptyList}, []string{"no prober: give --prober NAME/NAMESPACE=HOST:PORT or --probers-file, or discover them with --discover-label-selector"}},
		{"discovered", []string{"--discover-label-selector", "app=prober", "--discover-namespace", "a", "--discover-namespace", "b"}, nil},
		{"namespaces without a selector", []string{"--discover-namespace", "a"}, []string{
			"--discover-label-selector must select the prober Pods when namespaces are given",
			"no prober: give --prober NAME/NAMESPACE=HOST:PORT or --probers-file, or discover them with --discover-label-selector",
		}},
		{"discovered and listed", []string{"--discover-label-selector", "app=prober", "--prober", "a/ns=127.0.0.1:1"},
			[]string{"--discover-label-selector and a list of probers exclude each other: the list is for running without a cluster"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadCoordinator(t, tt.args...)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// leafPaths are the paths of t's fields that hold a value (not a struct),
// as files name them.
func leafPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for name, f := range jsonFields(t) {
		if f.Type.Kind() == reflect.Struct {
			paths = append(paths, leafPaths(f.Type, join(prefix, name))...)
		} else {
			paths = append(paths, join(prefix, name))
		}
	}
	slices.Sort(paths)
	return paths
}

// Every field has one flag, and every flag names a field of the right
// configuration: the header and the probers, which have flags of their own
// (--prober, --probers-file), aside.
func TestEveryFieldHasAFlag(t *testing.T) {
	tests := []struct {
		kind  string
		typ   reflect.Type
		flags []flagSpec
		aside []string
	}{
		{"prober", reflect.TypeFor[Prober](), proberFlags, []string{"apiVersion", "kind"}},
		{"coordinator", reflect.TypeFor[Coordinator](), coordinatorFlags, []string{"apiVersion", "kind", "probers"}},
	}
	for _, tt := range tests {
		var fields []string
		seen := map[string]bool{}
		for _, f := range tt.flags {
			if seen[f.flag] {
				t.Errorf("%s: --%s is registered twice", tt.kind, f.flag)
			}
			seen[f.flag] = true
			fields = append(fields, f.field)
		}
		fields = append(fields, tt.aside...)
		slices.Sort(fields)
		if want := leafPaths(tt.typ, ""); !slices.Equal(fields, want) {
			t.Errorf("%s: flags and fields differ:\ngot  %q\nwant %q", tt.kind, fields, want)
		}
		// Each flag binds to its field with a type it can hold.
		fs := flag.NewFlagSet(tt.kind, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if tt.kind == "prober" {
			ProberFlags(fs, func(string) string { return "" })
		} else {
			CoordinatorFlags(fs)
		}
	}
}

// A repeatable flag's first use replaces a default list rather than adding
// to it (the planned default allow-list of the cluster's CIDRs is one).
func TestListFlagReplacesTheDefault(t *testing.T) {
	list := []string{"10.96.0.0/12"}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.Var(&listFlag[string]{list: &list}, "allow-cidr", "")
	if err := fs.Parse([]string{"--allow-cidr", "10.0.0.0/8", "--allow-cidr", "fd00::/48"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.0/8", "fd00::/48"}; !slices.Equal(list, want) {
		t.Errorf("got %q, want %q", list, want)
	}
}
