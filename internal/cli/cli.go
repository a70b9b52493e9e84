package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/dsprobe/dsprobe/internal/resolve"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailed   = 1
	ExitUsage    = 2
	ExitInternal = 3
)

// usageError is bad input from the user: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// errFailed means the command ran and found a failure: exit code 1.
var errFailed = errors.New("a requested family or client failed")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what a command runs in: where it writes, and the system files a
// local probe reads (tests point them elsewhere).
type env struct {
	stdout, stderr io.Writer
	// resolvConf and hosts are the resolver configuration and the hosts
	// file a probe without --dns-server resolves with.
	resolvConf, hosts string
	// buildInfo reads the binary's build information (dsprobe version).
	buildInfo func() (*debug.BuildInfo, bool)
}

// newEnv is the environment of the dsprobe process: the system's files and
// the binary's own build information.
func newEnv(stdout, stderr io.Writer) *env {
	return &env{stdout: stdout, stderr: stderr, resolvConf: resolve.SystemResolvConf, hosts: resolve.SystemHosts, buildInfo: debug.ReadBuildInfo}
}

func commands() []command {
	return []command{
		{"demo", "run the whole mesh in-process on loopback against faulty targets", runDemo},
		{"probe", "probe a target family by family and predict every client", runProbe},
		{"order", "sort addresses as RFC 6724 (or glibc, or a gai.conf) would", runOrder},
		{"evidence", "print a Service's family-by-family evidence table from the Kubernetes API", runEvidence},
		{"ladder", "run a DNS ladder's rungs in order, each gated by evidence from its vantage points", runLadder},
		{"simulate", "predict a client profile's race over given per-address outcomes", runSimulate},
		{"profiles", "list the built-in client profiles, their parameters and sources", runProfiles},
		{"version", "print the version, VCS revision and Go version of this dsprobe", runVersion},
	}
}

// Run runs the dsprobe command line with args (without the program name)
// and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runCommand(ctx, newEnv(stdout, stderr), args)
}

func runCommand(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return ExitUsage
	}
	name := args[0]
	if name == "--version" || name == "-version" {
		name = "version"
	}
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		if len(args) > 1 {
			return runCommand(ctx, e, []string{args[1], "--help"})
		}
		printUsage(e.stdout)
		return ExitOK
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, e, args[1:])
		return exitCode(e, "dsprobe "+name, err)
	}
	fmt.Fprintf(e.stderr, "dsprobe: unknown command %q (run dsprobe help)\n", name)
	return ExitUsage
}

func exitCode(e *env, prefix string, err error) int {
	var u usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errFailed):
		return ExitFailed
	case errors.As(err, &u):
		fmt.Fprintf(e.stderr, "%s: %v\n", prefix, oneLine(err))
		return ExitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(e.stderr, "%s: could not run the check: interrupted\n", prefix)
		return ExitInternal
	default:
		// dsprobe or its environment failed: the coordinator down or
		// busy, or this machine out of ports, descriptors or memory
		// (dial.LocalFaultError, which says what ran out and what to do;
		// no verdict about the path either). Each error says which.
		fmt.Fprintf(e.stderr, "%s: could not run the check: %v\n", prefix, oneLine(err))
		return ExitInternal
	}
}

// oneLine joins the lines of an errors.Join into one line.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, `dsprobe proves, family by family, whether a dual-stack path works and
predicts how real clients will behave on it.

Usage: dsprobe COMMAND [flags] [args]

Commands:`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, `
Every command accepts -o table|json. Run dsprobe COMMAND --help for its flags.
Exit codes: 0 passed, 1 a family or client failed, 2 bad usage or input,
3 dsprobe could not run the check (the coordinator unreachable or busy, this
machine out of local ports, file descriptors or memory, or interrupted; the
message says which).`)
}
