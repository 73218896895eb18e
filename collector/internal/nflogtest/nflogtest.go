// Package nflogtest builds NFLOG messages, as the kernel sends them and
// LINKTYPE_NFLOG captures hold them, for the tests of the packages that read
// them.
package nflogtest

import (
	"bytes"
	"encoding/binary"
	"time"

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
	ctBlob   = []byte{0x08, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x2a}
	kernelTS = time.Unix(1700000000, 123456000).UTC()
)

// FullAttrs carries every attribute the parser reads, with NLA flags set on
// some types, plus VLAN, L2HDR and an unknown type that it must skip.
func FullAttrs[A TLV]() []A {
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
		{0x8000 | 18, ctBlob},
		{19, U32(2)},
		{0x8000 | 20, Cat(U16(4), U16(0x8100))},
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
		HasCtInfo: true, CtInfo: 2, Ct: ctBlob,
		Payload: tcpPayload,
	}
}
