package target

import "testing"

// Any string either parses into a usable target or gives an error; never a
// panic, an empty host or port 0. A parsed target's String parses back to
// the same target.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"svc.example:80", "[2001:db8::1]:443", "http://svc/", "https://[fd00::1]/healthz?x=1",
		"grpc://svc:9000", "grpc://svc", "2001:db8::1:80", "http://[::1", "HTTP://Svc.:8080/a b",
		"[fe80::1%eth0]:22", "svc:0", "svc:65536", "://", "http://:80/", " x:1 ", "ftp://x:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tgt, err := Parse(s)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("Parse(%q): an empty error", s)
			}
			return
		}
		if tgt.Host == "" || tgt.Port == 0 {
			t.Errorf("Parse(%q) = %+v: want a host and a port", s, tgt)
		}
		again, err := Parse(tgt.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, tgt.String(), err)
		}
		if again != tgt {
			t.Errorf("Parse(%q) = %+v, but its String %q parses to %+v", s, tgt, tgt.String(), again)
		}
	})
}
