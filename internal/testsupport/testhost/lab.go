package testhost

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Default lab prefixes: documentation ranges (RFC 5737, RFC 3849).
var (
	DefaultIPv4Prefix = netip.MustParsePrefix("192.0.2.0/24")
	DefaultIPv6Prefix = netip.MustParsePrefix("2001:db8::/64")
)

const (
	// netnsPrefix starts the name of every namespace a lab makes; the test
	// process's pid follows it, so stale namespaces can be told from live ones.
	netnsPrefix = "dsprobe-test-"

	netnsRunDir = "/run/netns" // where ip netns keeps its names
	netnsEtcDir = "/etc/netns" // what ip netns exec bind-mounts over /etc

	// Interface names. Each lives inside one of the lab's own namespaces, so
	// they need only be unique there, and all fit IFNAMSIZ-1 = 15 bytes.
	bridgeName    = "br0"
	hostInterface = "eth0"
)

// labCounter numbers the labs of this process, so two labs of one test, or of
// parallel tests, get different names.
var labCounter atomic.Uint64

// Lab is a set of hosts on one bridged link. Create it with New. Its methods
// are safe for concurrent use, except AddHost, which may call t.Fatal and so
// must run on the goroutine of the test that created the Lab.
type Lab struct {
	t testing.TB
	// ctx bounds every command the lab runs. It is not canceled with the test
	// because cleanups, and faults cleared in cleanups, run after t.Context is
	// canceled; each command gets its own timeout instead.
	ctx         context.Context
	name        string // netns name of the switch; hosts' names extend it
	switchNetns string
	prefix4     netip.Prefix
	prefix6     netip.Prefix

	mu    sync.Mutex // guards hosts and the next addresses; held while adding a host
	hosts []*Host
	next4 netip.Addr
	next6 netip.Addr

	netnsMu sync.Mutex
	netnses []string // created so far, in order; what cleanup deletes
}

// Option configures a Lab.
type Option func(*options)

type options struct {
	prefix4 netip.Prefix
	prefix6 netip.Prefix
}

// WithIPv4Prefix sets the lab's IPv4 subnet (default 192.0.2.0/24). Hosts get
// addresses from its first address after the network address upward.
func WithIPv4Prefix(p netip.Prefix) Option { return func(o *options) { o.prefix4 = p } }

// WithIPv6Prefix sets the lab's IPv6 subnet (default 2001:db8::/64), for
// example fd00::/64 to test how clients order ULA against IPv4.
func WithIPv6Prefix(p netip.Prefix) Option { return func(o *options) { o.prefix6 = p } }

// New makes an empty lab: a switch namespace holding a bridge. It registers a
// t.Cleanup that deletes every namespace and /etc/netns directory the lab
// makes, and first deletes namespaces left by test processes that have died.
//
// Without root, ip or nft, New calls t.Skip with what is missing; when the
// environment variable CI is true it calls t.Fatal instead, so a CI job
// cannot pass by skipping the network tier.
func New(t testing.TB, opts ...Option) *Lab {
	t.Helper()
	if problem := prerequisiteProblem(os.Geteuid(), exec.LookPath); problem != "" {
		if failInsteadOfSkip(os.Getenv) {
			t.Fatal(problem + " (CI is true, so this fails instead of skipping)")
		}
		t.Skip(problem)
	}

	o := options{prefix4: DefaultIPv4Prefix, prefix6: DefaultIPv6Prefix}
	for _, opt := range opts {
		opt(&o)
	}
	if err := validatePrefixes(o.prefix4, o.prefix6); err != nil {
		t.Fatal(err)
	}

	name := fmt.Sprintf("%s%d-%d", netnsPrefix, os.Getpid(), labCounter.Add(1))
	l := &Lab{
		t:           t,
		ctx:         context.WithoutCancel(t.Context()),
		name:        name,
		switchNetns: name,
		prefix4:     o.prefix4,
		prefix6:     o.prefix6,
		next4:       o.prefix4.Addr().Next(),
		next6:       o.prefix6.Addr().Next(),
	}
	l.removeStale()
	t.Cleanup(l.cleanup)

	if err := l.addNetns(l.switchNetns); err != nil {
		t.Fatal(err)
	}
	// The switch only forwards frames: without IPv6 on its interfaces it sends
	// no router solicitations or MLD reports of its own into the lab.
	if err := inNetns(l.switchNetns, func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/all/disable_ipv6":     "1",
			"net/ipv6/conf/default/disable_ipv6": "1",
		})
	}); err != nil {
		t.Fatal(err)
	}
	// Multicast snooping off: the bridge floods multicast, so neighbour
	// solicitations never depend on which MLD reports it has seen.
	if _, err := l.ipBatch(l.switchNetns,
		"link add "+bridgeName+" type bridge mcast_snooping 0",
		"link set "+bridgeName+" up",
	); err != nil {
		t.Fatal(err)
	}
	return l
}

// Prefix4 returns the lab's IPv4 subnet, the on-link route every host has.
func (l *Lab) Prefix4() netip.Prefix { return l.prefix4 }

