package collector

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// The exactness catalogue: raw packets of many kinds, built byte by byte so
// that odd flags, options, fragments and truncations reach the kernel
// exactly as written. Only fields the kernel validates before PREROUTING
// (IPv4 header checksum and lengths, IPv6 hop-by-hop options) must be sane.

type labPacket struct {
	name  string
	frame []byte
}

// ---- builders ----

func csum(b []byte, seed uint32) uint16 {
	s := seed
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func pseudo(src, dst net.IP, proto uint8, n int) uint32 {
	var s uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(binary.BigEndian.Uint16(b[i:]))
		}
	}
	if v4 := src.To4(); v4 != nil {
		add(v4)
		add(dst.To4())
	} else {
		add(src.To16())
		add(dst.To16())
	}
	return s + uint32(proto) + uint32(n)
}

// l4 fills in the checksum of a transport segment at off (-1: none).
func l4(proto uint8, src, dst net.IP, seg []byte, off int) []byte {
	if off >= 0 && off+2 <= len(seg) {
		seg[off], seg[off+1] = 0, 0
		var seed uint32
		if proto != 1 { // ICMPv4 has no pseudo header
			seed = pseudo(src, dst, proto, len(seg))
		}
		binary.BigEndian.PutUint16(seg[off:], csum(seg, seed))
	}
	return seg
}

type v4 struct {
	tos   uint8
	id    uint16
	frag  uint16 // flags (CE 0x8000, DF 0x4000, MF 0x2000) | offset in 8-byte units
	ttl   uint8
	proto uint8
	opts  []byte // padded by the caller to a multiple of 4
	src   net.IP
	dst   net.IP
}

func (h v4) build(payload []byte) []byte {
	if h.ttl == 0 {
		h.ttl = 64
	}
	if h.src == nil {
		h.src, h.dst = netlab.IPv4A, netlab.IPv4B
	}
	hl := 20 + len(h.opts)
	b := make([]byte, hl+len(payload))
	b[0] = 0x40 | byte(hl/4)
	b[1] = h.tos
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], h.id)
	binary.BigEndian.PutUint16(b[6:], h.frag)
	b[8], b[9] = h.ttl, h.proto
	copy(b[12:], h.src.To4())
	copy(b[16:], h.dst.To4())
	copy(b[20:], h.opts)
	binary.BigEndian.PutUint16(b[10:], csum(b[:hl], 0))
	copy(b[hl:], payload)
	return b
}

type v6 struct {
	tc   uint8
	flow uint32
	next uint8
	hlim uint8
	src  net.IP
	dst  net.IP
}

func (h v6) build(payload []byte) []byte {
	if h.hlim == 0 {
		h.hlim = 64
	}
	if h.src == nil {
		h.src, h.dst = netlab.IPv6A, netlab.IPv6B
	}
	b := make([]byte, 40+len(payload))
	binary.BigEndian.PutUint32(b, 6<<28|uint32(h.tc)<<20|h.flow&0xfffff)
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6], b[7] = h.next, h.hlim
	copy(b[8:], h.src.To16())
	copy(b[24:], h.dst.To16())
	copy(b[40:], payload)
	return b
}

type tcpSeg struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint16 // 0x001 FIN … 0x080 CWR, 0x100 AE, 0xe00 reserved
	win, urg     uint16
	opts         []byte // padded by the caller to a multiple of 4
	data         []byte
	doff         int // override data offset (words); 0 = from opts
}

const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
	urg = 0x20
	ece = 0x40
	cwr = 0x80
	ae  = 0x100
)

func (t tcpSeg) bytes() []byte {
	hl := 20 + len(t.opts)
	b := make([]byte, hl+len(t.data))
	binary.BigEndian.PutUint16(b, t.sport)
	binary.BigEndian.PutUint16(b[2:], t.dport)
	binary.BigEndian.PutUint32(b[4:], t.seq)
	binary.BigEndian.PutUint32(b[8:], t.ack)
	doff := hl / 4
	if t.doff != 0 {
		doff = t.doff
	}
	binary.BigEndian.PutUint16(b[12:], uint16(doff)<<12|t.flags&0x0fff)
	binary.BigEndian.PutUint16(b[14:], t.win)
	binary.BigEndian.PutUint16(b[18:], t.urg)
	copy(b[20:], t.opts)
	copy(b[hl:], t.data)
	return b
}

