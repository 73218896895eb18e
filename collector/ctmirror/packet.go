package ctmirror

import (
	"encoding/binary"
	"net/netip"

	"github.com/nflog-agent/nflog-agent/decode"
)

// Transport protocols whose tuples carry ports or an ICMP id.
const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoDCCP    = 33
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

// packetFlow is what a logged packet tells about its flow.
type packetFlow struct {
	proto     uint8
	src, dst  endpoint
	icmpReply bool // an ICMP reply: dst is the requester
}

// key is the flow's key, requester first.
func (f *packetFlow) key() flowKey {
	if f.icmpReply {
		return newFlowKey(f.proto, f.dst, f.src)
	}
	return newFlowKey(f.proto, f.src, f.dst)
}

// flowOf reads the flow of a record's packet from its IP and transport
// headers. It reports false when the packet carries no flow conntrack
// could match: no IP header, or a transport header cut off or absent (a
// fragment after the first).
func flowOf(r *decode.Record) (packetFlow, bool) {
	p := r.Payload
	var f packetFlow
	var l4 []byte
	if r.IsIPv6() {
		if len(p) < 40 || p[0]>>4 != 6 {
			return f, false
		}
		f.src.addr = netip.AddrFrom16([16]byte(p[8:24]))
		f.dst.addr = netip.AddrFrom16([16]byte(p[24:40]))
		next, off := p[6], 40
		for isIPv6Extension(next) {
			if len(p) < off+8 {
				return f, false
			}
			if next == 44 { // fragment header: only the first fragment has the transport header
				if binary.BigEndian.Uint16(p[off+2:])&^7 != 0 {
					return f, false
				}
				next, off = p[off], off+8
				continue
			}
			next, off = p[off], off+8+8*int(p[off+1])
		}
		f.proto, l4 = next, p[min(off, len(p)):]
	} else {
		if len(p) < 20 || p[0]>>4 != 4 {
			return f, false
		}
		ihl := int(p[0]&0xf) * 4
		if ihl < 20 || len(p) < ihl || binary.BigEndian.Uint16(p[6:])&0x1fff != 0 {
			return f, false
		}
		f.src.addr = netip.AddrFrom4([4]byte(p[12:16]))
		f.dst.addr = netip.AddrFrom4([4]byte(p[16:20]))
		f.proto, l4 = p[9], p[ihl:]
	}
	switch f.proto {
	case protoTCP, protoUDP, protoSCTP, protoDCCP, protoUDPLite:
		if len(l4) < 4 {
			return f, false
		}
		f.src.port, f.dst.port = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
	case protoICMP, protoICMPv6:
		if len(l4) < 8 || !isICMPQuery(f.proto, l4[0]) {
			return f, false // an error's entry is that of the packet it quotes: not looked up
		}
		id := binary.BigEndian.Uint16(l4[4:])
		f.src.port, f.dst.port = id, id
		f.icmpReply = isICMPReply(f.proto, l4[0])
	}
	return f, true
}

// isICMPReply reports whether an ICMP query type is an answer.
func isICMPReply(proto, typ uint8) bool {
	if proto == protoICMP {
		return typ == 0 || typ == 14 || typ == 16 || typ == 18
	}
	return typ == 129 || typ == 140
}

func isIPv6Extension(next uint8) bool {
	switch next {
	case 0, 43, 44, 60:
		return true
	}
	return false
}

// isICMPQuery reports whether an ICMP type is one conntrack tracks as a
// query and its answer by id (echo, timestamp, information, address mask;
// ICMPv6 echo and node information), rather than an error.
func isICMPQuery(proto, typ uint8) bool {
	if proto == protoICMP {
		switch typ {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			return true
		}
		return false
	}
	switch typ {
	case 128, 129, 139, 140:
		return true
	}
	return false
}

// derivedInfo is the ctinfo the kernel would have attached to a packet
// of the entry that went from src: original direction when src is the
// original source (before or after SNAT), reply direction otherwise; new
// until the entry has seen a reply, related for an expected connection.
func derivedInfo(ct *decode.Conntrack, src endpoint) uint32 {
	os, _ := tupleEnds(&ct.Orig)
	_, rd := tupleEnds(&ct.Reply)
	original := src == os || src == rd
	related := ct.Status&decode.CtStatusExpected != 0
	switch {
	case original && related:
		return decode.CtInfoRelated
	case original && ct.Status&decode.CtStatusSeenReply == 0:
		return decode.CtInfoNew
	case original:
		return decode.CtInfoEstablished
	case related:
		return decode.CtInfoRelatedReply
	}
	return decode.CtInfoEstablishedReply
}
