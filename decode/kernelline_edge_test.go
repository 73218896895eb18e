package decode

import (
	"encoding/binary"
	"strings"
	"testing"
)

// ip4 builds an IPv4 packet 10.0.0.1 → 10.0.0.2 (TTL 64, ID 1) around l4,
// with optional header options; totLen 0 means the real length.
func ip4(proto byte, opts, l4 []byte, totLen int) []byte {
	hl := 20 + len(opts)
	p := make([]byte, hl+len(l4))
	p[0] = 0x40 | byte(hl/4)
	if totLen == 0 {
		totLen = len(p)
	}
	binary.BigEndian.PutUint16(p[2:], uint16(totLen))
	binary.BigEndian.PutUint16(p[4:], 1)
	p[8], p[9] = 64, proto
	copy(p[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	copy(p[20:], opts)
	copy(p[hl:], l4)
	return p
}

// ip6 builds an IPv6 packet fd00::1 → fd00::2 (hop limit 64) around rest.
func ip6(next byte, rest []byte) []byte {
	p := make([]byte, 40+len(rest))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(rest)))
	p[6], p[7] = next, 64
	p[8], p[9], p[23] = 0xfd, 0x00, 1
	p[24], p[25], p[39] = 0xfd, 0x00, 2
	copy(p[40:], rest)
	return p
}

const (
	v4hdr = "SRC=10.0.0.1 DST=10.0.0.2 LEN=%d TOS=0x00 PREC=0x00 TTL=64 ID=1 "
	v6hdr = "SRC=fd00:0000:0000:0000:0000:0000:0000:0001 DST=fd00:0000:0000:0000:0000:0000:0000:0002 LEN=%d TC=0 HOPLIMIT=64 FLOWLBL=0 "
)

func hdr(format string, n int) string {
	return strings.Replace(format, "%d", itoa(n), 1)
}

func itoa(n int) string { return string(appendDigits(nil, n, 1)) }

