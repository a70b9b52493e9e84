package resolve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/dsprobe/dsprobe/internal/smallfile"
)

// ParseError is one line of a resolv.conf that cannot be used. glibc skips
// such a line silently; dsprobe reports it, since a prober that quietly asked
// fewer servers than the operator listed would judge the wrong path.
type ParseError struct {
	// Path is the file, when known (LoadResolvConf sets it); empty for
	// ParseResolvConf.
	Path string
	// Line is the 1-based line number.
	Line int
	// Keyword is the line's keyword ("nameserver").
	Keyword string
	// Value is the offending value, as written.
	Value string
	// Reason says what is wrong with it.
	Reason string
}

func (e *ParseError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Path != "" {
		where = fmt.Sprintf("%s:%d", e.Path, e.Line)
	}
	return fmt.Sprintf("%s: %s %q: %s", where, e.Keyword, e.Value, e.Reason)
}

// LoadResolvConf reads the resolv.conf file at path with ParseResolvConf.
// As in glibc, a file that does not exist or cannot be opened for a reason
// that lies in the file system (permission, a directory, a symlink loop) is
// not an error: the defaults apply (DefaultConfig). Errors name the file.
func LoadResolvConf(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		// res_init.c's __resolv_conf_load ignores exactly these errnos.
		for _, ignored := range []error{fs.ErrNotExist, fs.ErrPermission, syscall.EISDIR, syscall.ELOOP, syscall.ENOTDIR} {
			if errors.Is(err, ignored) {
				return DefaultConfig(), nil
			}
		}
		return Config{}, fmt.Errorf("reading resolver configuration: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return DefaultConfig(), nil // EISDIR, when glibc reads it
	}
	b, err := smallfile.ReadFrom(f, path, smallfile.Limit)
	if err != nil {
		return Config{}, fmt.Errorf("reading resolver configuration: %w", err)
	}
	cfg, err := ParseResolvConf(bytes.NewReader(b))
	if err != nil {
		var errs []error
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			errs = joined.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, e := range errs {
			if pe, ok := e.(*ParseError); ok {
				pe.Path = path
			}
		}
		return cfg, joinErrors(errs)
	}
	return cfg, nil
}

// lineBufferBytes is where the parsers start reading lines, in place of
// bufio's 4 KiB: a prober parses resolv.conf and hosts for every probe, and
// their lines are short. A longer line takes more reads; it is read the same.
const lineBufferBytes = 256

// ParseResolvConf reads a resolv.conf(5) file the way glibc's res_init.c
// does:
//
//   - A line is used only when its keyword starts the line and is followed by
//     a space or a tab; a line starting with '#' or ';' is a comment. Other
//     lines (unknown keywords, indented lines) are ignored, as glibc ignores
//     them. A '#' later in a line does not start a comment.
//   - nameserver: an IPv4 address (inet_aton's forms, so 127.1 is 127.0.0.1)
//     or an IPv6 address with an optional %zone; whatever follows it on the
//     line is ignored. The first MaxServers are used, the rest are recorded in
//     IgnoredServers. No nameserver line means 127.0.0.1:53.
//   - search and domain: the last such line wins; domain sets a one-entry
//     search list. A line with no value changes nothing.
//   - options: ndots:n (at most 15), timeout:n (seconds, at most 30; 0 counts
//     as glibc's floor of 1 s), attempts:n (at most 5; 0 counts as 1, where
//     glibc would send no query at all), rotate, single-request,
//     single-request-reopen, use-vc, edns0, no-tld-query (or no_tld_query),
//     no-aaaa. Options accumulate over lines; a number is read as atoi does
//     (leading digits; none is 0; negative counts as 0); unknown options are
//     ignored; names match by prefix as in glibc.
//
// A malformed nameserver address is an error: each such line is reported as
// a *ParseError with its line number, all of them joined into one error, and
// the Config read from the rest of the file is returned with it. glibc would
// skip the line. The environment (LOCALDOMAIN, RES_OPTIONS), the host name's
// domain (glibc's search list when the file sets none) and sortlist are not
// consulted.
func ParseResolvConf(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	cfg.Servers = nil
	var errs []error
	br := bufio.NewReaderSize(r, lineBufferBytes)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return Config{}, fmt.Errorf("reading resolver configuration: %w", err)
		}
		if line == "" && err == io.EOF {
			break
		}
		// Only the newline goes: glibc keeps a carriage return in the
		// value, where it spoils a nameserver address.
		line = strings.TrimSuffix(line, "\n")
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		keyword, rest, ok := cutKeyword(line)
		if !ok {
			continue
		}
		switch keyword {
		case "domain":
			if fields := splitBlank(rest); len(fields) > 0 {
				cfg.Search = fields[:1]
			}
		case "search":
			if fields := splitBlank(rest); len(fields) > 0 {
				cfg.Search = fields
			}
		case "nameserver":
			var value string
			if fields := splitBlank(rest); len(fields) > 0 {
				value = fields[0]
			}
			addr, reason := parseNameserver(value)
			if reason != "" {
				errs = append(errs, &ParseError{Line: lineNo, Keyword: keyword, Value: value, Reason: reason})
				continue
			}
			server := netip.AddrPortFrom(addr, 53)
			if len(cfg.Servers) < MaxServers {
				cfg.Servers = append(cfg.Servers, server)
			} else {
				cfg.IgnoredServers = append(cfg.IgnoredServers, server)
			}
		case "options":
			setOptions(&cfg, rest)
		}
	}
	if len(cfg.Servers) == 0 {
		cfg.Servers = []netip.AddrPort{defaultServer}
	}
	return cfg, joinErrors(errs)
}

