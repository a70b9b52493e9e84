//go:build tools

// Package tools makes Prometheus' server and promtool a dependency of this
// wrapper module, so go.mod and go.sum pin what they are built from.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
