package localaddr

import (
	"bufio"
	"encoding/hex"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// IFA_F_* address flags from linux/if_addr.h, as /proc/net/if_inet6 shows
// them.
const (
	ifaTemporary   = 0x01 // IFA_F_TEMPORARY: a privacy address (RFC 8981)
	ifaOptimistic  = 0x04 // IFA_F_OPTIMISTIC: usable during DAD (RFC 4429)
	ifaDADFailed   = 0x08 // IFA_F_DADFAILED
	ifaHomeAddress = 0x10 // IFA_F_HOMEADDRESS: a Mobile IPv6 home address
	ifaDeprecated  = 0x20 // IFA_F_DEPRECATED: preferred lifetime over
	ifaTentative   = 0x40 // IFA_F_TENTATIVE: DAD still running
)

// inet6Addr is one line of /proc/net/if_inet6.
type inet6Addr struct {
	Addr      netip.Addr // without zone
	IfIndex   int
	PrefixLen int
	Scope     int // the kernel's IPV6_ADDR_* scope bits, not RFC 4291's
	Flags     uint32
	Dev       string
}

// usable reports whether the kernel would send from the address: not while
// duplicate address detection runs (unless the address is optimistic) or
// after it failed.
func (a inet6Addr) usable() bool {
	if a.Flags&ifaDADFailed != 0 {
		return false
	}
	return a.Flags&ifaTentative == 0 || a.Flags&ifaOptimistic != 0
}

// parseIfInet6 parses the text of /proc/net/if_inet6: one address a line,
// with the columns address (32 hex digits), interface index, prefix length,
// scope and flags (hex), and device name. The kernel prints the flags' low
// byte as two hex digits; wider values are accepted too. Lines that do not
// have this shape are skipped rather than failing the whole file: missing
// flags only make the rules that need them inapplicable.
func parseIfInet6(r io.Reader) ([]inet6Addr, error) {
	var out []inet6Addr
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 6 || len(f[0]) != 32 {
			continue
		}
		var raw [16]byte
		if _, err := hex.Decode(raw[:], []byte(f[0])); err != nil {
			continue
		}
		var nums [4]uint64
		ok := true
		for i := range nums {
			n, err := strconv.ParseUint(f[i+1], 16, 32)
			if err != nil {
				ok = false
				break
			}
			nums[i] = n
		}
		if !ok {
			continue
		}
		out = append(out, inet6Addr{
			Addr:      netip.AddrFrom16(raw),
			IfIndex:   int(nums[0]),
			PrefixLen: int(nums[1]),
			Scope:     int(nums[2]),
			Flags:     uint32(nums[3]),
			Dev:       f[5],
		})
	}
	return out, sc.Err()
}
