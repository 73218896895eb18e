package collector

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// For every packet of the catalogue, a `log prefix P flags F` rule
// (the kernel's own line, read back from /dev/kmsg) and a `log prefix P group
// G` rule (the agent) log the same packet, and the agent's message must equal
// the kernel's line byte for byte. Three pairs run at once:
//
//	A: flags all      ↔ group 51, message_flags all
//	N: no flags       ↔ group 52, message_flags none
//	S: flags all, big packets only ↔ group 53 with a 128-byte snap length
func TestLabKernelLineExactness(t *testing.T) {
	l := netlab.New(t)
	netlab.Sysctl(t, "net/netfilter/nf_log_all_netns", "1") // LOG prints from non-init namespaces only then
	tag := "NFLAB" + netlab.Suffix()
	pA, pN, pS := tag+" A ", tag+" N ", tag+" S: "
	// level debug keeps the lines off the console, which could be slow.
	l.B.Nft(t, fmt.Sprintf(`table inet lab {
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip saddr 10.231.0.1 jump logboth
		ip6 saddr fd00:231::1 jump logboth
	}
	chain out {
		# Locally generated traffic: OUTPUT hook, no MAC, socket owner
		# (UID/GID). Only our own sockets: the kernel's own answers to
		# the catalogue (RST, ICMP errors) have no owner.
		type filter hook output priority 0; policy accept;
		meta skuid 0 ip daddr 10.231.0.1 jump logboth
		meta skuid 0 ip6 daddr fd00:231::1 jump logboth
	}
	chain logboth {
		log prefix "%[1]s" level debug flags all
		log prefix "%[1]s" group 51
		log prefix "%[2]s" level debug
		log prefix "%[2]s" group 52
		meta length > 300 log prefix "%[3]s" level debug flags all
		meta length > 300 log prefix "%[3]s" group 53
	}
}`, pA, pN, pS))

	names := openNames(t, l.B)
	kmsg := netlab.OpenKmsg(t, tag)
	type pair struct {
		prefix string
		g      *Group
		s      *sink
		flags  decode.LogFlags
	}
	pairs := []*pair{
		{prefix: pA, flags: decode.FlagsAll, g: openGroup(t, l.B, GroupConfig{Group: 51}, names)},
		{prefix: pN, flags: 0, g: openGroup(t, l.B, GroupConfig{Group: 52}, names)},
		{prefix: pS, flags: decode.FlagsAll, g: openGroup(t, l.B, GroupConfig{Group: 53, SnapLen: 128}, names)},
	}
	for _, p := range pairs {
		p.s = drain(p.g)
	}

	pkts := catalogue(l)
	var big []int // indexes of packets the S pair logs
	tx := l.Sender(t)
	for i, p := range pkts {
		if len(p.frame)-14 > 300 {
			big = append(big, i)
		}
		mustSend(t, tx, p.frame)
		// Lockstep with the kernel log, so /dev/kmsg's ring buffer never
		// overwrites a line before it is read, however loaded the machine.
		wantLines := 2*(i+1) + len(big)
		waitFor(t, fmt.Sprintf("the kernel's lines for packet %d (%s)", i, p.name), labWait, func() bool { return len(kmsg.Lines()) >= wantLines })
	}
	// Then traffic from B's own sockets. A drops everything, so that
	// nothing answers and adds packets to the streams.
	l.A.Nft(t, "table inet sink { chain in { type filter hook input priority 0; policy drop; }; }")
	for _, lp := range localTraffic(t, l.B) {
		if lp.len > 300 {
			big = append(big, len(pkts))
		}
		pkts = append(pkts, labPacket{name: lp.name})
	}
	if len(pkts) < 200 || len(big) < 5 {
		t.Fatalf("catalogue: %d packets, %d big ones", len(pkts), len(big))
	}
	want := map[string]int{pA: len(pkts), pN: len(pkts), pS: len(big)}
	kernel := func() map[string][]string {
		m := map[string][]string{}
		for _, line := range kmsg.Lines() {
			for _, p := range pairs {
				if strings.HasPrefix(line, p.prefix) {
					m[p.prefix] = append(m[p.prefix], line)
				}
			}
		}
		return m
	}
	waitFor(t, "every packet logged both ways", labWait, func() bool {
		k := kernel()
		for _, p := range pairs {
			if len(k[p.prefix]) < want[p.prefix] || p.s.len() < want[p.prefix] {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond) // anything unexpected would show up now
	k := kernel()

	var mismatches, compared int
	for _, p := range pairs {
		recs := p.s.records()
		lines := k[p.prefix]
		if len(recs) != want[p.prefix] || len(lines) != want[p.prefix] {
			t.Errorf("pair %q: %d kernel lines, %d records, want %d of each", p.prefix, len(lines), len(recs), want[p.prefix])
			continue
		}
		enc := decode.NewEncoder(decode.Options{Flags: p.flags, Hostname: "lab"})
		for i := range recs {
			idx := i
			if p.prefix == pS {
				idx = big[i]
			}
			got := string(enc.Encode(&recs[i]).Message)
			compared++
			if testing.Verbose() && (i%23 == 0 || strings.HasPrefix(pkts[idx].name, "local")) {
				t.Logf("%s: %s", pkts[idx].name, got)
			}
			if got != lines[i] {
				mismatches++
				t.Errorf("%s, flags %#02x, snaplen %d: agent and kernel differ\npacket: %s\nkernel: %q\nagent:  %q",
					pkts[idx].name, uint8(p.flags), p.g.cfg.SnapLen, hex.EncodeToString(recs[i].Payload), lines[i], got)
			}
		}
		if st := p.g.Stats(); st.KernelLost != 0 || st.QueueDropped != 0 {
			t.Errorf("pair %q lost records: %+v", p.prefix, st)
		}
	}
	t.Logf("%d packets (%d big), %d comparisons, %d mismatches", len(pkts), len(big), compared, mismatches)
	if compared != 2*len(pkts)+len(big) {
		t.Errorf("compared %d lines, want %d", compared, 2*len(pkts)+len(big))
	}
}

type localPacket struct {
	name string
	len  int // IP length
}

// localTraffic sends from sockets in ns (the firewall itself) to A: UDP and
// TCP SYNs with the kernel's own options, over IPv4 and IPv6.
func localTraffic(t *testing.T, ns *netlab.NS) []localPacket {
	t.Helper()
	var sent []localPacket
	err := ns.Do(func() error {
		for _, u := range []struct {
			net, addr string
			size, hdr int
		}{
			{"udp4", "10.231.0.1:7", 10, 28}, {"udp4", "10.231.0.1:514", 1000, 28},
			{"udp6", "[fd00:231::1]:7", 10, 48}, {"udp6", "[fd00:231::1]:514", 600, 48},
		} {
			c, err := net.Dial(u.net, u.addr)
			if err != nil {
				return err
			}
			_, err = c.Write(make([]byte, u.size))
			c.Close()
			if err != nil {
				return err
			}
			sent = append(sent, localPacket{fmt.Sprintf("local %s %d bytes to %s", u.net, u.size, u.addr), u.size + u.hdr})
			time.Sleep(time.Millisecond)
		}
		for _, addr := range []string{"10.231.0.1:22", "[fd00:231::1]:22"} {
			// A drops the SYN; closing the socket before the first
			// retransmission (1 s) means exactly one SYN.
			if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
				c.Close()
				return fmt.Errorf("connect %s: unexpectedly succeeded", addr)
			}
			sent = append(sent, localPacket{"local tcp syn to " + addr, 60})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("local traffic from %s: %v", ns.Name, err)
	}
	return sent
}
