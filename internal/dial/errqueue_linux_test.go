package dial

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// extendedErr builds the control message ip(7) describes: struct
// sock_extended_err, then the offender's sockaddr.
func extendedErr(level, typ int32, origin, icmpType, icmpCode uint8, offender netip.Addr) unix.SocketControlMessage {
	data := make([]byte, sizeofSockExtendedErr)
	binary.NativeEndian.PutUint32(data, uint32(unix.EHOSTUNREACH))
	data[4], data[5], data[6] = origin, icmpType, icmpCode
	switch {
	case offender.Is4():
		sa := make([]byte, unix.SizeofSockaddrInet4)
		binary.NativeEndian.PutUint16(sa, unix.AF_INET)
		a := offender.As4()
		copy(sa[4:], a[:])
		data = append(data, sa...)
	case offender.Is6():
		sa := make([]byte, unix.SizeofSockaddrInet6)
		binary.NativeEndian.PutUint16(sa, unix.AF_INET6)
		a := offender.As16()
		copy(sa[8:], a[:])
		data = append(data, sa...)
	}
	return unix.SocketControlMessage{Header: unix.Cmsghdr{Level: level, Type: typ}, Data: data}
}

func TestParseExtendedErr(t *testing.T) {
	router4, router6 := netip.MustParseAddr("192.0.2.254"), netip.MustParseAddr("2001:db8::fe")
	tests := []struct {
		name string
		msg  unix.SocketControlMessage
		want *dualstack.ICMP
	}{
		{
			"ICMP admin prohibited",
			extendedErr(unix.SOL_IP, unix.IP_RECVERR, unix.SO_EE_ORIGIN_ICMP, 3, 13, router4),
			&dualstack.ICMP{Family: dualstack.FamilyIPv4, Type: 3, Code: 13, From: router4},
		},
		{
			"ICMPv6 policy fail",
			extendedErr(unix.SOL_IPV6, unix.IPV6_RECVERR, unix.SO_EE_ORIGIN_ICMP6, 1, 5, router6),
			&dualstack.ICMP{Family: dualstack.FamilyIPv6, Type: 1, Code: 5, From: router6},
		},
		{
			// An IPv6 socket talking to a mapped address gets ICMP on SOL_IP.
			"ICMP on an IPv6 socket",
			extendedErr(unix.SOL_IP, unix.IP_RECVERR, unix.SO_EE_ORIGIN_ICMP, 3, 1, router4),
			&dualstack.ICMP{Family: dualstack.FamilyIPv4, Type: 3, Code: 1, From: router4},
		},
		{
			"no offender",
			extendedErr(unix.SOL_IP, unix.IP_RECVERR, unix.SO_EE_ORIGIN_ICMP, 3, 0, netip.Addr{}),
			&dualstack.ICMP{Family: dualstack.FamilyIPv4, Type: 3, Code: 0},
		},
		{
			"local error",
			extendedErr(unix.SOL_IP, unix.IP_RECVERR, unix.SO_EE_ORIGIN_LOCAL, 0, 0, netip.Addr{}),
			nil,
		},
		{
			"another control message",
			extendedErr(unix.SOL_SOCKET, unix.SCM_TIMESTAMP, unix.SO_EE_ORIGIN_ICMP, 3, 13, router4),
			nil,
		},
		{
			"truncated",
			unix.SocketControlMessage{Header: unix.Cmsghdr{Level: unix.SOL_IP, Type: unix.IP_RECVERR}, Data: []byte{1, 2, 3}},
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseExtendedErr(tt.msg)
			switch {
			case got == nil && tt.want == nil:
			case got == nil || tt.want == nil || *got != *tt.want:
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
