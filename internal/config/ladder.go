package config

import (
	"errors"
	"fmt"

	"github.com/dsprobe/dsprobe/internal/ladder"
)

// ladderFile is a DNSLadder file: the resource without its status, which
// only runs write.
type ladderFile struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   ladder.Metadata `json:"metadata"`
	Spec       ladder.Spec     `json:"spec"`
}

// ReadDNSLadder reads a DNSLadder file (dsprobe ladder run -f), the same
// shape as the resource of the CRD dnsladders.dsprobe.io: strictly, as
// every file here, then with the ladder's own validation, every problem
// at once, each named by the file and field
// (web.yaml: spec.rungs[1].name: "web" names two rungs).
func ReadDNSLadder(path string) (*ladder.DNSLadder, error) {
	var f ladderFile
	if err := readFile(path, ladder.Kind, &f); err != nil {
		return nil, err
	}
	l := &ladder.DNSLadder{APIVersion: f.APIVersion, Kind: f.Kind, Metadata: f.Metadata, Spec: f.Spec}
	if err := l.Validate(); err != nil {
		var errs []error
		for _, e := range unjoin(err) {
			errs = append(errs, fmt.Errorf("%s: %w", path, e))
		}
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// unjoin is the errors an errors.Join holds, or err alone.
func unjoin(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	return []error{err}
}
