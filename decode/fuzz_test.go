package decode

import (
	"encoding/binary"
	"encoding/json"
	"testing"
)

// FuzzEncode feeds arbitrary packets and attributes to the encoder: it must
// never panic, the line must respect the kernel's length limit, and the
// event must be valid JSON whose message is the line.
func FuzzEncode(f *testing.F) {
	for _, v := range loadKernelVectors(f) {
		r := v.record(f)
		f.Add(r.Payload, r.Prefix, uint8(FlagsAll), FamilyUnspec, r.HwHeader, uint16(1), true)
	}
	f.Add([]byte{0, 1, 8, 0, 6, 4, 0, 1}, "x DROP ", uint8(0x20), FamilyARP, []byte(nil), uint16(1), false)
	f.Add(ip6(0, []byte{135, 0, 0, 0, 0, 0, 0, 0}), "\xff\"", uint8(0x04), FamilyIPv6, []byte{1, 2}, uint16(772), true)
	f.Fuzz(func(t *testing.T, payload []byte, prefix string, flags, family uint8, hw []byte, hwType uint16, inbound bool) {
		r := Record{Family: family, Prefix: prefix, Payload: payload, HwHeader: hw, HasHwType: true, HwType: hwType,
			HasCtInfo: true, CtInfo: uint32(flags), HasUID: true, HasGID: true, L2Header: hw}
		_ = ParseConntrack(hw, binary.NativeEndian, &r.Ct)
		if inbound {
			r.InDev, r.InName = 1, prefix
		} else {
			r.OutDev, r.OutName = 1, "eth0"
		}
		ev := NewEncoder(Options{Flags: LogFlags(flags) & FlagsAll, Hostname: prefix}).Encode(&r)
		if len(ev.Message) > maxLineLen {
			t.Fatalf("line of %d characters", len(ev.Message))
		}
		var m map[string]any
		if err := json.Unmarshal(ev.JSON, &m); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, ev.JSON)
		}
		if m["message"] != asJSONString(ev.Message) {
			t.Fatalf("message %q is not the line %q", m["message"], ev.Message)
		}
		if err := checkMessageAt(&ev); err != nil {
			t.Fatal(err)
		}
	})
}
