package nflogpcap

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/nflog-agent/nflog-agent/collector/internal/nflogtest"
)

// tlv is one NFLOG attribute; msg encodes a whole NFLOG message.
type tlv struct {
	Type uint16
	Val  []byte
}

var (
	msg        = nflogtest.Msg[tlv]
	u16, u32   = nflogtest.U16, nflogtest.U32
	cat        = nflogtest.Cat
	fullAttrs  = nflogtest.FullAttrs[tlv]
	fullRecord = nflogtest.FullRecord
	addrEqual  = nflogtest.AddrEqual
)

var le, be = binary.LittleEndian, binary.BigEndian

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
