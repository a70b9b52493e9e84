package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"
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
	// defaults to the target's host and port, so a virtual host routed by
	// name:port answers (appcheck leaves out the scheme's default port); a
	// zero Kind is a plain TCP connect.
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
	// Err is why the connect failed, typed as the dialer returned it (a
	// *dial.Error from the built-in dialer: errno, ICMP sender, next hop);
	// nil when it connected. It becomes text only at the API boundary.
	Err error
	// BudgetEnded says the whole probe's budget ended the connect before
	// its own AttemptTimeout did.
	BudgetEnded bool
	// App is the application check's result; nil when the connect failed.
	App *appcheck.Result
}

// dialError is the built-in dialer's evidence about the failed connect, or
// nil when another dialer failed it or it did not fail.
func (a *Attempt) dialError() *dial.Error {
	var de *dial.Error
	if errors.As(a.Err, &de) {
		return de
	}
	return nil
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
	// Order is every address in the order the prober's own race tried or
	// would try them, so its first address is the race's first attempt
	// (answers in hand together are sorted together, RFC 8305 section 4;
	// an AAAA answer that came first is tried first, section 3). Addresses
	// the race never learnt (it had connected, or the budget ended, before
	// their answer) follow in the profile's sort.
	Order    []netip.Addr
	Attempts []Attempt
	Listener listener.Inference
	// HappyEyeballs is the race the prober ran for real.
	HappyEyeballs Prediction
	// BudgetEnded says the whole probe's budget (ctx's deadline) ended
	// before every query and attempt had finished: those still running
	// then are recorded as timeouts at that moment, and the verdicts judge
	// what was measured.
	BudgetEnded bool
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
	if req.Check.Host == "" && t.Host != "" {
		req.Check.Host = t.HostPort()
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

// Run probes the target. ctx's deadline is the whole probe's budget, which
// caps every query and attempt: one still running when it ends is recorded
// as a timeout at that moment, and the verdicts and predictions judge what
// was measured (Result.BudgetEnded says so), because an answer that does not
// come within the budget the user chose is itself the evidence. The error is
// non-nil only for a bad request, a cancelled ctx (the caller gave up: no
// result is passed off as complete), or a *dial.LocalFaultError (this
// machine ran out of ports, descriptors or memory: a fact about the prober,
// never a verdict about the path); a failing family is a verdict in the
// Result.
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
	if err := canceled(ctx); err != nil {
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

	// 2. Connect to every address directly and check the application
	// and, at the same time, run the prober's own race for real: both
	// share the budget's window, so a silent drop that holds a direct
	// connect until the budget ends does not leave the race no time.
	req.progress(fmt.Sprintf("connecting to %d address(es), racing with profile %s", len(addrs), req.Profile.Name))
	res.RaceStart = time.Since(start)
	var race he.Result
	var raceErr error
	var raced sync.WaitGroup
	raced.Go(func() { race, raceErr = runRace(ctx, &req, res.DNS, addrs, sourceFor) })
	res.Attempts = connectAll(ctx, &req, res.Order, start)
	raced.Wait()
	if raceErr != nil {
		return Result{}, raceErr
	}
	if err := canceled(ctx); err != nil {
		return Result{}, err
	}
	res.BudgetEnded = pastDeadline(ctx)

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
	for _, f := range req.Families {
		res.Families = append(res.Families, diagnose.Judge(familyEvidence(&req, &res, f)))
	}

	res.Order = raceOrder(race.Order, res.Order)

	// 4. The prober's own race, judged like a client.
	res.HappyEyeballs = predictionOf(req.Profile.Name, race, res.Families, req.MaxConnectTime)

	// 5. Every client profile, predicted from what was measured.
	req.progress("predicting client behaviour")
	sc := he.Scenario{ADelay: dnsAt[dualstack.FamilyIPv4], AAAADelay: dnsAt[dualstack.FamilyIPv6], SourceFor: sourceFor}
	for _, a := range res.Attempts {
		sc.Paths = append(sc.Paths, measuredPath(a))
	}
	sim, err := he.NewSimulator(sc)
	if err != nil {
		return Result{}, fmt.Errorf("predicting clients: %w", err)
	}
	builtins := builtinProfiles()
	res.Clients = make([]Prediction, 0, len(builtins)+len(req.ExtraProfiles))
	for _, profiles := range [][]he.Profile{builtins, req.ExtraProfiles} {
		for _, p := range profiles {
			predicted, err := sim.Simulate(p.Strategy)
			if err != nil {
				return Result{}, fmt.Errorf("predicting %s: %w", p.Name, err)
			}
			res.Clients = append(res.Clients, predictionOf(p.Name, predicted, res.Families, req.MaxConnectTime))
		}
	}
	return res, nil
}

// builtinProfiles are the profiles every probe predicts, built once: Run
// only reads them, and building them (policy tables and all) for each probe
// cost more than the probe's own race.
var builtinProfiles = sync.OnceValue(he.BuiltinProfiles)

// canceled returns ctx's error when the caller cancelled it; a deadline is
// the probe's budget ending, which is judged, not an error.
func canceled(ctx context.Context) error {
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// raceOrder is the race's order followed by the sorted addresses it never
// learnt.
func raceOrder(race, sorted []netip.Addr) []netip.Addr {
	out := slices.Clip(race)
	for _, a := range sorted {
		if !slices.Contains(race, a) {
			out = append(out, a)
		}
	}
	return out
}

// pastDeadline reports whether ctx's deadline has come, whether or not its
// timer has marked it done yet.
func pastDeadline(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
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
			if dial.LocalFaultOf(attempts[i].Err) != nil {
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
		if fault := dial.LocalFaultOf(a.Err); fault != nil {
			return fault
		}
	}
	return nil
}

func connectOne(ctx context.Context, req *Request, ap netip.AddrPort, start time.Time) Attempt {
	// The budget ended the attempt when its deadline came no later than
	// the attempt's own. Compared as deadlines, not by asking the budget's
	// Err afterwards: the socket's deadline can wake Dial a moment before
	// the context's timer marks the budget done.
	budget, cut := ctx.Deadline()
	cut = cut && !budget.After(time.Now().Add(req.AttemptTimeout))
	ctx, cancel := context.WithTimeout(ctx, req.AttemptTimeout)
	defer cancel()
	a := Attempt{Address: ap, Family: dualstack.FamilyOf(ap.Addr()), Start: time.Since(start)}
	t0 := time.Now()
	conn, err := req.Dialer.DialContext(ctx, "tcp", ap.String())
	a.Duration = time.Since(t0)
	a.Err = err
	if dial.LocalFaultOf(err) != nil {
		// Nothing was measured: Run fails with the fault (localFault).
		return a
	}
	a.Outcome = dualstack.ClassifyDialError(err)
	if err != nil {
		if a.Outcome == dualstack.OutcomeTimeout && cut {
			// The whole probe's budget, not the attempt's own timeout,
			// ended the wait.
			a.BudgetEnded = true
		}
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
	case dualstack.OutcomeUnreachable:
		if de := a.dialError(); de != nil && de.UnresolvedNextHop != nil {
			// An attempt timeout shorter than the kernel's solicitations
			// ended the direct connect first; a client's connect fails
			// only when the kernel gives up.
			p.After = max(p.After, de.UnresolvedNextHop.GiveUp)
		}
	}
	return p
}

func familyEvidence(req *Request, res *Result, f dualstack.Family) diagnose.FamilyEvidence {
	ev := diagnose.FamilyEvidence{Family: f, Name: req.Target.Host, DNS: dnsEvidence(res.DNS[f]), Listener: res.Listener}
	for _, a := range res.Attempts {
		if a.Family != f {
			continue
		}
		ae := diagnose.AddressEvidence{Address: a.Address, Outcome: a.Outcome, Cause: causeOf(&a), Connect: a.Duration, Check: req.Check.Kind.String()}
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

// causeOf is the typed evidence diagnose needs of a failed connect.
func causeOf(a *Attempt) diagnose.Cause {
	if a.Err == nil {
		return diagnose.Cause{}
	}
	c := diagnose.Cause{BudgetEnded: a.BudgetEnded, Text: a.Err.Error()}
	if de := a.dialError(); de != nil {
		c.Errno, c.ICMP = de.Errno, de.ICMP
		if hop := de.UnresolvedNextHop; hop != nil {
			c.UnansweredNextHop = &diagnose.NextHop{Addr: hop.Addr, Gateway: hop.Gateway, Interface: hop.Interface}
		}
	} else {
		var errno syscall.Errno
		if errors.As(a.Err, &errno) {
			c.Errno = errno
		}
	}
	return c
}

// dnsEvidence is what diagnose needs of a resolver's answer; nil for a
// query not made (a literal target).
func dnsEvidence(a *resolve.Answer) *diagnose.DNSAnswer {
	if a == nil {
		return nil
	}
	ev := &diagnose.DNSAnswer{
		Status:    dnsStatuses[a.Status],
		Server:    a.Server,
		HostsFile: a.HostsFile,
		Tries:     len(a.Tries),
		Elapsed:   a.Elapsed(),
		DNS64:     a.DNS64,
		// The resolver reports the probe's deadline as a timeout with
		// ctx's error.
		BudgetEnded: a.Status == resolve.StatusTimeout && errors.Is(a.Err, context.DeadlineExceeded),
	}
	if a.Err != nil {
		ev.Err = a.Err.Error()
	}
	return ev
}

var dnsStatuses = map[resolve.Status]diagnose.DNSStatus{
	resolve.StatusPositive: diagnose.DNSPositive,
	resolve.StatusNoData:   diagnose.DNSNoData,
	resolve.StatusNXDomain: diagnose.DNSNXDomain,
	resolve.StatusServFail: diagnose.DNSServFail,
	resolve.StatusRefused:  diagnose.DNSRefused,
	resolve.StatusTimeout:  diagnose.DNSTimeout,
	resolve.StatusError:    diagnose.DNSError,
	// StatusNone: a query that was never made is no answer at all.
	resolve.StatusNone: diagnose.DNSError,
}

// runRace runs the prober's own race over real DNS (the resolved answers
// are replayed with their measured timing, so the race sees the same
// answers the verdicts judged) and real connects. Answers measured with the
// same timing — a literal's address, a hosts-file answer — reach the race
// together, in hand from its start.
func runRace(ctx context.Context, req *Request, dns [3]*resolve.Answer, addrs []netip.Addr, sourceFor func(netip.Addr) he.Source) (he.Result, error) {
	// Only the requested families take part: a literal is of the requested
	// family (Validate checks it), and only requested families have answers.
	answers := he.InstantAnswers(addrs...)
	if !req.Target.IsLiteral() {
		answers = nil
		for f, a := range dns {
			if a != nil {
				answers = append(answers, he.KnownAnswer{Family: dualstack.Family(f), Delay: a.Elapsed(), Addresses: a.Addresses})
			}
		}
	}
	r := &he.Racer{Strategy: req.Profile.Strategy, Dialer: req.Dialer, SourceFor: sourceFor}
	ctx, cancel := context.WithTimeout(ctx, raceBudget(req))
	defer cancel()
	conn, res, err := r.Replay(ctx, answers, req.Target.Port)
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

// raceBudget bounds the prober's own race on its own: two attempt timeouts
// (a silently dropped first family, then the other) plus 5 s for the
// profile's delays and the replayed DNS timing, whatever the number of
// addresses. The whole probe's budget caps it as well (ctx), and attempts
// still running when either ends are recorded as timeouts then.
func raceBudget(req *Request) time.Duration {
	return req.AttemptTimeout*2 + 5*time.Second
}

// predictionOf is a client's race with diagnose's judgement of it.
func predictionOf(profile string, r he.Result, verdicts []diagnose.Verdict, maxConnect time.Duration) Prediction {
	return Prediction{
		Profile: profile, Family: r.Family, Address: r.Address, Outcome: r.Outcome,
		TimeToConnect: r.TimeToConnect, FallbackDelay: r.FallbackDelay, Attempts: r.Attempts,
		FailingLayer: diagnose.JudgeClient(diagnose.ClientEvidence{Connected: r.Connected(), Family: r.Family, TimeToConnect: r.TimeToConnect}, verdicts, maxConnect),
	}
}
