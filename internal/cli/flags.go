package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its help to w when asked (-h, --help).
func newFlagSet(name, synopsis, description string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors come back as values and are printed once
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: dsprobe %s %s\n\n%s\n\nFlags:\n", name, synopsis, description)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments, and returns the positional ones. A bad flag is a
// usage error that points at --help; the help itself is printed only when
// asked for, since dozens of lines of it would bury the error.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	help := fs.Usage
	fs.Usage = func() {} // flag calls Usage on every error, not only for -h
	defer func() { fs.Usage = help }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help()
				return nil, flag.ErrHelp
			}
			return nil, usageError{fmt.Errorf("%w (see dsprobe %s --help)", err, fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// argsErrorf is a usage error about the positional arguments: the problem,
// then the command's short usage line (usage, e.g. "[flags] TARGET") and
// where its help is.
func argsErrorf(fs *flag.FlagSet, usage, format string, args ...any) error {
	return usagef("%s (usage: dsprobe %s %s; see dsprobe %s --help)", fmt.Sprintf(format, args...), fs.Name(), usage, fs.Name())
}

// outputFormat is the -o flag.
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Set(s string) error {
	switch s {
	case "table", "json":
		*o = outputFormat(s)
		return nil
	}
	return fmt.Errorf("unknown output format %q (want table or json)", s)
}

func addOutputFlag(fs *flag.FlagSet) *outputFormat {
	o := outputFormat("table")
	fs.Var(&o, "o", "output format: table (for humans) or json (protojson-shaped, for scripts)")
	return &o
}

// addrList is a repeatable address flag.
type addrList []netip.Addr

func (l *addrList) String() string {
	var s []string
	for _, a := range *l {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

func (l *addrList) Set(v string) error {
	a, err := parseAddr(v)
	if err != nil {
		return err
	}
	*l = append(*l, a)
	return nil
}

// parseAddr parses an IP literal, with or without brackets; zones are
// refused because a zone means nothing to the policy table.
func parseAddr(s string) (netip.Addr, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(t)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: zoned addresses are not supported", s)
	}
	return a.Unmap(), nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// millis renders a duration as milliseconds, the unit of every *Ms JSON key.
func millis(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// fromMillis is an API *Ms value as a duration.
func fromMillis(ms float64) time.Duration {
	return time.Duration(ms * float64(time.Millisecond))
}

// formatMs renders a duration for tables: "0ms", "2.5ms", "300ms", "127s".
func formatMs(d time.Duration) string {
	if d >= 10*time.Second {
		// Seconds, to a tenth: 127.0004 s is "127s", not "127000.4ms"
		// beside a fallback delay of "127s".
		return strings.TrimSuffix(strconv.FormatFloat(d.Seconds(), 'f', 1, 64), ".0") + "s"
	}
	ms := millis(d)
	if ms == float64(int64(ms)) {
		return fmt.Sprintf("%dms", int64(ms))
	}
	return fmt.Sprintf("%.1fms", ms)
}
