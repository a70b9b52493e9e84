package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dsprobe/dsprobe/internal/coordinator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := coordinator.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
