package nflogpcap

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/nflog-agent/nflog-agent/decode"
)

var (
	t1 = time.Unix(1700000001, 250000000).UTC()
	t2 = time.Unix(1700000002, 500000000).UTC()
	t3 = time.Unix(1700000003, 750000000).UTC()
)

// result is what one Next call gave: a record or an error.
type result struct {
	rec decode.Record
	err string
}

// readAll opens file and calls Next until io.EOF, then once more to check
// that io.EOF sticks.
func readAll(t *testing.T, file []byte) []result {
	t.Helper()
	r, err := Open(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var got []result
	for range 100 {
		var rec decode.Record
		err := r.Next(&rec)
		switch {
		case err == io.EOF:
			if err := r.Next(&rec); err != io.EOF {
				t.Errorf("Next after io.EOF: %v", err)
			}
			return got
		case err != nil:
			got = append(got, result{err: err.Error()})
		default:
			rec.HwHeader = bytes.Clone(rec.HwHeader) // the Reader reuses its buffer
			rec.HwAddr = bytes.Clone(rec.HwAddr)
			rec.L2Header = bytes.Clone(rec.L2Header)
			rec.Payload = bytes.Clone(rec.Payload)
			got = append(got, result{rec: rec})
		}
	}
	t.Fatal("Next never returned io.EOF")
	return nil
}

func checkResults(t *testing.T, got, want []result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if want[i].err != "" {
			if !strings.Contains(got[i].err, want[i].err) {
				t.Errorf("result %d: error %q, want it to contain %q", i+1, got[i].err, want[i].err)
			}
			continue
		}
		if got[i].err != "" {
			t.Errorf("result %d: unexpected error %s", i+1, got[i].err)
		} else if diff := cmp.Diff(want[i].rec, got[i].rec, addrEqual); diff != "" {
			t.Errorf("result %d (-want +got):\n%s", i+1, diff)
		}
	}
}

func received(rec decode.Record, at time.Time) decode.Record {
	rec.ReceivedAt = at
	return rec
}

func TestReader(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			full := msg(f.order, decode.FamilyIPv4, 100, fullAttrs(f.order)...)
			// The second record has almost nothing: no field may leak into
			// it from the first.
			bare := msg(f.order, decode.FamilyIPv6, 7, tlv{10, []byte("x\x00")})
			file := f.write(t, LinkTypeNFLOG, []packet{{data: full, at: t1}, {data: bare, at: t2}, {data: full, at: t3}})
			checkResults(t, readAll(t, file), []result{
				{rec: received(fullRecord(), t1)},
				{rec: decode.Record{Family: decode.FamilyIPv6, Group: 7, Prefix: "x", ReceivedAt: t2}},
				{rec: received(fullRecord(), t3)},
			})
		})
	}
}

func TestReaderEmptyCapture(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			if got := readAll(t, f.write(t, LinkTypeNFLOG, nil)); len(got) != 0 {
				t.Errorf("got %+v, want nothing", got)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	const wantNFLOG = ", want 239 (NFLOG, as tcpdump -i nflog:GROUP writes)"
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a pcap or pcapng file: only 0 bytes"},
		{"text", []byte("this is not a capture file\n"), "not a pcap or pcapng file: magic number 0x73696874"},
		{"pcap header cut", writePcap(t, LinkTypeNFLOG, nil)[:20], "not a pcap or pcapng file: only 20 bytes"},
		{"pcapng without interface", writePcapng(t, LinkTypeNFLOG, nil)[:28], "capture file header: unexpected EOF"},
		{"pcap, 16-bit link type", withLinkType(writePcap(t, LinkTypeNFLOG, nil), 20, 276), "capture has link type 276" + wantNFLOG},
		{"pcap, link type 239+256", withLinkType(writePcap(t, LinkTypeNFLOG, nil), 20, 495), "capture has link type 495" + wantNFLOG},
		{"pcapng, 16-bit link type", withLinkType(writePcapng(t, LinkTypeNFLOG, nil), ngSHBLen(t)+8, 276), "capture has link type 276" + wantNFLOG},
	}
	for _, f := range formats {
		tests = append(tests, struct {
			name string
			file []byte
			want string
		}{f.name + " ethernet", f.write(t, layers.LinkTypeEthernet, nil), "capture has link type 1" + wantNFLOG})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.file))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// withLinkType patches the little-endian link type at off of a file that
