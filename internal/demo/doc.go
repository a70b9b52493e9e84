// Package demo starts the whole dsprobe pipeline in-process on loopback, with
// no root and no cluster: a DNS server, web targets that show the classic
// dual-stack faults, three probers labelled as three namespaces, and a
// coordinator in front of them, all speaking real gRPC. dsprobe demo runs a
// job per target against it.
//
// The fault dsprobe exists for, an IPv6 path that silently drops packets,
// needs neither root nor a firewall: on Linux a listener whose accept queue
// is full drops every SYN unanswered, so the demo fills the queue of one on
// [::1] itself.
//
// Only the command line starts it, and it may use any product package; its
// DNS server is internal/faultdns.
//
// Only internal/cli may import it.
// It may depend on any package but test support.
package demo
