// Command prober serves probe jobs over gRPC from inside a cluster (or a
// test host): see internal/prober.
package main
