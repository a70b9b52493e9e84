// Package config is the one home of the prober's and the coordinator's
// configuration: every default they use, the YAML files that set them
// (--config; the coordinator's --probers-file), the command-line flags that
// override them, and the validation that reports every problem at once,
// each named where the user wrote it: a file and a field
// (prober.yaml: admission.maxConcurrent: must be positive, got 0) or a
// flag (--max-concurrent must be positive, got 0).
//
// A configuration is built in layers: the defaults, then the file, then
// the flags given on the command line. A flag not given leaves the file's
// value. Files have a versioned shape (apiVersion dsprobe.io/v1alpha1, a
// kind), are strict (an unknown field is an error, so a typo never silently
// leaves a default in place), and write durations as strings ("30s").
// docs/configuration.md documents every field, and a test holds it to the
// code.
//
// The servers read their configuration from here, never the reverse.
//
// The prober reads its configuration here and needs no Kubernetes client:
// label selectors are checked with k8s.io/apimachinery alone.
//
// It must not depend on internal/daemon, internal/prober,
// internal/coordinator, internal/demo, internal/cli or k8s.io/client-go/....
package config
