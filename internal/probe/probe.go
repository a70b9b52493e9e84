// Package probe is what one prober does for one target: resolve A and AAAA
// separately, connect to every address of each requested family directly,
// run the application check on each connection, run its own Happy Eyeballs
// race for real, predict every client profile from the measured outcomes,
// and judge each family. It returns the cause of every failure as data;
// logging, metrics and spans are the caller's.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dial"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/localaddr"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/target"
)

// Defaults for the zero values of Request.
const (
	DefaultAttemptTimeout = 2 * time.Second
	DefaultMaxConnectTime = time.Second
	// maxParallelConnects bounds the direct connects in flight, so a name
	// with many addresses does not open them all at once.
	maxParallelConnects = 8
)

// Request is one probe job.
type Request struct {
	Target target.Target
	// Families are the families to probe. Empty means both for a name and
	// the literal's own family for an IP literal.
	Families []dualstack.Family
	// Check is the application check run on every connection. Its Host
	// defaults to the target's host; a zero Kind is a plain TCP connect.
	Check appcheck.Spec
	// Profile is the strategy of the prober's own race. A zero Profile
	// (no Name) means the built-in rfc8305.
	Profile he.Profile
	// ExtraProfiles are predicted after the built-in ones (profiles with
	// overrides, such as node,attempt-delay=500ms).
	ExtraProfiles []he.Profile
	// Resolver answers the DNS queries. Nil means the system's
	// /etc/resolv.conf.
	Resolver *resolve.Resolver
	// AttemptTimeout bounds each direct connect and check. If zero,
	// DefaultAttemptTimeout is used. A silent drop costs this long.
	AttemptTimeout time.Duration
	// MaxConnectTime is how long a predicted client may take before it is
	// judged to fail (LAYER_CLIENT). If zero, DefaultMaxConnectTime.
	MaxConnectTime time.Duration
	// SourceFor gives the source address for RFC 6724 sorting. Nil asks
	// the kernel (internal/localaddr).
	SourceFor func(netip.Addr) he.Source
	// Dialer makes every connect. Nil means internal/dial, which tells
	// ICMP administratively-prohibited from unreachable.
	Dialer he.Dialer
	// Progress, if set, is told each stage as it starts.
	Progress func(stage string)
	// Allow, if set, is checked before anything is sent (the target) and
	// again after DNS (every resolved address), so an allowed name cannot
	// rebind to a forbidden address. Nil allows everything: the CLI probes
	// as its user; a prober always sets one.
	Allow *allowlist.Policy
}

// Attempt is one direct connect (and check) to one address.
type Attempt struct {
	Address  netip.AddrPort
	Family   dualstack.Family
	Outcome  dualstack.Outcome
	Start    time.Duration // since the probe started
	Duration time.Duration // of the connect alone
	Err      string
	// App is the application check's result; nil when the connect failed.
	App *appcheck.Result

	// fault is set when the prober's own machine failed the connect (out
	// of ports, descriptors, memory): then nothing was measured, and Run
	// fails with it instead of judging.
	fault *dial.LocalFaultError
}

// Prediction is one client profile's predicted behaviour on the measured
// path (a clients[] entry), or the prober's own race.
type Prediction struct {
	Profile       string
	Family        dualstack.Family
	Address       netip.Addr
	Outcome       dualstack.Outcome
	TimeToConnect time.Duration
	FallbackDelay time.Duration
	FailingLayer  layer.Layer
	Attempts      []he.Attempt
}

// Result is everything a probe found.
type Result struct {
	Target target.Target
	// Started is when the probe began; every offset in the result counts
	// from it.
	Started time.Time
	// RaceStart is when the prober's own race began.
	RaceStart time.Duration
	Check     appcheck.Kind
	Families  []diagnose.Verdict
	// DNS holds the A and AAAA answers, indexed by family; nil entries
	// for a literal target or a family not requested.
	DNS [3]*resolve.Answer
	// Order is every address in the order the prober's profile sorts
	// them.
	Order    []netip.Addr
	Attempts []Attempt
	Listener listener.Inference
	// HappyEyeballs is the race the prober ran for real.
	HappyEyeballs Prediction
	// Clients are the built-in profiles' predictions.
	Clients []Prediction
}

// Passed reports whether every requested family passed.
func (r *Result) Passed() bool {
	for _, v := range r.Families {
		if !v.OK {
			return false
		}
	}
	return len(r.Families) > 0
}

