package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// A port another process holds is named with the flag that asked for it:
// the operator learns which of the three listeners to move.
func TestServeNamesTheBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		flag   string
		server config.Server
	}{
		{"--listen", config.Server{Listen: addr}},
		{"--http-listen", config.Server{Listen: "127.0.0.1:0", HTTPListen: addr}},
		{"--metrics-listen", config.Server{Listen: "127.0.0.1:0", MetricsListen: addr}},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			svc := Service{
				Register: func(*grpc.Server) {},
				Gateway:  func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error { return nil },
				Metrics:  prometheus.NewRegistry(),
			}
			err := Serve(ctx, tt.server, svc, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
			want := tt.flag + " " + addr + ": port " + port + " is in use by another process"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want an error containing %q", err, want)
			}
		})
	}
}
