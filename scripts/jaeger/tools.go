//go:build tools

// Package tools makes github.com/jaegertracing/jaeger/cmd/jaeger a dependency
// of this wrapper module, so go.mod and go.sum pin what it is built from.
package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
