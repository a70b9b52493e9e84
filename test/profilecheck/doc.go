// Package profilecheck holds no code: its tests check the built-in client
// profiles against the real clients on this machine (a Go program using
// net.Dialer, Debian's curl, CPython's socket.create_connection, Node's
// net.connect), on test hosts with real faults. The real client's chosen
// family and time to connect must match the simulator's prediction.
//
// It lives apart from internal/happyeyeballs because it runs programs and
// builds network namespaces, which that pure package must not depend on.
//
// It is test support: only tests and other test support may import it.
// It must depend on the standard library alone.
package profilecheck
