package nflogpcap

import (
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/decode"
)

// TestReaderSkipsUnusedBlocks reads a pcapng file with a name resolution
// block and a custom block between its records, and a second section: the
// Reader gives every record.
func TestReaderSkipsUnusedBlocks(t *testing.T) {
	full := msg(le, decode.FamilyIPv4, 100, fullAttrs(le)...)
	nrb := le32(4, 28, 1|8<<16, 0x0100000a, 'a'|'b'<<8, 0, 28) // 10.0.0.1 "ab", end of records
	custom := le32(0x00000bad, 16, 0x12345678, 16)
	file := cat(ngHead(0), ngEPB(full, nil), nrb, custom, ngEPB(full, nil), ngHead(0), ngEPB(full, nil))
	rec := received(fullRecord(), time.Unix(0, 0).UTC())
	checkResults(t, readAll(t, file), []result{{rec: rec}, {rec: rec}, {rec: rec}})
}

// TestReaderMalformedBlocks checks the errors for pcapng blocks that do not
// hold together, named by their type and offset.
func TestReaderMalformedBlocks(t *testing.T) {
	full := msg(le, decode.FamilyIPv4, 100, fullAttrs(le)...)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"byte-order magic", le32(ngSectionHeader, 28, 0x01020304, 1, 0, 0, 28),
			"capture file header: pcapng block of type 0xa0d0d0a at byte 0: byte-order magic 0x04030201"},
		{"lengths at start and end differ", cat(ngHead(0), le32(ngEnhancedPacket, 32, 0, 0, 0, 0, 0, 36)),
			"record 1: pcapng block of type 0x6 at byte 48: length 32 at its start, 36 at its end"},
		{"length not a multiple of 4", cat(ngHead(0), le32(ngEnhancedPacket, 34, 0, 0, 0, 0, 0, 34)),
			"record 1: pcapng block of type 0x6 at byte 48: length 34"},
		{"packet block too short", cat(ngHead(0), le32(ngEnhancedPacket, 28, 0, 0, 0, 0, 28)),
			"record 1: pcapng block of type 0x6 at byte 48: too short"},
		{"interface block too short", cat(ngHead(0), le32(ngInterface, 16, uint32(LinkTypeNFLOG), 16)),
			"record 1: pcapng block of type 0x1 at byte 48: too short"},
		{"statistics block too short", cat(ngHead(0), ngEPB(full, nil), le32(ngStatistics, 20, 0, 0, 20), ngEPB(full, nil)),
			"record 2: pcapng block of type 0x5 at byte"},
		{"section header too short", cat(ngHead(0), ngEPB(full, nil), le32(ngSectionHeader, 24, ngByteOrderMagic, 1, 0, 24)),
			"record 2: pcapng block of type 0xa0d0d0a at byte"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := readErr(tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
