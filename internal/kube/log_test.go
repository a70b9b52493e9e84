package kube

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// What client-go says through klog reaches the daemon's logger, marked as
// client-go's, in the daemon's format.
func TestLogTo(t *testing.T) {
	var buf bytes.Buffer
	LogTo(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(klog.ClearLogger)

	klog.ErrorS(nil, "watch of *v1.Pod ended", "reason", "too old resource version")
	klog.Flush()
	got := buf.String()
	for _, want := range []string{`"component":"client-go"`, `"msg":"watch of *v1.Pod ended"`, `"reason":"too old resource version"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the daemon's log %q lacks %s", got, want)
		}
	}
}
