package happyeyeballs

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func mustLoadGaiConf(t *testing.T, path string) *Policy {
	t.Helper()
	p, err := LoadGaiConf(path)
	if err != nil {
		t.Fatalf("LoadGaiConf(%s): %v", path, err)
	}
	return p
}

func entries(pairs ...any) []PolicyEntry {
	var out []PolicyEntry
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, PolicyEntry{netip.MustParsePrefix(pairs[i].(string)), uint8(pairs[i+1].(int))})
	}
	return out
}

func TestParseGaiConf(t *testing.T) {
	tests := []struct {
		file                   string
		precedence, label, sc4 []PolicyEntry
	}{
		{
			// gaiconf_init replaces the whole precedence table and adds
			// ::/0 → 40 back: ::1 and 2002::/16 lose their precedence.
			file:       "prefer-ipv4.conf",
			precedence: entries("::ffff:0:0/96", 100, "::/0", 40),
			label:      glibcLabel,
			sc4:        defaultScopeV4,
		},
		{
			file:       "rfc6724-table.conf",
			precedence: rfc6724Precedence,
			label:      rfc6724Label,
			sc4:        defaultScopeV4,
		},
		{
			// No ::/0 label line: glibc adds "label ::/0 1".
			file:       "labels-only.conf",
			precedence: glibcPrecedence,
			label: entries("::1/128", 0, "2002::/16", 2, "::/96", 3, "::ffff:0:0/96", 4,
				"2001::/32", 5, "fec0::/10", 11, "3ffe::/16", 12, "fc00::/7", 13, "::/0", 1),
			sc4: defaultScopeV4,
		},
		{
			// scopev4 lines replace the scope table; 0.0.0.0/0 → 14 is
			// added back.
			file:       "comments.conf",
			precedence: glibcPrecedence,
			label:      glibcLabel,
			sc4:        entries("169.254.0.0/16", 2, "127.0.0.0/8", 2, "10.0.0.0/8", 5, "0.0.0.0/0", 14),
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open("testdata/gaiconf/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p, err := ParseGaiConf(f)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if p.Name != "gai.conf" {
				t.Errorf("name: got %q, want %q", p.Name, "gai.conf")
			}
			if !slices.Equal(p.PrecedenceTable, tt.precedence) {
				t.Errorf("precedence table: got %v, want %v", p.PrecedenceTable, tt.precedence)
			}
			if !slices.Equal(p.LabelTable, tt.label) {
				t.Errorf("label table: got %v, want %v", p.LabelTable, tt.label)
			}
			if !slices.Equal(p.ScopeV4Table, tt.sc4) {
				t.Errorf("scopev4 table: got %v, want %v", p.ScopeV4Table, tt.sc4)
			}
		})
	}
}

// A gai.conf that spells out RFC 6724's table makes glibc's policy agree
// with RFC6724Policy everywhere.
func TestGaiConfRFC6724TableMatchesRFC6724Policy(t *testing.T) {
	p := mustLoadGaiConf(t, "testdata/gaiconf/rfc6724-table.conf")
	rfc := RFC6724Policy()
	for _, s := range []string{"::1", "::2", "10.0.0.1", "2002::1", "2001::1", "fd00::1", "::10.0.0.1", "fec0::1", "3ffe::1", "2001:db8::1"} {
		a := netip.MustParseAddr(s)
		if p.Precedence(a) != rfc.Precedence(a) || p.Label(a) != rfc.Label(a) {
			t.Errorf("%s: got precedence %d label %d, want %d and %d", s, p.Precedence(a), p.Label(a), rfc.Precedence(a), rfc.Label(a))
		}
	}
}

