package config

import (
	"flag"
	"io"
	"testing"
)

// commandLine runs a daemon's command line, kind picking which ("prober"
// or "coordinator"), with env as its environment: the configuration Load
// makes of args, its warnings, and its error.
func runCommandLine(t *testing.T, kind string, env map[string]string, args ...string) (any, []string, error) {
	t.Helper()
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch kind {
	case "prober":
		cl := ProberFlags(fs, func(k string) string { return env[k] })
		if err := fs.Parse(args); err != nil {
			t.Fatalf("prober %q: %v", args, err)
		}
		cfg, err := cl.Load()
		return cfg, nil, err
	case "coordinator":
		cl := CoordinatorFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("coordinator %q: %v", args, err)
		}
		return cl.Load()
	}
	t.Fatalf("no command line %q", kind)
	return nil, nil, nil
}
