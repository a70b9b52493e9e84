package target

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Target is one parsed target.
type Target struct {
	// Host is the name or IP literal, without brackets or trailing dot
	// handling: a name is kept as given (a trailing dot marks it absolute
	// for the resolver's search list).
	Host string
	// Addr is valid when Host is an IP literal; such a target skips DNS.
	Addr netip.Addr
	Port uint16
	// Scheme is "http", "https" or "grpc" for a URL target, "" for
	// host:port.
	Scheme string
	// Path is the URL's path and query for http(s) targets ("/" if empty).
	Path string
}

// IsLiteral reports whether the target is an IP address rather than a name.
func (t Target) IsLiteral() bool { return t.Addr.IsValid() }

// HostPort renders host:port with brackets around IPv6, as a user would
// type it.
func (t Target) HostPort() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
}

// String renders the target as the user gave it, normalised.
func (t Target) String() string {
	if t.Scheme == "" {
		return t.HostPort()
	}
	return t.Scheme + "://" + t.HostPort() + t.Path
}

var defaultPorts = map[string]uint16{"http": 80, "https": 443}

// Parse parses host:port, [v6]:port or an http://, https:// or grpc:// URL.
// A grpc:// URL needs an explicit port: gRPC has no default one.
func Parse(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, errors.New("empty target (want host:port, [v6]:port or a URL)")
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		return parseURL(s, strings.ToLower(scheme))
	}
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %s", s, withoutPort(s))
	}
	t, err := build(host, portText, s)
	if err != nil {
		return Target{}, err
	}
	return t, nil
}

// withoutPort says what is wrong with a target that is not host:port. A
// bare IPv6 literal is a whole address without a port, but one whose last
// group fits a port may have been meant as address and port: the message
// offers both readings rather than guessing.
func withoutPort(s string) string {
	const want = "want host:port, [v6]:port or a URL"
	if !strings.Contains(s, ":") {
		return fmt.Sprintf("the port is missing, e.g. %s:443 (%s)", s, want)
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if addr, ok := strings.CutSuffix(inner, "]"); ok {
			return fmt.Sprintf("the port is missing, e.g. [%s]:443", addr)
		}
		return want
	}
	const brackets = "an IPv6 address with a port needs brackets"
	if _, err := netip.ParseAddr(s); err != nil {
		return brackets + ", e.g. [2001:db8::1]:443"
	}
	msg := fmt.Sprintf("the port is missing; %s, e.g. [%s]:443", brackets, s)
	i := strings.LastIndex(s, ":")
	if addr, err := netip.ParseAddr(s[:i]); err == nil && addr.Is6() {
		if port, err := strconv.ParseUint(s[i+1:], 10, 16); err == nil && port > 0 {
			msg += fmt.Sprintf(", or [%s]:%d if %d is the port", addr, port, port)
		}
	}
	return msg
}

func parseURL(s, scheme string) (Target, error) {
	switch scheme {
	case "http", "https", "grpc":
	default:
		return Target{}, fmt.Errorf("target %q: unsupported scheme %q (want http, https or grpc)", s, scheme)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	if u.User != nil {
		return Target{}, fmt.Errorf("target %q: credentials in the URL are not supported", s)
	}
	portText := u.Port()
	if portText == "" {
		p, ok := defaultPorts[scheme]
		if !ok {
			return Target{}, fmt.Errorf("target %q: a %s:// target needs a port", s, scheme)
		}
		portText = strconv.Itoa(int(p))
	}
	t, err := build(u.Hostname(), portText, s)
	if err != nil {
		return Target{}, err
	}
	t.Scheme = scheme
	if scheme != "grpc" {
		t.Path = u.EscapedPath()
		if t.Path == "" {
			t.Path = "/"
		}
		if u.RawQuery != "" {
			t.Path += "?" + u.RawQuery
		}
	}
	return t, nil
}

func build(host, portText, raw string) (Target, error) {
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return Target{}, fmt.Errorf("target %q: port %q is not a number from 1 to 65535", raw, portText)
	}
	t := Target{Host: host, Port: uint16(port)}
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return Target{}, fmt.Errorf("target %q: zoned (link-local) addresses are not supported", raw)
		}
		t.Addr = addr.Unmap()
		t.Host = t.Addr.String()
		return t, nil
	}
	if err := checkName(host); err != nil {
		return Target{}, fmt.Errorf("target %q: %w", raw, err)
	}
	return t, nil
}

// checkName accepts what a resolver can be asked for: labels of letters,
// digits, hyphens and underscores (service names such as _grpc._tcp), at most
// 63 bytes each and 253 in all.
func checkName(name string) error {
	if name == "" {
		return errors.New("missing host")
	}
	trimmed := strings.TrimSuffix(name, ".")
	if len(trimmed) > 253 {
		return fmt.Errorf("host name is %d bytes long, over the 253 DNS allows", len(trimmed))
	}
	for _, label := range strings.Split(trimmed, ".") {
		if label == "" {
			return fmt.Errorf("host %q has an empty label", name)
		}
		if len(label) > 63 {
			return fmt.Errorf("host %q has a label over 63 bytes", name)
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return fmt.Errorf("host %q contains %q, which is not allowed in a host name", name, r)
			}
		}
		if strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("host %q has a label that starts or ends with a hyphen", name)
		}
	}
	return nil
}
