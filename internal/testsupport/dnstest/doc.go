// Package dnstest starts an internal/faultdns server for a test and stops it
// when the test ends, failing the test if it cannot start.
//
// It is test support: only tests and other test support may import it.
// It must depend on nothing outside the standard library, internal/faultdns
// and github.com/miekg/dns.
package dnstest
