//go:build !linux

package dualstack

import "syscall"

// errnoNoNetwork stands in for Linux's ENONET, which other systems lack:
// EHOSTUNREACH, already an unreachable destination (a variable, so the
// switch may name it twice).
var errnoNoNetwork = syscall.EHOSTUNREACH
