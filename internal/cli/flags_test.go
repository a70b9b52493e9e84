package cli

import (
	"testing"
	"time"
)

func TestFormatMs(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{300 * time.Millisecond, "300ms"},
		{300*time.Millisecond + 400*time.Microsecond, "300.4ms"},
		{2 * time.Second, "2000ms"},
		// From 10 s on, seconds: a client waiting out the SYN timeout
		// reads "127s" beside its fallback delay of 127s.
		{127*time.Second + 400*time.Microsecond, "127s"},
		{127 * time.Second, "127s"},
		{12*time.Second + 340*time.Millisecond, "12.3s"},
	}
	for _, tt := range tests {
		if got := formatMs(tt.d); got != tt.want {
			t.Errorf("formatMs(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
