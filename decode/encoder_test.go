package decode

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/ship/spool"
)

func TestActionFromPrefix(t *testing.T) {
	cases := map[string]string{
		"INPUT DFLT DROP ":           "DROP",
		"DA->FEDERATEUR ACCEPT ":     "ACCEPT",
		"INTERNET SPOOFING DROP  ":   "DROP",
		"IPTABLES: ACCEPT ":          "ACCEPT",
		" DROP ":                     "DROP",
		"[ 1234.567890] Drop_42 ":    "Drop_42",
		"IPTABLES ":                  "", // single token: nothing precedes it
		"DROP ":                      "",
		"IPTables: Dropped: ":        "", // the colon ends the word
		"A\tDROP ":                   "", // a tab is not the literal space
		"DROP":                       "", // no whitespace before IN=
		"x foo-DROP ":                "",
		"x BLOCK] ":                  "",
		"":                           "",
		"x DROP\t":                   "DROP",
		"netfilter drop tcp INPUT  ": "INPUT",
	}
	for prefix, want := range cases {
		if got := actionFromPrefix(prefix); got != want {
			t.Errorf("actionFromPrefix(%q) = %q, want %q", prefix, got, want)
		}
	}
}

// encodeMap encodes r and returns the event as generic JSON.
func encodeMap(t *testing.T, opts Options, r *Record) map[string]any {
	t.Helper()
	ev := NewEncoder(opts).Encode(r)
	m := decodeJSON(t, ev.JSON)
	if m["message"] != asJSONString(ev.Message) {
		t.Errorf("message field %q differs from the event's Message %q", m["message"], ev.Message)
	}
	if err := checkMessageAt(&ev); err != nil {
		t.Error(err)
	}
	return m
}

// checkMessageAt checks that an event whose MessageAt is set has its
// Message there in its JSON, between the quotes of the message field.
func checkMessageAt(ev *spool.Event) error {
	at, end := ev.MessageAt, ev.MessageAt+len(ev.Message)
	switch {
	case at == 0:
		return nil
	case end >= len(ev.JSON) || ev.JSON[at-1] != '"' || ev.JSON[end] != '"':
		return fmt.Errorf("MessageAt %d: not a whole string of the %d-byte document", at, len(ev.JSON))
	case !bytes.Equal(ev.JSON[at:end], ev.Message):
		return fmt.Errorf("MessageAt %d: %q in the document, Message %q", at, ev.JSON[at:end], ev.Message)
	}
	return nil
}

// Events of the usual kind (a prefix and interface names that need no
// escaping) hold their kernel line once: Message is a part of the JSON.
func TestMessageIsAPartOfTheDocument(t *testing.T) {
	enc := NewEncoder(Options{Hostname: "fw1"})
	for _, r := range append(benchRecords(t), conntrackRecords(t)...) {
		ev := enc.Encode(&r)
		if ev.MessageAt == 0 {
			t.Fatalf("Message of %q is not located in the document", ev.Message)
		}
		if err := checkMessageAt(&ev); err != nil {
			t.Fatal(err)
		}
	}
	r := benchRecords(t)[0]
	r.Prefix = `say "hi" `
	if ev := enc.Encode(&r); ev.MessageAt != 0 {
		t.Fatalf("MessageAt %d for a line the document escapes", ev.MessageAt)
	}
}

// asJSONString is what encoding/json makes of b as a string: invalid UTF-8
// bytes become U+FFFD one by one.
func asJSONString(b []byte) string {
	out, _ := json.Marshal(string(b))
	var s string
	_ = json.Unmarshal(out, &s)
	return s
}

// field walks a dotted path through nested objects.
func field(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

func tcpSegment(sport, dport uint16, flags byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 1000)
	b[12], b[13] = 0x50, flags
	binary.BigEndian.PutUint16(b[14:], 512)
	return b
}

