package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/ladder"
)

func TestReadDNSLadder(t *testing.T) {
	got, err := ReadDNSLadder("testdata/ladders/valid-web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int) ladder.Duration { return ladder.Duration(time.Duration(n) * time.Millisecond) }
	want := ladder.Spec{
		Target: ladder.Target{
			Address:    "http://web.shop.example:8080/healthz",
			DNSServers: []string{"10.96.0.10", "[fd00:10:96::a]:53"},
			Timeout:    ms(10_000),
		},
		Schedule: ladder.Schedule{Every: ms(300_000)},
		Clients:  []ladder.Client{{Profile: "node", MaxTimeToConnect: ms(500), MaxFallbackDelay: ms(300)}, {Profile: "chrome"}},
		Rungs: []ladder.Rung{
			{Name: "internal", Vantage: ladder.Vantage{Namespaces: []string{"dsprobe-internal"}}, AAAAExpected: true,
				Gates: ladder.Gates{Clients: []string{"node", "chrome"}, ConsecutivePasses: 3}},
			{Name: "synthetic", Vantage: ladder.Vantage{Namespaces: []string{"synthetic-a", "synthetic-b"}}, AAAAExpected: true,
				Gates: ladder.Gates{Clients: []string{"node"}}},
			{Name: "broad", Vantage: ladder.Vantage{Probers: []string{"broad/prober-0"}}},
		},
	}
	if got.Metadata != (ladder.Metadata{Name: "web", Namespace: "shop"}) {
		t.Errorf("got metadata %+v, want web in shop", got.Metadata)
	}
	if !reflect.DeepEqual(got.Spec, want) {
		t.Errorf("got spec\n\t%+v\nwant\n\t%+v", got.Spec, want)
	}
}

// Every invalid ladder fails with exactly the messages it names, all at
// once: the shape first (as every file), then the ladder's own rules.
func TestInvalidDNSLadders(t *testing.T) {
	files, _ := filepath.Glob("testdata/ladders/invalid-*")
	if len(files) == 0 {
		t.Fatal("no invalid ladder fixtures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := ReadDNSLadder(path)
			if err == nil {
				t.Fatalf("got no error, want %q", wantedErrors(t, path))
			}
			got, want := strings.Split(err.Error(), "\n"), wantedErrors(t, path)
			if !slices.Equal(got, want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		})
	}
}
