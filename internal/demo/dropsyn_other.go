//go:build !linux

package demo

import (
	"context"
	"errors"
	"net"
)

// fillAcceptQueue is Linux's only: elsewhere the demo has no target whose
// IPv6 is silently dropped.
func fillAcceptQueue(context.Context, *net.TCPListener) ([]net.Conn, error) {
	return nil, errors.ErrUnsupported
}
