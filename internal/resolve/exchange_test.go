package resolve

import (
	"net"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// readAnswer keeps only records the question asked for, owned by the name or
// its CNAME chain; dnstest cannot send the stray records this needs.
func TestReadAnswer(t *testing.T) {
	hdr := func(name string, rrtype, class uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: rrtype, Class: class, Ttl: 7}
	}
	aaaa := func(name, ip string) dns.RR {
		return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, dns.ClassINET), AAAA: net.ParseIP(ip)}
	}
	cname := func(name, target string) dns.RR {
		return &dns.CNAME{Hdr: hdr(name, dns.TypeCNAME, dns.ClassINET), Target: target}
	}
	tests := []struct {
		name       string
		answer     []dns.RR
		wantAddrs  []string
		wantCNAMEs []string
		wantClass  uint16
	}{
		{
			name: "owner outside the chain is ignored",
			answer: []dns.RR{
				aaaa("www.example.", "2001:db8::1"),
				aaaa("evil.example.", "2001:db8::666"),
				aaaa("WWW.Example.", "2001:db8::2"),
			},
			wantAddrs: []string{"2001:db8::1", "2001:db8::2"},
		},
		{
			name: "chain followed in order, whatever the record order",
			answer: []dns.RR{
				aaaa("c.example.", "2001:db8::c"),
				cname("b.example.", "c.example."),
				cname("www.example.", "b.example."),
				cname("other.example.", "evil.example."),
				aaaa("evil.example.", "2001:db8::666"),
			},
			wantAddrs:  []string{"2001:db8::c"},
			wantCNAMEs: []string{"b.example.", "c.example."},
		},
		{
			name:       "a CNAME loop ends",
			answer:     []dns.RR{cname("www.example.", "b.example."), cname("b.example.", "www.example.")},
			wantCNAMEs: []string{"b.example.", "www.example."},
		},
		{
			name: "wrong class and wrong type are left out",
			answer: []dns.RR{
				&dns.AAAA{Hdr: hdr("www.example.", dns.TypeAAAA, dns.ClassCHAOS), AAAA: net.ParseIP("2001:db8::1")},
				&dns.A{Hdr: hdr("www.example.", dns.TypeA, dns.ClassINET), A: net.ParseIP("192.0.2.1")},
			},
			wantClass: dns.ClassCHAOS,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &dns.Msg{Answer: tt.answer}
			var a Answer
			class := readAnswer(&a, m, "www.example.", dns.TypeAAAA)
			var got []string
			for _, addr := range a.Addresses {
				got = append(got, addr.String())
			}
			if !slices.Equal(got, tt.wantAddrs) {
				t.Errorf("got addresses %q, want %q", got, tt.wantAddrs)
			}
			if !slices.Equal(a.CNAMEs, tt.wantCNAMEs) {
				t.Errorf("got CNAMEs %q, want %q", a.CNAMEs, tt.wantCNAMEs)
			}
			if class != tt.wantClass {
				t.Errorf("got wrong class %d, want %d", class, tt.wantClass)
			}
			if len(a.TTLs) != len(a.Addresses) {
				t.Errorf("got %d TTLs for %d addresses", len(a.TTLs), len(a.Addresses))
			}
		})
	}
}

// glibc's send_dg moves on to the next server after these replies.
func TestMovesOn(t *testing.T) {
	tests := []struct {
		name string
		msg  dns.Msg
		want bool
	}{
		{"SERVFAIL", dns.Msg{MsgHdr: dns.MsgHdr{Rcode: dns.RcodeServerFailure, RecursionAvailable: true}}, true},
		{"NOTIMP", dns.Msg{MsgHdr: dns.MsgHdr{Rcode: dns.RcodeNotImplemented, RecursionAvailable: true}}, true},
		{"REFUSED", dns.Msg{MsgHdr: dns.MsgHdr{Rcode: dns.RcodeRefused}}, true},
		{"referral: no AA, no RA, nothing", dns.Msg{}, true},
		{"NODATA from a recursive server", dns.Msg{MsgHdr: dns.MsgHdr{RecursionAvailable: true}}, false},
		{"NODATA from an authoritative server", dns.Msg{MsgHdr: dns.MsgHdr{Authoritative: true}}, false},
		{"NODATA with EDNS (an OPT record)", dns.Msg{Extra: []dns.RR{&dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}}}, false},
		{"NXDOMAIN", dns.Msg{MsgHdr: dns.MsgHdr{Rcode: dns.RcodeNameError}}, false},
		{"FORMERR", dns.Msg{MsgHdr: dns.MsgHdr{Rcode: dns.RcodeFormatError}}, false},
	}
	for _, tt := range tests {
		if got := movesOn(&tt.msg); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
