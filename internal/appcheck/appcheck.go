package appcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Spec.
const (
	// DefaultPath is the HTTP path requested when Spec.Path is empty.
	DefaultPath = "/"
	// DefaultMaxStatus is the highest HTTP status that passes when
	// Spec.MaxStatus is zero: 2xx and 3xx pass (the check follows no
	// redirect, which would need another connection), 4xx and 5xx fail.
	DefaultMaxStatus = 399
	// DefaultTimeout bounds a check when Spec.Timeout is zero.
	DefaultTimeout = 10 * time.Second
)

// Spec says which check to run and how. The zero value is a TCP check.
type Spec struct {
	// Kind is the check. The zero value is TCP: the connection alone.
	Kind Kind
	// Host is the target's name, not the dialed address: the HTTP Host
	// header, the TLS server name (SNI, and the name the certificate must
	// be valid for) and gRPC's :authority. It may carry a port
	// ("svc.example:8443"), which goes into Host and :authority but not
	// into the server name. The Host header leaves out the scheme's
	// default port (80 for HTTP, 443 for HTTPS) and keeps any other, as
	// curl does (RFC 9110 §7.2); :authority keeps every port, as grpc-go
	// does. Without a port the name goes out alone. An IPv6 literal may be
	// bare; it is bracketed where a port could follow. Empty means the
	// connection's remote address and port, so TLS then verifies the
	// certificate's IP addresses.
	Host string
	// Path is the HTTP request's path and optional query ("/healthz?full=1").
	// Empty means DefaultPath ("/").
	Path string
	// MaxStatus is the highest HTTP status that passes; a status above it
	// fails the check. Zero means DefaultMaxStatus (399).
	MaxStatus int
	// InsecureSkipVerify accepts any certificate the server presents (the
	// handshake itself must still succeed). False verifies the chain
	// against RootCAs and the name against Host.
	InsecureSkipVerify bool
	// RootCAs are the CAs a server certificate must chain to. Nil means
	// the system's roots.
	RootCAs *x509.CertPool
	// GRPCService is the service a gRPC health check asks about. Empty
	// asks about the server's overall health.
	GRPCService string
	// Timeout bounds the whole check, in addition to ctx. Zero means
	// DefaultTimeout; a negative value means ctx alone bounds it.
	Timeout time.Duration
}

// Validate reports every problem with s at once, so a caller can reject bad
// input before it connects anywhere.
func (s Spec) Validate() error {
	var errs []error
	if !s.Kind.valid() {
		errs = append(errs, fmt.Errorf("unknown check %v", s.Kind))
	}
	if s.Path != "" {
		if _, err := requestURI(s.Path); err != nil {
			errs = append(errs, err)
		}
	}
	if s.MaxStatus < 0 {
		errs = append(errs, fmt.Errorf("maximum HTTP status %d is negative", s.MaxStatus))
	}
	if strings.ContainsAny(s.Host, "/ \t\r\n") {
		errs = append(errs, fmt.Errorf("host %q is not a host name or address", s.Host))
	}
	return errors.Join(errs...)
}

// requestURI parses an HTTP path with its query.
func requestURI(path string) (*url.URL, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("HTTP path %q does not start with /", path)
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, fmt.Errorf("HTTP path %q: %w", path, err)
	}
	return u, nil
}

// Result is how a check ended.
type Result struct {
	// OK is true when the check passed.
	OK bool
	// Status is the HTTP status code of an HTTP or HTTPS check; zero if
	// no response arrived, and for other kinds.
	Status int
	// ServingStatus is the serving status a gRPC health check returned
	// ("SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN"); empty if
	// none arrived, and for other kinds.
	ServingStatus string
	// Detail says in one sentence what was checked and, on failure, which
	// part failed and why.
	Detail string
	// Err is the cause of a failure; nil when OK.
	Err error
	// Duration is how long the check took, TLS handshake included.
	Duration time.Duration
}

