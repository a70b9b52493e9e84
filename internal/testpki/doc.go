// Package testpki makes throwaway certificate authorities and certificates
// for tests: a CA, and leaf certificates for server and client use with DNS
// and IP subject alternative names, written as PEM files. Test-only.
package testpki
