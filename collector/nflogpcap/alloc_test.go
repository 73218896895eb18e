package nflogpcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/nflog-agent/nflog-agent/decode"
)

// What reading a file may hold at once: memPerByte bytes per byte of the
// file, and memFixed for the read buffers (64 KiB and 4 KiB), one checked
// pcapng block and the packet buffer pcapgo sizes from the snap length (each
// at most maxBlock).
const (
	memPerByte = 4
	memFixed   = 1 << 20
)

// peakHeap reads every record of file and returns the most heap the reading
// can have held at once: what the Reader kept from one call to the next plus
// everything the call allocated. Garbage such as error messages counts only
// for the call that made it, and up to garbageSlack more.
func peakHeap(file []byte) (peak uint64, calls int) {
	const garbageSlack = 64 << 10 // collected only past this: a collection per call is slow
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	base, live := m.HeapAlloc, m.HeapAlloc
	step := func(f func()) {
		runtime.ReadMemStats(&m)
		if m.HeapAlloc > live+garbageSlack {
			runtime.GC()
			runtime.ReadMemStats(&m)
			live = m.HeapAlloc
		}
		kept := m.HeapAlloc - min(base, m.HeapAlloc)
		before := m.TotalAlloc
		f()
		runtime.ReadMemStats(&m)
		peak = max(peak, kept+m.TotalAlloc-before)
	}
	var r *Reader
	var err error
	step(func() { r, err = Open(bytes.NewReader(file)) })
	if err != nil {
		return peak, 0
	}
	var rec decode.Record
	for err != io.EOF {
		calls++
		step(func() { err = r.Next(&rec) })
	}
	return peak, calls
}

// checkMemory fails t if reading file holds more than a few times its size
// at once, or does not come to an end.
func checkMemory(t *testing.T, file []byte) {
	t.Helper()
	peak, calls := peakHeap(file)
	if limit := uint64(memPerByte*len(file) + memFixed); peak > limit {
		t.Errorf("reading the %d-byte file held up to %d bytes, more than %d", len(file), peak, limit)
	}
	if limit := len(file)/16 + 2; calls > limit { // a pcap record header has 16 bytes
		t.Errorf("%d Next calls for a %d-byte file, more than %d", calls, len(file), limit)
	}
}

