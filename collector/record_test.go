package collector

import (
	"testing"
	"time"

	nflog "github.com/florianl/go-nflog/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/nflog-agent/nflog-agent/decode"
)

type fakeNames map[uint32]string

func (f fakeNames) Name(i uint32) string { return f[i] }

func ptr[T any](v T) *T { return &v }

// Values as go-nflog returned them for a TCP SYN logged at prerouting on a
// veth (captured in the lab).
func TestToRecord(t *testing.T) {
	ts := time.Unix(1700000000, 123456000)
	now := time.Unix(1700000001, 0)
	payload := []byte{0x45, 0, 0, 40}
	hw := []byte{0x7e, 0xf5, 0x28, 0x31, 0xe5, 0xb7, 0x5e, 0x54, 0xd5, 0xd9, 0x57, 0x5d, 0x08, 0x00}
	a := nflog.Attribute{
		Hook: ptr(uint8(0)), HwProtocol: ptr(uint16(0x0800)), Prefix: ptr("DROP "),
		InDev: ptr(uint32(2)), HwType: ptr(uint16(1)), HwLen: ptr(uint16(14)), HwHeader: &hw, HwAddr: ptr(hw[6:12]),
		Mark: ptr(uint32(0x10)), UID: ptr(uint32(0)), GID: ptr(uint32(5)), Seq: ptr(uint32(7)),
		Timestamp: &ts, Payload: &payload,
	}
	got := toRecord(&a, 100, fakeNames{2: "eth0"}, now)
	want := decode.Record{
		Group: 100, Family: decode.FamilyIPv4, HasHook: true, Hook: 0, HwProtocol: 0x0800, Prefix: "DROP ",
		InDev: 2, InName: "eth0", HasHwType: true, HwType: 1, HwLen: 14, HwHeader: hw, HwAddr: hw[6:12],
		Mark: 0x10, HasUID: true, UID: 0, HasGID: true, GID: 5, HasSeq: true, Seq: 7,
		Timestamp: ts, ReceivedAt: now, Payload: payload,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("record (-want +got):\n%s", d)
	}

	// Nothing but the header: all absent, no names looked up for index 0.
	empty := toRecord(&nflog.Attribute{HwProtocol: ptr(uint16(0x86dd))}, 5, fakeNames{0: "bogus"}, now)
	if d := cmp.Diff(decode.Record{Group: 5, Family: decode.FamilyIPv6, HwProtocol: 0x86dd, ReceivedAt: now}, empty); d != "" {
		t.Errorf("empty record (-want +got):\n%s", d)
	}
}
