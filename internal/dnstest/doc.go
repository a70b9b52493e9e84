// Package dnstest is the project's DNS server for tests: it answers A and
// AAAA queries from records a test sets, and injects the faults dual-stack
// paths suffer (NODATA for one family, NXDOMAIN, SERVFAIL, REFUSED, late
// answers, no answer, truncated UDP answers, malformed replies). It logs every
// query, so a test can check which names a resolver asked, in which order.
//
// It serves UDP and TCP on the same port of each address, on loopback or on
// sockets a test made inside a network namespace (StartOn). It depends only
// on github.com/miekg/dns and the standard library, so any package's tests
// can use it.
//
// It is test support: only tests and other test support may import it.
// It must depend on nothing outside the standard library and
// github.com/miekg/dns.
package dnstest