// pcapgo, whose link types have 8 bits, wrote.
func withLinkType(file []byte, off int, lt uint16) []byte {
	le.PutUint16(file[off:], lt)
	return file
}

// ngSHBLen is the length of the section header block pcapgo writes.
func ngSHBLen(t *testing.T) int {
	return int(le.Uint32(writePcapng(t, LinkTypeNFLOG, nil)[4:]))
}

func TestReaderBrokenRecord(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			good := msg(f.order, decode.FamilyIPv4, 100, fullAttrs(f.order)...)
			bad := msg(f.order, decode.FamilyIPv4, 100, tlv{2, []byte{1, 2}}) // 2-byte mark
			file := f.write(t, LinkTypeNFLOG, []packet{
				{data: good, at: t1},
				{data: bad, at: t2},
				{data: good, at: t2, cut: 10}, // snap length cut the payload
				{data: good, at: t3},
			})
			checkResults(t, readAll(t, file), []result{
				{rec: received(fullRecord(), t1)},
				{err: "record 2: nflog tlv at offset 4: NFULA_MARK: value is 2 bytes, want 4"},
				{err: fmt.Sprintf("record 3: nflog tlv at offset %d (type 21): length 8 runs past the end of the %d-byte message (the capture kept %[2]d of its %d bytes)", len(good)-16, len(good)-10, len(good))},
				{rec: received(fullRecord(), t3)},
			})
		})
	}
}

// TestReaderTruncated cuts the file at every byte of its last record.
func TestReaderTruncated(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			full := msg(f.order, decode.FamilyIPv4, 100, fullAttrs(f.order)...)
			two := f.write(t, LinkTypeNFLOG, []packet{{data: full, at: t1}, {data: full, at: t2}})
			three := f.write(t, LinkTypeNFLOG, []packet{{data: full, at: t1}, {data: full, at: t2}, {data: full, at: t3}})
			if !bytes.HasPrefix(three, two) {
				t.Fatal("the third record does not extend the two-record file")
			}
			first2 := []result{{rec: received(fullRecord(), t1)}, {rec: received(fullRecord(), t2)}}
			for cut := len(two) + 1; cut < len(three); cut++ {
				checkResults(t, readAll(t, three[:cut]), append(first2, result{err: "record 3: capture file cut short"}))
			}
		})
	}
}

// TestReaderTrailingStatistics reads a pcapng file that ends with interface
// statistics, as dumpcap writes it, whole and cut short.
func TestReaderTrailingStatistics(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, LinkTypeNFLOG)
	if err != nil {
		t.Fatal(err)
	}
	full := msg(le, decode.FamilyIPv4, 100, fullAttrs(le)...)
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t1, CaptureLength: len(full), Length: len(full)}, full); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	withPacket := buf.Len()
	if err := w.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{LastUpdate: t2, PacketsReceived: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	checkResults(t, readAll(t, file), []result{{rec: received(fullRecord(), t1)}})
	checkResults(t, readAll(t, file[:withPacket+9]), []result{
		{rec: received(fullRecord(), t1)},
		{err: "record 2: capture file cut short"},
	})
}

// TestReaderMalformedPcapng checks that an interface timestamp resolution of
// 2^-64, on which pcapgo once divided by zero, gives an error, whether the
// interface comes first or after some records.
func TestReaderMalformedPcapng(t *testing.T) {
	const want = "Timestamp resolution 2^-64 is too high"
	tsresol := cat(u16(9), u16(1), []byte{0x80 | 64, 0, 0, 0}, u32(0)) // if_tsresol, opt_endofopt
	full := msg(be, decode.FamilyIPv4, 100, fullAttrs(be)...)
	file := pcapngBE(LinkTypeNFLOG, tsresol, []packet{{data: full, at: t1}})
	if _, err := Open(bytes.NewReader(file)); err == nil || err.Error() != "capture file header: "+want {
		t.Errorf("Open: error %v, want %q", err, want)
	}

	// The same interface descriptor block between two records of a good file.
	idb := file[28 : 28+32]
	one := pcapngBE(LinkTypeNFLOG, nil, []packet{{data: full, at: t1}})
	two := pcapngBE(LinkTypeNFLOG, nil, []packet{{data: full, at: t1}, {data: full, at: t2}})
	file = cat(one, idb, two[len(one):])
	checkResults(t, readAll(t, file), []result{{rec: received(fullRecord(), t1)}, {err: "record 2: " + want}})
}

