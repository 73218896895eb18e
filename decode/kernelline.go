package decode

import "encoding/binary"

// maxLineLen is the longest line the kernel prints: its buffer holds 1019
// bytes with the 2-byte level header and its NUL; a field that does not fit
// is cut and everything after it dropped (nf_log_buf_add).
const maxLineLen = 1016

const (
	protoICMP     = 1
	protoTCP      = 6
	protoUDP      = 17
	protoIPv6Frag = 44
	protoESP      = 50
	protoAH       = 51
	protoICMPv6   = 58
	protoNone     = 59
	protoSCTP     = 132
	protoUDPLite  = 136
)

// lineWriter rebuilds the kernel's LOG line (net/netfilter/nf_log_syslog.c)
// from the packet bytes and, on the way, records the outer packet's fields in
// pk for the ECS event. Reads never go past the captured payload, which plays
// the part of the kernel's skb.
type lineWriter struct {
	b     []byte
	start int // where the line starts in b
	p     []byte
	flags LogFlags
	pk    *packet
}

// appendKernelLine appends r's kernel line to dst and fills pk.
func appendKernelLine(dst []byte, r *Record, flags LogFlags, pk *packet) []byte {
	start := len(dst)
	*pk = packet{}
	w := lineWriter{b: dst, start: start, p: r.Payload, flags: flags, pk: pk}
	w.common(r)
	if r.Family == FamilyARP {
		if flags&FlagMACDecode != 0 && r.HasHwType && r.HwType == 1 && len(r.HwHeader) >= 14 {
			w.mac(r)
		}
		w.arp()
	} else {
		if r.InDev != 0 {
			w.mac(r)
		}
		uid := flags&FlagUID != 0 && r.HasUID && r.HasGID
		if r.IsIPv6() {
			w.ipv6(0, true, r.Mark, uid, r.UID, r.GID)
		} else {
			w.ipv4(0, r.Mark, uid, r.UID, r.GID)
		}
	}
	if len(w.b)-start > maxLineLen {
		w.b = w.b[:start+maxLineLen]
	}
	return w.b
}

func (w *lineWriter) str(s string) { w.b = append(w.b, s...) }

func (w *lineWriter) uint(v uint64) { w.b = appendUint(w.b, v) }

func (w *lineWriter) uint8(v uint8) { w.b = appendUint8(w.b, v) }

// hex2 prints a byte as two hex digits.
func (w *lineWriter) hex2(v uint8, upper bool) {
	w.b = append(w.b, hexPairs[boolByte(upper)][v][:]...)
}

// readable reports whether n bytes at off are inside the packet, as
// skb_header_pointer would.
func (w *lineWriter) readable(off, n int) bool {
	return off >= 0 && off+n <= len(w.p)
}

// incomplete prints the kernel's "INCOMPLETE [%u bytes] " for the bytes left
// after off; the kernel computes it in unsigned 32-bit arithmetic, so an
// offset past the end wraps rather than going negative.
func (w *lineWriter) incomplete(off int, outer bool, tail string) {
	n := uint32(len(w.p)) - uint32(off)
	w.str("INCOMPLETE [")
	w.uint(uint64(n))
	w.str(" bytes] ")
	w.str(tail)
	if outer {
		w.pk.incomplete = n
		w.pk.hasIncomplete = true
	}
}

func (w *lineWriter) common(r *Record) {
	w.str(r.Prefix)
	w.str("IN=")
	w.str(r.InName)
	w.str(" OUT=")
	w.str(r.OutName)
	w.str(" ")
	if r.PhysInDev != 0 && r.PhysInDev != r.InDev {
		w.str("PHYSIN=")
		w.str(r.PhysInName)
		w.str(" ")
	}
	if r.PhysOutDev != 0 && r.PhysOutDev != r.OutDev {
		w.str("PHYSOUT=")
		w.str(r.PhysOutName)
		w.str(" ")
	}
}

