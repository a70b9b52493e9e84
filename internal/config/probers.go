package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/dsprobe/dsprobe/internal/smallfile"
)

// parseProberLine reads NAME/NAMESPACE=HOST:PORT, the form of --prober
// and of the old probers file's lines. The address is validated with the
// rest of the configuration.
func parseProberLine(s string) (StaticProber, error) {
	id, addr, ok := strings.Cut(s, "=")
	name, ns, okNS := strings.Cut(id, "/")
	if !ok || !okNS || name == "" || ns == "" {
		return StaticProber{}, errors.New("want NAME/NAMESPACE=HOST:PORT")
	}
	return StaticProber{Name: name, Namespace: ns, Address: addr}, nil
}

// readProbersFile reads a --probers-file: a ProberList, or a file in the
// old format, one NAME/NAMESPACE=HOST:PORT per line with # comments,
// which is still read, with a warning. It returns the probers, the origin
// of each, and the warning.
func readProbersFile(path string) ([]StaticProber, []origin, string, error) {
	b, err := smallfile.Read(path, smallfile.Limit)
	if err != nil {
		return nil, nil, "", fmt.Errorf("--probers-file: %w", err)
	}
	doc, err := parseYAML(path, b)
	if err != nil {
		return nil, nil, "", err
	}
	// Lines of the old format hold no "key: value", so YAML reads the
	// whole file as one string; a ProberList is a mapping.
	if _, old := doc.(string); old {
		probers, origins, err := readOldProbersFile(path, b)
		warning := fmt.Sprintf("--probers-file %s is in the old format (one NAME/NAMESPACE=HOST:PORT per line), which is still read: write it as a ProberList (docs/configuration.md), whose every field is checked", path)
		return probers, origins, warning, err
	}
	list := ProberList{}
	if err := decodeDocument(path, doc, KindProberList, &list); err != nil {
		return nil, nil, "", err
	}
	origins := make([]origin, len(list.Probers))
	for i := range list.Probers {
		origins[i] = origin{at: path, path: index("probers", i)}
	}
	return list.Probers, origins, "", nil
}

// readOldProbersFile reads one NAME/NAMESPACE=HOST:PORT per line; blank
// lines and # comments are skipped. Every line is named PATH:LINE.
func readOldProbersFile(path string, b []byte) ([]StaticProber, []origin, error) {
	var probers []StaticProber
	var origins []origin
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := fmt.Sprintf("%s:%d", path, n)
		p, err := parseProberLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: prober %q: %w", at, line, err))
			continue
		}
		probers = append(probers, p)
		origins = append(origins, origin{at: at})
	}
	return probers, origins, errors.Join(append(errs, sc.Err())...)
}
