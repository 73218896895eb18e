package ctmirror

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/netlink"

	"github.com/nflog-agent/nflog-agent/decode"
)

const newFlags = netlink.Request | netlink.Create | netlink.Excl

// TestLookupAtEveryHook finds an entry from the packet as each hook sees
// it, in both directions, before, between and after the NAT steps, and
// derives the direction the kernel would give the packet.
func TestLookupAtEveryHook(t *testing.T) {
	client := netip.MustParseAddrPort("192.168.1.10:40000")
	public := netip.MustParseAddrPort("203.0.113.1:8080")
	backend := netip.MustParseAddrPort("192.168.1.20:80")
	router := netip.MustParseAddrPort("203.0.113.1:62000")
	// A hairpin: the client reaches the backend through the public port
	// forward, and is source-NATed to the router on the way.
	both := conn{id: 9, proto: protoTCP, orig: [2]netip.AddrPort{client, public}, reply: [2]netip.AddrPort{backend, router},
		status: decode.CtStatusConfirmed | decode.CtStatusSeenReply | decode.CtStatusSrcNAT | decode.CtStatusDstNAT}
	m := newTestMirror(16)
	m.feed(t, ctnlMessage(t, msgNew, newFlags, both))
	cases := []struct {
		name     string
		src, dst netip.AddrPort
		info     uint32
	}{
		{"original before any NAT (raw prerouting)", client, public, decode.CtInfoEstablished},
		{"original after DNAT (forward)", client, backend, decode.CtInfoEstablished},
		{"original after both (late postrouting)", router, backend, decode.CtInfoEstablished},
		{"reply before any NAT", backend, router, decode.CtInfoEstablishedReply},
		{"reply after de-SNAT (forward)", backend, client, decode.CtInfoEstablishedReply},
		{"reply after both", public, client, decode.CtInfoEstablishedReply},
	}
	for _, c := range cases {
		r := decode.Record{Family: decode.FamilyIPv4, Payload: ip4Packet(protoTCP, c.src, c.dst, 0)}
		hasFlow, found := m.Lookup(&r)
		if !hasFlow || !found || r.Ct.ID != 9 {
			t.Errorf("%s: flow %v found %v id %d", c.name, hasFlow, found, r.Ct.ID)
			continue
		}
		if !r.HasCtInfo || r.CtInfo != c.info {
			t.Errorf("%s: ctinfo %d, want %d", c.name, r.CtInfo, c.info)
		}
	}
}

// TestPingsBothWays keeps apart two pings with the same id between the
// same hosts, one each way, as conntrack does.
func TestPingsBothWays(t *testing.T) {
	a, b := netip.MustParseAddrPort("10.0.0.1:77"), netip.MustParseAddrPort("10.0.0.2:77")
	m := newTestMirror(16)
	m.feed(t, ctnlMessage(t, msgNew, newFlags, conn{id: 1, proto: protoICMP, orig: [2]netip.AddrPort{a, b}, reply: [2]netip.AddrPort{b, a}}),
		ctnlMessage(t, msgNew, newFlags, conn{id: 2, proto: protoICMP, orig: [2]netip.AddrPort{b, a}, reply: [2]netip.AddrPort{a, b}}))
	for _, c := range []struct {
		src, dst netip.AddrPort
		typ      uint8
		id       uint32
	}{{a, b, 8, 1}, {b, a, 0, 1}, {b, a, 8, 2}, {a, b, 0, 2}} {
		r := decode.Record{Family: decode.FamilyIPv4, Payload: ip4Packet(protoICMP, c.src, c.dst, c.typ)}
		if _, found := m.Lookup(&r); !found || r.Ct.ID != c.id {
			t.Errorf("type %d from %s: entry %d, want %d", c.typ, c.src, r.Ct.ID, c.id)
		}
	}
}