// Run runs spec's check over conn, an established TCP connection to the
// address under test, and closes conn. It opens no other connection: HTTP and
// gRPC are handed conn and fail rather than reconnect. The check ends when it
// has an answer, when ctx ends, or after spec.Timeout. Run never panics on
// what the server sends; a server that misbehaves fails the check.
func Run(ctx context.Context, conn net.Conn, spec Spec) Result {
	start := time.Now()
	if conn == nil {
		err := errors.New("appcheck: no connection to check")
		return Result{Detail: err.Error(), Err: err}
	}
	defer conn.Close()
	res := run(ctx, conn, spec)
	res.Duration = time.Since(start)
	if !res.OK && res.Err == nil { // every failure carries its cause
		res.Err = errors.New(res.Detail)
	}
	return res
}

func run(ctx context.Context, conn net.Conn, spec Spec) Result {
	if err := spec.Validate(); err != nil {
		return Result{Detail: "invalid check: " + err.Error(), Err: err}
	}
	if spec.Kind == TCP {
		return Result{OK: true, Detail: "TCP connection established"}
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// The deadline on the socket as well: it bounds every read and write
	// under the check, whether or not the library doing them watches ctx.
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	n := namesFor(spec.Host, spec.Kind, conn)
	switch spec.Kind {
	case HTTP, HTTPS:
		return checkHTTP(ctx, conn, spec, n)
	default:
		return checkGRPC(ctx, conn, spec, n)
	}
}

// names are the forms of the target's name each protocol needs.
type names struct {
	// authority is host[:port] for the Host header, URLs and :authority,
	// with an IPv6 literal in brackets.
	authority string
	// serverName is the TLS server name: the host without port or
	// brackets.
	serverName string
}

// namesFor derives the names from Spec.Host, or from conn's remote address
// when host is empty.
func namesFor(host string, kind Kind, conn net.Conn) names {
	if host == "" {
		host = conn.RemoteAddr().String()
	}
	name, port, err := net.SplitHostPort(host)
	if err != nil { // no port: a name, or an IPv6 literal bare or bracketed
		name, port = host, ""
		if len(name) > 2 && name[0] == '[' && name[len(name)-1] == ']' {
			name = name[1 : len(name)-1]
		}
	}
	n := names{authority: name, serverName: name}
	if ip, err := netip.ParseAddr(name); err == nil {
		// A zone means nothing to the server, and a certificate's IP
		// addresses carry none; a remote address may be IPv4-mapped.
		ip = ip.WithZone("").Unmap()
		n.authority, n.serverName = ip.String(), ip.String()
		if ip.Is6() {
			n.authority = "[" + n.serverName + "]"
		}
	}
	if port != "" && port != kind.defaultPort() {
		n.authority = net.JoinHostPort(n.serverName, port)
	}
	return n
}

// tlsConfig is the client configuration for a TLS check.
func tlsConfig(spec Spec, serverName string, nextProtos ...string) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		RootCAs:            spec.RootCAs,
		InsecureSkipVerify: spec.InsecureSkipVerify,
		NextProtos:         nextProtos,
	}
}

// tlsFailure names the part of certificate verification err failed, or ""
// if it is not a verification failure.
func tlsFailure(err error) string {
	var hostname x509.HostnameError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &hostname):
		return "name verification"
	case errors.As(err, &unknown):
		return "chain verification (unknown authority)"
	case errors.As(err, &invalid):
		return "certificate validation"
	case errors.As(err, &verify):
		return "certificate verification"
	}
	return ""
}

// tlsDetail describes a failed TLS handshake with serverName, quoting the
// x509 error itself when verification failed ("x509: certificate is valid
// for a.example, not b.example").
func tlsDetail(serverName string, err error) string {
	what := tlsFailure(err)
	if what == "" {
		return fmt.Sprintf("TLS handshake with %s failed: %v", serverName, err)
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) && verify.Err != nil {
		err = verify.Err
	}
	return fmt.Sprintf("TLS handshake with %s failed %s: %v", serverName, what, err)
}

// errConnUsed is what the one-connection dialers return when asked for a
// second connection: the check runs over the prober's connection only.
var errConnUsed = errors.New("appcheck: the check's one connection is already in use; it dials no other")

// oneConn returns a dial function that hands out conn once.
func oneConn(conn net.Conn) func(context.Context, string, string) (net.Conn, error) {
	var used atomic.Bool
	return func(context.Context, string, string) (net.Conn, error) {
		if used.Swap(true) {
			return nil, errConnUsed
		}
		return conn, nil
	}
}
