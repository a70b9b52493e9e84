package dualstack

import "syscall"

// errnoNoNetwork is Linux's ENONET ("machine is not on the network"), an
// unreachable destination.
var errnoNoNetwork = syscall.ENONET
