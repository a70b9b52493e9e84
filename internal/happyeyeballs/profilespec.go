package happyeyeballs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// ParseProfile parses a profile spec: a built-in name, optionally followed by
// comma-separated parameter overrides, e.g. "python,attempt-timeout=1s" or
// "node,attempt-delay=500ms". The parameters are ProfileParams; every
// problem in the spec is reported at once.
func ParseProfile(spec string) (Profile, error) {
	name, rest, _ := strings.Cut(spec, ",")
	p, err := LookupProfile(strings.TrimSpace(name))
	if err != nil {
		return Profile{}, err
	}
	if rest == "" {
		return p, nil
	}
	var errs []error
	for _, kv := range strings.Split(rest, ",") {
		key, value, ok := strings.Cut(kv, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			errs = append(errs, fmt.Errorf("parameter %q: want key=value", kv))
			continue
		}
		param, found := paramByKey(key)
		if !found {
			errs = append(errs, fmt.Errorf("unknown parameter %q (known: %s)", key, strings.Join(paramKeys(), ", ")))
			continue
		}
		if err := param.set(&p.Strategy, value); err != nil {
			errs = append(errs, fmt.Errorf("parameter %s=%q: %w", key, value, err))
		}
	}
	if err := p.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("profile %s: %w", spec, err))
	}
	if err := errors.Join(errs...); err != nil {
		return Profile{}, err
	}
	p.Name = spec
	return p, nil
}

// ProfileParam is one parameter a profile spec can override.
type ProfileParam struct {
	Key     string
	Meaning string
	get     func(*Strategy) string
	set     func(*Strategy, string) error
}

// Value returns the parameter's value in s, formatted as a spec would write
// it.
func (p ProfileParam) Value(s *Strategy) string { return p.get(s) }

// ProfileParams lists the overridable parameters, in display order.
func ProfileParams() []ProfileParam {
	return []ProfileParam{
		enumParam("resolve", "how A and AAAA are queried: wait-both, resolution-delay (RFC 8305 §3), prefer-ipv6, prefer-ipv4 (Envoy AUTO/V4_PREFERRED)",
			resolveNames[:], func(s *Strategy) *Resolve { return &s.Resolve }),
		durationParam("resolution-delay", "RFC 8305 Resolution Delay: how long an A answer waits for AAAA (0 = 50 ms, negative = none)",
			func(s *Strategy) *time.Duration { return &s.ResolutionDelay }),
		boolParam("resolution-delay-from-start", "count the resolution delay from the start of resolution, not from the A answer",
			func(s *Strategy) *bool { return &s.ResolutionDelayFromStart }),
		enumParam("order", "rfc6724 (sort) or resolver (keep the resolver's order)",
			orderNames[:], func(s *Strategy) *Order { return &s.Order }),
		{
			Key: "policy", Meaning: "RFC 6724 policy table: rfc6724, glibc, or the path of a gai.conf",
			get: func(s *Strategy) string {
				if s.Sort.Policy == nil {
					return "rfc6724"
				}
				return s.Sort.Policy.Name
			},
			set: func(s *Strategy, v string) error {
				p, err := PolicyByName(v)
				s.Sort.Policy = p
				return err
			},
		},
		{
			Key: "rules", Meaning: "the RFC 6724 §6 rules applied, joined by +: 1+2+5+6+8+9+10 (Go's subset) or all",
			get: func(s *Strategy) string { return strings.ReplaceAll(s.Sort.Rules.String(), ",", "+") },
			set: func(s *Strategy, v string) error {
				r, err := ParseRuleSet(v)
				s.Sort.Rules = r
				return err
			},
		},
		enumParam("prefix-rule", "rule 9's variant: rfc (both families), go (IPv6 only, /64), glibc (IPv4 within a subnet)",
			prefixRuleNames[:], func(s *Strategy) *PrefixRule { return &s.Sort.PrefixRule }),
		{
			Key: "family-first", Meaning: "move this family's addresses first after sorting: ipv4, ipv6 or none",
			get: func(s *Strategy) string { return s.FamilyFirst.String() },
			set: func(s *Strategy, v string) error {
				if v == "none" {
					s.FamilyFirst = dualstack.FamilyUnspecified
					return nil
				}
				f, err := dualstack.ParseFamily(v)
				s.FamilyFirst = f
				return err
			},
		},
		enumParam("connect", "interleave (RFC 8305), lanes (Go's two family lanes) or sequential",
			connectNames[:], func(s *Strategy) *Connect { return &s.Connect }),
		intParam("first-family-count", "RFC 8305 First Address Family Count for interleave (0 = 1)",
			func(s *Strategy) *int { return &s.FirstFamilyCount }),
		durationParam("attempt-delay", "Connection Attempt Delay, or the lanes' fallback delay (0 = 250 ms, negative = only after a failure)",
			func(s *Strategy) *time.Duration { return &s.AttemptDelay }),
		boolParam("abort-on-attempt-delay", "close an attempt when the next one starts (Node's autoSelectFamilyAttemptTimeout)",
			func(s *Strategy) *bool { return &s.AbortOnAttemptDelay }),
		boolParam("fallback-only-from-ipv6", "lanes only when IPv6 comes first, with an IPv4-only fallback (Chrome, Firefox)",
			func(s *Strategy) *bool { return &s.FallbackOnlyFromIPv6 }),
		intParam("max-attempts", "how many addresses are tried at most (0 = all)",
			func(s *Strategy) *int { return &s.MaxAttempts }),
		durationParam("attempt-timeout", "budget of one attempt (0 = the OS SYN timeout, 127 s)",
			func(s *Strategy) *time.Duration { return &s.AttemptTimeout }),
		durationParam("total-timeout", "budget of the whole connect (0 = none)",
			func(s *Strategy) *time.Duration { return &s.TotalTimeout }),
		enumParam("split", "how total-timeout is shared among a lane's addresses: none, evenly (Go), half (curl 7)",
			splitNames[:], func(s *Strategy) *DeadlineSplit { return &s.Split }),
	}
}

