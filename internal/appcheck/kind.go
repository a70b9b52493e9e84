package appcheck

import (
	"fmt"
	"strings"
)

// Kind is which application check runs over the connection. The zero value
// is TCP: the connect alone is the check.
type Kind uint8

const (
	// TCP checks nothing beyond the established connection.
	TCP Kind = iota
	// HTTP sends one GET over the connection in plaintext.
	HTTP
	// HTTPS makes a TLS handshake, verifying the certificate for
	// Spec.Host, then sends one GET.
	HTTPS
	// GRPC calls grpc.health.v1.Health/Check over plaintext HTTP/2 (h2c).
	GRPC
	// GRPCS calls grpc.health.v1.Health/Check over TLS, verifying the
	// certificate as HTTPS does.
	GRPCS
)

var kindNames = [...]string{
	TCP:   "tcp",
	HTTP:  "http",
	HTTPS: "https",
	GRPC:  "grpc",
	GRPCS: "grpcs",
}

// String returns the name ParseKind accepts ("tcp", "http", ...), the
// --check flag's and a target URL's scheme.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses "tcp", "http", "https", "grpc" or "grpcs".
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name == s {
			return Kind(k), nil
		}
	}
	return TCP, fmt.Errorf("unknown check %q (valid: %s)", s, strings.Join(kindNames[:], ", "))
}

// valid reports whether k is one of the defined kinds.
func (k Kind) valid() bool { return int(k) < len(kindNames) }

// defaultPort is the port a URL of k's scheme implies, which the HTTP Host
// header leaves out (RFC 9110 §4.2.1, §4.2.2, §7.2); "" for the kinds that have
// none: a gRPC client sends whatever port it was given.
func (k Kind) defaultPort() string {
	switch k {
	case HTTP:
		return "80"
	case HTTPS:
		return "443"
	}
	return ""
}
