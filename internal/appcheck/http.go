package appcheck

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
)

// maxResponseHeaderBytes bounds what a misbehaving server can make the check
// read before it gives up on the response.
const maxResponseHeaderBytes = 64 << 10

// The transport's buffers, one pair per check, where its defaults are 4 KiB
// each: one GET goes out and one response head comes in. A longer request
// or head takes more system calls, not another outcome.
const (
	writeBufferBytes = 512
	readBufferBytes  = 1 << 10
)

// checkHTTP sends one GET over conn (after a TLS handshake for HTTPS) and
// judges the status.
func checkHTTP(ctx context.Context, conn net.Conn, spec Spec, n names) Result {
	path := spec.Path
	if path == "" {
		path = DefaultPath
	}
	u, err := requestURI(path)
	if err != nil { // Validate has already accepted it
		return Result{Detail: err.Error(), Err: err}
	}
	u.Scheme, u.Host = "http", n.authority

	tr := &http.Transport{
		// Proxy stays nil: the environment's proxy would be another
		// connection to another address.
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		WriteBufferSize:        writeBufferBytes,
		ReadBufferSize:         readBufferBytes,
		DialContext:            oneConn(conn),
	}
	if spec.Kind == HTTPS {
		// The handshake is made here rather than by the transport, so a
		// failure is reported as the TLS failure it is. Only HTTP/1.1 is
		// offered: the transport speaks HTTP/2 only over connections it
		// made itself.
		tc := tls.Client(conn, tlsConfig(spec, n.serverName, "http/1.1"))
		if err := tc.HandshakeContext(ctx); err != nil {
			return Result{Detail: tlsDetail(n.serverName, err), Err: err}
		}
		defer tc.Close()
		u.Scheme = "https"
		tr.DialContext = nil
		tr.DialTLSContext = oneConn(tc)
	}
	defer tr.CloseIdleConnections()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Result{Detail: fmt.Sprintf("building GET %s: %v", u, err), Err: err}
	}
	req.Host = n.authority
	req.Header.Set("User-Agent", "dsprobe-appcheck")
	// RoundTrip rather than a Client: a redirect is an answer to judge by
	// its status, not a request to another connection.
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return Result{Detail: fmt.Sprintf("GET %s failed: %v", u, err), Err: err}
	}
	// With keep-alives off, closing the body closes the connection; the
	// body itself is not part of the check.
	resp.Body.Close()

	maxStatus := spec.MaxStatus
	if maxStatus == 0 {
		maxStatus = DefaultMaxStatus
	}
	res := Result{Status: resp.StatusCode}
	if resp.StatusCode > maxStatus {
		res.Detail = fmt.Sprintf("GET %s returned HTTP status %s, above the highest passing status %d", u, resp.Status, maxStatus)
		return res
	}
	res.OK = true
	res.Detail = fmt.Sprintf("GET %s returned HTTP status %s", u, resp.Status)
	return res
}
