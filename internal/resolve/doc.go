// Package resolve asks DNS the way a prober needs it: one address family at a
// time, with every exchange recorded, so a verdict can say which query failed,
// how (NODATA, NXDOMAIN, SERVFAIL, REFUSED, timeout, a malformed reply), from
// which server, over which transport and after how long.
//
// It reads resolv.conf with glibc's semantics (resolv.conf(5), res_init.c)
// and walks the search list as glibc's res_search does (res_query.c), because
// the clients dsprobe predicts resolve through glibc: a prober that searched
// differently would judge a path those clients never take. The exchange with
// the servers follows glibc's res_send.c where it matters for a verdict (server
// order, retries, SERVFAIL and REFUSED moving on to the next server, truncated
// UDP answers retried over TCP); the differences are documented where they are.
//
// The package speaks DNS with github.com/miekg/dns, names families with
// internal/dualstack, reads resolv.conf and hosts through internal/smallfile,
// and hands its lookups to internal/happyeyeballs' race (LookupFunc). The
// probing, diagnosis, Kubernetes, listener and telemetry packages depend on
// it, never it on them.
//
// It must depend on nothing outside the standard library,
// github.com/miekg/dns, internal/dualstack, internal/happyeyeballs and
// internal/smallfile.
package resolve