// Prefix6 returns the lab's IPv6 subnet, the on-link route every host has.
func (l *Lab) Prefix6() netip.Prefix { return l.prefix6 }

// prerequisiteProblem says what the network tier lacks to run, or "" if
// nothing. It takes the effective uid and the PATH lookup as arguments so the
// decision is tested without root.
func prerequisiteProblem(euid int, lookPath func(string) (string, error)) string {
	var missing []string
	if euid != 0 {
		missing = append(missing, fmt.Sprintf("root (running as euid %d)", euid))
	}
	for _, bin := range []struct{ name, pkg string }{{"ip", "iproute2"}, {"nft", "nftables"}} {
		if _, err := lookPath(bin.name); err != nil {
			missing = append(missing, fmt.Sprintf("the %s binary from %s (not on PATH)", bin.name, bin.pkg))
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return "testhost: network-tier test needs " + strings.Join(missing, " and ") +
		"; `bash scripts/test.sh` installs what is missing and runs this tier as root"
}

// failInsteadOfSkip reports whether missing prerequisites fail the test: in CI
// (CI set to a true value, as GitHub Actions and GitLab set it) a skipped
// network tier would pass unnoticed.
func failInsteadOfSkip(getenv func(string) string) bool {
	ci, err := strconv.ParseBool(getenv("CI"))
	return err == nil && ci
}

func validatePrefixes(p4, p6 netip.Prefix) error {
	var errs []error
	switch {
	case !p4.IsValid() || !p4.Addr().Is4():
		errs = append(errs, fmt.Errorf("IPv4 prefix %v is not an IPv4 prefix", p4))
	case p4 != p4.Masked():
		errs = append(errs, fmt.Errorf("IPv4 prefix %v has host bits set (want %v)", p4, p4.Masked()))
	case p4.Bits() > 30:
		errs = append(errs, fmt.Errorf("IPv4 prefix %v leaves no room for hosts (want /30 or shorter)", p4))
	}
	switch {
	case !p6.IsValid() || !p6.Addr().Is6() || p6.Addr().Is4In6():
		errs = append(errs, fmt.Errorf("IPv6 prefix %v is not an IPv6 prefix", p6))
	case p6 != p6.Masked():
		errs = append(errs, fmt.Errorf("IPv6 prefix %v has host bits set (want %v)", p6, p6.Masked()))
	case p6.Bits() > 126:
		errs = append(errs, fmt.Errorf("IPv6 prefix %v leaves no room for hosts (want /126 or shorter)", p6))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testhost: %w", err)
	}
	return nil
}

var hostNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// AddHost adds a host to the lab: a namespace with loopback up and an
// interface on the lab's bridge holding the next free IPv4 and IPv6 address of
// the lab's prefixes, with on-link routes for both. IPv6 duplicate address
// detection and router advertisements are off, so both addresses are usable
// when AddHost returns. The name (lower-case letters, digits and '-', at most
// 32 bytes, unique in the lab) becomes part of the namespace name.
//
// AddHost calls t.Fatal on failure, so it must run on the goroutine of the
// test that created the lab.
func (l *Lab) AddHost(name string) *Host {
	l.t.Helper()
	h, err := l.addHost(name)
	if err != nil {
		l.t.Fatal(err)
	}
	return h
}

func (l *Lab) addHost(name string) (*Host, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	addr4, addr6 := l.next4, l.next6
	if !l.prefix4.Contains(addr4) || addr4 == lastAddr(l.prefix4) { // the last is broadcast
		return nil, fmt.Errorf("testhost: no free IPv4 address left in %v", l.prefix4)
	}
	if !l.prefix6.Contains(addr6) {
		return nil, fmt.Errorf("testhost: no free IPv6 address left in %v", l.prefix6)
	}

	h, err := l.newHost(name, "p", addr4, addr6)
	if err != nil {
		return nil, err
	}
	// Both ends are made inside the lab: the host end goes straight into the
	// host's namespace, so the root namespace never sees either name.
	if _, err := l.ipBatch(l.switchNetns,
		fmt.Sprintf("link add %s type veth peer name %s netns %s", h.port, hostInterface, h.netns),
		fmt.Sprintf("link set %s master %s", h.port, bridgeName),
		fmt.Sprintf("link set %s up", h.port),
	); err != nil {
		return nil, err
	}
	if _, err := l.ipBatch(h.netns,
		"link set lo up",
		fmt.Sprintf("link set %s up", hostInterface),
		fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(addr4, l.prefix4.Bits()), hostInterface),
		fmt.Sprintf("addr add %s dev %s nodad", netip.PrefixFrom(addr6, l.prefix6.Bits()), hostInterface),
	); err != nil {
		return nil, err
	}
	l.next4, l.next6 = addr4.Next(), addr6.Next()
	l.hosts = append(l.hosts, h)
	return h, nil
}

// newHost checks that name and the addresses are free in the lab, and makes
// the host's namespace; its interface, named portPrefix and a number, is
// the caller's to make. l.mu must be held.
func (l *Lab) newHost(name, portPrefix string, addr4, addr6 netip.Addr) (*Host, error) {
	if !hostNameRE.MatchString(name) {
		return nil, fmt.Errorf("testhost: host name %q: want 1-32 of [a-z0-9-], starting with a letter or digit", name)
	}
	for _, h := range l.hosts {
		if h.name == name {
			return nil, fmt.Errorf("testhost: the lab already has a host %q", name)
		}
		if h.addr4 == addr4 || h.addr6 == addr6 {
			return nil, fmt.Errorf("testhost: host %q: host %q already has %v or %v", name, h.name, addr4, addr6)
		}
	}
	h := &Host{
		lab:   l,
		name:  name,
		netns: l.name + "-" + name,
		port:  portPrefix + strconv.Itoa(len(l.hosts)+1),
		addr4: addr4,
		addr6: addr6,
	}
	if err := l.addHostNetns(h.netns); err != nil {
		return nil, err
	}
	return h, nil
}

// addHostNetns creates a host's namespace, configured before any interface
// exists in it so interfaces inherit the defaults: no DAD (no tentative
// addresses, not even the link-local one), no SLAAC from stray router
// advertisements, and no ICMP rate limit, so a burst of rejected connects
// gets a reject each rather than a silent drop after the sixth.
func (l *Lab) addHostNetns(netns string) error {
	if err := l.addNetns(netns); err != nil {
		return err
	}
	return inNetns(netns, func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/all/accept_dad":     "0",
			"net/ipv6/conf/default/accept_dad": "0",
			"net/ipv6/conf/all/accept_ra":      "0",
			"net/ipv6/conf/default/accept_ra":  "0",
			"net/ipv4/icmp_ratelimit":          "0",
			"net/ipv6/icmp/ratelimit":          "0",
		})
	})
}

