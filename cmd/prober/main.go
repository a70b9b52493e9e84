package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dsprobe/dsprobe/internal/prober"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := prober.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
