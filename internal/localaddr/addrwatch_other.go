//go:build !linux

package localaddr

// Without rtnetlink there is no notification to wait for: the tables are
// read for every lookup.
func newKernelWatch() changeWatch { return nil }