func TestEncodeFields(t *testing.T) {
	eth := []byte{0x14, 0x58, 0xd0, 0xb4, 0x65, 0xb8, 0x02, 0x01, 0xc0, 0xa8, 0xe0, 0x26, 0x08, 0x00}
	ts := time.Date(2026, 11, 30, 1, 2, 3, 456789000, time.UTC)
	fragment := ip4(protoTCP, nil, make([]byte, 8), 0)
	binary.BigEndian.PutUint16(fragment[6:], 0x2000|185) // MF, offset 185
	sctp := ip4(protoSCTP, nil, []byte{0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 0}, 0)
	ct := Conntrack{Present: true, HasID: true, ID: 12345}

	cases := []struct {
		name string
		opts Options
		rec  Record
		want map[string]any // dotted path → value; nil value = must be absent
	}{
		{
			name: "inbound tcp with action and ethernet header",
			opts: Options{Hostname: "fw1"},
			rec: Record{Group: 100, HasHook: true, Hook: HookInput, Prefix: "IPTABLES: DROP ", InDev: 2, InName: "eth0",
				HasHwType: true, HwType: 1, HwHeader: eth, Timestamp: ts, HasSeq: true, Seq: 41,
				HasSeqGlobal: true, SeqGlobal: 99, Mark: 0x10,
				Payload: ip4(protoTCP, nil, tcpSegment(40000, 22, 0x02), 0)},
			want: map[string]any{
				"@timestamp": "2026-11-30T01:02:03.456789Z", "ecs.version": "8.17.0",
				"event.kind": "event", "event.category": []any{"network"}, "event.type": []any{"connection", "denied"},
				"event.module": "netfilter", "event.dataset": "netfilter.log", "event.sequence": 41.0,
				"event.action": "drop", "event.outcome": "success", "action.name": "drop", "action.outcome": "success",
				"rule.name": "IPTABLES: DROP", "observer.hostname": "fw1", "observer.type": "firewall",
				"observer.vendor": "Linux", "observer.product": "Netfilter",
				"observer.ingress.interface.name": "eth0", "observer.egress": nil,
				"source.ip": "10.0.0.1", "source.address": "10.0.0.1", "source.port": 40000.0, "source.bytes": 40.0,
				"source.mac": "02:01:c0:a8:e0:26", "destination.mac": "14:58:d0:b4:65:b8",
				"destination.ip": "10.0.0.2", "destination.port": 22.0,
				"network.type": "ipv4", "network.transport": "tcp", "network.iana_number": "6",
				"network.community_id":  "1:" + string(appendCommunityID(nil, 0, flowKey{Src: []byte{10, 0, 0, 1}, Dst: []byte{10, 0, 0, 2}, Proto: 6, SrcPort: 40000, DstPort: 22, HasPorts: true}))[2:],
				"related.ip":            []any{"10.0.0.1", "10.0.0.2"},
				"iptables.input_device": "eth0", "iptables.output_device": "", "iptables.ether_type": 2048.0,
				"iptables.length": 40.0, "iptables.ttl": 64.0, "iptables.id": 1.0, "iptables.tos": 0.0,
				"iptables.precedence_bits": 0.0, "iptables.tcp.flags": []any{"SYN"}, "iptables.tcp.window": 512.0,
				"iptables.tcp.seq": 1000.0, "iptables.tcp.ack": 0.0, "iptables.tcp.reserved_bits": 0.0,
				"netfilter.group": 100.0, "netfilter.hook": "input", "netfilter.mark": 16.0, "netfilter.seq_global": 99.0,
				"user": nil,
			},
		},
		{
			name: "prefix override and RFC 7042 MACs",
			opts: Options{MAC: MACRFC7042, Actions: map[string]string{"IPTables: Dropped: ": "Drop"}},
			rec: Record{Prefix: "IPTables: Dropped: ", InDev: 2, InName: "eth0", HwHeader: eth,
				Payload: ip4(protoTCP, nil, tcpSegment(1, 2, 0x12), 0)},
			want: map[string]any{
				"action.name": "drop", "event.action": "drop", "event.type": []any{"connection", "denied"},
				"source.mac": "02-01-C0-A8-E0-26", "destination.mac": "14-58-D0-B4-65-B8",
				"iptables.tcp.flags": []any{"ACK", "SYN"},
			},
		},
		{
			name: "accept word is allowed; no time gives no @timestamp",
			rec:  Record{Prefix: "fw ACCEPTED ", OutDev: 2, OutName: "eth1", Payload: ip4(protoTCP, nil, tcpSegment(1, 2, 0x10), 0)},
			want: map[string]any{
				"event.type": []any{"connection", "allowed"}, "action.name": "accepted", "@timestamp": nil,
				"observer.egress.interface.name": "eth1", "iptables.input_device": "", "iptables.output_device": "eth1",
				"source.mac": nil, "iptables.ether_type": nil,
			},
		},
		{
			name: "no action without a preceding token",
			rec:  Record{Prefix: "IPTABLES ", Payload: ip4(protoTCP, nil, tcpSegment(1, 2, 0x10), 0), ReceivedAt: ts},
			want: map[string]any{
				"action": nil, "event.action": nil, "event.outcome": nil, "event.type": []any{"connection"},
				"rule.name": "IPTABLES", "@timestamp": "2026-11-30T01:02:03.456789Z",
			},
		},
		{
			name: "non-first fragment has no ports and no community id",
			rec:  Record{Payload: fragment},
			want: map[string]any{
				"source.port": nil, "destination.port": nil, "network.community_id": nil, "network.transport": "tcp",
				"iptables.fragment_flags": []any{"MF"}, "iptables.fragment_offset": 185.0, "iptables.tcp": nil,
			},
		},
		{
			name: "sctp ports although the kernel line has none",
			rec:  Record{Payload: sctp},
			want: map[string]any{"network.transport": "sctp", "network.iana_number": "132", "source.port": 2905.0, "destination.port": 2906.0},
		},
		{
			name: "ipv6 compressed, icmpv6 echo, uid and gid",
			rec: Record{HasUID: true, UID: 1000, HasGID: true, GID: 100,
				Payload: ip6(protoICMPv6, []byte{128, 0, 0, 0, 0, 7, 0, 9})},
			want: map[string]any{
				"source.ip": "fd00::1", "destination.address": "fd00::2", "network.type": "ipv6",
				"network.transport": "ipv6-icmp", "network.iana_number": "58", "source.bytes": 48.0,
				"iptables.icmp.type": 128.0, "iptables.icmp.id": 7.0, "iptables.icmp.seq": 9.0,
				"iptables.flow_label": 0.0, "iptables.id": nil, "user.id": "1000", "group.id": "100",
			},
		},
		{
			name: "unknown protocol is its number; gre is named",
			rec:  Record{Payload: ip4(47, nil, nil, 0)},
			want: map[string]any{"network.transport": "gre", "network.iana_number": "47", "source.port": nil},
		},
		{
			name: "truncated packet keeps the envelope",
			rec:  Record{Group: 5, Payload: []byte{0x45, 0}},
			want: map[string]any{
				"message": "IN= OUT= TRUNCATED", "source": nil, "network": nil, "related": nil,
				"event.type": nil, "netfilter.group": 5.0, "iptables.input_device": "",
			},
		},
		{
			name: "icmp redirect and incomplete error",
			rec:  Record{Payload: ip4(protoICMP, nil, []byte{5, 1, 0, 0, 192, 0, 2, 1, 0x45}, 0)},
			want: map[string]any{
				"iptables.icmp.type": 5.0, "iptables.icmp.redirect": nil, "iptables.incomplete_bytes": 9.0,
			},
		},
		{
			name: "conntrack and bridge ports",
			rec: Record{HasCtInfo: true, CtInfo: 2, Ct: ct, PhysInDev: 7, PhysInName: "vethA",
				Payload: ip4(protoUDP, nil, []byte{0, 53, 0, 53, 0, 8, 0, 0}, 0)},
			want: map[string]any{
				"netfilter.ct.state": "new", "netfilter.ct.id": 12345.0, "netfilter.physin": "vethA",
				"iptables.udp.length": 8.0, "source.port": 53.0,
			},
		},
		{
			name: "hostile prefix and names stay valid JSON",
			rec: Record{Prefix: "a\"b\\c\x01\xff DROP ", InDev: 1, InName: "e\"th\n",
				Payload: ip4(protoUDP, nil, []byte{0, 1, 0, 2, 0, 8, 0, 0}, 0)},
			want: map[string]any{
				"action.name": "drop", "rule.name": "a\"b\\c\x01\ufffd DROP", "iptables.input_device": "e\"th\n",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := encodeMap(t, c.opts, &c.rec)
			for path, want := range c.want {
				got := field(m, path)
				wantJSON, _ := json.Marshal(want)
				gotJSON, _ := json.Marshal(got)
				if string(wantJSON) != string(gotJSON) {
					t.Errorf("%s = %s, want %s", path, gotJSON, wantJSON)
				}
			}
		})
	}
}

func TestEventID(t *testing.T) {
	rec := Record{Group: 1, Payload: ip4(protoUDP, nil, []byte{0, 1, 0, 2, 0, 8, 0, 0}, 0)}
	a := NewEncoder(Options{Hostname: "fw1"})
	first := string(a.Encode(&rec).ID)
	second := string(a.Encode(&rec).ID)
	if first == second {
		t.Error("two events from one encoder share an id")
	}
	b := NewEncoder(Options{Hostname: "fw1"})
	if again := string(b.Encode(&rec).ID); again != first {
		t.Errorf("same input, same order gave id %q then %q: replays must be stable", first, again)
	}
	c := NewEncoder(Options{Hostname: "fw2"})
	if other := string(c.Encode(&rec).ID); other == first {
		t.Error("two hosts produced the same id")
	}
	if len(first) != 20 {
		t.Errorf("id %q has %d characters, want 20", first, len(first))
	}
}