// joinErrors is errors.Join, except that one error is returned as itself so
// that a caller can type-assert it.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// cutKeyword implements glibc's MATCH macro for the keywords it knows.
func cutKeyword(line string) (keyword, rest string, ok bool) {
	for _, k := range []string{"domain", "search", "nameserver", "options"} {
		if len(line) > len(k) && strings.HasPrefix(line, k) && isBlank(line[len(k)]) {
			return k, line[len(k)+1:], true
		}
	}
	return "", "", false
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// splitBlank splits on spaces and tabs only, as res_init.c does: other white
// space (a carriage return) stays part of the value, where glibc also leaves
// it.
func splitBlank(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

func parseNameserver(s string) (netip.Addr, string) {
	if s == "" {
		return netip.Addr{}, "no address after the keyword"
	}
	// res_init.c tries inet_aton first, then inet_pton(AF_INET6).
	if a, ok := inetAton(s); ok {
		return a, ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is6() {
		return netip.Addr{}, "not an IPv4 or IPv6 address"
	}
	return addr, ""
}

// inetAton parses an IPv4 address in any form inet_aton(3) accepts (a, a.b,
// a.b.c, a.b.c.d; each part decimal, octal with a leading 0, or hex with 0x),
// with nothing after it, as glibc's __inet_aton_exact does.
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := atonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	// All parts but the last are one byte; the last fills the rest.
	for _, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	var n uint32
	for _, v := range vals[:len(vals)-1] {
		n = n<<8 | uint32(v)
	}
	n = n<<(8*(5-len(vals))) | uint32(last)
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func atonPart(p string) (uint64, bool) {
	base := uint64(10)
	switch {
	case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" {
		return 0, false
	}
	var v uint64
	for _, c := range []byte(p) {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, false
		}
	}
	return v, true
}

// setOptions implements res_setoptions.
func setOptions(cfg *Config, s string) {
	for _, opt := range splitBlank(s) {
		switch {
		case strings.HasPrefix(opt, "ndots:"):
			cfg.Ndots = min(atoi(opt[len("ndots:"):]), maxNdots)
		case strings.HasPrefix(opt, "timeout:"):
			// send_dg waits at least one second whatever retrans is.
			cfg.Timeout = time.Duration(min(max(atoi(opt[len("timeout:"):]), 1), maxTimeout)) * time.Second
		case strings.HasPrefix(opt, "attempts:"):
			cfg.Attempts = min(max(atoi(opt[len("attempts:"):]), 1), maxAttempt)
		// glibc compares each flag with strncmp over the flag's length,
		// in this order, so "single-request-reopen" must come first.
		case strings.HasPrefix(opt, "rotate"):
			cfg.Rotate = true
		case strings.HasPrefix(opt, "edns0"):
			cfg.EDNS0 = true
		case strings.HasPrefix(opt, "single-request-reopen"), strings.HasPrefix(opt, "single-request"):
			cfg.SingleRequest = true
		case strings.HasPrefix(opt, "no_tld_query"), strings.HasPrefix(opt, "no-tld-query"):
			cfg.NoTLDQuery = true
		case strings.HasPrefix(opt, "use-vc"):
			cfg.UseTCP = true
		case strings.HasPrefix(opt, "no-aaaa"):
			cfg.NoAAAA = true
		}
	}
}

// atoi reads a number as C's atoi does for these options: leading digits,
// nothing is 0. A sign makes a negative (or positive) number; negatives count
// as 0 here, where glibc would store them in an unsigned field.
func atoi(s string) int {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			break // far above every cap; stop before overflowing
		}
	}
	if neg {
		return 0
	}
	return n
}
