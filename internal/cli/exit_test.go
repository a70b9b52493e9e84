package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/coordinator"
)

// Exit code 3 means dsprobe could not run the check, and its message says
// why in the user's terms: never "internal error" for a coordinator that is
// down, busy or not a coordinator at all, or for a probe the user
// interrupted.
func TestCouldNotRunSaysWhy(t *testing.T) {
	probers := coordinator.Static{startProber(t, "p1", "ns")}
	// One job per ever, on a clock that stands still: the second job is
	// refused with RESOURCE_EXHAUSTED.
	now := time.Now()
	busy := startCoordinator(t, probers, admission.New(admission.Limits{Rate: 1, Burst: 1, Now: func() time.Time { return now }}))
	if _, stderr, code := run(t, "probe", "--coordinator", busy, "127.0.0.1:1"); code != ExitFailed {
		t.Fatalf("first job: got exit %d (%s), want 1", code, stderr)
	}
	// A gRPC server that serves no Coordinator: a prober's address given
	// by mistake.
	notCoordinator := probers[0].GetAddress()
	unreachable := closedPort(t)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"coordinator unreachable", []string{"probe", "--coordinator", unreachable, "127.0.0.1:1"}, ExitInternal,
			"dsprobe probe: could not run the check: the coordinator at " + unreachable + " is unreachable"},
		{"coordinator busy", []string{"probe", "--coordinator", busy, "127.0.0.1:1"}, ExitInternal,
			"dsprobe probe: could not run the check: the coordinator at " + busy + " is busy (RESOURCE_EXHAUSTED: "},
		{"JSON from a busy coordinator", []string{"probe", "-o", "json", "--coordinator", busy, "127.0.0.1:1"}, ExitInternal,
			"dsprobe probe: could not run the check: the coordinator at " + busy + " is busy (RESOURCE_EXHAUSTED: "},
		{"not a coordinator", []string{"probe", "--coordinator", notCoordinator, "127.0.0.1:1"}, ExitUsage,
			"dsprobe probe: --coordinator " + notCoordinator + " is not a coordinator (UNIMPLEMENTED: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, tt.args...)
			if code != tt.code || !strings.HasPrefix(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("got exit %d and %q, want %d and one line starting %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

// A probe the user interrupts (Ctrl-C cancels the context) could not run:
// exit 3, saying so, locally and through a coordinator.
func TestInterruptedProbe(t *testing.T) {
	coord := startCoordinator(t, coordinator.Static{startProber(t, "p1", "ns")}, nil)
	for _, args := range [][]string{
		{"probe", "127.0.0.1:1"},
		{"probe", "--coordinator", coord, "127.0.0.1:1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr bytes.Buffer
			code := runCommand(ctx, newEnv(&stdout, &stderr), args)
			want := "dsprobe probe: could not run the check: interrupted\n"
			if code != ExitInternal || stderr.String() != want {
				t.Errorf("got exit %d and %q, want %d and %q", code, stderr.String(), ExitInternal, want)
			}
		})
	}
}
