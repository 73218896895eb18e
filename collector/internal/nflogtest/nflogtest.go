// Package nflogtest builds NFLOG messages, as the kernel sends them and
// LINKTYPE_NFLOG captures hold them, for the tests of the packages that read
// them.
package nflogtest

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nflog-agent/nflog-agent/decode"
)

// attr is one NFLOG attribute.
type attr = struct {
	Type uint16
	Val  []byte
}

// TLV is a test package's own attribute type, so that its literals can leave
// the field names out.
type TLV interface{ ~attr }

// Msg encodes a whole NFLOG message (a LINKTYPE_NFLOG packet) with the TLV
// headers in order.
func Msg[A TLV](order binary.ByteOrder, family uint8, group uint16, attrs ...A) []byte {
	ao := order.(binary.AppendByteOrder)
	b := []byte{family, 0, byte(group >> 8), byte(group)}
	for _, a := range attrs {
		a := attr(a)
		b = ao.AppendUint16(b, uint16(4+len(a.Val)))
		b = ao.AppendUint16(b, a.Type)
		b = append(b, a.Val...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

// U16 and U32 encode v in network byte order, as attribute values are.
func U16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func U32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// Cat joins parts.
func Cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	tcpPayload = []byte{
		0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
		10, 0, 0, 1, 10, 0, 0, 2,
		0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x72, 0x10, 0, 0, 0, 0,
	}
	hwHeader = []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	kernelTS = time.Unix(1700000000, 123456000).UTC()
)

// Nested encodes attributes as the value of a nested one.
func Nested[A TLV](order binary.ByteOrder, attrs ...A) []byte {
	return Msg(order, 0, 0, attrs...)[4:]
}

// ctAttrs is NFULA_CT for a TCP connection from 10.0.0.1:1234 to
// 10.0.0.2:80, source-NATed to 192.0.2.1:40000: its tuples, status, mark,
// zone and id, as ctnetlink nests them, and an unknown attribute.
func ctAttrs(order binary.ByteOrder) []byte {
	tuple := func(src, dst []byte, sport, dport uint16) []byte {
		return Nested(order,
			attr{0x8000 | 1, Nested(order, attr{1, src}, attr{2, dst})},
			attr{0x8000 | 2, Nested(order, attr{1, []byte{6}}, attr{2, U16(sport)}, attr{3, U16(dport)})})
	}
	return Nested(order,
		attr{0x8000 | 1, tuple([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}, 1234, 80)},
		attr{0x8000 | 2, tuple([]byte{10, 0, 0, 2}, []byte{192, 0, 2, 1}, 80, 40000)},
		attr{3, U32(0x1e)},
		attr{8, U32(7)},
		attr{18, U16(3)},
		attr{0x4000 | 12, U32(42)},
		attr{0x4000 | 60, []byte{1, 2, 3}},
	)
}

// ctEntry is ctAttrs decoded.
func ctEntry() decode.Conntrack {
	return decode.Conntrack{
		Present: true, HasID: true, HasMark: true, HasZone: true, HasStatus: true,
		ID: 42, Mark: 7, Zone: 3, Status: 0x1e,
		Orig: decode.CtTuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			Proto: 6, HasPorts: true, SrcPort: 1234, DstPort: 80},
		Reply: decode.CtTuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("192.0.2.1"),
			Proto: 6, HasPorts: true, SrcPort: 80, DstPort: 40000},
	}
}

// AddrEqual lets go-cmp compare the conntrack tuples' addresses.
var AddrEqual = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// FullAttrs carries every attribute the parser reads, with NLA flags set on
// some types, plus an unknown type that it must skip; the nested ones
// (NFULA_CT, NFULA_VLAN) have their headers in order too.
func FullAttrs[A TLV](order binary.ByteOrder) []A {
	return []A{
		{1, []byte{0x08, 0x00, decode.HookInput, 0}},
		{2, U32(0xdeadbeef)},
		{3, Cat(binary.BigEndian.AppendUint64(nil, uint64(kernelTS.Unix())), binary.BigEndian.AppendUint64(nil, 123456))},
		{4, U32(2)},
		{5, U32(3)},
		{6, U32(4)},
		{7, U32(5)},
		{8, Cat(U16(6), U16(0), []byte{2, 0, 0, 0, 0, 1, 0xee, 0xee})},
		{9, tcpPayload},
		{10, []byte("DROP in: \x00")},
		{11, U32(0)},
		{12, U32(7)},
		{13, U32(99)},
		{14, U32(1000)},
		{15, U16(1)},
		{16, hwHeader},
		{17, U16(14)},
		{0x8000 | 18, ctAttrs(order)},
		{19, U32(2)},
		{0x8000 | 20, Nested(order, attr{1, U16(0x8100)}, attr{2, U16(0x2064)})},
		{21, []byte{1, 2, 3, 4}},
		{0x4000 | 63, []byte{9}},
	}
}

// FullRecord is the record FullAttrs parse into, in a message of group 100
// and family IPv4.
func FullRecord() decode.Record {
	return decode.Record{
		Group: 100, Family: decode.FamilyIPv4,
		HasHook: true, Hook: decode.HookInput, HwProtocol: 0x0800,
		Prefix: "DROP in: ",
		InDev:  2, OutDev: 3, PhysInDev: 4, PhysOutDev: 5,
		HasHwType: true, HwType: 1, HwLen: 14,
		HwHeader: hwHeader, HwAddr: []byte{2, 0, 0, 0, 0, 1},
		Mark:   0xdeadbeef,
		HasUID: true, HasGID: true, UID: 0, GID: 1000,
		HasSeq: true, HasSeqGlobal: true, Seq: 7, SeqGlobal: 99,
		Timestamp: kernelTS,
		HasCtInfo: true, CtInfo: 2, Ct: ctEntry(),
		HasVLAN: true, VLANProto: 0x8100, VLANTCI: 0x2064, L2Header: []byte{1, 2, 3, 4},
		Payload: tcpPayload,
	}
}
