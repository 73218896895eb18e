package collector

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/collector/ctmirror"
	"github.com/nflog-agent/nflog-agent/collector/nflogmsg"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// natLab is three namespaces: an inside client, a router that masquerades
// the inside to the outside and forwards TCP 8080, UDP 5353 and ICMP echo
// from the outside to the client, and an outside server. The router logs
// every forwarded packet in forward and in postrouting (before its SNAT),
// and drops UDP to port 9999 after logging it in forward: that packet's
// connection is never confirmed. Every connection is marked 42.
type natLab struct {
	client, router, server *netlab.NS
}

// Addresses in the NAT lab's namespaces only.
const (
	natClient   = "10.77.1.2"
	natRouterIn = "10.77.1.1"
	natRouter   = "10.77.2.1"
	natServer   = "10.77.2.2"
	natGroup    = 77
)

func newNATLab(t *testing.T) *natLab {
	l := &natLab{client: netlab.NewNS(t, "ctc"), router: netlab.NewNS(t, "ctr"), server: netlab.NewNS(t, "cts")}
	netlab.Veth(t, l.client, "lan0", natClient+"/24", l.router, "rin", natRouterIn+"/24")
	netlab.Veth(t, l.router, "rout", natRouter+"/24", l.server, "wan0", natServer+"/24")
	l.client.Run(t, "ip", "route", "add", "default", "via", natRouterIn)
	l.router.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	l.router.Nft(t, fmt.Sprintf(`
table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat;
		iifname "rout" tcp dport 8080 dnat to %[1]s:80
		iifname "rout" udp dport 5353 dnat to %[1]s:53
		iifname "rout" icmp type echo-request dnat to %[1]s
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "rout" masquerade
	}
}
table ip ctlab {
	chain logfwd {
		type filter hook forward priority filter;
		log prefix "fwd " group %[2]d
	}
	chain marker {
		type filter hook prerouting priority mangle;
		ct state new ct mark set 42
	}
	chain dropper {
		type filter hook forward priority filter + 10;
		udp dport 9999 drop
	}
	chain logpost {
		type filter hook postrouting priority filter;
		iifname { "rin", "rout" } log prefix "post " group %[2]d
	}
}`, natClient, natGroup))
	return l
}

// echoServers answers TCP and UDP on addr's ports in ns, until the test ends.
func echoServers(t *testing.T, ns *netlab.NS, addr string, tcpPort, udpPort int) {
	ns.MustDo(t, func() error {
		ln, err := net.Listen("tcp4", net.JoinHostPort(addr, fmt.Sprint(tcpPort)))
		if err != nil {
			return err
		}
		pc, err := net.ListenPacket("udp4", net.JoinHostPort(addr, fmt.Sprint(udpPort)))
		if err != nil {
			ln.Close()
			return err
		}
		t.Cleanup(func() { ln.Close(); pc.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(c, c); c.Close() }()
			}
		}()
		go func() {
			buf := make([]byte, 1500)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
		return nil
	})
}

// exchange sends one TCP, one UDP and one ICMP echo exchange from ns to
// dst, each answered, from the client's side or the outside's.
func exchange(t *testing.T, ns *netlab.NS, dst string, tcpPort, udpPort int) {
	ns.MustDo(t, func() error {
		msg := []byte("conntrack lab")
		buf := make([]byte, 64)
		c, err := net.DialTimeout("tcp4", net.JoinHostPort(dst, fmt.Sprint(tcpPort)), labWait)
		if err != nil {
			return err
		}
		c.SetDeadline(time.Now().Add(labWait))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil {
			return fmt.Errorf("tcp echo: %w", err)
		}
		c.Close()
		u, err := net.Dial("udp4", net.JoinHostPort(dst, fmt.Sprint(udpPort)))
		if err != nil {
			return err
		}
		defer u.Close()
		u.SetDeadline(time.Now().Add(labWait))
		if _, err := u.Write(msg); err != nil {
			return err
		}
		if _, err := u.Read(buf); err != nil {
			return fmt.Errorf("udp echo: %w", err)
		}
		return ping(dst)
	})
}

