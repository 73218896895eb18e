package decode

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
)

// ctAttr is one netlink attribute for building CTA_* test input.
type ctAttr struct {
	typ uint16
	val []byte
}

// ctNest encodes attributes in the host's order, as a live socket reads
// them, padding each to 4 bytes.
func ctNest(attrs ...ctAttr) []byte {
	var b []byte
	for _, a := range attrs {
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(a.val)))
		b = binary.NativeEndian.AppendUint16(b, a.typ)
		b = append(b, a.val...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// ctTupleAttrs encodes a tuple as the kernel nests it.
func ctTupleAttrs(t CtTuple) []byte {
	ip := []ctAttr{{ctaIPv4Src, t.Src.AsSlice()}, {ctaIPv4Dst, t.Dst.AsSlice()}}
	if t.Src.Is6() {
		ip = []ctAttr{{ctaIPv6Src, t.Src.AsSlice()}, {ctaIPv6Dst, t.Dst.AsSlice()}}
	}
	proto := []ctAttr{{ctaProtoNum, []byte{t.Proto}}}
	if t.HasPorts {
		proto = append(proto, ctAttr{ctaProtoSrcPort, be16(t.SrcPort)}, ctAttr{ctaProtoDstPort, be16(t.DstPort)})
	}
	if t.HasICMP {
		proto = append(proto, ctAttr{ctaProtoICMPID, be16(t.ICMPID)}, ctAttr{ctaProtoICMPType, []byte{t.ICMPType}},
			ctAttr{ctaProtoICMPCode, []byte{t.ICMPCode}})
	}
	return ctNest(ctAttr{0x8000 | ctaTupleIP, ctNest(ip...)}, ctAttr{0x8000 | ctaTupleProto, ctNest(proto...)})
}

// ctAttrsOf encodes an entry as NFULA_CT or a ctnetlink message carries it.
func ctAttrsOf(ct Conntrack) []byte {
	attrs := []ctAttr{
		{0x8000 | ctaTupleOrig, ctTupleAttrs(ct.Orig)},
		{0x8000 | ctaTupleReply, ctTupleAttrs(ct.Reply)},
		{0x4000 | ctaStatus, be32(ct.Status)},
		{0x4000 | ctaMark, be32(ct.Mark)},
		{0x4000 | ctaID, be32(ct.ID)},
		{7, be32(120)}, // CTA_TIMEOUT: not read
	}
	if ct.HasZone {
		attrs = append(attrs, ctAttr{ctaZone, be16(ct.Zone)})
	}
	if ct.HasLabels {
		attrs = append(attrs, ctAttr{ctaLabels, ct.Labels[:]})
	}
	return ctNest(attrs...)
}

var (
	inside  = netip.MustParseAddr("192.168.1.10")
	public  = netip.MustParseAddr("203.0.113.1")
	server  = netip.MustParseAddr("198.51.100.7")
	backend = netip.MustParseAddr("192.168.1.20")
)

func tcpTuple(src netip.Addr, sport uint16, dst netip.Addr, dport uint16) CtTuple {
	return CtTuple{Src: src, Dst: dst, Proto: protoTCP, HasPorts: true, SrcPort: sport, DstPort: dport}
}

// natEntries are one entry per NAT case: an inside client masqueraded to
// the router's public address (SNAT), a port forward from outside to an
// inside server (DNAT), and both at once (a hairpin).
func natEntries() map[string]Conntrack {
	base := Conntrack{Present: true, HasID: true, HasMark: true, HasStatus: true, ID: 7, Mark: 1}
	snat, dnat, both := base, base, base
	snat.Status = CtStatusConfirmed | CtStatusSeenReply | CtStatusSrcNAT
	snat.Orig = tcpTuple(inside, 40000, server, 443)
	snat.Reply = tcpTuple(server, 443, public, 61000)
	dnat.Status = CtStatusConfirmed | CtStatusDstNAT
	dnat.Orig = tcpTuple(server, 50000, public, 8080)
	dnat.Reply = tcpTuple(backend, 80, server, 50000)
	both.Status = CtStatusConfirmed | CtStatusAssured | CtStatusSrcNAT | CtStatusDstNAT
	both.Orig = tcpTuple(inside, 40000, public, 8080)
	both.Reply = tcpTuple(backend, 80, public, 62000)
	return map[string]Conntrack{"snat": snat, "dnat": dnat, "both": both}
}

func TestParseConntrackRoundTrip(t *testing.T) {
	entries := natEntries()
	v6 := entries["snat"]
	v6.Orig.Src, v6.Orig.Dst = netip.MustParseAddr("fd00::1"), netip.MustParseAddr("2001:db8::7")
	v6.Reply.Src, v6.Reply.Dst = v6.Orig.Dst, netip.MustParseAddr("2001:db8::1")
	v6.HasZone, v6.Zone = true, 9
	v6.HasLabels, v6.Labels[0], v6.Labels[15] = true, 0x21, 0x80
	entries["ipv6 with zone and labels"] = v6
	icmp := entries["snat"]
	icmp.Orig = CtTuple{Src: inside, Dst: server, Proto: protoICMP, HasICMP: true, ICMPID: 5, ICMPType: 8}
	icmp.Reply = CtTuple{Src: server, Dst: public, Proto: protoICMP, HasICMP: true, ICMPID: 5}
	entries["icmp"] = icmp
	for name, want := range entries {
		t.Run(name, func(t *testing.T) {
			var got Conntrack
			if err := ParseConntrack(ctAttrsOf(want), binary.NativeEndian, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parsed\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestParseConntrackRejects(t *testing.T) {
	good := ctAttrsOf(natEntries()["snat"])
	cases := map[string][]byte{
		"truncated header":     good[:2],
		"length past the end":  good[:len(good)-6],
		"short id":             ctNest(ctAttr{ctaID, []byte{1, 2}}),
		"short address":        ctNest(ctAttr{ctaTupleOrig, ctNest(ctAttr{ctaTupleIP, ctNest(ctAttr{ctaIPv4Src, []byte{1}})})}),
		"labels of odd length": ctNest(ctAttr{ctaLabels, []byte{1, 2, 3}}),
	}
	for name, b := range cases {
		var ct Conntrack
		if err := ParseConntrack(b, binary.NativeEndian, &ct); err == nil {
			t.Errorf("%s: no error", name)
		}
		if ct.Present {
			t.Errorf("%s: a failed parse leaves an entry", name)
		}
	}
}

// TestEncodeNAT checks the NAT rule on the three cases, for packets as the
// hooks see them: the NAT fields are the connection's translated source and
// destination whichever addresses the packet has, and the packet's own
// addresses and message do not change.
func TestEncodeNAT(t *testing.T) {
	entries := natEntries()
	pkt := func(src netip.Addr, sport uint16, dst netip.Addr, dport uint16) []byte {
		p := ip4(protoTCP, nil, tcpSegment(sport, dport, 0x02), 0)
		copy(p[12:16], src.AsSlice())
		copy(p[16:20], dst.AsSlice())
		return p
	}
	cases := []struct {
		name, entry string
		hook        uint8
		payload     []byte
		want        map[string]any
	}{
		{"snat at forward (before SNAT)", "snat", HookForward, pkt(inside, 40000, server, 443), map[string]any{
			"source.ip": "192.168.1.10", "source.port": 40000.0, "source.nat.ip": "203.0.113.1", "source.nat.port": 61000.0,
			"destination.ip": "198.51.100.7", "destination.nat": nil,
			"related.ip": []any{"192.168.1.10", "198.51.100.7", "203.0.113.1"}}},
		{"snat at postrouting after SNAT (mangle priority)", "snat", HookPostrouting, pkt(public, 61000, server, 443), map[string]any{
			"source.ip": "203.0.113.1", "source.nat.ip": "203.0.113.1", "source.nat.port": 61000.0,
			"related.ip": []any{"203.0.113.1", "198.51.100.7"}}},
		{"dnat at prerouting (before DNAT, raw priority)", "dnat", HookPrerouting, pkt(server, 50000, public, 8080), map[string]any{
			"destination.ip": "203.0.113.1", "destination.port": 8080.0,
			"destination.nat.ip": "192.168.1.20", "destination.nat.port": 80.0, "source.nat": nil}},
		{"dnat at forward (after DNAT)", "dnat", HookForward, pkt(server, 50000, backend, 80), map[string]any{
			"destination.ip": "192.168.1.20", "destination.port": 80.0,
			"destination.nat.ip": "192.168.1.20", "destination.nat.port": 80.0}},
		{"both at postrouting", "both", HookPostrouting, pkt(inside, 40000, backend, 80), map[string]any{
			"source.ip": "192.168.1.10", "source.nat.ip": "203.0.113.1", "source.nat.port": 62000.0,
			"destination.ip": "192.168.1.20", "destination.nat.ip": "192.168.1.20", "destination.nat.port": 80.0,
			"netfilter.ct.status":                 []any{"assured", "confirmed", "snat", "dnat"},
			"netfilter.ct.original.source.ip":     "192.168.1.10",
			"netfilter.ct.reply.destination.port": 62000.0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plain := Record{HasHook: true, Hook: c.hook, Payload: c.payload}
			withCt := plain
			withCt.Ct = entries[c.entry]
			withCt.HasCtInfo, withCt.CtInfo = true, CtInfoNew
			m := encodeMap(t, Options{}, &withCt)
			for path, want := range c.want {
				wantJSON, _ := json.Marshal(want)
				gotJSON, _ := json.Marshal(field(m, path))
				if string(wantJSON) != string(gotJSON) {
					t.Errorf("%s = %s, want %s", path, gotJSON, wantJSON)
				}
			}
			if want := encodeMap(t, Options{}, &plain)["message"]; m["message"] != want {
				t.Errorf("message %q changed from %q", m["message"], want)
			}
			if field(m, "netfilter.ct.id") != 7.0 || field(m, "netfilter.ct.direction") != "original" ||
				field(m, "netfilter.ct.state") != "new" {
				t.Errorf("netfilter.ct = %v", field(m, "netfilter.ct"))
			}
		})
	}
}

// TestEncodeVLAN reads VLAN ids and MACs from tagged MAC headers and from
// NFULA_VLAN; the message keeps the kernel's MAC= dump of the header.
func TestEncodeVLAN(t *testing.T) {
	macs := []byte{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01}
	tagged := append(append([]byte{}, macs...), 0x81, 0x00, 0x20, 0x64, 0x08, 0x00)                       // VLAN 100, priority 1
	qinq := append(append([]byte{}, macs...), 0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00) // 10 outside 200
	udp := ip4(protoUDP, nil, []byte{0, 53, 0, 53, 0, 8, 0, 0}, 0)
	cases := []struct {
		name string
		rec  Record
		want map[string]any
	}{
		{"802.1Q hard header", Record{InDev: 1, HasHwType: true, HwType: 1, HwHeader: tagged, Payload: udp}, map[string]any{
			"network.vlan.id": "100", "network.inner": nil, "source.mac": "02:00:00:00:00:01",
			"destination.mac": "02:00:00:00:00:02", "iptables.ether_type": 0x8100 * 1.0}},
		{"802.1ad hard header", Record{InDev: 1, HasHwType: true, HwType: 1, HwHeader: qinq, Payload: udp}, map[string]any{
			"network.vlan.id": "10", "network.inner.vlan.id": "200", "source.mac": "02:00:00:00:00:01"}},
		{"NFULA_VLAN and an untagged bridge header", Record{Family: FamilyBridge, HasVLAN: true, VLANProto: 0x8100,
			VLANTCI: 0xe00c, L2Header: append(append([]byte{}, macs...), 0x08, 0x00), Payload: udp}, map[string]any{
			"network.vlan.id": "12", "network.inner": nil, "source.mac": "02:00:00:00:00:01"}},
		{"NFULA_VLAN outside a tagged bridge header", Record{Family: FamilyBridge, HasVLAN: true, VLANProto: 0x88a8,
			VLANTCI: 30, L2Header: tagged, Payload: udp}, map[string]any{
			"network.vlan.id": "30", "network.inner.vlan.id": "100", "destination.mac": "02:00:00:00:00:02"}},
		{"NFULA_VLAN without an IP header", Record{Family: FamilyBridge, HasVLAN: true, VLANTCI: 5}, map[string]any{
			"network.vlan.id": "5", "network.type": nil}},
		{"18-byte header without a tag is not read", Record{InDev: 1, HasHwType: true, HwType: 1,
			HwHeader: append(append([]byte{}, macs...), 0x08, 0x00, 0, 0, 0, 0), Payload: udp}, map[string]any{
			"network.vlan": nil, "source.mac": nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := encodeMap(t, Options{}, &c.rec)
			for path, want := range c.want {
				wantJSON, _ := json.Marshal(want)
				gotJSON, _ := json.Marshal(field(m, path))
				if string(wantJSON) != string(gotJSON) {
					t.Errorf("%s = %s, want %s", path, gotJSON, wantJSON)
				}
			}
		})
	}
}

// FuzzParseConntrack feeds arbitrary NFULA_CT values to the parser: it must
// never panic, a failure must leave no entry, the same input must give the
// same entry, and what it accepts must encode into valid JSON.
func FuzzParseConntrack(f *testing.F) {
	for _, ct := range natEntries() {
		f.Add(ctAttrsOf(ct), false)
	}
	f.Add([]byte{4, 0, 0x80 | 1, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, bigEndian bool) {
		order := binary.ByteOrder(binary.LittleEndian)
		if bigEndian {
			order = binary.BigEndian
		}
		var ct, again Conntrack
		err := ParseConntrack(b, order, &ct)
		if (ParseConntrack(b, order, &again) == nil) != (err == nil) || !reflect.DeepEqual(ct, again) {
			t.Fatal("two parses of the same input differ")
		}
		if err != nil {
			if ct.Present {
				t.Fatal("failed parse left an entry")
			}
			return
		}
		r := Record{Ct: ct, HasCtInfo: true, CtInfo: CtInfoNew, Payload: ip4(protoTCP, nil, tcpSegment(1, 2, 2), 0)}
		var m map[string]any
		if err := json.Unmarshal(NewEncoder(Options{}).Encode(&r).JSON, &m); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
	})
}

// TestParseConntrackAllocs holds the reader's budget: parsing an entry
// allocates nothing.
func TestParseConntrackAllocs(t *testing.T) {
	b := ctAttrsOf(natEntries()["both"])
	var ct Conntrack
	if allocs := testing.AllocsPerRun(100, func() { _ = ParseConntrack(b, binary.NativeEndian, &ct) }); allocs != 0 {
		t.Fatalf("ParseConntrack allocates %.1f times, want 0", allocs)
	}
}