func le32(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

// ngHead is a little-endian pcapng section header and NFLOG interface of
// snaplen.
func ngHead(snaplen uint32) []byte {
	shb := le32(ngSectionHeader, 28, ngByteOrderMagic, 1, 0xffffffff, 0xffffffff, 28)
	return cat(shb, le32(ngInterface, 20, uint32(LinkTypeNFLOG), snaplen, 20))
}

// ngEPB is an enhanced packet block holding data, with the options opts.
func ngEPB(data, opts []byte) []byte {
	padded := cat(data, make([]byte, (4-len(data)%4)%4))
	n := uint32(32 + len(padded) + len(opts))
	return cat(le32(ngEnhancedPacket, n, 0, 0, 0, uint32(len(data)), uint32(len(data))), padded, opts, le32(n))
}

// pcapHead is a little-endian pcap file header of snaplen and a record
// header of caplen.
func pcapHead(snaplen, caplen uint32) []byte {
	return le32(0xa1b2c3d4, 4<<16|2, 0, 0, snaplen, uint32(LinkTypeNFLOG), 0, 0, caplen, caplen)
}

const huge = 0xfffffff0

// craftedFile is a small capture whose length fields claim up to 4 GiB, and
// the error reading it must give (at Open or from Next).
type craftedFile struct {
	name, err string
	file      []byte
}

func craftedFiles() []craftedFile {
	good := msg(le, decode.FamilyIPv4, 100, fullAttrs(le)...)
	nrb := cat(le32(4, 1016, 1|996<<16), make([]byte, 996), le32(0, 1016)) // an IPv4 name record of 992 empty names
	return []craftedFile{
		{"pcapng packet of 4 GiB", "record 1: pcapng block of type 0x6 at byte 48: 4294967280 captured bytes in a 32-byte block",
			cat(ngHead(0), le32(ngEnhancedPacket, 32, 0, 0, 0, huge, huge, 32))},
		{"pcapng block of 4 GiB", "record 1: pcapng block of type 0x6 at byte 48: length 4294967280",
			cat(ngHead(0), le32(ngEnhancedPacket, huge, 0, 0, 0, 4, 4, 0, huge))},
		{"pcapng packet longer than its block", "record 1: pcapng block of type 0x6 at byte 48: 200000 captured bytes in a 36-byte block",
			cat(ngHead(0), le32(ngEnhancedPacket, 36, 0, 0, 0, 200000, 200000, 0, 36), make([]byte, 64))},
		{"pcapng obsolete packet of 4 GiB", "record 1: pcapng block of type 0x2 at byte 48: 4294967280 captured bytes in a 32-byte block",
			cat(ngHead(0), le32(ngPacket, 32, 0, 0, 0, huge, huge, 32))},
		{"pcapng simple packet of 4 GiB", "record 1: pcapng block of type 0x3 at byte 48: 262144 captured bytes in a 16-byte block",
			cat(ngHead(0), le32(ngSimplePacket, 16, huge, 16))},
		{"pcapng snap length of 4 GiB", "", cat(ngHead(huge), ngEPB(good, nil))},
		{"pcapng section of 4 GiB", "capture file header: pcapng block of type 0xa0d0d0a at byte 0: length 4294967280",
			le32(ngSectionHeader, huge, ngByteOrderMagic, 1, 0xffffffff, 0xffffffff, 28)},
		{"pcapng option of 64 KiB", "record 1: pcapng block of type 0x6 at byte 48: option 1 of 65535 bytes runs past the end of the block",
			cat(ngHead(0), ngEPB(nil, le32(1|0xffff<<16)))},
		{"pcapng interface option of 64 KiB", "capture file header: pcapng block of type 0x1 at byte 28: option 2 of 65535 bytes runs past the end of the block",
			cat(ngHead(0)[:28], le32(ngInterface, 24, uint32(LinkTypeNFLOG), 0, 2|0xffff<<16, 24))},
		{"pcapng packet with 4000 comments", "record 1: pcapng block of type 0x6 at byte 48: more than 16 options",
			cat(ngHead(0), ngEPB(good, cat(bytes.Repeat(le32(1), 4000), le32(0))))},
		{"pcapng 1000 interfaces", "record 1: pcapng block of type 0x1 at byte 1308: more than 64 interfaces in the section",
			cat(ngHead(0), bytes.Repeat(le32(ngInterface, 20, uint32(LinkTypeNFLOG), 0, 20), 999), ngEPB(good, nil))},
		{"pcapng 100 name resolution blocks, skipped", "", cat(ngHead(0), bytes.Repeat(nrb, 100), ngEPB(good, nil))},
		{"pcap snap length of 4 GiB", "", cat(pcapHead(huge, uint32(len(good))), good)},
		{"pcap record of 4 GiB", "record 1: capture length exceeds snap length: 4294967280 > 262144", pcapHead(0, huge)},
		{"pcap record of 200 KB in a 44-byte file", "record 1: capture file cut short", cat(pcapHead(0, 200000), []byte{1, 2, 3, 4})},
	}
}

// TestReaderCraftedLengths reads captures whose length fields claim up to 4
// GiB: each gives its error, or its record, and none makes the Reader hold
// more than a few times the file's size.
func TestReaderCraftedLengths(t *testing.T) {
	for _, c := range craftedFiles() {
		t.Run(c.name, func(t *testing.T) {
			checkMemory(t, c.file)
			err := readErr(c.file)
			if fmt.Sprint(err) != fmt.Sprint(c.err) && !(err == nil && c.err == "") {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}

// readErr returns the first error that reading file gives.
func readErr(file []byte) error {
	r, err := Open(bytes.NewReader(file))
	if err != nil {
		return err
	}
	var rec decode.Record
	for {
		switch err := r.Next(&rec); err {
		case io.EOF:
			return nil
		case nil:
		default:
			return err
		}
	}
}

// FuzzReader checks that no capture file makes the Reader panic, loop, or
// hold more than a few times the file's size.
func FuzzReader(f *testing.F) {
	for _, c := range craftedFiles() {
		f.Add(c.file)
	}
	f.Add(kernelCapture)
	for _, format := range formats {
		full := msg(format.order, decode.FamilyIPv4, 100, fullAttrs(format.order)...)
		f.Add(format.write(&testing.T{}, LinkTypeNFLOG, []packet{{data: full, at: t1}, {data: full, at: t2, cut: 10}}))
	}
	f.Fuzz(checkMemory)
}