// ping sends one ICMP echo request and waits for its reply.
func ping(dst string) error {
	pc, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer pc.Close()
	req := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'l', 'a', 'b', 0}
	binary.BigEndian.PutUint16(req[2:], icmpChecksum(req))
	if _, err := pc.WriteTo(req, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
		return err
	}
	pc.SetReadDeadline(time.Now().Add(labWait))
	buf := make([]byte, 1500)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("icmp echo: %w", err)
		}
		if n >= 8 && buf[0] == 0 {
			return nil
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// TestLabConntrackNAT checks live events behind a real NAT against the
// router's own conntrack table: TCP, UDP and ICMP out through the
// masquerade and in through the port forward, logged in forward and
// postrouting. Every record must carry its entry (id, tuples, NAT status)
// exactly as ctnetlink lists it, read here with ti-mo/conntrack, its NAT
// fields must follow the entry, and its message must not change. The same
// packets rebuilt as NFLOG messages carrying the same entries as NFULA_CT
// (what a kernel with CONFIG_NETFILTER_NETLINK_GLUE_CT sends) must give the
// same events.
func TestLabConntrackNAT(t *testing.T) {
	l := newNATLab(t)
	echoServers(t, l.server, natServer, 7000, 7001)
	echoServers(t, l.client, natClient, 80, 53)

	var logs netlab.SyncBuffer
	col, err := Open(Config{NetNS: l.router.Fd(), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Groups: []GroupConfig{{Group: natGroup, Conntrack: true, FlushTimeout: 10 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { col.Close() })
	g := col.Groups()[0]
	if kernelCan, _ := bindWithConntrackFlag(t, l.router); !kernelCan && g.ConntrackSource() != ConntrackNetlink {
		t.Fatalf("conntrack source %s on a kernel that refuses NFULNL_CFG_F_CONNTRACK, want ctnetlink", g.ConntrackSource())
	}
	s := drain(g)

	exchange(t, l.client, natServer, 7000, 7001) // out through the masquerade
	exchange(t, l.server, natRouter, 8080, 5353) // in through the port forward
	// Dropped before its connection is confirmed:
	l.client.MustDo(t, func() error {
		c, err := net.Dial("udp4", net.JoinHostPort(natServer, "9999"))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("never confirmed"))
		return err
	})
	// The classes of events the traffic above must have produced.
	want := []string{
		"tcp snat fwd original", "tcp snat fwd reply", "tcp snat post original", "tcp snat post reply",
		"udp snat fwd original", "udp snat fwd reply", "icmp snat fwd original", "icmp snat post reply",
		"tcp dnat fwd original", "tcp dnat fwd reply", "tcp dnat post original", "udp dnat post reply",
		"icmp dnat fwd original", "icmp dnat fwd reply",
	}
	seen := map[string]int{}
	waitFor(t, "every class of event, each record out of the enrichment stage", labWait, func() bool {
		st := g.Stats()
		done := st.ConntrackEnriched + st.ConntrackMissing.NoEntry + st.ConntrackMissing.NoFlow + st.ConntrackMissing.HoldFull
		if st.Received == 0 || done != st.Received || s.len() != int(st.Received) {
			return false
		}
		clear(seen)
		dropped := 0
		for _, r := range s.records() {
			if udpTo(&r, 9999) {
				dropped++
			}
			if r.Ct.Present {
				seen[caseName(&r)]++
			}
		}
		for _, w := range want {
			if seen[w] == 0 {
				return false
			}
		}
		return dropped > 0
	})
	recs := s.records()
	st := g.Stats()
	if st.ConntrackMissing != (ConntrackMissing{NoEntry: 1}) {
		t.Errorf("records without their entry: %+v, want only the dropped packet's (no_entry 1)", st.ConntrackMissing)
	}

	flows := dumpFlows(t, l.router)
	for i := range recs {
		r := &recs[i]
		what := fmt.Sprintf("record %d (%s%s)", i, r.Prefix, flowString(r))
		if udpTo(r, 9999) {
			if r.Ct.Present {
				t.Errorf("%s: an entry for a connection the kernel never confirmed", what)
			}
			continue
		}
		if !r.Ct.Present {
			t.Errorf("%s: no conntrack entry", what)
			continue
		}
		f, ok := flows[r.Ct.ID]
		if !ok {
			t.Errorf("%s: ct id %d is not in the router's table", what, r.Ct.ID)
			continue
		}
		checkEntry(t, what, r, f)
	}

	t.Run("NFULA_CT replay", func(t *testing.T) {
		raw := dumpRaw(t, l.router)
		for i := range recs {
			live := &recs[i]
			if !live.Ct.Present {
				continue
			}
			ct, ok := raw[live.Ct.ID]
			if !ok {
				t.Fatalf("record %d: entry %d gone from the table", i, live.Ct.ID)
			}
			var replayed decode.Record
			if err := new(nflogmsg.Parser).Parse(nflogMessage(live, ct), binary.NativeEndian, &replayed); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			replayed.ReceivedAt = live.ReceivedAt
			replayed.InName, replayed.OutName = live.InName, live.OutName
			want := decode.NewEncoder(decode.Options{Hostname: "r"}).Encode(live)
			got := decode.NewEncoder(decode.Options{Hostname: "r"}).Encode(&replayed)
			if !bytes.Equal(got.JSON, want.JSON) {
				t.Errorf("record %d: replayed with NFULA_CT\n%s\nlive over ctnetlink\n%s", i, got.JSON, want.JSON)
			}
		}
	})
}

// checkEntry compares a record's entry and event with the router's.
func checkEntry(t *testing.T, what string, r *decode.Record, f conntrack.Flow) {
	t.Helper()
	for _, tc := range []struct {
		dir  string
		got  decode.CtTuple
		want conntrack.Tuple
	}{{"original", r.Ct.Orig, f.TupleOrig}, {"reply", r.Ct.Reply, f.TupleReply}} {
		got := tc.got
		sport, dport := got.SrcPort, got.DstPort
		if got.HasICMP {
			sport, dport = got.ICMPID, 0
		}
		want := tc.want
		wantSport, wantDport := want.Proto.SourcePort, want.Proto.DestinationPort
		if want.Proto.Protocol == unix.IPPROTO_ICMP {
			wantSport, wantDport = want.Proto.ICMPID, 0
		}
		if got.Src != want.IP.SourceAddress || got.Dst != want.IP.DestinationAddress || got.Proto != want.Proto.Protocol ||
			sport != wantSport || dport != wantDport {
			t.Errorf("%s: %s tuple %v %s:%d -> %s:%d, the table has %v", what, tc.dir, got.Proto, got.Src, sport,
				got.Dst, dport, want)
		}
	}
	if r.Ct.Status&decode.CtStatusSrcNAT != 0 != f.Status.SrcNAT() || r.Ct.Status&decode.CtStatusDstNAT != 0 != f.Status.DstNAT() {
		t.Errorf("%s: status %#x, the table has %v", what, r.Ct.Status, f.Status)
	}

	ev := decode.NewEncoder(decode.Options{}).Encode(r)
	var m map[string]any
	if err := json.Unmarshal(ev.JSON, &m); err != nil {
		t.Fatal(err)
	}
	nat := func(side string) string {
		ip, _ := lookupPath(m, side+".nat.ip").(string)
		port, _ := lookupPath(m, side+".nat.port").(float64)
		return fmt.Sprintf("%s:%v", ip, port)
	}
	wantSNAT, wantDNAT := ":0", ":0"
	portOf := func(p uint16) uint16 {
		if f.TupleOrig.Proto.Protocol == unix.IPPROTO_ICMP {
			return 0
		}
		return p
	}
	if f.Status.SrcNAT() {
		wantSNAT = fmt.Sprintf("%s:%d", f.TupleReply.IP.DestinationAddress, portOf(f.TupleReply.Proto.DestinationPort))
	}
	if f.Status.DstNAT() {
		wantDNAT = fmt.Sprintf("%s:%d", f.TupleReply.IP.SourceAddress, portOf(f.TupleReply.Proto.SourcePort))
	}
	if got := nat("source"); got != wantSNAT {
		t.Errorf("%s: source.nat %s, want %s", what, got, wantSNAT)
	}
	if got := nat("destination"); got != wantDNAT {
		t.Errorf("%s: destination.nat %s, want %s", what, got, wantDNAT)
	}
	if id := lookupPath(m, "netfilter.ct.id"); id != float64(f.ID) {
		t.Errorf("%s: netfilter.ct.id %v, want %d", what, id, f.ID)
	}
	if mark := lookupPath(m, "netfilter.ct.mark"); mark != float64(f.Mark) || f.Mark != 42 {
		t.Errorf("%s: netfilter.ct.mark %v, the table has %d (the rules set 42)", what, mark, f.Mark)
	}
	plain := *r
	plain.Ct, plain.HasCtInfo = decode.Conntrack{}, false
	if msg := decode.NewEncoder(decode.Options{}).Encode(&plain).Message; string(msg) != m["message"] {
		t.Errorf("%s: message %q changed from %q", what, m["message"], msg)
	}
	if src, _ := lookupPath(m, "source.ip").(string); src != flowSrc(r) {
		t.Errorf("%s: source.ip %s is not the packet's %s", what, src, flowSrc(r))
	}
}

// caseName classes a record: protocol, NAT kind, hook and direction.
func caseName(r *decode.Record) string {
	proto := map[uint8]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp", unix.IPPROTO_ICMP: "icmp"}[r.Ct.Orig.Proto]
	kind := "none"
	switch {
	case r.Ct.Status&decode.CtStatusDstNAT != 0:
		kind = "dnat"
	case r.Ct.Status&decode.CtStatusSrcNAT != 0:
		kind = "snat"
	}
	dir := "original"
	if r.CtInfo >= decode.CtInfoEstablishedReply {
		dir = "reply"
	}
	return fmt.Sprintf("%s %s %s %s", proto, kind, strings.TrimSpace(r.Prefix), dir)
}

// udpTo reports whether r is a UDP packet to port.
func udpTo(r *decode.Record, port uint16) bool {
	p := r.Payload
	return len(p) >= 24 && p[9] == unix.IPPROTO_UDP && binary.BigEndian.Uint16(p[22:]) == port
}

func flowSrc(r *decode.Record) string {
	return netip.AddrFrom4([4]byte(r.Payload[12:16])).String()
}

func flowString(r *decode.Record) string {
	if len(r.Payload) < 20 {
		return "?"
	}
	return fmt.Sprintf("%s -> %s proto %d", flowSrc(r), netip.AddrFrom4([4]byte(r.Payload[16:20])), r.Payload[9])
}

func lookupPath(m map[string]any, path string) any {
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

// dumpFlows lists the namespace's conntrack table with ti-mo/conntrack.
func dumpFlows(t *testing.T, ns *netlab.NS) map[uint32]conntrack.Flow {
	t.Helper()
	c, err := conntrack.Dial(&netlink.Config{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	flows, err := c.Dump(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[uint32]conntrack.Flow)
	for _, f := range flows {
		out[f.ID] = f
	}
	return out
}

// dumpRaw lists the namespace's conntrack entries as the kernel encodes
// them: the CTA_* attributes that NFULA_CT nests too, by id.
func dumpRaw(t *testing.T, ns *netlab.NS) map[uint32][]byte {
	t.Helper()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.NFNL_SUBSYS_CTNETLINK<<8 | 1, Flags: netlink.Request | netlink.Dump},
		Data:   []byte{unix.AF_INET, 0, 0, 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[uint32][]byte)
	for _, m := range msgs {
		var ct decode.Conntrack
		if err := decode.ParseConntrack(m.Data[4:], binary.NativeEndian, &ct); err != nil {
			t.Fatal(err)
		}
		out[ct.ID] = m.Data[4:]
	}
	return out
}

// nflogMessage builds the NFLOG message the kernel would have sent for r
// with NFULA_CT: r's own attributes, ct as NFULA_CT and r's state as
// NFULA_CT_INFO.
func nflogMessage(r *decode.Record, ct []byte) []byte {
	b := []byte{r.Family, 0, byte(r.Group >> 8), byte(r.Group)}
	attr := func(typ uint16, v []byte) {
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(v)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	be16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	attr(1, append(be16(r.HwProtocol), r.Hook, 0))
	if r.Mark != 0 {
		attr(2, be32(r.Mark))
	}
	if !r.Timestamp.IsZero() {
		attr(3, append(binary.BigEndian.AppendUint64(nil, uint64(r.Timestamp.Unix())),
			binary.BigEndian.AppendUint64(nil, uint64(r.Timestamp.Nanosecond()/1000))...))
	}
	for typ, dev := range map[uint16]uint32{4: r.InDev, 5: r.OutDev, 6: r.PhysInDev, 7: r.PhysOutDev} {
		if dev != 0 {
			attr(typ, be32(dev))
		}
	}
	if r.HwAddr != nil {
		hw := make([]byte, 12)
		binary.BigEndian.PutUint16(hw, uint16(len(r.HwAddr)))
		copy(hw[4:], r.HwAddr)
		attr(8, hw)
	}
	attr(9, r.Payload)
	attr(10, append([]byte(r.Prefix), 0))
	if r.HasSeq {
		attr(12, be32(r.Seq))
	}
	if r.HasHwType {
		attr(15, be16(r.HwType))
	}
	if r.HwHeader != nil {
		attr(16, r.HwHeader)
		attr(17, be16(r.HwLen))
	}
	attr(0x8000|18, ct)
	attr(19, be32(r.CtInfo))
	return b
}

// bindWithConntrackFlag asks the kernel for NFLOG conntrack attachment on
// a spare group in ns and reports the answer: EOPNOTSUPP on a kernel
// without CONFIG_NETFILTER_NETLINK_GLUE_CT.
func bindWithConntrackFlag(t *testing.T, ns *netlab.NS) (kernelCan bool, refusal error) {
	t.Helper()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Execute(groupStep(GroupConfig{Group: natGroup + 1}.WithDefaults(), true).message())
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("bind with NFULNL_CFG_F_CONNTRACK: %v", err)
	}
	return err == nil, err
}

// TestLabConntrackFallback binds a group with conntrack on this machine's
// kernel: where the kernel refuses to attach entries (EOPNOTSUPP), the
// group falls back to ctnetlink and says so; where it accepts, the kernel
// is the source.
func TestLabConntrackFallback(t *testing.T) {
	ns := netlab.NewNS(t, "ctf")
	kernelCan, refusal := bindWithConntrackFlag(t, ns)
	var logs netlab.SyncBuffer
	col, err := Open(Config{NetNS: ns.Fd(), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Groups: []GroupConfig{{Group: natGroup, Conntrack: true}, {Group: natGroup + 2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	g, plain := col.Groups()[0], col.Groups()[1]
	if plain.ConntrackSource() != ConntrackOff {
		t.Errorf("group without conntrack: source %s", plain.ConntrackSource())
	}
	if kernelCan {
		if g.ConntrackSource() != ConntrackKernel {
			t.Errorf("the kernel accepts NFULNL_CFG_F_CONNTRACK, yet the source is %s", g.ConntrackSource())
		}
		return
	}
	t.Logf("kernel refuses NFULNL_CFG_F_CONNTRACK: %v", refusal)
	if g.ConntrackSource() != ConntrackNetlink {
		t.Errorf("source %s, want ctnetlink", g.ConntrackSource())
	}
	if _, ok := col.ConntrackStats(); !ok {
		t.Error("no ctnetlink mirror opened")
	}
	if st := g.Stats(); st.Conntrack != ConntrackNetlink {
		t.Errorf("Stats().Conntrack = %s", st.Conntrack)
	}
	if out := logs.String(); !strings.Contains(out, "EOPNOTSUPP") || !strings.Contains(out, "ctnetlink") ||
		!strings.Contains(out, "CONFIG_NETFILTER_NETLINK_GLUE_CT") {
		t.Errorf("the log does not say why and what instead:\n%s", out)
	}

	// Neither source: the group does not open, and the error says what to do.
	_, err = OpenGroup(GroupConfig{Group: natGroup + 3, Conntrack: true}, GroupOptions{NetNS: ns.Fd(),
		Conntrack: func() (*ctmirror.Mirror, error) { return nil, errors.New("ctnetlink unavailable (test)") }})
	if !errors.Is(err, ErrNoConntrack) || !strings.Contains(err.Error(), "modprobe nf_conntrack_netlink") ||
		!strings.Contains(err.Error(), "conntrack: false") {
		t.Errorf("without ctnetlink: %v", err)
	}
}
