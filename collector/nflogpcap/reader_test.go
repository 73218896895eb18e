package nflogpcap

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
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
			rec.Ct = bytes.Clone(rec.Ct)
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
		} else if diff := cmp.Diff(want[i].rec, got[i].rec); diff != "" {
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
			full := msg(f.order, decode.FamilyIPv4, 100, fullAttrs()...)
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
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a pcap or pcapng file: only 0 bytes"},
		{"text", []byte("this is not a capture file\n"), "not a pcap or pcapng file: magic number 0x73696874"},
		{"pcap header cut", writePcap(t, LinkTypeNFLOG, nil)[:20], "pcap header: unexpected EOF"},
		{"pcapng without interface", writePcapng(t, LinkTypeNFLOG, nil)[:28], "pcapng header: EOF"},
	}
	for _, f := range formats {
		tests = append(tests, struct {
			name string
			file []byte
			want string
		}{f.name + " ethernet", f.write(t, layers.LinkTypeEthernet, nil), "capture has link type 1 (Ethernet), want 239 (NFLOG)"})
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

func TestReaderBrokenRecord(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			good := msg(f.order, decode.FamilyIPv4, 100, fullAttrs()...)
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
			full := msg(f.order, decode.FamilyIPv4, 100, fullAttrs()...)
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
	full := msg(le, decode.FamilyIPv4, 100, fullAttrs()...)
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

// TestReaderMalformedPcapng checks that files on which pcapgo panics give an
// error: an interface timestamp resolution of 2^-64 makes it divide by zero,
// whether the interface comes first or after some records.
func TestReaderMalformedPcapng(t *testing.T) {
	const want = "malformed capture file: runtime error: integer divide by zero"
	tsresol := cat(u16(9), u16(1), []byte{0x80 | 64, 0, 0, 0}, u32(0)) // if_tsresol, opt_endofopt
	full := msg(be, decode.FamilyIPv4, 100, fullAttrs()...)
	file := pcapngBE(LinkTypeNFLOG, tsresol, []packet{{data: full, at: t1}})
	if _, err := Open(bytes.NewReader(file)); err == nil || err.Error() != want {
		t.Errorf("Open: error %v, want %q", err, want)
	}

	// The same interface descriptor block between two records of a good file.
	idb := file[28 : 28+32]
	one := pcapngBE(LinkTypeNFLOG, nil, []packet{{data: full, at: t1}})
	two := pcapngBE(LinkTypeNFLOG, nil, []packet{{data: full, at: t1}, {data: full, at: t2}})
	file = cat(one, idb, two[len(one):])
	checkResults(t, readAll(t, file), []result{{rec: received(fullRecord(), t1)}, {err: "record 2: " + want}})
}