// TestTableBound keeps the table within its bound, evicting the oldest
// entry no packet has needed, and forgets destroyed entries.
func TestTableBound(t *testing.T) {
	m := newTestMirror(3)
	clients := make([]netip.AddrPort, 5)
	for i := range clients {
		clients[i] = netip.AddrPortFrom(netip.MustParseAddr("192.168.1.10"), uint16(1000+10*i))
	}
	lookup := func(i int) bool {
		c := snatConn(0, clients[i])
		r := decode.Record{Family: decode.FamilyIPv4, Payload: ip4Packet(protoTCP, c.orig[0], c.orig[1], 0)}
		_, found := m.Lookup(&r)
		return found
	}
	for i := range 3 {
		m.feed(t, ctnlMessage(t, msgNew, newFlags, snatConn(uint32(i+1), clients[i])))
	}
	lookup(0) // entry 1 is in use: entry 2 goes first
	m.feed(t, ctnlMessage(t, msgNew, newFlags, snatConn(4, clients[3])))
	if st := m.Stats(); st.Entries != 3 || st.Evicted != 1 {
		t.Fatalf("stats %+v, want 3 entries and 1 eviction", st)
	}
	if !lookup(0) || lookup(1) || !lookup(2) || !lookup(3) {
		t.Errorf("after eviction: entries 1-4 found %v %v %v %v, want true false true true", lookup(0), lookup(1), lookup(2), lookup(3))
	}
	m.feed(t, ctnlMessage(t, msgDelete, 0, snatConn(3, clients[2])))
	if !lookup(2) {
		t.Error("destroyed entry gone before its packets could come")
	}
	m.t.bury(time.Now().Add(destroyedGrace + time.Second))
	if lookup(2) || m.Stats().Entries != 2 {
		t.Errorf("destroyed entry still there after its grace: %+v", m.Stats())
	}
	for i := range 5000 { // churn: the insertion order stays bounded too
		c := snatConn(uint32(100+i), netip.AddrPortFrom(netip.MustParseAddr("192.168.2.1"), uint16(i)))
		m.feed(t, ctnlMessage(t, msgNew, newFlags, c), ctnlMessage(t, msgDelete, 0, c))
	}
	if n := len(m.t.order) - m.t.head; n > 2*3+1024 {
		t.Errorf("insertion order holds %d ids for %d entries", n, m.Stats().Entries)
	}
}

// TestUpdateKeepsLabels merges an update into its entry: the kernel sends
// labels only when they change.
func TestUpdateKeepsLabels(t *testing.T) {
	m := newTestMirror(4)
	c := snatConn(5, netip.MustParseAddrPort("192.168.1.10:4000"))
	var ct decode.Conntrack
	ct.HasID, ct.ID, ct.HasLabels, ct.Labels[0] = true, 5, true, 1
	ct.Orig = decode.CtTuple{Src: c.orig[0].Addr(), Dst: c.orig[1].Addr(), Proto: protoTCP, HasPorts: true,
		SrcPort: c.orig[0].Port(), DstPort: c.orig[1].Port()}
	ct.Reply = decode.CtTuple{Src: c.reply[0].Addr(), Dst: c.reply[1].Addr(), Proto: protoTCP, HasPorts: true,
		SrcPort: c.reply[0].Port(), DstPort: c.reply[1].Port()}
	m.t.put(&ct, time.Now())
	c.status |= decode.CtStatusAssured
	m.feed(t, ctnlMessage(t, msgNew, netlink.Request, c))
	r := decode.Record{Family: decode.FamilyIPv4, Payload: ip4Packet(protoTCP, c.orig[0], c.orig[1], 0)}
	if _, found := m.Lookup(&r); !found || !r.Ct.HasLabels || r.Ct.Labels[0] != 1 || r.Ct.Status&decode.CtStatusAssured == 0 {
		t.Errorf("after the update: %+v", r.Ct)
	}
}

// records is the simplest batch.
type records []decode.Record

func (r records) Records() []decode.Record { return r }