// Validate checks the request and fills in its defaults; it reports every
// problem at once.
func (req *Request) Validate() error {
	var errs []error
	t := req.Target
	if t.Host == "" || t.Port == 0 {
		errs = append(errs, errors.New("no target"))
	}
	if len(req.Families) == 0 {
		if t.IsLiteral() {
			req.Families = []dualstack.Family{dualstack.FamilyOf(t.Addr)}
		} else {
			req.Families = []dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6}
		}
	}
	for _, f := range req.Families {
		if f != dualstack.FamilyIPv4 && f != dualstack.FamilyIPv6 {
			errs = append(errs, fmt.Errorf("unknown family %v", f))
		} else if t.IsLiteral() && f != dualstack.FamilyOf(t.Addr) {
			errs = append(errs, fmt.Errorf("target %s is an %s literal: it has no %s address to probe", t.Host, dualstack.FamilyOf(t.Addr), f))
		}
	}
	if req.Profile.Name == "" {
		p, err := he.LookupProfile("rfc8305")
		if err != nil {
			errs = append(errs, err)
		}
		req.Profile = p
	}
	if req.Check.Host == "" {
		req.Check.Host = t.Host
	}
	if req.Check.Path == "" && t.Path != "" {
		req.Check.Path = t.Path
	}
	if req.AttemptTimeout < 0 || req.MaxConnectTime < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if req.AttemptTimeout == 0 {
		req.AttemptTimeout = DefaultAttemptTimeout
	}
	if req.MaxConnectTime == 0 {
		req.MaxConnectTime = DefaultMaxConnectTime
	}
	if req.Dialer == nil {
		req.Dialer = dial.Dialer{}
	}
	return errors.Join(errs...)
}

func (req *Request) progress(stage string) {
	if req.Progress != nil {
		req.Progress(stage)
	}
}

// Run probes the target. The error is non-nil only for a bad request or a
// context that ended the probe early (the partial result is not returned as
// if complete); a failing family is a verdict in the Result.
func Run(ctx context.Context, req Request) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	if req.Allow != nil {
		if err := req.Allow.CheckTarget(req.Target.Host, req.Target.Port); err != nil {
			return Result{}, err
		}
	}
	if req.Resolver == nil && !req.Target.IsLiteral() {
		r, err := resolve.LoadSystem("", "")
		if err != nil {
			return Result{}, fmt.Errorf("reading the system resolver configuration: %w", err)
		}
		req.Resolver = r
	}
	start := time.Now()
	res := Result{Target: req.Target, Check: req.Check.Kind, Started: start}

	// 1. Resolve each requested family separately.
	var addrs []netip.Addr
	var dnsAt [3]time.Duration
	if req.Target.IsLiteral() {
		addrs = []netip.Addr{req.Target.Addr}
	} else {
		req.progress("resolving " + req.Target.Host)
		answers := resolveFamilies(ctx, req.Resolver, req.Target.Host, req.Families)
		for _, f := range req.Families {
			a := answers[f]
			res.DNS[f] = a
			dnsAt[f] = a.Elapsed()
			addrs = append(addrs, a.Addresses...)
		}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if req.Allow != nil {
		if err := req.Allow.CheckAddresses(addrs); err != nil {
			return Result{}, err
		}
	}
	sourceFor := req.SourceFor
	if sourceFor == nil {
		sources := localaddr.SourcesFor(addrs)
		bySource := make(map[netip.Addr]he.Source, len(addrs))
		for i, a := range addrs {
			bySource[a] = sources[i]
		}
		sourceFor = func(a netip.Addr) he.Source { return bySource[a] }
	}
	res.Order = sortForDisplay(addrs, req.Profile.Strategy, sourceFor)

	// 2. Connect to every address directly and check the application.
	if len(addrs) > 0 {
		req.progress(fmt.Sprintf("connecting to %d address(es)", len(addrs)))
	}
	res.Attempts = connectAll(ctx, &req, res.Order, start)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	// 3. Judge each family, unless the prober's own machine failed an
	// attempt: a family judged from what is left would be a verdict about
	// the prober passed off as one about the path.
	if err := localFault(res.Attempts); err != nil {
		return Result{}, err
	}
	obs := make([]listener.Observation, len(res.Attempts))
	for i, a := range res.Attempts {
		obs[i] = listener.Observation{Family: a.Family, Outcome: a.Outcome}
	}
	res.Listener = listener.Infer(obs)
	verdicts := map[dualstack.Family]diagnose.Verdict{}
	for _, f := range req.Families {
		v := diagnose.Judge(familyEvidence(&req, &res, f))
		verdicts[f] = v
		res.Families = append(res.Families, v)
	}

	// 4. The prober's own race, for real.
	req.progress("racing with profile " + req.Profile.Name)
	res.RaceStart = time.Since(start)
	race, err := runRace(ctx, &req, res.DNS, addrs, sourceFor)
	if err != nil {
		return Result{}, err
	}
	res.HappyEyeballs = predictionOf(req.Profile.Name, race, verdicts, req.MaxConnectTime)

	// 5. Every client profile, predicted from what was measured.
	req.progress("predicting client behaviour")
	sc := he.Scenario{ADelay: dnsAt[dualstack.FamilyIPv4], AAAADelay: dnsAt[dualstack.FamilyIPv6], SourceFor: sourceFor}
	for _, a := range res.Attempts {
		sc.Paths = append(sc.Paths, measuredPath(a))
	}
	for _, p := range append(he.BuiltinProfiles(), req.ExtraProfiles...) {
		sim, err := he.Simulate(p.Strategy, sc)
		if err != nil {
			return Result{}, fmt.Errorf("predicting %s: %w", p.Name, err)
		}
		res.Clients = append(res.Clients, predictionOf(p.Name, sim, verdicts, req.MaxConnectTime))
	}
	return res, nil
}