// mac prints the link-layer part, which the kernel only logs for packets
// with an input device. It records where the addresses' text is, which the
// event copies rather than formats again.
func (w *lineWriter) mac(r *Record) {
	h := r.HwHeader
	if w.flags&FlagMACDecode != 0 && r.HasHwType && r.HwType == 1 {
		if len(h) < 14 {
			return
		}
		w.str("MACSRC=")
		w.pk.srcMACAt = len(w.b) - w.start
		w.b = appendMAC(w.b, h[6:12], ':', false)
		w.str(" MACDST=")
		w.pk.dstMACAt = len(w.b) - w.start
		w.b = appendMAC(w.b, h[0:6], ':', false)
		w.str(" MACPROTO=")
		w.b = appendHex(w.b, uint64(binary.BigEndian.Uint16(h[12:14])), 4, false)
		w.str(" ")
		return
	}
	w.str("MAC=")
	if len(h) >= 12 {
		// destination, source: each address is followed by a colon.
		w.pk.dstMACAt = len(w.b) - w.start
		w.pk.srcMACAt = w.pk.dstMACAt + macTextLen + 1
	}
	w.b = appendMAC(w.b, h, ':', false)
	w.str(" ")
}

// ipv4 is dump_ipv4_packet. off is 0 for the packet itself and the offset of
// the quoted packet inside an ICMP error otherwise; only the outer packet
// prints UID/GID and MARK and fills pk.
func (w *lineWriter) ipv4(off int, mark uint32, uid bool, uidv, gidv uint32) {
	outer := off == 0
	if !w.readable(off, 20) {
		w.str("TRUNCATED")
		return
	}
	h := w.p[off:]
	ihl := int(h[0]&0x0f) * 4
	totLen := binary.BigEndian.Uint16(h[2:4])
	fragOff := binary.BigEndian.Uint16(h[6:8])
	proto := h[9]
	w.str("SRC=")
	w.b = appendIPv4(w.b, h[12:16])
	w.str(" DST=")
	w.b = appendIPv4(w.b, h[16:20])
	w.str(" LEN=")
	w.uint(uint64(totLen))
	w.str(" TOS=0x")
	w.hex2(h[1]&0x1e, true)
	w.str(" PREC=0x")
	w.hex2(h[1]&0xe0, true)
	w.str(" TTL=")
	w.uint8(h[8])
	w.str(" ID=")
	w.uint(uint64(binary.BigEndian.Uint16(h[4:6])))
	w.b = ipv4FlagText[fragOff>>13].appendTo(w.b)
	offset := fragOff & 0x1fff
	if offset != 0 {
		w.str("FRAG:")
		w.uint(uint64(offset))
		w.str(" ")
	}
	fragment := offset != 0
	if outer {
		pk := w.pk
		pk.version = 4
		pk.src, pk.dst = h[12:16], h[16:20]
		pk.length = uint32(totLen)
		pk.tos, pk.prec, pk.ttl = h[1]&0x1e, h[1]&0xe0, h[8]
		pk.id = binary.BigEndian.Uint16(h[4:6])
		pk.fragFlags = uint8(fragOff >> 13)
		pk.fragOffset = uint32(offset)
		pk.fragment = fragment
		pk.hasProto, pk.proto = true, proto
	}
	if w.flags&FlagIPOpt != 0 && ihl > 20 {
		if !w.readable(off+20, ihl-20) {
			w.str("TRUNCATED")
			return
		}
		w.str("OPT (")
		w.b = appendHexBytes(w.b, w.p[off+20:off+ihl])
		w.str(") ")
	}
	l4 := off + ihl
	switch proto {
	case protoTCP:
		if w.tcp(l4, fragment, outer) {
			return
		}
	case protoUDP, protoUDPLite:
		if w.udp(proto, l4, fragment, outer) {
			return
		}
	case protoICMP:
		w.icmpv4(l4, fragment, outer)
	case protoAH:
		if fragment {
			break
		}
		w.str("PROTO=AH ")
		if !w.readable(l4, 12) {
			w.incomplete(l4, outer, "")
			break
		}
		w.spi(l4+4, " ")
	case protoESP:
		w.str("PROTO=ESP ")
		if fragment {
			break
		}
		if !w.readable(l4, 8) {
			w.incomplete(l4, outer, "")
			break
		}
		w.spi(l4, " ")
	default:
		w.str("PROTO=")
		w.uint8(proto)
		w.str(" ")
		if outer && proto == protoSCTP && !fragment {
			w.sctpPorts(l4)
		}
	}
	if outer {
		w.owner(mark, uid, uidv, gidv)
	}
}

