package nflogpcap

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/nflog-agent/nflog-agent/decode"
)

// tlv is one NFLOG attribute; msg encodes a whole LINKTYPE_NFLOG packet.
type tlv struct {
	typ uint16
	val []byte
}

func msg(order binary.ByteOrder, family uint8, group uint16, attrs ...tlv) []byte {
	ao := order.(binary.AppendByteOrder)
	b := []byte{family, 0, byte(group >> 8), byte(group)}
	for _, a := range attrs {
		b = ao.AppendUint16(b, uint16(4+len(a.val)))
		b = ao.AppendUint16(b, a.typ)
		b = append(b, a.val...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

// nested encodes attributes as the value of a nested one.
func nested(order binary.ByteOrder, attrs ...tlv) []byte {
	return msg(order, 0, 0, attrs...)[4:]
}

// ctAttrs is NFULA_CT for a TCP connection from 10.0.0.1:1234 to
// 10.0.0.2:80, source-NATed to 192.0.2.1:40000: its tuples, status, mark,
// zone and id, as ctnetlink nests them.
func ctAttrs(order binary.ByteOrder) []byte {
	tuple := func(src, dst []byte, sport, dport uint16) []byte {
		return nested(order,
			tlv{0x8000 | 1, nested(order, tlv{1, src}, tlv{2, dst})},
			tlv{0x8000 | 2, nested(order, tlv{1, []byte{6}}, tlv{2, u16(sport)}, tlv{3, u16(dport)})})
	}
	return nested(order,
		tlv{0x8000 | 1, tuple([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}, 1234, 80)},
		tlv{0x8000 | 2, tuple([]byte{10, 0, 0, 2}, []byte{192, 0, 2, 1}, 80, 40000)},
		tlv{3, u32(0x1e)},
		tlv{8, u32(7)},
		tlv{18, u16(3)},
		tlv{0x4000 | 12, u32(42)},
		tlv{0x4000 | 60, []byte{1, 2, 3}}, // unknown: skipped
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

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	tcpPayload = []byte{
		0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
		10, 0, 0, 1, 10, 0, 0, 2,
		0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x72, 0x10, 0, 0, 0, 0,
	}
	hwHeader = []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	kernelTS = time.Unix(1700000000, 123456000).UTC()
)

// fullAttrs carries every attribute ParseMessage reads, with NLA flags set on
// some types, plus VLAN, L2HDR and an unknown type that it must skip.
func fullAttrs(order binary.ByteOrder) []tlv {
	return []tlv{
		{1, []byte{0x08, 0x00, decode.HookInput, 0}},
		{2, u32(0xdeadbeef)},
		{3, cat(binary.BigEndian.AppendUint64(nil, uint64(kernelTS.Unix())), binary.BigEndian.AppendUint64(nil, 123456))},
		{4, u32(2)},
		{5, u32(3)},
		{6, u32(4)},
		{7, u32(5)},
		{8, cat(u16(6), u16(0), []byte{2, 0, 0, 0, 0, 1, 0xee, 0xee})},
		{9, tcpPayload},
		{10, []byte("DROP in: \x00")},
		{11, u32(0)},
		{12, u32(7)},
		{13, u32(99)},
		{14, u32(1000)},
		{15, u16(1)},
		{16, hwHeader},
		{17, u16(14)},
		{0x8000 | 18, ctAttrs(order)},
		{19, u32(2)},
		{0x8000 | 20, nested(order, tlv{1, u16(0x8100)}, tlv{2, u16(0x2064)})},
		{21, []byte{1, 2, 3, 4}},
		{0x4000 | 63, []byte{9}},
	}
}

func fullRecord() decode.Record {
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

// packet is one capture record: an NFLOG message and its capture time.
type packet struct {
	data []byte
	at   time.Time
	cut  int // bytes the capture dropped from the end of data
}

// format writes packets as a capture file of the given link type.
type format struct {
	name  string
	order binary.ByteOrder
	write func(t *testing.T, lt layers.LinkType, pkts []packet) []byte
}

var formats = []format{
	{"pcap", binary.LittleEndian, writePcap},
	{"pcapng", binary.LittleEndian, writePcapng},
	{"pcap-be", binary.BigEndian, writePcapBE},
	{"pcapng-be", binary.BigEndian, writePcapngBE},
}

func writePcap(t *testing.T, lt layers.LinkType, pkts []packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(262144, lt); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		data := p.data[:len(p.data)-p.cut]
		ci := gopacket.CaptureInfo{Timestamp: p.at, CaptureLength: len(data), Length: len(p.data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func writePcapng(t *testing.T, lt layers.LinkType, pkts []packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, lt)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		data := p.data[:len(p.data)-p.cut]
		ci := gopacket.CaptureInfo{Timestamp: p.at, CaptureLength: len(data), Length: len(p.data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pcapgo writes little-endian files only: the big-endian ones, as a
// big-endian host writes them, are built by hand.

func writePcapBE(t *testing.T, lt layers.LinkType, pkts []packet) []byte {
	be := binary.BigEndian
	b := be.AppendUint32(nil, 0xa1b2c3d4)
	b = be.AppendUint16(b, 2)
	b = be.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...) // thiszone, sigfigs
	b = be.AppendUint32(b, 262144)
	b = be.AppendUint32(b, uint32(lt))
	for _, p := range pkts {
		data := p.data[:len(p.data)-p.cut]
		b = be.AppendUint32(b, uint32(p.at.Unix()))
		b = be.AppendUint32(b, uint32(p.at.Nanosecond()/1000))
		b = be.AppendUint32(b, uint32(len(data)))
		b = be.AppendUint32(b, uint32(len(p.data)))
		b = append(b, data...)
	}
	return b
}

func writePcapngBE(t *testing.T, lt layers.LinkType, pkts []packet) []byte {
	return pcapngBE(lt, nil, pkts)
}

// pcapngBE writes a big-endian pcapng file with one interface, whose
// descriptor has the options idbOpts.
func pcapngBE(lt layers.LinkType, idbOpts []byte, pkts []packet) []byte {
	be := binary.BigEndian
	block := func(b []byte, typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		b = be.AppendUint32(b, typ)
		b = be.AppendUint32(b, uint32(12+len(body)))
		b = append(b, body...)
		return be.AppendUint32(b, uint32(12+len(body)))
	}
	shb := cat(u32(ngByteOrderMagic), u16(1), u16(0), binary.BigEndian.AppendUint64(nil, ^uint64(0)))
	b := block(nil, ngSectionHeader, shb)
	b = block(b, 1, cat(u16(uint16(lt)), u16(0), u32(0), idbOpts)) // µs timestamps unless idbOpts say otherwise
	for _, p := range pkts {
		data := p.data[:len(p.data)-p.cut]
		us := uint64(p.at.UnixMicro())
		epb := cat(u32(0), u32(uint32(us>>32)), u32(uint32(us)), u32(uint32(len(data))), u32(uint32(len(p.data))), data)
		b = block(b, 6, epb)
	}
	return b
}

// addrEqual lets cmp compare the conntrack tuples' addresses.
var addrEqual = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
