package coordinator

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
)

// GRPCConnector connects to probers over gRPC with the given options (TLS
// with the coordinator's client certificate, a bearer token, trace
// propagation), one connection per prober address, reused across jobs.
type GRPCConnector struct {
	Options []grpc.DialOption

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// Prober returns a client for p.
func (c *GRPCConnector) Prober(p *dsprobev1.ProberInfo) (dsprobev1.ProberClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.conns[p.GetAddress()]; ok {
		return dsprobev1.NewProberClient(conn), nil
	}
	conn, err := grpc.NewClient(p.GetAddress(), c.Options...)
	if err != nil {
		return nil, fmt.Errorf("prober %s at %s: %w", p.GetName(), p.GetAddress(), err)
	}
	if c.conns == nil {
		c.conns = map[string]*grpc.ClientConn{}
	}
	c.conns[p.GetAddress()] = conn
	return dsprobev1.NewProberClient(conn), nil
}

// Retain closes the connections to every address but those of probers,
// and forgets them: with discovery, the probers' Pods come and go, and a
// connection to a Pod that is gone would otherwise stay, redialling, for
// the coordinator's life. A call still running on one ends at once
// (Canceled) instead of waiting out its budget.
func (c *GRPCConnector) Retain(probers []*dsprobev1.ProberInfo) {
	keep := make(map[string]bool, len(probers))
	for _, p := range probers {
		keep[p.GetAddress()] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, conn := range c.conns {
		if !keep[addr] {
			conn.Close()
			delete(c.conns, addr)
		}
	}
}

// Close closes every connection.
func (c *GRPCConnector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	c.conns = nil
	return errors.Join(errs...)
}
