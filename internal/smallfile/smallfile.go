package smallfile

import (
	"fmt"
	"io"
	"os"
)

// Limits for the files dsprobe reads. Real files are far smaller: a
// resolv.conf or gai.conf is a few hundred bytes, a certificate chain a few
// kilobytes. Hosts files used as block lists reach tens of megabytes.
const (
	Limit      = 1 << 20  // 1 MiB: configuration, tokens, certificates
	HostsLimit = 64 << 20 // 64 MiB: hosts files
)

// Read reads the file at path, or fails if it holds more than limit bytes.
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadFrom(f, path, limit)
}

// ReadFrom reads r (the file named name, already open) to its end, or fails
// once it has read more than limit bytes.
func ReadFrom(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %s: not the file expected here (is the path right?)", name, size(limit))
	}
	return b, nil
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