// A labels-only file keeps glibc's default precedence: the ULA still beats
// IPv4 (40 over 10).
func TestGaiConfLabelsOnlyKeepsPrecedence(t *testing.T) {
	p := mustLoadGaiConf(t, "testdata/gaiconf/labels-only.conf")
	for addr, want := range map[string]uint8{"fd00::1": 40, "10.0.0.1": 10, "::1": 50, "2002::1": 30} {
		if got := p.Precedence(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Precedence(%s): got %d, want %d", addr, got, want)
		}
	}
	if got := p.Label(netip.MustParseAddr("fd00::1")); got != 13 {
		t.Errorf("Label(fd00::1): got %d, want 13", got)
	}
	runSortCases(t, []sortCase{{
		name: "ULA before IPv4 still",
		in:   []Destination{dest("10.0.0.1", "10.0.0.2"), dest("fd00::1", "fd00::2")},
		opts: SortOptions{Policy: p, PrefixRule: PrefixRuleGlibc},
		want: mustAddrs("fd00::1", "10.0.0.1"),
	}})
}

func TestParseGaiConfErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{
			file: "invalid.conf",
			want: []string{
				`gai.conf line 3: unknown keyword "lable" (want label, precedence, scopev4 or reload)`,
				`gai.conf line 4: precedence needs a prefix and a value (e.g. "precedence ::ffff:0:0/96 100"), got 1 field(s)`,
				`gai.conf line 5: prefix "10.0.0.0/8" is IPv4; write it IPv4-mapped, e.g. ::ffff:10.0.0.0/104`,
				`gai.conf line 6: value 1000 is out of range 0..255`,
				`gai.conf line 7: prefix "fe80::%eth0/10" has a zone; gai.conf prefixes cannot`,
				`gai.conf line 8: prefix "2001:db8::/129": length 129 is more than 128`,
				`gai.conf line 9: value "one" is not a decimal number`,
				`gai.conf line 10: precedence needs a prefix and a value (e.g. "precedence ::ffff:0:0/96 100"), got 3 field(s)`,
				`gai.conf line 11: reload takes yes or no, got "maybe"`,
				`gai.conf line 12: scopev4 prefix "2001:db8::/32" is neither IPv4 nor IPv4-mapped (::ffff:a.b.c.d)`,
				`gai.conf line 13: scopev4 prefix "::ffff:10.0.0.0/80": an IPv4-mapped length must be 96..128, got 80`,
				`gai.conf line 14: unknown keyword "Label" (want label, precedence, scopev4 or reload)`,
				`gai.conf line 16: precedence ::/0 is 30 here but 40 on line 15; give each prefix one value`,
				`gai.conf line 17: label needs a prefix and a value (e.g. "label ::1/128 0"), got 0 field(s)`,
				`gai.conf line 18: value "-1" is not a decimal number`,
			},
		},
		{
			file: "invalid-one.conf",
			want: []string{`gai.conf line 5: value "3O" is not a decimal number`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open("testdata/gaiconf/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p, err := ParseGaiConf(f)
			if err == nil {
				t.Fatalf("got policy %v and no error, want %d errors", p.Rows(), len(tt.want))
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var gce *GaiConfError
			if !errors.As(err, &gce) || gce.Line != lineOf(tt.want[0]) {
				t.Errorf("errors.As: got %+v, want the *GaiConfError of line %d", gce, lineOf(tt.want[0]))
			}
		})
	}
}

func lineOf(msg string) int {
	var n int
	for _, c := range strings.TrimPrefix(msg, "gai.conf line ") {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestLoadGaiConf(t *testing.T) {
	p := mustLoadGaiConf(t, "testdata/gaiconf/prefer-ipv4.conf")
	if p.Name != "testdata/gaiconf/prefer-ipv4.conf" {
		t.Errorf("name: got %q, want the path", p.Name)
	}
	_, err := LoadGaiConf("testdata/gaiconf/invalid-one.conf")
	want := `testdata/gaiconf/invalid-one.conf: gai.conf line 5: value "3O" is not a decimal number`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if _, err := LoadGaiConf("testdata/gaiconf/missing.conf"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
}

// An empty file is glibc's defaults, and so is a file of comments.
func TestParseGaiConfEmpty(t *testing.T) {
	for _, text := range []string{"", "# nothing\n\n   \n"} {
		p, err := ParseGaiConf(strings.NewReader(text))
		if err != nil {
			t.Fatalf("got %v, want no error", err)
		}
		if got, want := p.Rows(), GlibcPolicy().Rows(); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}