// TestEnrichHolds passes batches on in order: one whose entry arrives
// while it waits gets it, one whose entry never comes goes on without it
// when the stage stops, and packets without a flow are not waited for.
func TestEnrichHolds(t *testing.T) {
	m := newTestMirror(16)
	stopped := time.Now()
	m.now = func() time.Time { return stopped } // no batch outlives its hold while the test runs
	in, out := make(chan records), make(chan records, 4)
	var c Counters
	done := make(chan struct{})
	go func() { Enrich(m, in, out, &c); close(done) }()

	early := snatConn(1, netip.MustParseAddrPort("192.168.1.10:1000"))
	late := snatConn(2, netip.MustParseAddrPort("192.168.1.10:2000"))
	never := snatConn(3, netip.MustParseAddrPort("192.168.1.10:3000"))
	m.feed(t, ctnlMessage(t, msgNew, newFlags, early))
	rec := func(c conn) decode.Record {
		return decode.Record{Family: decode.FamilyIPv4, Payload: ip4Packet(protoTCP, c.orig[0], c.orig[1], 0)}
	}
	in <- records{rec(early), rec(late), {Payload: []byte{0x45}}}
	in <- records{rec(early)}
	m.feed(t, ctnlMessage(t, msgNew, newFlags, late)) // the entry the held batch waits for
	first := <-out
	if first[0].Ct.ID != 1 || first[1].Ct.ID != 2 || first[2].Ct.Present {
		t.Errorf("first batch: ids %d %d, no-flow record has entry %v", first[0].Ct.ID, first[1].Ct.ID, first[2].Ct.Present)
	}
	if second := <-out; second[0].Ct.ID != 1 {
		t.Errorf("second batch: id %d", second[0].Ct.ID)
	}
	in <- records{rec(never)}
	close(in)
	if last := <-out; last[0].Ct.Present {
		t.Error("entry for a connection never seen")
	}
	<-done
	if _, open := <-out; open {
		t.Error("out not closed")
	}
	if c.Enriched.Load() != 3 || c.NoEntry.Load() != 1 || c.NoFlow.Load() != 1 || c.HoldFull.Load() != 0 {
		t.Errorf("counts enriched %d no_entry %d no_flow %d hold_full %d, want 3 1 1 0",
			c.Enriched.Load(), c.NoEntry.Load(), c.NoFlow.Load(), c.HoldFull.Load())
	}
}

// TestFlowOf reads flows from IPv6 with extension headers and refuses
// packets conntrack matches by another flow or none.
func TestFlowOf(t *testing.T) {
	v6 := func(next byte, rest ...byte) []byte {
		p := make([]byte, 40, 40+len(rest))
		p[0], p[6] = 0x60, next
		p[8], p[23], p[24], p[39] = 0xfd, 1, 0xfd, 2
		return append(p, rest...)
	}
	udp := []byte{0x30, 0x39, 0, 53, 0, 8, 0, 0}
	hopByHop := append([]byte{17, 0, 0, 0, 0, 0, 0, 0}, udp...)
	fragFirst := append([]byte{17, 0, 0, 1, 0, 0, 0, 1}, udp...)
	fragLater := append([]byte{17, 0, 0, 9, 0, 0, 0, 1}, udp...)
	later4 := ip4Packet(protoUDP, netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), 0)
	later4[7] = 8 // fragment offset 8
	unreachable := ip4Packet(protoICMP, netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), 3)
	for _, c := range []struct {
		name    string
		payload []byte
		ok      bool
		sport   uint16
	}{
		{"ipv6 udp", v6(17, udp...), true, 12345},
		{"ipv6 hop-by-hop then udp", v6(0, hopByHop...), true, 12345},
		{"ipv6 first fragment", v6(44, fragFirst...), true, 12345},
		{"ipv6 later fragment", v6(44, fragLater...), false, 0},
		{"ipv4 later fragment", later4, false, 0},
		{"icmp error", unreachable, false, 0},
		{"truncated", v6(17, 0, 1), false, 0},
	} {
		f, ok := flowOf(&decode.Record{Payload: c.payload})
		if ok != c.ok || ok && f.src.port != c.sport {
			t.Errorf("%s: ok %v port %d, want %v %d", c.name, ok, f.src.port, c.ok, c.sport)
		}
	}
}

// TestEnrichHoldFull passes the oldest held batch on without waiting once
// too many records wait, counting its missing entries as hold_full.
func TestEnrichHoldFull(t *testing.T) {
	m := newTestMirror(16)
	stopped := time.Now()
	m.now = func() time.Time { return stopped } // no batch outlives its hold while the test runs
	in, out := make(chan records), make(chan records, 4)
	var c Counters
	go Enrich(m, in, out, &c)
	unknown := snatConn(1, netip.MustParseAddrPort("192.168.1.10:1000"))
	r := decode.Record{Family: decode.FamilyIPv4, Payload: ip4Packet(protoTCP, unknown.orig[0], unknown.orig[1], 0)}
	big := make(records, maxHeld)
	for i := range big {
		big[i] = r
	}
	in <- big
	in <- records{r}
	if first := <-out; len(first) != maxHeld {
		t.Fatalf("first batch out has %d records", len(first))
	}
	if n := c.HoldFull.Load(); n != maxHeld {
		t.Errorf("hold_full %d, want %d", n, maxHeld)
	}
	close(in)
	<-out
	if c.NoEntry.Load() != 1 {
		t.Errorf("no_entry %d, want 1", c.NoEntry.Load())
	}
}
