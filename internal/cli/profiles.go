package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
)

const profilesSynopsis = `[-o table|json] [NAME[,KEY=VALUE...]]...`

const profilesHelp = `Lists the built-in client profiles: how each client resolves, orders and
connects, with the source each fact was read from. With NAME, shows every
parameter of that profile (after any KEY=VALUE overrides) and its meaning;
the same overrides work in --profile of dsprobe simulate and dsprobe probe.`

type profileJSON struct {
	Name       string            `json:"name"`
	Client     string            `json:"client"`
	Parameters map[string]string `json:"parameters"`
	Sources    []string          `json:"sources"`
	Notes      string            `json:"notes,omitempty"`
}

func runProfiles(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("profiles", profilesSynopsis, profilesHelp, e.stdout)
	out := addOutputFlag(fs)
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var profiles []he.Profile
	if len(names) == 0 {
		profiles = he.BuiltinProfiles()
	}
	for _, n := range names {
		p, err := he.ParseProfile(n)
		if err != nil {
			return usageError{err}
		}
		profiles = append(profiles, p)
	}

	if *out == "json" {
		list := make([]profileJSON, 0, len(profiles))
		for _, p := range profiles {
			params := map[string]string{}
			for _, param := range he.ProfileParams() {
				params[param.Key] = param.Value(&p.Strategy)
			}
			list = append(list, profileJSON{Name: p.Name, Client: p.Client, Parameters: params, Sources: p.Sources, Notes: p.Notes})
		}
		return writeJSON(e.stdout, struct {
			Profiles []profileJSON `json:"profiles"`
		}{list})
	}

	if len(names) == 0 {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tRESOLVE\tORDER\tCONNECT\tDELAY\tCLIENT")
		for _, p := range profiles {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Resolve, describeOrder(&p.Strategy), p.Connect, describeDelay(&p.Strategy), p.Client)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "\nRun dsprobe profiles NAME for every parameter and the sources.")
		return nil
	}
	for i, p := range profiles {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "%s — %s\n\n", p.Name, p.Client)
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		for _, param := range he.ProfileParams() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", param.Key, param.Value(&p.Strategy), param.Meaning)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "\nSources:")
		for _, s := range p.Sources {
			fmt.Fprintf(e.stdout, "  - %s\n", s)
		}
		if p.Notes != "" {
			fmt.Fprintf(e.stdout, "Notes: %s\n", p.Notes)
		}
	}
	return nil
}

// describeOrder names the ordering in a few words: the policy table (or
// "resolver" when the client keeps the resolver's order), a rule subset when
// not all rules apply, and a family preference.
func describeOrder(s *he.Strategy) string {
	d := "resolver"
	if s.Order == he.OrderRFC6724 {
		d = "rfc6724"
		if s.Sort.Policy != nil {
			d = s.Sort.Policy.Name
		}
		if s.Sort.Rules != 0 && s.Sort.Rules != he.AllRules {
			d += " rules " + s.Sort.Rules.String()
		}
	}
	if s.FamilyFirst != dualstack.FamilyUnspecified {
		d += ", " + s.FamilyFirst.String() + " first"
	}
	return d
}

func describeDelay(s *he.Strategy) string {
	switch {
	case s.Connect == he.ConnectSequential:
		return "-"
	case s.AttemptDelay < 0:
		return "on failure"
	case s.AttemptDelay == 0:
		return formatMs(he.DefaultAttemptDelay)
	}
	return formatMs(s.AttemptDelay)
}
