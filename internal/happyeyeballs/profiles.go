package happyeyeballs

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Profile is a named client behaviour: the Strategy that reproduces it, what
// client and version it describes, and where the facts were read.
type Profile struct {
	// Name is what --profile takes ("go", "curl", ...).
	Name string
	// Client says which client, API and version the profile describes,
	// and which settings it assumes.
	Client string
	Strategy
	// Sources cite where each fact was read (file, document, issue).
	Sources []string
	// Notes are caveats: what is unverified, what a common setting
	// changes and which profile or parameter covers it.
	Notes string
}

// BuiltinProfiles returns the built-in client profiles, freshly built: the
// caller may change them. Each cites, in Sources, the public sources its
// facts were read from; test/profilecheck checks them against the real
// clients.
func BuiltinProfiles() []Profile {
	rfc6724All := SortOptions{Policy: RFC6724Policy(), Rules: AllRules, PrefixRule: PrefixRuleRFC}
	// getaddrinfo on glibc: RFC 3484 default table (or /etc/gai.conf),
	// all ten rules, rule 9 for IPv4 only within a subnet.
	glibc := func() SortOptions {
		return SortOptions{Policy: GlibcPolicy(), Rules: AllRules, PrefixRule: PrefixRuleGlibc}
	}
	// Go's sortByRFC6724 stops at rule 1 for two unusable destinations.
	goSort := SortOptions{Policy: RFC6724Policy(), Rules: GoRules, PrefixRule: PrefixRuleGo, KeepUnusableOrder: true}

	return []Profile{
		{
			Name:   "rfc8305",
			Client: "RFC 8305 with its recommended values; the prober's own race",
			Strategy: Strategy{
				Resolve: ResolveResolutionDelay, ResolutionDelay: 50 * time.Millisecond,
				Order: OrderRFC6724, Sort: rfc6724All,
				Connect: ConnectInterleave, FirstFamilyCount: 1, AttemptDelay: 250 * time.Millisecond,
			},
			Sources: []string{"RFC 8305 §3 (Resolution Delay 50 ms), §4 (RFC 6724, First Address Family Count 1), §5 (Connection Attempt Delay 250 ms), §8"},
		},
		{
			Name:   "go",
			Client: "Go net/http DefaultTransport: net.Dialer{Timeout: 30s}, default FallbackDelay, pure-Go resolver (the default on Linux)",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: goSort,
				Connect: ConnectFamilyLanes, AttemptDelay: 300 * time.Millisecond,
				TotalTimeout: 30 * time.Second, Split: SplitEvenly,
			},
			Sources: []string{
				"golang/go src/net/dial.go (FallbackDelay: zero means 300 ms; dialParallel, dialSerial, partialDeadline)",
				"golang/go src/net/addrselect.go (sortByRFC6724: rules 1,2,5,6,8,9,10; rule 9 IPv6 only, /64)",
				"golang/go src/net/dnsclient_unix.go (A and AAAA concurrently, waits for both)",
				"golang/go src/net/http/transport.go (DefaultTransport dialer Timeout 30 s)",
			},
			Notes: "Programs built with the cgo resolver (netgo off and CGO_ENABLED=1 with GODEBUG=netdns=cgo, or a resolv.conf/nsswitch Go cannot handle) keep getaddrinfo's order: use profile go-cgo.",
		},
		{
			Name:   "go-cgo",
			Client: "Go net.Dialer as in profile go, resolving through the cgo resolver (getaddrinfo)",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(),
				Connect: ConnectFamilyLanes, AttemptDelay: 300 * time.Millisecond,
				TotalTimeout: 30 * time.Second, Split: SplitEvenly,
			},
			Sources: []string{"golang/go src/net/cgo_unix.go (getaddrinfo order kept)", "glibc sysdeps/posix/getaddrinfo.c"},
		},
		{
			Name:   "curl",
			Client: "curl / libcurl 7.59 to 8.19 (Debian 12's 7.88.1): getaddrinfo, two family lanes",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(),
				Connect: ConnectFamilyLanes, AttemptDelay: 200 * time.Millisecond,
				TotalTimeout: 300 * time.Second, Split: SplitHalf,
			},
			Sources: []string{
				"curl include/curl/curl.h (CURL_HET_DEFAULT 200 ms)",
				"curl lib/connect.c 7.x (timeoutms_per_addr: half the time left while more addresses follow; DEFAULT_CONNECT_TIMEOUT 300 s)",
			},
			Notes: "curl 8.20.0 and later resolve A and AAAA separately and wait at most 50 ms from the start of resolution: use profile curl-8.20.",
		},
		{
			Name:   "curl-8.20",
			Client: "curl / libcurl 8.20.0 and later: separate A/AAAA queries, 50 ms wait from resolve start",
			Strategy: Strategy{
				Resolve: ResolveResolutionDelay, ResolutionDelay: 50 * time.Millisecond, ResolutionDelayFromStart: true,
				Order: OrderRFC6724, Sort: glibc(),
				Connect: ConnectFamilyLanes, AttemptDelay: 200 * time.Millisecond,
				TotalTimeout: 300 * time.Second, Split: SplitHalf,
			},
			Sources: []string{"curl commit 809dda3 (lib/vdns/cf-dns.c)", "curl commit 1d8f548 (25 ms on master, not yet released)"},
		},
		{
			Name:   "chrome",
			Client: "Chrome / Chromium desktop (built-in resolver, HappyEyeballsV3 off)",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: rfc6724All,
				Connect: ConnectFamilyLanes, AttemptDelay: 300 * time.Millisecond, FallbackOnlyFromIPv6: true,
			},
			Sources: []string{
				"chromium net/socket/tcp_connect_job.h (kIPv6FallbackTime 300 ms, IPv4-only fallback)",
				"chromium net/base/features.cc (HappyEyeballsV3 disabled by default)",
				"chromium net/dns/address_sorter_posix.cc (RFC 6724)",
				"Lazy Eye Inspection, IMC 2025 (CAD 300 ms measured)",
			},
		},
		{
			Name:   "firefox",
			Client: "Firefox desktop on Linux (OS resolver, IPv4-only backup connection)",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(),
				Connect: ConnectFamilyLanes, AttemptDelay: 250 * time.Millisecond, FallbackOnlyFromIPv6: true,
			},
			Sources: []string{
				"firefox modules/libpref/init/all.js (network.http.connection-retry-timeout 250, network.http.fast-fallback-to-IPv4 true)",
				"Lazy Eye Inspection, IMC 2025 (CAD 250 ms dominant)",
			},
			Notes: "Firefox Nightly's Happy Eyeballs v3 (50 ms x 2) is not modelled.",
		},
		{
			Name:   "safari",
			Client: "Safari / Apple Network.framework without RTT history",
			Strategy: Strategy{
				Resolve: ResolveResolutionDelay, ResolutionDelay: 25 * time.Millisecond,
				Order: OrderRFC6724, Sort: SortOptions{Policy: GlibcPolicy(), Rules: AllRules, PrefixRule: PrefixRuleRFC},
				Connect: ConnectInterleave, FirstFamilyCount: 1, AttemptDelay: 2 * time.Second,
			},
			Sources: []string{
				"IETF v6ops list 2015-07-09, D. Schinazi (resolution delay 25 ms, RFC 3484 table)",
				"Lazy Eye Inspection, IMC 2025 (CAD dynamic, measured 50 ms to 2 s)",
			},
			Notes: "Unverified here. The attempt delay is dynamic (about one SYN retransmission, from RTT history); 2 s is the measured upper value for a path without history. Override with attempt-delay=.",
		},
		{
			Name:   "node",
			Client: "Node.js 20 to 24 net.connect with autoSelectFamily (default since v20), dns.lookup verbatim",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(),
				Connect: ConnectInterleave, FirstFamilyCount: 1,
				AttemptDelay: 250 * time.Millisecond, AbortOnAttemptDelay: true,
			},
			Sources: []string{
				"nodejs/node doc/api/net.md (autoSelectFamilyAttemptTimeout 250 ms, minimum 10)",
				"nodejs/node lib/net.js (families interleaved, first address's family first; the timed-out attempt is closed; the last attempt has only the OS timeout)",
				"nodejs/node#54359, nodejs/undici#2990",
			},
			Notes: "PR #60334 (merged 2025-10-21) raises the default to 500 ms: use node,attempt-delay=500ms for releases that carry it.",
		},
		{
			Name:   "python",
			Client: "CPython socket.create_connection (urllib3, requests) without a timeout",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(),
				Connect: ConnectSequential,
			},
			Sources: []string{"cpython Lib/socket.py (create_connection tries getaddrinfo's addresses in turn)", "python/cpython#105249 (130 s stall)", "urllib3/urllib3#797"},
			Notes:   "A timeout passed to create_connection applies to each address: use python,attempt-timeout=DUR.",
		},
		{
			Name:   "java",
			Client: "Java (JDK 17-21) new Socket(host, port) and HttpURLConnection: first address only, IPv4 first",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(), FamilyFirst: dualstack.FamilyIPv4,
				Connect: ConnectSequential, MaxAttempts: 1,
			},
			Sources: []string{"JDK net-properties (java.net.preferIPv6Addresses default false)", "JDK-8313356 (NetworkClient used only the first address)"},
			Notes:   "-Djava.net.preferIPv6Addresses=true: profile java-prefer-ipv6. java.net.http's multi-address behaviour is not verified.",
		},
		{
			Name:   "java-prefer-ipv6",
			Client: "Java as in profile java with -Djava.net.preferIPv6Addresses=true",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(), FamilyFirst: dualstack.FamilyIPv6,
				Connect: ConnectSequential, MaxAttempts: 1,
			},
			Sources: []string{"JDK net-properties (java.net.preferIPv6Addresses)"},
		},
		{
			Name:   "okhttp",
			Client: "OkHttp 5 (fast fallback on since 5.0.0-alpha.11), default connectTimeout 10 s",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(), FamilyFirst: dualstack.FamilyIPv6,
				Connect: ConnectInterleave, FirstFamilyCount: 1, AttemptDelay: 250 * time.Millisecond,
				AttemptTimeout: 10 * time.Second,
			},
			Sources: []string{"square/okhttp FastFallbackExchangeFinder.kt (250 ms)", "square/okhttp InetAddressOrder.kt (reorderForHappyEyeballs: IPv6 first, interleaved)"},
		},
		{
			Name:   "dotnet",
			Client: ".NET SocketsHttpHandler (default ConnectAlgorithm, no ConnectTimeout)",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(),
				Connect: ConnectSequential,
			},
			Sources: []string{"dotnet/runtime#26177 (open: no Happy Eyeballs)", "dotnet/runtime#87932", "dotnet/runtime PR #106374 (ConnectAlgorithm.Parallel is opt-in)"},
		},
		{
			Name:   "envoy",
			Client: "Envoy cluster with dns_lookup_family AUTO (the default), connect_timeout 5 s",
			Strategy: Strategy{
				Resolve: ResolvePreferIPv6,
				Order:   OrderResolver,
				Connect: ConnectInterleave, FirstFamilyCount: 1, AttemptDelay: 300 * time.Millisecond,
				AttemptTimeout: 5 * time.Second,
			},
			Sources: []string{"envoyproxy/envoy api/envoy/config/cluster/v3/cluster.proto (AUTO: IPv6 only if any AAAA)", "envoyproxy/envoy source/common/network/happy_eyeballs_connection_impl.cc (300 ms timer, failure starts the next at once)"},
			Notes:   "AUTO never falls back to IPv4 when AAAA exists: a broken IPv6 path fails. dns_lookup_family ALL: profile envoy-all.",
		},
		{
			Name:   "envoy-all",
			Client: "Envoy cluster with dns_lookup_family ALL (Happy Eyeballs over both families)",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderResolver,
				Connect: ConnectInterleave, FirstFamilyCount: 1, AttemptDelay: 300 * time.Millisecond,
				AttemptTimeout: 5 * time.Second,
			},
			Sources: []string{"envoyproxy/envoy api/envoy/config/cluster/v3/cluster.proto (ALL)", "envoyproxy/envoy source/common/network/happy_eyeballs_connection_impl.cc"},
		},
		{
			Name:   "wget",
			Client: "GNU Wget 1.21 (no Happy Eyeballs, --prefer-family none)",
			Strategy: Strategy{
				Resolve: ResolveWaitBoth,
				Order:   OrderRFC6724, Sort: glibc(),
				Connect: ConnectSequential,
			},
			Sources: []string{"Lazy Eye Inspection, IMC 2025 (wget 1.21.3: no Happy Eyeballs)"},
			Notes:   "--connect-timeout=SECONDS bounds each address: use wget,attempt-timeout=DUR.",
		},
	}
}

