package config

import (
	"flag"
	"fmt"
	"os"
)

// ProberCommandLine is the prober's flags, bound to its configuration.
type ProberCommandLine struct {
	cl *commandLine[Prober]
}

// ProberFlags registers the prober's flags on fs: --config and one flag
// per field, whose defaults are DefaultProber's with the name and
// namespace getenv gives for $POD_NAME and $POD_NAMESPACE (os.Getenv when
// nil). Parse fs, then Load.
func ProberFlags(fs *flag.FlagSet, getenv func(string) string) *ProberCommandLine {
	if getenv == nil {
		getenv = os.Getenv
	}
	defaults := DefaultProber()
	defaults.Name, defaults.Namespace = getenv("POD_NAME"), getenv("POD_NAMESPACE")
	return &ProberCommandLine{newCommandLine(fs, KindProber, defaults, proberFlags)}
}

// Load is the prober's configuration once its flag set has parsed the
// command line: the defaults, overridden by the --config file, overridden
// by the flags given. It reports every problem at once.
func (c *ProberCommandLine) Load() (Prober, error) {
	cfg, v, err := c.cl.resolve()
	if err != nil {
		return cfg, err
	}
	validateProber(&cfg, v)
	return cfg, v.err()
}

// CoordinatorCommandLine is the coordinator's flags, bound to its
// configuration.
type CoordinatorCommandLine struct {
	cl          *commandLine[Coordinator]
	probers     []string
	probersFile string
}

// CoordinatorFlags registers the coordinator's flags on fs: --config,
// one flag per field, and --prober and --probers-file, which list the
// probers. Parse fs, then Load.
func CoordinatorFlags(fs *flag.FlagSet) *CoordinatorCommandLine {
	c := &CoordinatorCommandLine{cl: newCommandLine(fs, KindCoordinator, DefaultCoordinator(), coordinatorFlags)}
	fs.Var(&listFlag[string]{list: &c.probers}, "prober", "a prober as `NAME/NAMESPACE=HOST:PORT` (repeatable; with --probers-file, replaces the probers of --config)")
	fs.StringVar(&c.probersFile, "probers-file", "", "YAML `file` listing probers (kind ProberList; the old format, one NAME/NAMESPACE=HOST:PORT per line, is still read)")
	return c
}

// Load is the coordinator's configuration once its flag set has parsed
// the command line: the defaults, overridden by the --config file,
// overridden by the flags given. The probers of --prober, then those of
// --probers-file, replace the file's when either is given. It reports
// every problem at once; warnings say what is accepted but should change.
func (c *CoordinatorCommandLine) Load() (cfg Coordinator, warnings []string, err error) {
	cfg, v, err := c.cl.resolve()
	if err != nil {
		return cfg, nil, err
	}
	if len(c.probers) > 0 || c.probersFile != "" {
		problems := len(v.errs)
		cfg.Probers = nil
		for _, s := range c.probers {
			p, err := parseProberLine(s)
			if err != nil {
				v.errs = append(v.errs, fmt.Errorf("--prober %q: %w", s, err))
				continue
			}
			v.entries[index("probers", len(cfg.Probers))] = origin{at: fmt.Sprintf("--prober %q", s)}
			cfg.Probers = append(cfg.Probers, p)
		}
		if c.probersFile != "" {
			probers, origins, warning, err := readProbersFile(c.probersFile)
			if err != nil {
				v.errs = append(v.errs, err)
			}
			for i, p := range probers {
				v.entries[index("probers", len(cfg.Probers))] = origins[i]
				cfg.Probers = append(cfg.Probers, p)
			}
			if warning != "" {
				warnings = append(warnings, warning)
			}
		}
		v.probersUnread = len(v.errs) > problems
	}
	validateCoordinator(&cfg, v)
	return cfg, warnings, v.err()
}
