package kube

import (
	"log/slog"

	"k8s.io/klog/v2"
)

// LogTo sends client-go's own log lines (informer watch errors, throttling,
// deprecation warnings), which it writes through klog, to l: a daemon's
// operators read one log in one format, not klog's beside it.
func LogTo(l *slog.Logger) {
	klog.SetSlogLogger(l.With("component", "client-go"))
}
