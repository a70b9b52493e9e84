// Package faultdns is a DNS server that injects the faults dual-stack paths
// suffer: it answers A and AAAA queries from records its user sets (per
// client group too, as a DNS view or ACL does: SetFor), with
// NODATA for one family, NXDOMAIN, SERVFAIL, REFUSED, late answers, no
// answer, truncated UDP answers or malformed replies. It logs every query,
// so its user can check which names a resolver asked, in which order.
//
// `dsprobe demo` serves its faulty targets' names with it, and the tests use
// it as their DNS server (internal/testsupport/dnstest starts and stops one
// per test). It serves UDP and TCP on the same port of each address, on
// loopback or on sockets made inside a network namespace (Serve).
//
// It must depend on nothing outside the standard library and
// github.com/miekg/dns.
package faultdns
