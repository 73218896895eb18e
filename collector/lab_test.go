package collector

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/collector/internal/ifcache"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// The lab tests run the real collector against the real kernel: namespaces
// joined by a veth pair, nft rules, packets injected on the wire. They skip
// unless root (CI runs them as root).

// A group another socket owns gives an error that names the group
// and says what to do; the same group elsewhere, or another group, is fine.
func TestLabGroupBusy(t *testing.T) {
	netlab.Require(t)
	ns := netlab.NewNS(t, "b")
	openGroup(t, ns, GroupConfig{Group: 31}, nil)

	_, err := OpenGroup(GroupConfig{Group: 31}, GroupOptions{NetNS: ns.Fd()})
	if err == nil {
		t.Fatal("second listener on group 31: no error")
	}
	if !errors.Is(err, ErrGroupBusy) {
		t.Errorf("error %v: not ErrGroupBusy", err)
	}
	for _, want := range []string{"group 31", "ulogd2", "one listener per group", "systemctl stop ulogd2", "different group"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	t.Logf("error as the operator sees it: %v", err)

	// Through a Collector, nothing of the failed open stays running: the
	// good group it opened first is free again afterwards.
	if _, err := Open(Config{NetNS: ns.Fd(), Groups: []GroupConfig{{Group: 32}, {Group: 31}}}); !errors.Is(err, ErrGroupBusy) {
		t.Fatalf("collector with a busy group: %v", err)
	}
	openGroup(t, ns, GroupConfig{Group: 32}, nil)

	// The group number is per namespace.
	other := netlab.NewNS(t, "c")
	openGroup(t, other, GroupConfig{Group: 31}, nil)
}

// Several groups at once, each getting exactly its own
// packets, with interface names, hook and sequence numbers.
func TestLabSeveralGroups(t *testing.T) {
	l := netlab.New(t)
	l.B.Nft(t, `table inet lab {
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip saddr 10.231.0.1 udp dport 5001 log group 41
		ip saddr 10.231.0.1 udp dport 5002 log prefix "two " group 42
		ip6 saddr fd00:231::1 udp dport 5002 log prefix "two " group 42
	}
}`)
	names := openNames(t, l.B)
	g41 := openGroup(t, l.B, GroupConfig{Group: 41}, names)
	g42 := openGroup(t, l.B, GroupConfig{Group: 42}, names)
	s41, s42 := drain(g41), drain(g42)

	tx := l.Sender(t)
	for i := range uint32(60) {
		mustSend(t, tx, udp4(l, 5001, i, 0))
		mustSend(t, tx, udp4(l, 5002, i, 0))
		if i < 20 {
			mustSend(t, tx, udp6(l, 5002, 1000+i))
		}
	}
	waitFor(t, "60 + 80 records", labWait, func() bool { return s41.len() >= 60 && s42.len() >= 80 })
	time.Sleep(100 * time.Millisecond) // anything extra would show up now

	check := func(name string, g *Group, recs []decode.Record, dport uint16, prefix string, want int) {
		t.Helper()
		if len(recs) != want {
			t.Errorf("%s: %d records, want %d", name, len(recs), want)
		}
		for i, r := range recs {
			p, _, ok := udpInfo(&r)
			if !ok || p != dport || r.Group != g.cfg.Group || r.Prefix != prefix {
				t.Errorf("%s record %d: group %d prefix %q dport %d: not ours", name, i, r.Group, r.Prefix, p)
			}
			if r.InName != l.VethB || r.OutName != "" || !r.HasHook || r.Hook != decode.HookPrerouting {
				t.Errorf("%s record %d: in %q out %q hook %d(%v), want in %q at prerouting", name, i, r.InName, r.OutName, r.Hook, r.HasHook, l.VethB)
			}
			if !r.HasSeq || r.Seq != uint32(i) {
				t.Errorf("%s record %d: seq %d (present %v)", name, i, r.Seq, r.HasSeq)
			}
			if len(r.HwHeader) != 14 || r.Timestamp.IsZero() {
				t.Errorf("%s record %d: hw header %x, timestamp %v", name, i, r.HwHeader, r.Timestamp)
			}
		}
		st := g.Stats()
		if st.Received != uint64(want) || st.KernelLost != 0 || st.QueueDropped != 0 || st.ENOBUFS != 0 {
			t.Errorf("%s stats %+v", name, st)
		}
		if st.ReadBuffer < DefaultReadBuffer {
			t.Errorf("%s read buffer %d, want ≥ %d (SO_RCVBUFFORCE)", name, st.ReadBuffer, DefaultReadBuffer)
		}
	}
	check("group 41", g41, s41.records(), 5001, "", 60)
	check("group 42", g42, s42.records(), 5002, "two ", 80)
}

// An interface renamed while traffic flows shows its
// new name, from the link notifications, not a lookup per packet.
func TestLabRenameWhileFlowing(t *testing.T) {
	l := netlab.New(t)
	l.B.Nft(t, `table inet lab {
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip saddr 10.231.0.1 udp dport 5003 log group 43
	}
}`)
	names := openNames(t, l.B)
	g := openGroup(t, l.B, GroupConfig{Group: 43}, names)
	s := drain(g)
	tx := l.Sender(t)

	p := keepSending(l, tx, 5003, 2*time.Millisecond)
	waitFor(t, "traffic before the rename", labWait, func() bool { return s.len() >= 50 })
	newName := "nflr" + netlab.Suffix()
	l.B.Rename(t, l.VethB, newName)
	renamedAt := p.count()
	waitFor(t, "traffic after the rename", labWait, func() bool {
		recs := s.records()
		return len(recs) > 0 && recs[len(recs)-1].InName == newName
	})
	// Everything sent from now on must carry the new name.
	settled := p.count()
	waitFor(t, "100 more packets", labWait, func() bool { return p.count() >= settled+100 })
	p.halt()
	time.Sleep(150 * time.Millisecond) // kernel flush timeout + reading

	recs := s.records()
	var before, after int
	for _, r := range recs {
		_, c, _ := udpInfo(&r)
		switch {
		case r.InName != l.VethB && r.InName != newName:
			t.Fatalf("packet %d: IN=%q, neither the old %q nor the new %q name", c, r.InName, l.VethB, newName)
		case int(c) >= settled && r.InName != newName:
			t.Errorf("packet %d sent after the new name was seen: IN=%q", c, r.InName)
		case r.InName == newName:
			after++
		default:
			before++
		}
	}
	t.Logf("rename after packet %d: %d records with the old name, %d with the new", renamedAt, before, after)
	if after < 100 || before < 50 {
		t.Errorf("old name %d times, new name %d times", before, after)
	}
}

// The agent restarted while traffic flows loses only
// what was sent while it was not running (plus what the kernel still held
// in its batch when the old socket closed).
func TestLabRestartWhileFlowing(t *testing.T) {
	l := netlab.New(t)
	l.B.Nft(t, `table inet lab {
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip saddr 10.231.0.1 udp dport 5004 log group 44
	}
}`)
	names := openNames(t, l.B)
	cfg := GroupConfig{Group: 44}
	g1, err := OpenGroup(cfg, GroupOptions{NetNS: l.B.Fd(), Names: names})
	if err != nil {
		t.Fatal(err)
	}
	s1 := drain(g1)
	tx := l.Sender(t)
	const interval = 2 * time.Millisecond
	p := keepSending(l, tx, 5004, interval)
	waitFor(t, "traffic before the restart", labWait, func() bool { return s1.len() >= 100 })

	stopAt := time.Now()
	g1.Close()
	<-s1.done
	g2 := openGroup(t, l.B, cfg, names)
	boundAt := time.Now()
	s2 := drain(g2)
	resume := p.count()
	waitFor(t, "traffic after the restart", labWait, func() bool { return s2.len() >= 100 })
	sent := p.halt()
	last := uint32(len(sent) - 1)
	waitFor(t, "the last packet", labWait, func() bool {
		r := s2.records()
		_, c, _ := udpInfo(&r[len(r)-1])
		return c == last
	})

	got := map[uint32]bool{}
	for _, r := range append(s1.records(), s2.records()...) {
		_, c, ok := udpInfo(&r)
		if !ok || got[c] {
			t.Fatalf("unexpected or duplicate packet %d", c)
		}
		got[c] = true
	}
	var lost []uint32
	for c := uint32(0); c <= last; c++ {
		if !got[c] {
			lost = append(lost, c)
		}
	}
	t.Logf("down for %v; lost %d of %d packets (%s); resumed at packet %d", boundAt.Sub(stopAt), len(lost), last+1, summarize(lost), resume)
	// The old socket delivered a prefix of the stream and the new one a
	// suffix: the loss is one stretch around the restart, nothing else.
	if len(lost) > 0 && int(lost[len(lost)-1]-lost[0])+1 != len(lost) {
		t.Errorf("lost packets %s: not one contiguous stretch around the restart", summarize(lost))
	}
	// And that stretch is what was sent while the agent was down, plus what
	// the kernel still held in its batch (flush timeout) when the old socket
	// closed. The margin only absorbs scheduling delays on a loaded machine.
	const margin = time.Second
	lo, hi := stopAt.Add(-DefaultFlushTimeout-margin), boundAt.Add(margin)
	for _, c := range lost {
		if at := sent[c]; at.Before(lo) || at.After(hi) {
			t.Errorf("packet %d, sent %v before the stop, was lost: outside the downtime", c, stopAt.Sub(at))
		}
	}
	if st := g2.Stats(); st.KernelLost != 0 || st.Received != uint64(len(s2.records())) {
		t.Errorf("restarted group stats %+v", st)
	}
}

// A broken socket is re-opened with backoff, and reading resumes.
func TestLabReopenBrokenSocket(t *testing.T) {
	l := netlab.New(t)
	l.B.Nft(t, `table inet lab {
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip saddr 10.231.0.1 udp dport 5005 log group 45
	}
}`)
	g := openGroup(t, l.B, GroupConfig{Group: 45}, nil)
	if !g.Bound() {
		t.Error("open group: Bound() = false")
	}
	s := drain(g)
	tx := l.Sender(t)
	mustSend(t, tx, udp4(l, 5005, 0, 0))
	waitFor(t, "first packet", labWait, func() bool { return s.len() == 1 })

	g.current.Load().nf.Con.Close() // what a broken socket looks like to the reader
	waitFor(t, "re-open", labWait, func() bool { return g.Stats().Reopens == 1 })
	mustSend(t, tx, udp4(l, 5005, 1, 0))
	waitFor(t, "packet after re-open", labWait, func() bool { return s.len() == 2 })
	if st := g.Stats(); st.Reopens != 1 || st.Received != 2 {
		t.Errorf("stats %+v", st)
	}
	if !g.Bound() {
		t.Error("re-opened group: Bound() = false")
	}
	g.Close()
	if g.Bound() {
		t.Error("closed group: Bound() = true")
	}
}

func openNames(t *testing.T, ns *netlab.NS) *ifcache.Cache {
	t.Helper()
	c, err := ifcache.Open(ns.Fd())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustSend(t *testing.T, tx *netlab.Sender, frame []byte) {
	t.Helper()
	if err := tx.Send(frame); err != nil {
		t.Fatal(err)
	}
}

// summarize prints a sorted list of counters as ranges.
func summarize(cs []uint32) string {
	sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
	var parts []string
	for i := 0; i < len(cs); {
		j := i
		for j+1 < len(cs) && cs[j+1] == cs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(cs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cs[i], cs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// Whole packets (snaplen 0): a message larger than the kernel's batch size
// arrives in a datagram of its own, whole, between small ones.
func TestLabWholePackets(t *testing.T) {
	ns := netlab.NewNS(t, "w")
	ns.Nft(t, `table inet lab {
	chain out {
		type filter hook output priority 0; policy accept;
		udp dport 7000 log group 51
	}
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport 7000 drop
	}
}`)
	g := openGroup(t, ns, GroupConfig{Group: 51, FullPacket: true}, nil)
	s := drain(g)
	sizes := []int{1, 65000, 10, 40000, 65507, 3}
	ns.MustDo(t, func() error {
		c, err := net.Dial("udp", "127.0.0.1:7000")
		if err != nil {
			return err
		}
		defer c.Close()
		for _, n := range sizes {
			if _, err := c.Write(make([]byte, n)); err != nil {
				return fmt.Errorf("send %d bytes: %w", n, err)
			}
		}
		return nil
	})
	waitFor(t, "every packet", labWait, func() bool { return s.len() >= len(sizes) })
	for i, r := range s.records() {
		// The kernel copies at most 65531 bytes (its copy range maximum).
		if want := min(28+sizes[i], maxSnapLen); len(r.Payload) != want {
			t.Errorf("packet %d: payload of %d bytes, want %d", i, len(r.Payload), want)
		}
	}
	if st := g.Stats(); st.DecodeErrors != 0 || st.KernelLost != 0 || st.Received != uint64(len(sizes)) {
		t.Errorf("stats %+v", st)
	}
}
