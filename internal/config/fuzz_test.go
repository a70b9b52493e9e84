package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Any file either decodes or gives errors that each name the file; never a
// panic. A decoded configuration, written back out, decodes to itself.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const name = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, b []byte) {
		for kind, fresh := range map[string]func() any{
			KindProber:      func() any { c := DefaultProber(); return &c },
			KindCoordinator: func() any { c := DefaultCoordinator(); return &c },
			KindProberList:  func() any { return &ProberList{} },
		} {
			out := fresh()
			if err := decode(name, b, kind, out); err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					if !strings.HasPrefix(line, name+": ") {
						t.Errorf("%s: got the message %q, want it to name the file", kind, line)
					}
				}
				continue
			}
			written, err := json.Marshal(out)
			if err != nil {
				t.Fatalf("%s: writing %+v: %v", kind, out, err)
			}
			again := fresh()
			if err := decode(name, written, kind, again); err != nil {
				t.Fatalf("%s: %s, written from %+v, does not decode: %v", kind, written, out, err)
			}
			if !reflect.DeepEqual(out, again) {
				t.Errorf("%s: decoded %+v, written %s, decoded again %+v", kind, out, written, again)
			}
		}
		probers, origins, err := readOldProbersFile(name, b)
		if len(probers) != len(origins) || (err != nil && err.Error() == "") {
			t.Errorf("old format: %d probers, %d origins, error %v", len(probers), len(origins), err)
		}
	})
}