// owner prints the outer packet's socket owner and mark.
func (w *lineWriter) owner(mark uint32, uid bool, uidv, gidv uint32) {
	if uid {
		w.str("UID=")
		w.uint(uint64(uidv))
		w.str(" GID=")
		w.uint(uint64(gidv))
		w.str(" ")
	}
	if mark != 0 {
		w.str("MARK=0x")
		w.b = appendHex(w.b, uint64(mark), 1, false)
		w.str(" ")
	}
}

// sctpPorts records SCTP ports for the event; the kernel line has none.
func (w *lineWriter) sctpPorts(off int) {
	if w.readable(off, 4) {
		w.pk.hasPorts = true
		w.pk.sport = binary.BigEndian.Uint16(w.p[off : off+2])
		w.pk.dport = binary.BigEndian.Uint16(w.p[off+2 : off+4])
	}
}

func (w *lineWriter) spi(off int, tail string) {
	w.str("SPI=0x")
	w.b = appendHex(w.b, uint64(binary.BigEndian.Uint32(w.p[off:off+4])), 1, false)
	w.str(tail)
}

// icmpRequired is the kernel's minimum ICMP length per type (0 = no check).
var icmpRequired = [19]uint8{0: 4, 3: 28, 4: 28, 5: 28, 8: 4, 11: 28, 12: 28, 13: 20, 14: 20, 17: 12, 18: 12}

func (w *lineWriter) icmpv4(l4 int, fragment, outer bool) {
	w.str("PROTO=ICMP ")
	if fragment {
		return
	}
	if !w.readable(l4, 8) {
		w.incomplete(l4, outer, "")
		return
	}
	typ, code := w.p[l4], w.p[l4+1]
	if outer {
		w.pk.hasICMP = true
		w.pk.icmpType, w.pk.icmpCode = typ, code
	}
	w.str("TYPE=")
	w.uint8(typ)
	w.str(" CODE=")
	w.uint8(code)
	w.str(" ")
	if int(typ) < len(icmpRequired) && icmpRequired[typ] != 0 && uint32(len(w.p))-uint32(l4) < uint32(icmpRequired[typ]) {
		w.incomplete(l4, outer, "")
		return
	}
	rest := w.p[l4+4 : l4+8]
	switch typ {
	case 0, 8:
		id, seq := binary.BigEndian.Uint16(rest[0:2]), binary.BigEndian.Uint16(rest[2:4])
		w.str("ID=")
		w.uint(uint64(id))
		w.str(" SEQ=")
		w.uint(uint64(seq))
		w.str(" ")
		if outer {
			w.pk.hasEcho, w.pk.echoID, w.pk.echoSeq = true, id, seq
		}
	case 12:
		w.str("PARAMETER=")
		w.uint8(rest[0])
		w.str(" ")
		if outer {
			w.pk.hasParameter, w.pk.parameter = true, rest[0]
		}
	case 3, 4, 5, 11:
		if typ == 5 {
			w.str("GATEWAY=")
			w.b = appendIPv4(w.b, rest)
			w.str(" ")
			if outer {
				w.pk.gateway = rest
			}
		}
		if outer {
			w.str("[")
			w.ipv4(l4+8, 0, false, 0, 0)
			w.str("] ")
		}
		if typ == 3 && code == 4 {
			w.str("MTU=")
			w.uint(uint64(binary.BigEndian.Uint16(rest[2:4])))
			w.str(" ")
		}
	}
}