// TestKernelLineEdges covers what the real-kernel vectors do not: short
// captures, wrapped INCOMPLETE counts, bridge devices, ARP, the buffer cut.
func TestKernelLineEdges(t *testing.T) {
	tcpSYN := make([]byte, 20)
	binary.BigEndian.PutUint16(tcpSYN[0:], 1234)
	binary.BigEndian.PutUint16(tcpSYN[2:], 80)
	tcpSYN[12], tcpSYN[13] = 0x50, 0x02
	tcpWithOpts := append(append([]byte(nil), tcpSYN...), 2, 4, 5, 0xb4)
	tcpWithOpts[12] = 0x60
	// ICMP time exceeded quoting a header that claims 60 bytes (ihl 15) of
	// which only 20 were captured.
	quoted := ip4(protoTCP, nil, nil, 0)
	quoted[0] = 0x4f
	icmpErr := append([]byte{11, 0, 0, 0, 0, 0, 0, 0}, quoted...)
	// IPv6 hop-by-hop (8 bytes) then mobility header 135.
	hopThenMobility := append([]byte{135, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...)

	cases := []struct {
		name  string
		rec   Record
		flags LogFlags
		want  string
	}{
		{
			name: "ipv4 header cut by snap length",
			rec:  Record{Family: FamilyIPv4, OutDev: 2, OutName: "eth0", Payload: ip4(protoTCP, nil, tcpSYN, 0)[:19]},
			want: "IN= OUT=eth0 TRUNCATED",
		},
		{
			name: "ipv6 header cut by snap length",
			rec:  Record{Family: FamilyIPv6, OutDev: 2, OutName: "eth0", Payload: ip6(protoTCP, tcpSYN)[:39]},
			want: "IN= OUT=eth0 TRUNCATED",
		},
		{
			name: "tcp header cut: no MARK after INCOMPLETE",
			rec:  Record{Family: FamilyIPv4, OutDev: 2, OutName: "eth0", Mark: 7, Payload: ip4(protoTCP, nil, tcpSYN, 0)[:30]},
			want: "IN= OUT=eth0 " + hdr(v4hdr, 40) + "PROTO=TCP INCOMPLETE [10 bytes] ",
		},
		{
			name:  "tcp options cut",
			rec:   Record{Family: FamilyIPv4, OutDev: 2, OutName: "eth0", Payload: ip4(protoTCP, nil, tcpWithOpts, 0)[:42]},
			flags: FlagTCPOpt,
			want:  "IN= OUT=eth0 " + hdr(v4hdr, 44) + "PROTO=TCP SPT=1234 DPT=80 WINDOW=0 RES=0x00 SYN URGP=0 OPT (TRUNCATED)",
		},
		{
			name:  "ip options cut",
			rec:   Record{Family: FamilyIPv4, OutDev: 2, OutName: "eth0", Payload: ip4(protoTCP, []byte{1, 1, 1, 0}, tcpSYN, 0)[:22]},
			flags: FlagIPOpt,
			want:  "IN= OUT=eth0 " + hdr(v4hdr, 44) + "TRUNCATED",
		},
		{
			name: "quoted header past the end wraps the INCOMPLETE count",
			rec:  Record{Family: FamilyIPv4, OutDev: 2, OutName: "eth0", Mark: 1, Payload: ip4(protoICMP, nil, icmpErr, 0)},
			want: "IN= OUT=eth0 " + hdr(v4hdr, 48) + "PROTO=ICMP TYPE=11 CODE=0 [" + hdr(v4hdr, 20) +
				"PROTO=TCP INCOMPLETE [4294967256 bytes] ] MARK=0x1 ",
		},
		{
			name: "bridge ports that differ from IN/OUT",
			rec: Record{Family: FamilyIPv4, InDev: 3, InName: "br0", OutDev: 3, OutName: "br0",
				PhysInDev: 4, PhysInName: "veth-a", PhysOutDev: 5, PhysOutName: "veth-b",
				Payload: ip4(253, nil, nil, 0)},
			want: "IN=br0 OUT=br0 PHYSIN=veth-a PHYSOUT=veth-b MAC= " + hdr(v4hdr, 20) + "PROTO=253 ",
		},
		{
			name: "non-Ethernet device with macdecode prints MAC=",
			rec: Record{Family: FamilyIPv4, InDev: 1, InName: "wg0", HasHwType: true, HwType: 65534,
				Payload: ip4(253, nil, nil, 0)},
			flags: FlagMACDecode,
			want:  "IN=wg0 OUT= MAC= " + hdr(v4hdr, 20) + "PROTO=253 ",
		},
		{
			name:  "ipv6 mobility header after hop-by-hop",
			rec:   Record{Family: FamilyIPv6, OutDev: 2, OutName: "eth0", Payload: ip6(0, hopThenMobility)},
			flags: FlagIPOpt,
			want:  "IN= OUT=eth0 " + hdr(v6hdr, 56) + "OPT ( ) PROTO=135 ",
		},
		{
			name: "ipv6 extension header cut",
			rec:  Record{Family: FamilyIPv6, OutDev: 2, OutName: "eth0", Payload: ip6(0, hopThenMobility)[:41]},
			want: "IN= OUT=eth0 " + hdr(v6hdr, 56) + "TRUNCATED",
		},
		{
			name: "icmpv6 cut: no MARK after INCOMPLETE",
			rec:  Record{Family: FamilyIPv6, OutDev: 2, OutName: "eth0", Mark: 9, Payload: ip6(protoICMPv6, make([]byte, 8))[:44]},
			want: "IN= OUT=eth0 " + hdr(v6hdr, 48) + "PROTO=ICMPv6 INCOMPLETE [4 bytes] ",
		},
		{
			name: "arp request",
			rec: Record{Family: FamilyARP, InDev: 2, InName: "eth0", Payload: []byte{
				0, 1, 8, 0, 6, 4, 0, 1,
				0xaa, 0xbb, 0xcc, 0, 0, 1, 10, 0, 0, 1,
				0, 0, 0, 0, 0, 0, 10, 0, 0, 2}},
			want: "IN=eth0 OUT= ARP HTYPE=1 PTYPE=0x0800 OPCODE=1 MACSRC=aa:bb:cc:00:00:01 IPSRC=10.0.0.1 MACDST=00:00:00:00:00:00 IPDST=10.0.0.2",
		},
		{
			name: "arp body cut",
			rec:  Record{Family: FamilyARP, InDev: 2, InName: "eth0", Payload: []byte{0, 1, 8, 0, 6, 4, 0, 2, 1, 2}},
			want: "IN=eth0 OUT= ARP HTYPE=1 PTYPE=0x0800 OPCODE=2 INCOMPLETE [2 bytes]",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var pk packet
			got := string(appendKernelLine(nil, &c.rec, c.flags, &pk))
			if got != c.want {
				t.Errorf("\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestKernelLineCut checks the kernel's 1016-character limit: an IPv6
// packet with a long chain of extension headers is cut mid-field with
// nothing after, exactly where the whole line would reach the limit.
func TestKernelLineCut(t *testing.T) {
	var chain []byte
	for i := 0; i < 150; i++ {
		next := byte(60) // destination options, 8 bytes each
		if i == 149 {
			next = protoUDP
		}
		chain = append(chain, next, 0, 0, 0, 0, 0, 0, 0)
	}
	chain = append(chain, 0, 53, 0, 53, 0, 8, 0, 0)
	rec := Record{Family: FamilyIPv6, OutDev: 2, OutName: "eth0", Mark: 5, Payload: ip6(60, chain)}
	var pk packet
	got := string(appendKernelLine(nil, &rec, FlagsAll, &pk))
	want := "IN= OUT=eth0 " + hdr(v6hdr, 40+len(chain)) + strings.Repeat("OPT ( ) ", 150) + "PROTO=UDP SPT=53 DPT=53 LEN=8 MARK=0x5 "
	if len(want) <= maxLineLen {
		t.Fatalf("test line too short (%d) to reach the cut", len(want))
	}
	if got != want[:maxLineLen] {
		t.Errorf("got %d characters ending %q, want the first %d of the whole line", len(got), got[len(got)-20:], maxLineLen)
	}
}