func paramByKey(key string) (ProfileParam, bool) {
	for _, p := range ProfileParams() {
		if p.Key == key {
			return p, true
		}
	}
	return ProfileParam{}, false
}

func paramKeys() []string {
	var keys []string
	for _, p := range ProfileParams() {
		keys = append(keys, p.Key)
	}
	return keys
}

func enumParam[E ~uint8](key, meaning string, names []string, field func(*Strategy) *E) ProfileParam {
	return ProfileParam{
		Key: key, Meaning: meaning,
		get: func(s *Strategy) string { return enumName(names, int(*field(s)), key) },
		set: func(s *Strategy, v string) error {
			i, err := parseEnum(names, v, key)
			*field(s) = E(i)
			return err
		},
	}
}

func durationParam(key, meaning string, field func(*Strategy) *time.Duration) ProfileParam {
	return ProfileParam{
		Key: key, Meaning: meaning,
		get: func(s *Strategy) string { return field(s).String() },
		set: func(s *Strategy, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("not a duration (e.g. 250ms, 2s)")
			}
			*field(s) = d
			return nil
		},
	}
}

func boolParam(key, meaning string, field func(*Strategy) *bool) ProfileParam {
	return ProfileParam{
		Key: key, Meaning: meaning,
		get: func(s *Strategy) string { return strconv.FormatBool(*field(s)) },
		set: func(s *Strategy, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			*field(s) = b
			return nil
		},
	}
}

func intParam(key, meaning string, field func(*Strategy) *int) ProfileParam {
	return ProfileParam{
		Key: key, Meaning: meaning,
		get: func(s *Strategy) string { return strconv.Itoa(*field(s)) },
		set: func(s *Strategy, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("not an integer")
			}
			*field(s) = n
			return nil
		},
	}
}
