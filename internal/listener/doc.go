// Package listener tells which address families a remote application
// accepts connections on. Here it infers that from the outcomes of connects
// to the same endpoint over each family; reading the socket table (sock_diag)
// belongs to the privileged node agent. It does no I/O and depends only on
// internal/dualstack for the vocabulary.
//
// It must depend on nothing outside the standard library and
// internal/dualstack.
package listener
