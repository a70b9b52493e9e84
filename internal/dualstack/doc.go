// Package dualstack is the vocabulary every part of dsprobe shares to talk
// about a dual-stack path: the address family (Family, with its names as a
// span attribute, a label and a DNS query type) and how one connection
// attempt ended (Outcome, with the errno table that classifies a connect's
// error, and the ICMP error a router or the destination sent about it).
//
// It is a leaf: it must not depend on any other dsprobe package, nor on
// anything outside the standard library, so that resolve, dial, listener,
// diagnose and happyeyeballs can all say "IPv6" without importing each
// other.
//
// It must depend on the standard library alone.
package dualstack