// lastAddr returns the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// addNetns creates a named namespace and records it for cleanup.
func (l *Lab) addNetns(name string) error {
	if _, err := l.run("", "ip", "netns", "add", name); err != nil {
		return err
	}
	l.netnsMu.Lock()
	l.netnses = append(l.netnses, name)
	l.netnsMu.Unlock()
	return nil
}

// cleanup deletes the lab's namespaces, hosts before the switch, and their
// /etc/netns directories. Deleting a namespace destroys its veth ends and so
// their peers; a namespace still referenced (by an open socket, say) lives on
// unnamed until the reference goes.
func (l *Lab) cleanup() {
	l.netnsMu.Lock()
	names := append([]string(nil), l.netnses...)
	l.netnsMu.Unlock()
	if len(names) == 0 {
		return
	}
	var batch []string
	for i := len(names) - 1; i >= 0; i-- {
		batch = append(batch, "netns delete "+names[i])
	}
	var errs []error
	if _, err := l.run(strings.Join(batch, "\n")+"\n", "ip", "-force", "-batch", "-"); err != nil {
		errs = append(errs, err)
	}
	for _, name := range names {
		if err := os.RemoveAll(filepath.Join(netnsEtcDir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		l.t.Errorf("testhost: cleaning up lab %s: %v", l.name, err)
	}
}

// removeStale deletes the namespaces and /etc/netns directories of test
// processes that died before their cleanups ran (killed, or a go test timeout
// panic), and first kills the programs still running in those namespaces
// (servers a test started: they outlive it, and a deleted namespace lives
// on as long as they do). It is best effort: a concurrent New may delete the
// same names.
func (l *Lab) removeStale() {
	var dead []string
	for _, dir := range []string{netnsRunDir, netnsEtcDir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // no such directory: nothing stale there
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		for _, name := range staleNames(names, processAlive) {
			if dir == netnsRunDir {
				l.killProcessesIn(name)
				dead = append(dead, "netns delete "+name)
			} else if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				l.t.Logf("testhost: removing stale %s: %v", filepath.Join(dir, name), err)
			}
		}
	}
	if len(dead) > 0 {
		if _, err := l.run(strings.Join(dead, "\n")+"\n", "ip", "-force", "-batch", "-"); err != nil {
			l.t.Logf("testhost: removing stale namespaces: %v", err)
		}
	}
}

// killProcessesIn kills every process in the named namespace.
func (l *Lab) killProcessesIn(netns string) {
	out, err := l.run("", "ip", "netns", "pids", netns)
	if err != nil {
		l.t.Logf("testhost: listing processes in stale namespace %s: %v", netns, err)
		return
	}
	for _, field := range strings.Fields(out) {
		if pid, err := strconv.Atoi(field); err == nil && pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// staleNames returns the names made by this package for a process that is no
// longer alive. Names of other programs, and of live processes, are kept.
func staleNames(names []string, alive func(pid int) bool) []string {
	var stale []string
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, netnsPrefix)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || alive(pid) {
			continue
		}
		stale = append(stale, name)
	}
	return stale
}

// processAlive reports whether pid names a live process. A pid reused by an
// unrelated process counts as alive: keeping a stale name is harmless,
// deleting a live lab is not.
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
