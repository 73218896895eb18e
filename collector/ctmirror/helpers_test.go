package ctmirror

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/decode"
)

// conn is one test connection: its tuples as conntrack would hold them.
type conn struct {
	id          uint32
	proto       uint8
	orig, reply [2]netip.AddrPort // source, destination
	status      uint32
}

// snatConn is a client behind a masquerade to a server.
func snatConn(id uint32, client netip.AddrPort) conn {
	server := netip.MustParseAddrPort("198.51.100.7:443")
	public := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.1"), client.Port()+1)
	return conn{id: id, proto: protoTCP, orig: [2]netip.AddrPort{client, server}, reply: [2]netip.AddrPort{server, public},
		status: decode.CtStatusConfirmed | decode.CtStatusSrcNAT}
}

// ctnlMessage encodes a ctnetlink message for c as the kernel sends its
// events and dump answers: nlmsghdr, nfgenmsg, then the CTA_* attributes.
func ctnlMessage(tb testing.TB, typ uint16, flags netlink.HeaderFlags, c conn) []byte {
	tb.Helper()
	tuple := func(ae *netlink.AttributeEncoder, t [2]netip.AddrPort) {
		ae.Nested(1, func(ae *netlink.AttributeEncoder) error {
			ae.Bytes(1, t[0].Addr().AsSlice())
			ae.Bytes(2, t[1].Addr().AsSlice())
			return nil
		})
		ae.Nested(2, func(ae *netlink.AttributeEncoder) error {
			ae.Uint8(1, c.proto)
			ae.ByteOrder = binary.BigEndian
			if c.proto == protoICMP {
				ae.Uint16(4, t[0].Port())
				ae.Uint8(5, 8)
				ae.Uint8(6, 0)
			} else {
				ae.Uint16(2, t[0].Port())
				ae.Uint16(3, t[1].Port())
			}
			return nil
		})
	}
	ae := netlink.NewAttributeEncoder()
	ae.Nested(1, func(ae *netlink.AttributeEncoder) error { tuple(ae, c.orig); return nil })
	ae.Nested(2, func(ae *netlink.AttributeEncoder) error { tuple(ae, c.reply); return nil })
	ae.ByteOrder = binary.BigEndian
	ae.Uint32(3, c.status)
	ae.Uint32(7, 120)
	ae.Uint32(12, c.id)
	attrs, err := ae.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	data := append([]byte{unix.AF_INET, 0, 0, 0}, attrs...)
	m := netlink.Message{Header: netlink.Header{Length: uint32(unix.NLMSG_HDRLEN + len(data)),
		Type: netlink.HeaderType(typ), Flags: flags}, Data: data}
	b, err := m.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ip4Packet is an IPv4 packet of proto from src to dst with a transport
// header: ports, or an ICMP echo (typ 8 or 0) with the ports' id.
func ip4Packet(proto uint8, src, dst netip.AddrPort, icmpType uint8) []byte {
	p := make([]byte, 20+20)
	p[0], p[9] = 0x45, proto
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	copy(p[12:], src.Addr().AsSlice())
	copy(p[16:], dst.Addr().AsSlice())
	if proto == protoICMP {
		p[20] = icmpType
		binary.BigEndian.PutUint16(p[24:], src.Port())
	} else {
		binary.BigEndian.PutUint16(p[20:], src.Port())
		binary.BigEndian.PutUint16(p[22:], dst.Port())
	}
	return p
}

// newTestMirror is a Mirror without a socket, fed with apply.
func newTestMirror(max int) *Mirror {
	return &Mirror{t: newTable(max), now: time.Now}
}

func (m *Mirror) feed(tb testing.TB, msgs ...[]byte) {
	tb.Helper()
	m.applyDatagram(bytes.Join(msgs, nil))
}
