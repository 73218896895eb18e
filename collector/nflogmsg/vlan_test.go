package nflogmsg

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/decode"
)

// TestVLANRecords replays NFLOG messages as the kernel sends them for
// VLAN-tagged frames — an 802.1Q and an 802.1ad hard header on an input
// device, and a bridged frame with NFULA_VLAN and NFULA_L2HDR — through
// the parser and the encoder: the events carry the VLAN ids and the MACs,
// and the message the kernel's MAC= dump.
func TestVLANRecords(t *testing.T) {
	macs := []byte{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01}
	dot1q := cat(macs, u16(0x8100), u16(0x0064), u16(0x0800))
	qinq := cat(macs, u16(0x88a8), u16(0x000a), u16(0x8100), u16(0x00c8), u16(0x0800))
	inbound := func(hw []byte) []byte {
		return msg(le, decode.FamilyIPv4, 100,
			tlv{1, []byte{0x08, 0x00, decode.HookPrerouting, 0}},
			tlv{4, u32(2)},
			tlv{9, fullRecord().Payload},
			tlv{10, []byte("VLAN \x00")},
			tlv{15, u16(1)},
			tlv{16, hw},
			tlv{17, u16(uint16(len(hw)))})
	}
	bridged := msg(le, decode.FamilyBridge, 100,
		tlv{1, []byte{0x08, 0x00, decode.HookForward, 0}},
		tlv{4, u32(2)},
		tlv{9, fullRecord().Payload},
		tlv{10, []byte("BR \x00")},
		tlv{0x8000 | 20, nested(le, tlv{1, u16(0x8100)}, tlv{2, u16(0x202a)})},
		tlv{21, cat(macs, u16(0x0800))})
	for _, c := range []struct {
		name         string
		data         []byte
		vlan, inner  any
		message, mac string
	}{
		{"802.1Q", inbound(dot1q), "100", nil, "MAC=02:00:00:00:00:02:02:00:00:00:00:01:81:00:00:64:08:00 ", "02:00:00:00:00:01"},
		{"802.1ad", inbound(qinq), "10", "200", "MAC=02:00:00:00:00:02:02:00:00:00:00:01:88:a8:00:0a:81:00:00:c8:08:00 ", "02:00:00:00:00:01"},
		{"bridge with NFULA_VLAN", bridged, "42", nil, "", "02:00:00:00:00:01"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r decode.Record
			if err := new(Parser).Parse(c.data, binary.LittleEndian, &r); err != nil {
				t.Fatal(err)
			}
			ev := decode.NewEncoder(decode.Options{}).Encode(&r)
			var m struct {
				Message string
				Network struct {
					VLAN  struct{ ID any } `json:"vlan"`
					Inner struct {
						VLAN struct{ ID any } `json:"vlan"`
					}
				}
				Source struct{ MAC string }
			}
			if err := json.Unmarshal(ev.JSON, &m); err != nil {
				t.Fatal(err)
			}
			if m.Network.VLAN.ID != c.vlan || m.Network.Inner.VLAN.ID != c.inner || m.Source.MAC != c.mac {
				t.Errorf("vlan %v inner %v source.mac %q, want %v %v %q\n%s", m.Network.VLAN.ID, m.Network.Inner.VLAN.ID,
					m.Source.MAC, c.vlan, c.inner, c.mac, ev.JSON)
			}
			if c.message != "" && !strings.Contains(m.Message, c.message) {
				t.Errorf("message %q lacks %q", m.Message, c.message)
			}
		})
	}
}