// resolveFamilies queries the requested families concurrently.
func resolveFamilies(ctx context.Context, r *resolve.Resolver, name string, families []dualstack.Family) [3]*resolve.Answer {
	var answers [3]*resolve.Answer
	var wg sync.WaitGroup
	for _, f := range families {
		wg.Go(func() {
			a := r.Lookup(ctx, name, f)
			answers[f] = &a
		})
	}
	wg.Wait()
	return answers
}

// sortForDisplay orders the addresses as the prober's profile would try
// them, for the evidence table.
func sortForDisplay(addrs []netip.Addr, s he.Strategy, sourceFor func(netip.Addr) he.Source) []netip.Addr {
	dsts := make([]he.Destination, len(addrs))
	for i, a := range addrs {
		dsts[i] = he.Destination{Addr: a, Source: sourceFor(a)}
	}
	he.SortDestinations(dsts, s.Sort)
	out := make([]netip.Addr, len(dsts))
	for i, d := range dsts {
		out[i] = d.Addr
	}
	return out
}

// connectAll connects to every address (bounded in parallel) and runs the
// application check on each connection. Results keep the addresses' order.
// A local fault in one attempt stops the others: it fails the whole probe,
// which need not wait for them.
func connectAll(ctx context.Context, req *Request, addrs []netip.Addr, start time.Time) []Attempt {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	attempts := make([]Attempt, len(addrs))
	slots := make(chan struct{}, maxParallelConnects)
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			attempts[i] = connectOne(ctx, req, netip.AddrPortFrom(addr, req.Target.Port), start)
			if attempts[i].fault != nil {
				stop()
			}
		})
	}
	wg.Wait()
	return attempts
}

// localFault returns the first local fault among the attempts, or nil. Run
// fails with it: a connect that the prober's own machine failed (out of
// local ports, file descriptors or memory) measured nothing about the path,
// and the probe fails as the prober's fault rather than judge.
func localFault(attempts []Attempt) error {
	for _, a := range attempts {
		if a.fault != nil {
			return a.fault
		}
	}
	return nil
}

func connectOne(ctx context.Context, req *Request, ap netip.AddrPort, start time.Time) Attempt {
	ctx, cancel := context.WithTimeout(ctx, req.AttemptTimeout)
	defer cancel()
	a := Attempt{Address: ap, Family: dualstack.FamilyOf(ap.Addr()), Start: time.Since(start)}
	t0 := time.Now()
	conn, err := req.Dialer.DialContext(ctx, "tcp", ap.String())
	a.Duration = time.Since(t0)
	if a.fault = dial.LocalFaultOf(err); a.fault != nil {
		return a
	}
	a.Outcome = dualstack.ClassifyDialError(err)
	if err != nil {
		a.Err = err.Error()
		if a.Outcome == dualstack.OutcomeConnected || a.Outcome == dualstack.OutcomeUnspecified {
			a.Outcome = dualstack.OutcomeUnreachable
		}
		return a
	}
	app := appcheck.Run(ctx, conn, req.Check)
	a.App = &app
	if !app.OK {
		a.Outcome = dualstack.OutcomeAppFailed
	}
	return a
}

