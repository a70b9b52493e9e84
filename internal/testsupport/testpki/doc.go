// Package testpki makes throwaway certificate authorities and certificates
// for tests: a CA, and leaf certificates for server and client use with DNS
// and IP subject alternative names, written as PEM files.
//
// It is test support: only tests and other test support may import it.
// It must depend on the standard library alone.
package testpki