// tcp is nf_log_dump_tcp_header; it returns true when the caller must stop
// (no UID/GID or MARK after it).
func (w *lineWriter) tcp(off int, fragment, outer bool) bool {
	w.str("PROTO=TCP ")
	if fragment {
		return false
	}
	if !w.readable(off, 20) {
		w.incomplete(off, outer, "")
		return true
	}
	t := w.p[off:]
	sport, dport := binary.BigEndian.Uint16(t[0:2]), binary.BigEndian.Uint16(t[2:4])
	seq, ack := binary.BigEndian.Uint32(t[4:8]), binary.BigEndian.Uint32(t[8:12])
	window := binary.BigEndian.Uint16(t[14:16])
	res := (t[12] & 0x0e) << 2
	flags := uint16(t[12]&0x01)<<8 | uint16(t[13])
	w.str("SPT=")
	w.uint(uint64(sport))
	w.str(" DPT=")
	w.uint(uint64(dport))
	w.str(" ")
	if w.flags&FlagTCPSeq != 0 {
		w.str("SEQ=")
		w.uint(uint64(seq))
		w.str(" ACK=")
		w.uint(uint64(ack))
		w.str(" ")
	}
	w.str("WINDOW=")
	w.uint(uint64(window))
	w.str(" RES=0x")
	w.hex2(res, false)
	w.str(" ")
	for i := range tcpFlagNames {
		if f := &tcpFlagNames[i]; flags&f.bit != 0 {
			w.b = f.line.appendTo(w.b)
		}
	}
	w.str("URGP=")
	w.uint(uint64(binary.BigEndian.Uint16(t[18:20])))
	w.str(" ")
	if outer {
		pk := w.pk
		pk.hasPorts, pk.sport, pk.dport = true, sport, dport
		pk.hasTCP, pk.tcpFlags, pk.tcpRes, pk.window, pk.seq, pk.ack = true, flags, res, window, seq, ack
	}
	doff := int(t[12]>>4) * 4
	if w.flags&FlagTCPOpt != 0 && doff > 20 {
		if !w.readable(off+20, doff-20) {
			w.str("OPT (TRUNCATED)")
			return true
		}
		w.str("OPT (")
		w.b = appendHexBytes(w.b, w.p[off+20:off+doff])
		w.str(") ")
	}
	return false
}

// tcpFlagNames lists the TCP flags in the kernel's print order, each as the
// line prints it (with its trailing space) and as a JSON array element
// (with a leading comma).
var tcpFlagNames = func() (t [9]struct {
	bit        uint16
	name       string
	line, json fixedText
}) {
	for i, name := range [...]string{"AE", "CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"} {
		t[i].bit, t[i].name = 0x100>>i, name
		t[i].line = newFixedText(name + " ")
		t[i].json = newFixedText(`,"` + name + `"`)
	}
	return t
}()

// ipv4FlagText is what the kernel prints after ID= for each value of the
// three IPv4 flag bits (frag_off >> 13): the separator, then CE, DF and MF.
var ipv4FlagText = func() (t [8]fixedText) {
	for v := range t {
		s := " "
		for _, f := range [...]struct {
			bit  uint8
			name string
		}{{fragCE, "CE "}, {fragDF, "DF "}, {fragMF, "MF "}} {
			if uint8(v)&f.bit != 0 {
				s += f.name
			}
		}
		t[v] = newFixedText(s)
	}
	return t
}()

// udp is nf_log_dump_udp_header; true means stop, as for tcp.
func (w *lineWriter) udp(proto uint8, off int, fragment, outer bool) bool {
	if proto == protoUDP {
		w.str("PROTO=UDP ")
	} else {
		w.str("PROTO=UDPLITE ")
	}
	if fragment {
		return false
	}
	if !w.readable(off, 8) {
		w.incomplete(off, outer, "")
		return true
	}
	u := w.p[off:]
	sport, dport, ulen := binary.BigEndian.Uint16(u[0:2]), binary.BigEndian.Uint16(u[2:4]), binary.BigEndian.Uint16(u[4:6])
	w.str("SPT=")
	w.uint(uint64(sport))
	w.str(" DPT=")
	w.uint(uint64(dport))
	w.str(" LEN=")
	w.uint(uint64(ulen))
	w.str(" ")
	if outer {
		pk := w.pk
		pk.hasPorts, pk.sport, pk.dport = true, sport, dport
		pk.hasUDP, pk.udpLen = true, ulen
	}
	return false
}