// measuredPath turns a direct connect into the simulator's input: the
// client sees the TCP outcome, not the application check.
func measuredPath(a Attempt) he.Path {
	p := he.Path{Address: a.Address.Addr(), Outcome: a.Outcome, After: a.Duration}
	switch a.Outcome {
	case dualstack.OutcomeAppFailed:
		p.Outcome = dualstack.OutcomeConnected
	case dualstack.OutcomeTimeout, dualstack.OutcomeCanceled:
		p.Outcome, p.After = dualstack.OutcomeTimeout, 0
	}
	return p
}

func familyEvidence(req *Request, res *Result, f dualstack.Family) diagnose.FamilyEvidence {
	ev := diagnose.FamilyEvidence{Family: f, Name: req.Target.Host, DNS: res.DNS[f], Listener: res.Listener}
	for _, a := range res.Attempts {
		if a.Family != f {
			continue
		}
		ae := diagnose.AddressEvidence{Address: a.Address, Outcome: a.Outcome, Err: a.Err, Connect: a.Duration, Check: req.Check.Kind.String()}
		if a.App != nil {
			ae.AppOK, ae.AppDetail = a.App.OK, a.App.Detail
			if a.Outcome == dualstack.OutcomeAppFailed {
				ae.Outcome = dualstack.OutcomeConnected
			}
		}
		ev.Addresses = append(ev.Addresses, ae)
	}
	return ev
}

// runRace runs the prober's own race over real DNS (the resolved answers
// are replayed with their measured timing, so the race sees the same
// answers the verdicts judged) and real connects.
func runRace(ctx context.Context, req *Request, dns [3]*resolve.Answer, addrs []netip.Addr, sourceFor func(netip.Addr) he.Source) (he.Result, error) {
	// Only the requested families take part: a literal is of the requested
	// family (Validate checks it), and only requested families have answers.
	lookup := he.StaticLookup(addrs...)
	if !req.Target.IsLiteral() {
		lookup = func(ctx context.Context, f dualstack.Family) ([]netip.Addr, error) {
			a := dns[f]
			if a == nil {
				return nil, nil
			}
			// Replay the answer at the moment it arrived.
			select {
			case <-time.After(a.Elapsed()):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return a.Addresses, nil
		}
	}
	r := &he.Racer{Strategy: req.Profile.Strategy, Dialer: req.Dialer, SourceFor: sourceFor}
	ctx, cancel := context.WithTimeout(ctx, raceBudget(req))
	defer cancel()
	conn, res, err := r.Race(ctx, lookup, req.Target.Port)
	if conn != nil {
		conn.Close()
	}
	// The race connects too, and its attempts can meet the prober's own
	// machine out of ports as well: that fails the probe even if another
	// address won.
	for _, a := range res.Attempts {
		if fault := dial.LocalFaultOf(a.Err); fault != nil {
			return he.Result{}, fault
		}
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return he.Result{}, err
	}
	return res, nil
}

// raceBudget bounds the prober's own race: every address may take its
// attempt timeout, plus the profile's delays.
func raceBudget(req *Request) time.Duration {
	return req.AttemptTimeout*2 + 5*time.Second
}

// predictionOf judges a client's race against the family verdicts.
func predictionOf(profile string, r he.Result, verdicts map[dualstack.Family]diagnose.Verdict, maxConnect time.Duration) Prediction {
	p := Prediction{
		Profile: profile, Family: r.Family, Address: r.Address, Outcome: r.Outcome,
		TimeToConnect: r.TimeToConnect, FallbackDelay: r.FallbackDelay, Attempts: r.Attempts,
		FailingLayer: layer.None,
	}
	anyPass := false
	var failing []layer.Layer
	for _, v := range verdicts {
		if v.OK {
			anyPass = true
		} else {
			failing = append(failing, v.Layer)
		}
	}
	switch {
	case r.Connected():
		if v, ok := verdicts[r.Family]; ok && !v.OK && v.Layer == layer.Application {
			// The client connects over a family whose application
			// check fails: it fails with the family.
			p.FailingLayer = layer.Application
		} else if r.TimeToConnect > maxConnect {
			p.FailingLayer = layer.Client
		}
	case anyPass:
		p.FailingLayer = layer.Client
	default:
		p.FailingLayer = layer.MostFundamental(failing...)
	}
	return p
}
