package resolve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strings"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/smallfile"
)

// TransportFiles is the Transport of an Answer that came from a hosts file.
const TransportFiles = "files"

// Hosts is a parsed hosts file (/etc/hosts). glibc's getaddrinfo (with the
// usual "hosts: files dns" in nsswitch.conf) and Go's resolver read it before
// asking DNS, so a name listed there never reaches DNS: its addresses are
// those of the file, of whichever families the file lists.
type Hosts struct {
	// Path is the file's name, as answers cite it.
	Path string
	// byName maps a lower-case name without trailing dot to its addresses
	// in file order.
	byName map[string][]netip.Addr
}

// ParseHosts reads a hosts file: an address, then names (canonical name and
// aliases), "#" starts a comment. Lines glibc would skip — an unparsable
// address, no name — are skipped here too, without error.
func ParseHosts(r io.Reader, path string) (*Hosts, error) {
	h := &Hosts{Path: path, byName: map[string][]netip.Addr{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, lineBufferBytes), bufio.MaxScanTokenSize)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue
		}
		for _, name := range fields[1:] {
			key := hostsKey(name)
			h.byName[key] = append(h.byName[key], addr)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return h, nil
}

// LoadHosts reads the hosts file at path. A missing file is an empty one,
// as it is to glibc.
func LoadHosts(path string) (*Hosts, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Hosts{Path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	b, err := smallfile.ReadFrom(f, path, smallfile.HostsLimit)
	if err != nil {
		return nil, err
	}
	return ParseHosts(bytes.NewReader(b), path)
}

// Lookup returns every address the file lists for name (of both families,
// in file order; case-insensitive, a trailing dot ignored). Only the name as
// given is looked up: the search list applies to DNS, not to the file.
func (h *Hosts) Lookup(name string) []netip.Addr {
	if h == nil {
		return nil
	}
	return h.byName[hostsKey(name)]
}

func hostsKey(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// answer is family's Answer for a name the file lists: its addresses of
// that family, or NODATA when the file lists the name with the other family
// only (a client then gets no address of this family, DNS or not).
func (h *Hosts) answer(name string, family dualstack.Family, addrs []netip.Addr) Answer {
	a := Answer{Family: family, Name: absolute(name), Status: StatusNoData, Rcode: -1, Transport: TransportFiles, HostsFile: h.Path}
	for _, addr := range addrs {
		if dualstack.FamilyOf(addr) == family {
			a.Addresses = append(a.Addresses, addr.Unmap())
		}
	}
	if len(a.Addresses) > 0 {
		a.Status = StatusPositive
	}
	return a
}

// The system's resolver files.
const (
	SystemResolvConf = "/etc/resolv.conf"
	SystemHosts      = "/etc/hosts"
)

// LoadSystem is the Resolver the system's clients resolve with: the hosts
// file first, then the resolv.conf configuration. Empty paths mean
// SystemResolvConf and SystemHosts. The error names every file that cannot
// be used.
func LoadSystem(resolvConf, hosts string) (*Resolver, error) {
	if resolvConf == "" {
		resolvConf = SystemResolvConf
	}
	if hosts == "" {
		hosts = SystemHosts
	}
	cfg, confErr := LoadResolvConf(resolvConf)
	h, hostsErr := LoadHosts(hosts)
	if err := errors.Join(confErr, hostsErr); err != nil {
		return nil, err
	}
	return &Resolver{Config: cfg, Hosts: h}, nil
}
