package nflogmsg

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/nflog-agent/nflog-agent/decode"
)

var le, be = binary.LittleEndian, binary.BigEndian

// goodMessage is a well-formed message and the record it holds.
type goodMessage struct {
	name  string
	order binary.ByteOrder
	data  []byte
	want  decode.Record
}

func goodMessages() []goodMessage {
	return []goodMessage{
		{"all attributes", le, msg(le, decode.FamilyIPv4, 100, fullAttrs(le)...), fullRecord()},
		{"all attributes big-endian", be, msg(be, decode.FamilyIPv4, 100, fullAttrs(be)...), fullRecord()},
		{"header only", le, msg(le, decode.FamilyIPv6, 65535), decode.Record{Family: decode.FamilyIPv6, Group: 65535}},
		{
			"empty payload and prefix without NUL", le,
			msg(le, decode.FamilyIPv4, 1, tlv{9, nil}, tlv{10, []byte("ACCEPT ")}),
			decode.Record{Family: decode.FamilyIPv4, Group: 1, Payload: []byte{}, Prefix: "ACCEPT "},
		},
		{
			"last attribute unpadded", le,
			msg(le, decode.FamilyIPv4, 1, tlv{15, u16(1)})[:10],
			decode.Record{Family: decode.FamilyIPv4, Group: 1, HasHwType: true, HwType: 1},
		},
		{
			"hardware address of length 0 and 8", le,
			msg(le, 0, 1, tlv{8, make([]byte, 12)}, tlv{8, cat(u16(8), u16(0), []byte{1, 2, 3, 4, 5, 6, 7, 8})}),
			decode.Record{Group: 1, HwAddr: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		},
	}
}

func TestParseMessage(t *testing.T) {
	for _, tc := range goodMessages() {
		t.Run(tc.name, func(t *testing.T) {
			rec := decode.Record{Mark: 1, Prefix: "stale", Payload: []byte{1}}
			if err := new(Parser).Parse(tc.data, tc.order, &rec); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, rec, addrEqual); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMessageErrors(t *testing.T) {
	ok := msg(le, 2, 1, tlv{2, u32(1)})
	type test struct {
		name string
		data []byte
		want string
	}
	tests := []test{
		{"empty", nil, "nflog header: message is 0 bytes, want at least 4"},
		{"short header", []byte{2, 0, 0}, "nflog header: message is 3 bytes"},
		{"version 1", []byte{2, 1, 0, 1}, "nflog header: version 1, want 0"},
		{"trailing bytes", append(ok, 1, 2), "nflog tlv at offset 12: 2 bytes left"},
		{"tlv length 3", cat(ok, []byte{3, 0, 9, 0}), "nflog tlv at offset 12 (type 9): length 3 is shorter than the 4-byte tlv header"},
		{"tlv length 0", cat(ok, []byte{0, 0, 9, 0}), "offset 12 (type 9): length 0 is shorter"},
		{"tlv past the end", cat(ok, []byte{9, 0, 9, 0, 1, 2, 3, 4}), "nflog tlv at offset 12 (type 9): length 9 runs past the end of the 20-byte message"},
		{"hwaddr length 9", msg(le, 2, 1, tlv{8, cat(u16(9), make([]byte, 10))}), "nflog tlv at offset 4: NFULA_HWADDR: address length 9 exceeds 8"},
	}
	// Every fixed-size attribute, one byte short.
	for _, f := range []struct {
		typ  uint16
		name string
		size int
	}{
		{1, "PACKET_HDR", 4}, {2, "MARK", 4}, {3, "TIMESTAMP", 16}, {4, "IFINDEX_INDEV", 4},
		{5, "IFINDEX_OUTDEV", 4}, {6, "IFINDEX_PHYSINDEV", 4}, {7, "IFINDEX_PHYSOUTDEV", 4},
		{8, "HWADDR", 12}, {11, "UID", 4}, {12, "SEQ", 4}, {13, "SEQ_GLOBAL", 4}, {14, "GID", 4},
		{15, "HWTYPE", 2}, {17, "HWLEN", 2}, {19, "CT_INFO", 4},
	} {
		tests = append(tests, test{
			f.name + " one byte short", cat(ok, msg(le, 0, 0, tlv{f.typ, make([]byte, f.size-1)})[4:]),
			fmt.Sprintf("nflog tlv at offset 12: NFULA_%s: value is %d bytes, want %d", f.name, f.size-1, f.size),
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec decode.Record
			err := new(Parser).Parse(tc.data, le, &rec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// FuzzParseMessage checks that no input makes Parse panic and that the
// byte slices of a parsed record lie within the input.
func FuzzParseMessage(f *testing.F) {
	for _, tc := range goodMessages() {
		f.Add(tc.data, tc.order == be)
	}
	f.Add(msg(le, 2, 1, tlv{8, cat(u16(9), make([]byte, 10))}), false)
	f.Add([]byte{2, 0, 0, 1, 3, 0, 9, 0}, false)
	f.Fuzz(func(t *testing.T, data []byte, bigEndian bool) {
		order := binary.ByteOrder(le)
		if bigEndian {
			order = be
		}
		var rec decode.Record
		if new(Parser).Parse(data, order, &rec) != nil {
			return
		}
		for name, s := range map[string][]byte{
			"HwHeader": rec.HwHeader, "HwAddr": rec.HwAddr, "L2Header": rec.L2Header, "Payload": rec.Payload,
		} {
			if !within(s, data) {
				t.Errorf("%s (%d bytes) lies outside the %d-byte input", name, len(s), len(data))
			}
		}
	})
}

// within reports whether s, capacity included, lies inside data.
func within(s, data []byte) bool {
	if s == nil {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= start && p+uintptr(cap(s)) <= start+uintptr(len(data))
}

// A Parser hands out one string per prefix, and its cache stays bounded.
func TestParserPrefixCache(t *testing.T) {
	var p Parser
	var a, b decode.Record
	m := msg(le, 2, 1, tlv{10, []byte("DROP \x00")})
	if err := p.Parse(m, le, &a); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse(m, le, &b); err != nil {
		t.Fatal(err)
	}
	if a.Prefix != "DROP " || unsafe.StringData(a.Prefix) != unsafe.StringData(b.Prefix) {
		t.Errorf("prefixes %q and %q are not one string", a.Prefix, b.Prefix)
	}
	if n := testing.AllocsPerRun(100, func() { p.Parse(m, le, &a) }); n != 0 {
		t.Errorf("%v allocations per message with a known prefix", n)
	}
	for i := range 3 * maxPrefixes {
		p.Parse(msg(le, 2, 1, tlv{10, fmt.Appendf(nil, "RULE %d \x00", i)}), le, &a)
		if len(p.prefixes) > maxPrefixes {
			t.Fatalf("cache of %d prefixes", len(p.prefixes))
		}
	}
	if a.Prefix != fmt.Sprintf("RULE %d ", 3*maxPrefixes-1) {
		t.Errorf("prefix %q after the cache was emptied", a.Prefix)
	}
}
