// Command goclient dials HOST:PORT the way net/http's DefaultTransport does
// (net.Dialer{Timeout: 30s}, default FallbackDelay) and prints the family it
// connected over and how long the dial took, resolution included.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goclient HOST:PORT")
		os.Exit(2)
	}
	d := &net.Dialer{Timeout: 30 * time.Second}
	start := time.Now()
	conn, err := d.DialContext(context.Background(), "tcp", os.Args[1])
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer conn.Close()
	remote := conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"remote": remote.String(),
		"ms":     float64(elapsed) / float64(time.Millisecond),
	})
}