// builtinProfiles is BuiltinProfiles built once, for lookups by name, which
// hand out copies of it (Profile.clone): a probe looks its profile up every
// time, and building all of them for one costs more than the probe's DNS.
var builtinProfiles = sync.OnceValue(BuiltinProfiles)

// ProfileNames lists the built-in profile names in display order.
func ProfileNames() []string {
	var names []string
	for _, p := range builtinProfiles() {
		names = append(names, p.Name)
	}
	return names
}

// LookupProfile returns the built-in profile with that name, freshly built:
// the caller may change it.
func LookupProfile(name string) (Profile, error) {
	profiles := builtinProfiles()
	i := slices.IndexFunc(profiles, func(p Profile) bool { return p.Name == name })
	if i < 0 {
		return Profile{}, fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	return profiles[i].clone(), nil
}

// clone copies p deeply enough that changing the copy, its policy tables
// included, leaves p as it was.
func (p Profile) clone() Profile {
	p.Sources = slices.Clone(p.Sources)
	if pol := p.Sort.Policy; pol != nil {
		p.Sort.Policy = &Policy{
			Name:            pol.Name,
			PrecedenceTable: slices.Clone(pol.PrecedenceTable),
			LabelTable:      slices.Clone(pol.LabelTable),
			ScopeV4Table:    slices.Clone(pol.ScopeV4Table),
		}
	}
	return p
}
