//go:build tools

// Package tools makes blackbox_exporter a dependency of this wrapper module,
// so go.mod and go.sum pin what it is built from.
package tools

import _ "github.com/prometheus/blackbox_exporter"
