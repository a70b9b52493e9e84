package happyeyeballs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/dsprobe/dsprobe/internal/smallfile"
)

// GaiConfError is one problem in a gai.conf file. ParseGaiConf and
// LoadGaiConf report every problem of a file at once, joined with
// errors.Join; errors.As finds the first.
type GaiConfError struct {
	// Path is the file's path; empty when the text came from a reader.
	Path string
	// Line is the 1-based line number.
	Line int
	// Problem says what is wrong with the line.
	Problem string
}

func (e *GaiConfError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s: gai.conf line %d: %s", e.Path, e.Line, e.Problem)
	}
	return fmt.Sprintf("gai.conf line %d: %s", e.Line, e.Problem)
}

// LoadGaiConf reads the gai.conf file at path (normally /etc/gai.conf) as
// ParseGaiConf does; each error names the path. A missing file is an error
// (fs.ErrNotExist), although glibc then silently uses its defaults: a caller
// that wants glibc's behaviour checks for it and uses GlibcPolicy.
func LoadGaiConf(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading gai.conf: %w", err)
	}
	defer f.Close()
	b, err := smallfile.ReadFrom(f, path, smallfile.Limit)
	if err != nil {
		return nil, fmt.Errorf("reading gai.conf: %w", err)
	}
	p, err := parseGaiConf(bytes.NewReader(b), path)
	if err != nil {
		return nil, err
	}
	p.Name = path
	return p, nil
}

// ParseGaiConf reads a gai.conf(5) file and returns the policy glibc's
// getaddrinfo would sort with. Its Name is "gai.conf".
//
// The file holds one directive a line; '#' starts a comment:
//
//	label      PREFIX[/LEN] VALUE   a row of the label table
//	precedence PREFIX[/LEN] VALUE   a row of the precedence table
//	scopev4    PREFIX[/LEN] VALUE   a row of the IPv4 scope table
//	reload     yes|no               accepted and ignored (it tells glibc to re-read the file)
//
// PREFIX is an IPv6 address, IPv4 ones written IPv4-mapped
// (::ffff:192.0.2.0/120); without /LEN it is a single address (/128). For
// scopev4 it is an IPv4 address (169.254.0.0/16) or an IPv4-mapped one with
// LEN 96..128.
//
// The tables are built exactly as glibc's gaiconf_init builds them: a file
// with any label line replaces the whole default label table, and if none of
// its lines is a /0 prefix, ::/0 with label 1 is added; likewise precedence
// (::/0 with 40 added) and scopev4 (0.0.0.0/0 with scope 14 added). A kind
// the file does not mention keeps glibc's default table. This is the trap
// behind gai.conf's own advice: its single line "precedence ::ffff:0:0/96
// 100" leaves only {::ffff:0:0/96 → 100, ::/0 → 40}, so ::1 loses its
// precedence 50 and 2002::/16 its 30.
//
// Where glibc silently skips a line it cannot use, ParseGaiConf fails
// instead, because a skipped line is exactly the misconfiguration someone
// reading dsprobe's output needs to hear about. It reports every such line
// at once (errors.Join of *GaiConfError): unknown keywords (glibc's are
// case-sensitive), missing or extra fields, malformed prefixes, prefixes in
// IPv4 syntax outside scopev4 (glibc's inet_pton(AF_INET6) rejects them),
// values that are not decimal, reload values other than yes or no, and one
// prefix given two different values (glibc's choice between them depends on
// its qsort). Values are limited to 0..255: glibc accepts up to INT_MAX, but
// dsprobe keeps 8-bit values, as RFC 6724's tables do, and no real table
// needs more.
func ParseGaiConf(r io.Reader) (*Policy, error) {
	return parseGaiConf(r, "")
}

// gaiTable collects one kind of line.
type gaiTable struct {
	entries []PolicyEntry
	lines   []int // the line each entry came from
	hasZero bool  // a /0 prefix was given; glibc then adds no default
}

func (t *gaiTable) add(e PolicyEntry, line int, kind string) string {
	if i := slices.IndexFunc(t.entries, func(o PolicyEntry) bool { return o.Prefix == e.Prefix }); i >= 0 {
		if t.entries[i].Value == e.Value {
			return "" // a harmless repetition
		}
		return fmt.Sprintf("%s %s is %d here but %d on line %d; give each prefix one value",
			kind, e.Prefix, e.Value, t.entries[i].Value, t.lines[i])
	}
	t.entries = append(t.entries, e)
	t.lines = append(t.lines, line)
	t.hasZero = t.hasZero || e.Prefix.Bits() == 0
	return ""
}

// build returns the table glibc would use: the file's entries plus the /0
// default gaiconf_init adds, or the compiled-in table if the file had none.
func (t *gaiTable) build(zero netip.Prefix, zeroValue uint8, defaults []PolicyEntry) []PolicyEntry {
	if len(t.entries) == 0 {
		return slices.Clone(defaults)
	}
	out := slices.Clone(t.entries)
	if !t.hasZero {
		out = append(out, PolicyEntry{zero, zeroValue})
	}
	return out
}