// ipv6 is dump_ipv6_packet; recurse is true for the outer packet.
func (w *lineWriter) ipv6(off int, recurse bool, mark uint32, uid bool, uidv, gidv uint32) {
	if !w.readable(off, 40) {
		w.str("TRUNCATED")
		return
	}
	h := w.p[off:]
	first := binary.BigEndian.Uint32(h[0:4])
	payloadLen := binary.BigEndian.Uint16(h[4:6])
	w.str("SRC=")
	w.b = appendIPv6Full(w.b, h[8:24])
	w.str(" DST=")
	w.b = appendIPv6Full(w.b, h[24:40])
	w.str(" LEN=")
	w.uint(uint64(payloadLen) + 40)
	w.str(" TC=")
	w.uint8(uint8(first >> 20))
	w.str(" HOPLIMIT=")
	w.uint8(h[7])
	w.str(" FLOWLBL=")
	w.uint(uint64(first & 0xfffff))
	w.str(" ")
	if recurse {
		pk := w.pk
		pk.version = 6
		pk.src, pk.dst = h[8:24], h[24:40]
		pk.length = uint32(payloadLen) + 40
		pk.tos, pk.ttl = uint8(first>>20), h[7]
		pk.flowLabel = first & 0xfffff
	}
	ipopt := w.flags&FlagIPOpt != 0
	fragment := false
	ptr := off + 40
	next := h[6]
	for isIPv6ExtHeader(next) {
		if !w.readable(ptr, 2) {
			w.str("TRUNCATED")
			return
		}
		if ipopt {
			w.str("OPT ( ")
		}
		var hdrlen int
		switch next {
		case protoIPv6Frag:
			w.str("FRAG:")
			if !w.readable(ptr, 8) {
				w.str("TRUNCATED ")
				return
			}
			fo := binary.BigEndian.Uint16(w.p[ptr+2 : ptr+4])
			w.uint(uint64(fo & 0xfff8))
			w.str(" ")
			if fo&1 != 0 {
				w.str("INCOMPLETE ")
			}
			w.str("ID:")
			w.b = appendHex(w.b, uint64(binary.BigEndian.Uint32(w.p[ptr+4:ptr+8])), 8, false)
			w.str(" ")
			if fo&0xfff8 != 0 {
				fragment = true
			}
			if recurse {
				w.pk.fragOffset = uint32(fo & 0xfff8)
				w.pk.fragment = fragment
				if fo&1 != 0 {
					w.pk.fragFlags |= fragMF
				}
			}
			hdrlen = 8
		case protoAH:
			if ipopt {
				w.str("AH ")
				if fragment {
					w.str(")")
					return
				}
				if !w.readable(ptr, 12) {
					w.incomplete(ptr, false, ")")
					return
				}
				w.spi(ptr+4, " ")
			}
			hdrlen = (int(w.p[ptr+1]) + 2) * 4
		case protoESP:
			if recurse {
				w.pk.hasProto, w.pk.proto = true, protoESP
			}
			if ipopt {
				w.str("ESP ")
				if fragment {
					w.str(")")
					return
				}
				if !w.readable(ptr, 8) {
					w.incomplete(ptr, false, ")")
					return
				}
				w.spi(ptr, " )")
			}
			return
		default: // hop-by-hop, routing, destination options
			if fragment {
				if ipopt {
					w.str(")")
				}
				return
			}
			hdrlen = (int(w.p[ptr+1]) + 1) * 8
		}
		if ipopt {
			w.str(") ")
		}
		next = w.p[ptr]
		ptr += hdrlen
	}
	if recurse {
		w.pk.hasProto, w.pk.proto = true, next
	}
	switch next {
	case protoTCP:
		if w.tcp(ptr, fragment, recurse) {
			return
		}
	case protoUDP, protoUDPLite:
		if w.udp(next, ptr, fragment, recurse) {
			return
		}
	case protoICMPv6:
		if w.icmpv6(ptr, fragment, recurse) {
			return
		}
	default:
		w.str("PROTO=")
		w.uint8(next)
		w.str(" ")
		if recurse && next == protoSCTP && !fragment {
			w.sctpPorts(ptr)
		}
	}
	if recurse {
		w.owner(mark, uid, uidv, gidv)
	}
}