func udpSeg(sport, dport uint16, data []byte, lenField int) []byte {
	b := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	if lenField == 0 {
		lenField = len(b)
	}
	binary.BigEndian.PutUint16(b[4:], uint16(lenField))
	copy(b[8:], data)
	return b
}

func icmpMsg(typ, code uint8, rest uint32, body []byte) []byte {
	b := make([]byte, 8+len(body))
	b[0], b[1] = typ, code
	binary.BigEndian.PutUint32(b[4:], rest)
	copy(b[8:], body)
	return b
}

func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// catalogue returns the packets A sends to B; every one of them is logged by
// the lab's rules (they all come from A's addresses).
func catalogue(lab *netlab.Lab) []labPacket {
	var out []labPacket
	eth := func(etype uint16, ip []byte) []byte {
		b := make([]byte, 14+len(ip))
		copy(b, lab.MACB)
		copy(b[6:], lab.MACA)
		binary.BigEndian.PutUint16(b[12:], etype)
		copy(b[14:], ip)
		return b
	}
	id := uint16(0x1000)
	add4 := func(name string, h v4, seg []byte, csumOff int) {
		id++
		if h.id == 0 {
			h.id = id
		}
		if h.src == nil {
			h.src, h.dst = netlab.IPv4A, netlab.IPv4B
		}
		l4(h.proto, h.src, h.dst, seg, csumOff)
		out = append(out, labPacket{"v4 " + name, eth(0x0800, h.build(seg))})
	}
	flow := uint32(0x100)
	add6 := func(name string, h v6, payload []byte) {
		flow++
		if h.flow == 0 {
			h.flow = flow
		}
		out = append(out, labPacket{"v6 " + name, eth(0x86dd, h.build(payload))})
	}
	// A transport segment for IPv6 with its checksum, given the final next
	// header (after any extension headers).
	seg6 := func(proto uint8, seg []byte, off int) []byte {
		return l4(proto, netlab.IPv6A, netlab.IPv6B, seg, off)
	}

	mss := []byte{2, 4, 0x05, 0xb4}
	synOpts := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
	sack := []byte{1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0}
	odd := []byte{254, 4, 0xab, 0xcd, 1, 0, 0, 0}
	optSets := []struct {
		name string
		o    []byte
	}{{"", nil}, {"mss", mss}, {"syn-opts", synOpts}, {"sack", sack}, {"exp-opt", odd}}
	flagSets := []struct {
		name string
		f    uint16
	}{
		{"SYN", syn}, {"SYN-ACK", syn | ack}, {"ACK", ack}, {"PSH-ACK", psh | ack}, {"FIN-ACK", fin | ack},
		{"RST", rst}, {"RST-ACK", rst | ack}, {"URG-ACK", urg | ack}, {"ECE-CWR-SYN", syn | ece | cwr},
		{"xmas", fin | psh | urg}, {"null", 0}, {"all+AE", 0x1ff}, {"reserved", 0xe00 | ack}, {"AE-ACK", ae | ack},
	}
	tosSet := []uint8{0x00, 0x10, 0xb8, 0x03, 0xff, 0x28}

	// IPv4 TCP: flags × options, varying TOS/TTL/DF.
	n := 0
	for _, f := range flagSets {
		for _, o := range optSets {
			n++
			t := tcpSeg{sport: uint16(30000 + n), dport: []uint16{22, 80, 443, 8080}[n%4], seq: 1000000 * uint32(n), ack: 7 * uint32(n),
				flags: f.f, win: uint16(1000 * n), opts: o.o}
			if f.f&urg != 0 {
				t.urg = 42
			}
			if n%3 == 0 {
				t.data = fill(n%50, byte(n))
			}
			h := v4{tos: tosSet[n%len(tosSet)], ttl: uint8(1 + n%255), proto: 6}
			if n%2 == 0 {
				h.frag = 0x4000
			}
			add4(fmt.Sprintf("tcp %s %s", f.name, o.name), h, t.bytes(), 16)
		}
	}
	// TCP edge cases.
	add4("tcp truncated header", v4{proto: 6}, tcpSeg{sport: 1, dport: 2, flags: syn}.bytes()[:10], -1)
	add4("tcp options cut off", v4{proto: 6}, tcpSeg{sport: 1, dport: 2, flags: syn, doff: 15}.bytes(), 16)
	add4("tcp urgent pointer without URG", v4{proto: 6}, tcpSeg{sport: 3, dport: 4, flags: ack, urg: 999}.bytes(), 16)
	add4("tcp max ports", v4{proto: 6}, tcpSeg{sport: 65535, dport: 65535, seq: 0xffffffff, ack: 0xffffffff, flags: ack, win: 65535}.bytes(), 16)

	// IPv4 UDP.
	for i, d := range []uint16{53, 123, 161, 514, 1194, 4789, 5353, 33434} {
		add4(fmt.Sprintf("udp dport %d", d), v4{proto: 17, tos: tosSet[i%len(tosSet)]}, udpSeg(uint16(50000+i), d, fill(i*7, byte(i)), 0), 6)
	}
	add4("udp empty", v4{proto: 17}, udpSeg(1, 2, nil, 0), 6)
	add4("udp bogus length", v4{proto: 17}, udpSeg(1, 2, fill(10, 0), 1000), -1)
	add4("udp truncated", v4{proto: 17}, udpSeg(1, 2, nil, 0)[:4], -1)
	add4("udplite", v4{proto: 136}, udpSeg(7, 8, fill(12, 1), 8), 6)

	// ICMP.
	for i := range 6 {
		add4(fmt.Sprintf("icmp echo %d", i), v4{proto: 1, frag: 0x4000}, icmpMsg(8, 0, uint32(0x1234+i)<<16|uint32(i), fill(i*9, 0x61)), 2)
		add4(fmt.Sprintf("icmp echo reply %d", i), v4{proto: 1}, icmpMsg(0, 0, uint32(0x4321+i)<<16|uint32(100+i), fill(i*5, 0x41)), 2)
	}
	innerTCP := v4{proto: 6, src: netlab.IPv4B, dst: net.IPv4(192, 0, 2, 7), id: 77, frag: 0x4000}.build(
		tcpSeg{sport: 443, dport: 51000, seq: 5, flags: syn | ack}.bytes()[:8])
	innerUDP := v4{proto: 17, src: netlab.IPv4B, dst: net.IPv4(198, 51, 100, 9), id: 78, ttl: 1}.build(udpSeg(33434, 33435, fill(20, 0), 0))
	innerICMP := v4{proto: 1, src: netlab.IPv4B, dst: net.IPv4(203, 0, 113, 5), id: 79}.build(icmpMsg(8, 0, 0x00010002, nil))
	innerOpts := v4{proto: 17, src: netlab.IPv4B, dst: net.IPv4(198, 51, 100, 10), id: 80, opts: []byte{148, 4, 0, 0}}.build(udpSeg(1, 2, nil, 0))
	for _, c := range []uint8{0, 1, 3, 9, 10, 13} {
		add4(fmt.Sprintf("icmp unreach code %d tcp", c), v4{proto: 1}, icmpMsg(3, c, 0, innerTCP), 2)
	}
	add4("icmp unreach udp", v4{proto: 1}, icmpMsg(3, 3, 0, innerUDP), 2)
	add4("icmp unreach inner icmp", v4{proto: 1}, icmpMsg(3, 1, 0, innerICMP), 2)
	add4("icmp unreach inner ip options", v4{proto: 1}, icmpMsg(3, 2, 0, innerOpts), 2)
	add4("icmp frag needed mtu", v4{proto: 1}, icmpMsg(3, 4, 1400, innerTCP), 2)
	add4("icmp time exceeded", v4{proto: 1}, icmpMsg(11, 0, 0, innerUDP), 2)
	add4("icmp time exceeded reassembly", v4{proto: 1}, icmpMsg(11, 1, 0, innerTCP), 2)
	add4("icmp source quench", v4{proto: 1}, icmpMsg(4, 0, 0, innerUDP), 2)
	add4("icmp redirect", v4{proto: 1}, icmpMsg(5, 1, binary.BigEndian.Uint32([]byte{10, 231, 0, 254}), innerTCP), 2)
	add4("icmp parameter problem", v4{proto: 1}, icmpMsg(12, 0, 20<<24, innerOpts), 2)
	add4("icmp timestamp", v4{proto: 1}, icmpMsg(13, 0, 0x00050006, fill(12, 0)), 2)
	add4("icmp timestamp reply", v4{proto: 1}, icmpMsg(14, 0, 0x00050006, fill(12, 0)), 2)
	add4("icmp address mask", v4{proto: 1}, icmpMsg(17, 0, 0x00070008, fill(4, 0)), 2)
	add4("icmp address mask reply", v4{proto: 1}, icmpMsg(18, 0, 0x00070008, fill(4, 0)), 2)
	add4("icmp timestamp short", v4{proto: 1}, icmpMsg(13, 0, 1, fill(4, 0)), 2)
	add4("icmp unreach short", v4{proto: 1}, icmpMsg(3, 1, 0, innerTCP[:12]), 2)
	add4("icmp 4 bytes", v4{proto: 1}, icmpMsg(8, 0, 0, nil)[:4], -1)
	add4("icmp unknown type", v4{proto: 1}, icmpMsg(42, 7, 0xdeadbeef, fill(3, 0)), 2)
	add4("icmp router advert", v4{proto: 1}, icmpMsg(9, 0, 0x01020003, fill(8, 0)), 2)

	// IPv4 options.
	for _, o := range []struct {
		name string
		b    []byte
	}{
		{"nop eol", []byte{1, 1, 1, 0}},
		{"router alert", []byte{148, 4, 0, 0}},
		{"record route", []byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"timestamp", []byte{68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"full 40 bytes", append([]byte{7, 39, 4}, make([]byte, 37)...)},
	} {
		add4("ip options "+o.name+" udp", v4{proto: 17, opts: o.b}, udpSeg(1111, 2222, fill(5, 0), 0), 6)
		add4("ip options "+o.name+" tcp", v4{proto: 6, opts: o.b}, tcpSeg{sport: 1111, dport: 2222, flags: syn, opts: mss}.bytes(), 16)
		add4("ip options "+o.name+" icmp", v4{proto: 1, opts: o.b}, icmpMsg(8, 0, 0x00090009, nil), 2)
	}

	// IPv4 fragments (seen before defragmentation: the chain runs at -450).
	fragUDP := udpSeg(4000, 4001, fill(40, 0), 0)
	add4("frag first udp", v4{proto: 17, frag: 0x2000, id: 0x5151}, fragUDP[:24], -1)
	add4("frag middle udp", v4{proto: 17, frag: 0x2000 | 3, id: 0x5151}, fill(16, 9), -1)
	add4("frag last udp", v4{proto: 17, frag: 185, id: 0x5151}, fill(13, 9), -1)
	add4("frag later tcp", v4{proto: 6, frag: 0x2000 | 10, id: 0x5152}, fill(32, 3), -1)
	add4("frag later icmp", v4{proto: 1, frag: 7, id: 0x5153}, fill(8, 3), -1)
	add4("frag later esp", v4{proto: 50, frag: 7, id: 0x5154}, fill(8, 3), -1)
	add4("frag later ah", v4{proto: 51, frag: 7, id: 0x5155}, fill(16, 3), -1)
	add4("frag first tcp", v4{proto: 6, frag: 0x2000, id: 0x5156}, tcpSeg{sport: 5, dport: 6, flags: psh | ack, data: fill(20, 0)}.bytes()[:32], -1)
	add4("CE bit", v4{proto: 17, frag: 0x8000}, udpSeg(9, 9, nil, 0), 6)
	add4("CE DF bits", v4{proto: 17, frag: 0xc000}, udpSeg(9, 9, nil, 0), 6)

	// Other IPv4 protocols.
	add4("esp", v4{proto: 50}, append([]byte{0x0b, 0xad, 0xf0, 0x0d, 0, 0, 0, 1}, fill(16, 0)...), -1)
	add4("esp short", v4{proto: 50}, []byte{1, 2, 3, 4}, -1)
	add4("ah", v4{proto: 51}, append([]byte{6, 4, 0, 0, 0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1}, fill(12, 0)...), -1)
	add4("ah short", v4{proto: 51}, []byte{6, 4, 0, 0, 1, 2}, -1)
	add4("gre", v4{proto: 47}, []byte{0, 0, 0x08, 0x00}, -1)
	add4("sctp", v4{proto: 132}, fill(16, 0), -1)
	add4("igmp", v4{proto: 2, ttl: 1, opts: []byte{148, 4, 0, 0}}, []byte{0x16, 0, 0xfa, 0x04, 239, 1, 2, 3}, -1)
	add4("ospf", v4{proto: 89}, fill(24, 0), -1)
	add4("proto 255", v4{proto: 255}, fill(4, 0), -1)
	add4("no payload", v4{proto: 6}, nil, -1)

	// IPv6 TCP and UDP.
	tcs := []uint8{0, 0xb8, 0x01, 0x2e, 0xff}
	for i, f := range flagSets {
		o := optSets[i%len(optSets)]
		t := tcpSeg{sport: uint16(40000 + i), dport: []uint16{22, 443}[i%2], seq: uint32(i) * 99991, ack: uint32(i), flags: f.f, win: 512, opts: o.o}
		if f.f&urg != 0 {
			t.urg = 7
		}
		add6("tcp "+f.name+" "+o.name, v6{tc: tcs[i%len(tcs)], next: 6}, seg6(6, t.bytes(), 16))
	}
	for i, d := range []uint16{53, 123, 500, 547, 4500} {
		add6(fmt.Sprintf("udp dport %d", d), v6{tc: tcs[i%len(tcs)], next: 17}, seg6(17, udpSeg(uint16(51000+i), d, fill(i*11, 2), 0), 6))
	}
	add6("udp truncated", v6{next: 17}, udpSeg(1, 2, nil, 0)[:5])
	add6("tcp truncated", v6{next: 6}, tcpSeg{sport: 1, dport: 2}.bytes()[:15])
	add6("udplite", v6{next: 136}, seg6(136, udpSeg(5, 6, fill(4, 0), 8), 6))

	// ICMPv6.
	icmp6 := func(typ, code uint8, rest uint32, body []byte) []byte {
		return seg6(58, icmpMsg(typ, code, rest, body), 2)
	}
	in6UDP := v6{next: 17, src: netlab.IPv6B, dst: net.ParseIP("2001:db8::7"), flow: 5}.build(udpSeg(33434, 33435, nil, 0))
	in6TCP := v6{next: 6, src: netlab.IPv6B, dst: net.ParseIP("2001:db8::8"), tc: 0x20}.build(tcpSeg{sport: 443, dport: 50000, flags: syn | ack}.bytes())
	for i := range 5 {
		add6(fmt.Sprintf("icmpv6 echo %d", i), v6{next: 58}, icmp6(128, 0, uint32(0x77+i)<<16|uint32(i), fill(i*13, 0x30)))
		add6(fmt.Sprintf("icmpv6 echo reply %d", i), v6{next: 58}, icmp6(129, 0, uint32(0x88+i)<<16|uint32(i), nil))
	}
	for _, c := range []uint8{0, 1, 3, 4, 5} {
		add6(fmt.Sprintf("icmpv6 unreach code %d", c), v6{next: 58}, icmp6(1, c, 0, in6UDP))
	}
	add6("icmpv6 unreach tcp", v6{next: 58}, icmp6(1, 4, 0, in6TCP))
	add6("icmpv6 packet too big", v6{next: 58}, icmp6(2, 0, 1280, in6TCP))
	add6("icmpv6 time exceeded", v6{next: 58}, icmp6(3, 0, 0, in6UDP))
	add6("icmpv6 parameter problem", v6{next: 58}, icmp6(4, 1, 40, in6UDP))
	add6("icmpv6 unreach short", v6{next: 58}, icmp6(1, 0, 0, in6UDP[:20]))
	for _, typ := range []uint8{130, 131, 132, 133, 134, 135, 136, 137, 143, 200} {
		add6(fmt.Sprintf("icmpv6 type %d", typ), v6{next: 58, hlim: 255}, icmp6(typ, 0, 0, fill(16, 0)))
	}
	add6("icmpv6 4 bytes", v6{next: 58}, icmpMsg(128, 0, 0, nil)[:4])

	// IPv6 extension headers.
	hbh := func(next uint8) []byte { return []byte{next, 0, 1, 4, 0, 0, 0, 0} } // PadN
	dst := func(next uint8) []byte { return []byte{next, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} }
	rt := func(next uint8) []byte { // type 4 (SRH-like), segments left 0
		return append([]byte{next, 2, 4, 0, 0, 0, 0, 0}, make([]byte, 16)...)
	}
	frag6 := func(next uint8, off uint16, more bool, ident uint32) []byte {
		b := []byte{next, 0, 0, 0, 0, 0, 0, 0}
		v := off &^ 7
		if more {
			v |= 1
		}
		binary.BigEndian.PutUint16(b[2:], v)
		binary.BigEndian.PutUint32(b[4:], ident)
		return b
	}
	udp6seg := seg6(17, udpSeg(6000, 6001, fill(8, 0), 0), 6)
	tcp6seg := seg6(6, tcpSeg{sport: 6000, dport: 22, flags: syn, opts: mss}.bytes(), 16)
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	add6("hbh udp", v6{next: 0}, cat(hbh(17), udp6seg))
	add6("dstopts tcp", v6{next: 60}, cat(dst(6), tcp6seg))
	add6("hbh dstopts udp", v6{next: 0}, cat(hbh(60), dst(17), udp6seg))
	add6("routing udp", v6{next: 43}, cat(rt(17), udp6seg))
	add6("frag first udp", v6{next: 44}, cat(frag6(17, 0, true, 0xabcdef01), udp6seg))
	add6("frag later udp", v6{next: 44}, cat(frag6(17, 800, false, 0xabcdef02), fill(16, 0)))
	add6("frag later icmpv6", v6{next: 44}, cat(frag6(58, 64, true, 0xabcdef03), fill(16, 0)))
	add6("frag later then dstopts", v6{next: 44}, cat(frag6(60, 8, false, 0xabcdef04), dst(17), fill(8, 0)))
	add6("hbh frag first tcp", v6{next: 0}, cat(hbh(44), frag6(6, 0, true, 0x01020304), tcp6seg))
	add6("esp", v6{next: 50}, cat([]byte{0x0b, 0xad, 0xf0, 0x0d, 0, 0, 0, 1}, fill(16, 0)))
	add6("esp short", v6{next: 50}, []byte{1, 2, 3})
	add6("ah tcp", v6{next: 51}, cat([]byte{6, 4, 0, 0, 0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1}, fill(12, 0), tcp6seg))
	add6("ah short", v6{next: 51}, []byte{6, 4, 0, 0, 1, 2})
	add6("no next header", v6{next: 59}, nil)
	add6("mobility", v6{next: 135}, fill(8, 0))
	add6("sctp", v6{next: 132}, fill(12, 0))
	add6("dstopts truncated", v6{next: 60}, []byte{17})

	// Big packets, for the short snap length group.
	add4("big tcp", v4{proto: 6, frag: 0x4000}, tcpSeg{sport: 443, dport: 50001, seq: 1, ack: 2, flags: psh | ack, win: 501, opts: synOpts, data: fill(1200, 0)}.bytes(), 16)
	add4("big udp", v4{proto: 17}, udpSeg(4500, 4500, fill(1300, 1), 0), 6)
	add4("big icmp", v4{proto: 1}, icmpMsg(8, 0, 0x00aa00bb, fill(1000, 2)), 2)
	add4("big unreach", v4{proto: 1}, icmpMsg(3, 3, 0, append(append([]byte(nil), innerUDP...), fill(500, 0)...)), 2)
	add4("big with ip options", v4{proto: 6, opts: []byte{148, 4, 0, 0, 1, 1, 1, 0}}, tcpSeg{sport: 1, dport: 2, flags: ack, data: fill(700, 0)}.bytes(), 16)
	add6("big udp", v6{next: 17}, seg6(17, udpSeg(7000, 7001, fill(1000, 3), 0), 6))
	add6("big tcp hbh", v6{next: 0}, cat(hbh(6), seg6(6, tcpSeg{sport: 7, dport: 8, flags: ack, data: fill(900, 0)}.bytes(), 16)))
	add6("big icmpv6 echo", v6{next: 58}, icmp6(128, 0, 0x00010001, fill(1200, 4)))
	return out
}
