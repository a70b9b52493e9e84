package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// coordinatorFlags are how the CLI reaches a coordinator.
type coordinatorFlags struct {
	address    string
	auth       authn.ClientFlags
	secure     bool // set by dial: TLS is in use
	namespaces stringList
	probers    stringList
}

func (c *coordinatorFlags) register(fs *flag.FlagSet) {
	c.registerAddress(fs, "run the probe from every prober of this coordinator (`host:port`) instead of locally")
	fs.Var(&c.namespaces, "namespace", "only probers of this `namespace` (repeatable)")
	fs.Var(&c.probers, "prober", "only this `prober`: NAME, or NAMESPACE/NAME where names repeat across namespaces (repeatable)")
}

// registerAddress registers where the coordinator is and how to
// authenticate to it, for commands that choose the probers themselves.
func (c *coordinatorFlags) registerAddress(fs *flag.FlagSet, usage string) {
	fs.StringVar(&c.address, "coordinator", "", usage)
	c.auth.Register(fs, "", "the coordinator", "the host of --coordinator")
}

// dial connects to the coordinator with TLS when a TLS flag is given or the
// address is off loopback; plaintext only on loopback or with --insecure. A
// token is presented either way.
func (c *coordinatorFlags) dial() (*grpc.ClientConn, error) {
	c.secure = c.auth.TLS.Enabled() || !c.auth.Insecure && authn.CheckPlaintext(c.address, false) != nil
	opts, err := c.auth.DialOptions(c.secure)
	if err != nil {
		return nil, usageError{fmt.Errorf("--coordinator credentials: %w", err)}
	}
	// The job's trace continues the CLI's, when the CLI traces.
	opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(telemetry.Propagator()))))
	conn, err := grpc.NewClient(c.address, opts...)
	if err != nil {
		return nil, usageError{fmt.Errorf("--coordinator %s: %w", c.address, err)}
	}
	return conn, nil
}

func (c *coordinatorFlags) run(ctx context.Context, e *env, req *dsprobev1.ProbeRequest, out outputFormat) error {
	return c.runJob(ctx, e, &dsprobev1.RunProbeRequest{Probe: req, Namespaces: c.namespaces, Probers: c.probers}, out,
		func(w io.Writer, run *coordinator.JobRun) { writeJob(w, req.GetTarget(), run) })
}

// runJob runs a job on the coordinator and writes it: the finished Job
// in JSON, else as writeTable prints it. A job that did not pass is
// errFailed.
func (c *coordinatorFlags) runJob(ctx context.Context, e *env, req *dsprobev1.RunProbeRequest, out outputFormat, writeTable func(io.Writer, *coordinator.JobRun)) error {
	conn, err := c.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	client := dsprobev1.NewCoordinatorClient(conn)
	run, err := coordinator.RunJob(ctx, client, req)
	if err != nil {
		return c.callError(ctx, err)
	}
	if out == "json" {
		job, err := client.GetJob(ctx, &dsprobev1.GetJobRequest{JobId: run.ID})
		if err != nil {
			return fmt.Errorf("fetching job %s: %w", run.ID, c.callError(ctx, err))
		}
		if err := writeProto(e.stdout, job.GetJob()); err != nil {
			return err
		}
	} else {
		writeTable(e.stdout, run)
	}
	if !run.Summary.GetPassed() {
		return errFailed
	}
	return nil
}

// callError says in the user's terms why a call to the coordinator failed.
// What the request or the caller's credentials got wrong (a Service that
// does not exist too), or an address that is no coordinator, is bad input
// (exit 2); a coordinator down, busy
// or failing the job means the check could not run (exit 3).
func (c *coordinatorFlags) callError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: the user went away, not the coordinator
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("the coordinator at %s: %w", c.address, err)
	}
	detail := rpccode.Code(st.Code()).String() + ": " + st.Message()
	switch st.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.PermissionDenied, codes.Unauthenticated, codes.NotFound:
		return usagef("coordinator %s: %s", c.address, detail)
	case codes.Unimplemented:
		return usagef("--coordinator %s is not a coordinator (%s); is it a prober's address?", c.address, detail)
	case codes.Unavailable:
		if c.secure && handshakeRefused(st.Message()) {
			return usagef("coordinator %s refused the TLS handshake (%s): it requires a client certificate signed by its CA (--tls-cert, --tls-key); check --tls-ca and --tls-server-name too", c.address, st.Message())
		}
		return fmt.Errorf("the coordinator at %s is unreachable (%s); check --coordinator and that it runs", c.address, detail)
	case codes.ResourceExhausted:
		return fmt.Errorf("the coordinator at %s is busy (%s); try again later", c.address, detail)
	}
	return fmt.Errorf("the coordinator at %s failed the job (%s)", c.address, detail)
}

// handshakeRefused recognises a TLS handshake the server aborted. With TLS
// 1.3 a server that rejects the client's certificate does so after the
// client finished its side, so the client often sees only a broken pipe or
// a reset rather than the alert.
func handshakeRefused(msg string) bool {
	for _, s := range []string{"certificate", "handshake", "broken pipe", "connection reset", "tls:"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
