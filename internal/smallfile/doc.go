// Package smallfile reads the small files a user names on the command line
// or in configuration (resolv.conf, hosts, gai.conf, tokens, certificates,
// prober lists) with a bound on their size. A wrong path — /dev/urandom, a
// pipe that never ends, a disk image — then gives a clear error at once
// instead of a hang that eats memory until the process is killed.
//
// It must depend on the standard library alone.
package smallfile