// kernelCapture is a real capture: in a network namespace, `tcpdump -i
// nflog:5 -w` (tcpdump 4.99.3, libpcap 1.10.3, Linux 6.18, x86-64) while the
// nft rules `udp dport 9999 meta mark set 42 log prefix "UDP " group 5` and
// `tcp dport 81 log prefix "TCP OUT " group 5` in an output chain logged a
// UDP datagram to 127.0.0.1, one to ::1 and a TCP SYN to 127.0.0.1.
var kernelCapture = []byte{
	0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x04, 0x00, 0xef, 0x00, 0x00, 0x00, 0xd6, 0xd9, 0x0c, 0x6b, 0xcd, 0x8b, 0x03, 0x00,
	0x60, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x05, 0x08, 0x00, 0x01, 0x00,
	0x08, 0x00, 0x03, 0x00, 0x09, 0x00, 0x0a, 0x00, 0x55, 0x44, 0x50, 0x20, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x2a,
	0x08, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x26, 0x00, 0x09, 0x00, 0x45, 0x00, 0x00, 0x22, 0x84, 0xd5, 0x40, 0x00, 0x40, 0x11, 0xb7, 0xf3,
	0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x87, 0x90, 0x27, 0x0f, 0x00, 0x0e, 0xfe, 0x21,
	0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0x00, 0x00, 0xd6, 0xd9, 0x0c, 0x6b, 0x3c, 0x9b, 0x03, 0x00,
	0x74, 0x00, 0x00, 0x00, 0x74, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x05, 0x08, 0x00, 0x01, 0x00,
	0x86, 0xdd, 0x03, 0x00, 0x09, 0x00, 0x0a, 0x00, 0x55, 0x44, 0x50, 0x20, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x2a,
	0x08, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x3a, 0x00, 0x09, 0x00, 0x60, 0x0e, 0xe7, 0x3f, 0x00, 0x0e, 0x11, 0x40, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xdb, 0x55, 0x27, 0x0f,
	0x00, 0x0e, 0x00, 0x21, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0x00, 0x00, 0xd6, 0xd9, 0x0c, 0x6b,
	0x41, 0x9b, 0x03, 0x00, 0x74, 0x00, 0x00, 0x00, 0x74, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x05,
	0x08, 0x00, 0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x0d, 0x00, 0x0a, 0x00, 0x54, 0x43, 0x50, 0x20,
	0x4f, 0x55, 0x54, 0x20, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x40, 0x00, 0x09, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x11, 0xae, 0x40, 0x00, 0x40, 0x06, 0x2b, 0x0c,
	0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0xc2, 0xba, 0x00, 0x51, 0x86, 0x36, 0x16, 0x48,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xff, 0xd7, 0xfe, 0x30, 0x00, 0x00, 0x02, 0x04, 0xff, 0xd7,
	0x04, 0x02, 0x08, 0x0a, 0x0f, 0xdb, 0x11, 0xdc, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
}

func TestReaderKernelCapture(t *testing.T) {
	got := readAll(t, kernelCapture)
	base := decode.Record{
		Group: 5, Family: decode.FamilyIPv4, HasHook: true, Hook: decode.HookOutput, HwProtocol: 0x0800,
		Prefix: "UDP ", OutDev: 1, Mark: 42, HasUID: true, HasGID: true,
	}
	want := []decode.Record{base, base, base}
	want[0].ReceivedAt = time.Unix(1796004310, 232397000).UTC()
	want[1].Family, want[1].HwProtocol = decode.FamilyIPv6, 0x86dd
	want[1].ReceivedAt = time.Unix(1796004310, 236348000).UTC()
	want[2].Prefix, want[2].Mark = "TCP OUT ", 0
	want[2].ReceivedAt = time.Unix(1796004310, 236353000).UTC()
	wantPayload := []int{34, 54, 60}
	for i := range got {
		if n := len(got[i].rec.Payload); i < len(wantPayload) && n != wantPayload[i] {
			t.Errorf("record %d: %d payload bytes, want %d", i+1, n, wantPayload[i])
		}
		got[i].rec.Payload = nil
	}
	checkResults(t, got, []result{{rec: want[0]}, {rec: want[1]}, {rec: want[2]}})
}