// isIPv6ExtHeader is the kernel's extension-header set without NONE (59).
func isIPv6ExtHeader(next uint8) bool {
	switch next {
	case 0, 43, protoIPv6Frag, protoESP, protoAH, 60:
		return true
	}
	return false
}

// icmpv6 prints the ICMPv6 part; true means stop (no UID/GID or MARK).
func (w *lineWriter) icmpv6(off int, fragment, outer bool) bool {
	w.str("PROTO=ICMPv6 ")
	if fragment {
		return false
	}
	if !w.readable(off, 8) {
		w.incomplete(off, outer, "")
		return true
	}
	typ, code := w.p[off], w.p[off+1]
	rest := w.p[off+4 : off+8]
	w.str("TYPE=")
	w.uint8(typ)
	w.str(" CODE=")
	w.uint8(code)
	w.str(" ")
	if outer {
		w.pk.hasICMP = true
		w.pk.icmpType, w.pk.icmpCode = typ, code
	}
	switch typ {
	case 128, 129:
		id, seq := binary.BigEndian.Uint16(rest[0:2]), binary.BigEndian.Uint16(rest[2:4])
		w.str("ID=")
		w.uint(uint64(id))
		w.str(" SEQ=")
		w.uint(uint64(seq))
		w.str(" ")
		if outer {
			w.pk.hasEcho, w.pk.echoID, w.pk.echoSeq = true, id, seq
		}
	case 1, 2, 3, 4:
		if typ == 4 {
			w.str("POINTER=")
			w.b = appendHex(w.b, uint64(binary.BigEndian.Uint32(rest)), 8, false)
			w.str(" ")
		}
		if outer {
			w.str("[")
			w.ipv6(off+8, false, 0, false, 0, 0)
			w.str("] ")
		}
		if typ == 2 {
			w.str("MTU=")
			w.uint(uint64(binary.BigEndian.Uint32(rest)))
			w.str(" ")
		}
	}
	return false
}

// arp is nf_log_arp_packet's body after the common part.
func (w *lineWriter) arp() {
	if !w.readable(0, 8) {
		w.str("TRUNCATED")
		return
	}
	h := w.p
	w.str("ARP HTYPE=")
	w.uint(uint64(binary.BigEndian.Uint16(h[0:2])))
	w.str(" PTYPE=0x")
	w.b = appendHex(w.b, uint64(binary.BigEndian.Uint16(h[2:4])), 4, false)
	w.str(" OPCODE=")
	w.uint(uint64(binary.BigEndian.Uint16(h[6:8])))
	if binary.BigEndian.Uint16(h[0:2]) != 1 || h[4] != 6 || h[5] != 4 {
		return
	}
	if !w.readable(8, 20) {
		w.str(" INCOMPLETE [")
		w.uint(uint64(uint32(len(w.p)) - 8))
		w.str(" bytes]")
		return
	}
	w.str(" MACSRC=")
	w.b = appendMAC(w.b, h[8:14], ':', false)
	w.str(" IPSRC=")
	w.b = appendIPv4(w.b, h[14:18])
	w.str(" MACDST=")
	w.b = appendMAC(w.b, h[18:24], ':', false)
	w.str(" IPDST=")
	w.b = appendIPv4(w.b, h[24:28])
}