func parseGaiConf(r io.Reader, path string) (*Policy, error) {
	var (
		labels, precedences, scopes gaiTable
		errs                        []error
	)
	problem := func(line int, format string, args ...any) {
		errs = append(errs, &GaiConfError{Path: path, Line: line, Problem: fmt.Sprintf(format, args...)})
	}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		keyword, args := fields[0], fields[1:]
		switch keyword {
		case "label", "precedence", "scopev4":
			if len(args) != 2 {
				problem(lineNo, "%s needs a prefix and a value (e.g. %q), got %d field(s)",
					keyword, gaiExample[keyword], len(args))
				continue
			}
			var (
				pfx netip.Prefix
				err error
			)
			if keyword == "scopev4" {
				pfx, err = parseScopeV4Prefix(args[0])
			} else {
				pfx, err = parseGaiPrefix(args[0])
			}
			if err != nil {
				problem(lineNo, "%s", err)
			}
			value, verr := parseGaiValue(args[1])
			if verr != nil {
				problem(lineNo, "%s", verr)
			}
			if err != nil || verr != nil {
				continue
			}
			table := &scopes
			switch keyword {
			case "label":
				table = &labels
			case "precedence":
				table = &precedences
			}
			if msg := table.add(PolicyEntry{pfx, value}, lineNo, keyword); msg != "" {
				problem(lineNo, "%s", msg)
			}
		case "reload":
			if len(args) != 1 || (args[0] != "yes" && args[0] != "no") {
				problem(lineNo, "reload takes yes or no, got %q", strings.Join(args, " "))
			}
		default:
			problem(lineNo, "unknown keyword %q (want label, precedence, scopev4 or reload)", keyword)
		}
	}
	if err := sc.Err(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		return nil, fmt.Errorf("reading gai.conf: %w", err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Policy{
		Name:            "gai.conf",
		PrecedenceTable: precedences.build(netip.MustParsePrefix("::/0"), 40, glibcPrecedence),
		LabelTable:      labels.build(netip.MustParsePrefix("::/0"), 1, glibcLabel),
		ScopeV4Table:    scopes.build(netip.MustParsePrefix("0.0.0.0/0"), scopeGlobal, defaultScopeV4),
	}, nil
}

var gaiExample = map[string]string{
	"label":      "label ::1/128 0",
	"precedence": "precedence ::ffff:0:0/96 100",
	"scopev4":    "scopev4 169.254.0.0/16 2",
}

// splitPrefix splits "ADDR[/LEN]" and parses LEN; noLen is the length when
// there is none.
func splitPrefix(s string, noLen int) (addr netip.Addr, bits int, err error) {
	addrText, lenText, hasLen := strings.Cut(s, "/")
	if strings.Contains(addrText, "%") {
		return netip.Addr{}, 0, fmt.Errorf("prefix %q has a zone; gai.conf prefixes cannot", s)
	}
	addr, err = netip.ParseAddr(addrText)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("prefix %q: %q is not an IP address", s, addrText)
	}
	bits = noLen
	if hasLen {
		n, err := strconv.ParseUint(lenText, 10, 32)
		if err != nil {
			return netip.Addr{}, 0, fmt.Errorf("prefix %q: length %q is not a number of bits", s, lenText)
		}
		bits = int(n)
	}
	return addr, bits, nil
}

// parseGaiPrefix parses a label or precedence prefix as glibc's add_prefixlist
// does: IPv6 text only, /128 when no length is given.
func parseGaiPrefix(s string) (netip.Prefix, error) {
	addr, bits, err := splitPrefix(s, 128)
	if err != nil {
		return netip.Prefix{}, err
	}
	if addr.Is4() {
		return netip.Prefix{}, fmt.Errorf("prefix %q is IPv4; write it IPv4-mapped, e.g. ::ffff:%s/%d",
			s, addr, min(bits, 32)+96)
	}
	if bits > 128 {
		return netip.Prefix{}, fmt.Errorf("prefix %q: length %d is more than 128", s, bits)
	}
	return netip.PrefixFrom(addr, bits).Masked(), nil
}

// parseScopeV4Prefix parses a scopev4 prefix as gaiconf_init does: an
// IPv4-mapped IPv6 prefix of length 96..128 (128 when none is given), or an
// IPv4 prefix (32 when none is given). The result is a plain IPv4 prefix.
func parseScopeV4Prefix(s string) (netip.Prefix, error) {
	addr, bits, err := splitPrefix(s, -1)
	if err != nil {
		return netip.Prefix{}, err
	}
	switch {
	case addr.Is4():
		if bits < 0 {
			bits = 32
		}
		if bits > 32 {
			return netip.Prefix{}, fmt.Errorf("scopev4 prefix %q: length %d is more than 32", s, bits)
		}
		return netip.PrefixFrom(addr, bits).Masked(), nil
	case addr.Is4In6():
		if bits < 0 {
			bits = 128
		}
		if bits < 96 || bits > 128 {
			return netip.Prefix{}, fmt.Errorf("scopev4 prefix %q: an IPv4-mapped length must be 96..128, got %d", s, bits)
		}
		return netip.PrefixFrom(addr.Unmap(), bits-96).Masked(), nil
	default:
		return netip.Prefix{}, fmt.Errorf("scopev4 prefix %q is neither IPv4 nor IPv4-mapped (::ffff:a.b.c.d)", s)
	}
}

func parseGaiValue(s string) (uint8, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q is not a decimal number", s)
	}
	if n > 255 {
		return 0, fmt.Errorf("value %d is out of range 0..255", n)
	}
	return uint8(n), nil
}
