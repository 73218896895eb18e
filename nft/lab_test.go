// Package nft holds no Go code: its tests load the shipped rulesets into
// throw-away network namespaces and check that the packets they log reach
// the agent's collector.
package nft

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// router builds lan (10.231.0.1) — fw — wan (10.231.1.2): fw forwards
// between its interfaces lan0 (10.231.0.2) and wan0 (10.231.1.1), the names
// forward.nft and iptables-nflog.rules expect.
type router struct{ lan, fw, wan *netlab.NS }

func newRouter(t *testing.T) *router {
	t.Helper()
	r := &router{lan: newNS(t, "l"), fw: newNS(t, "f"), wan: newNS(t, "w")}
	netlab.Veth(t, r.lan, "eth0", "10.231.0.1/24", r.fw, "lan0", "10.231.0.2/24")
	netlab.Veth(t, r.fw, "wan0", "10.231.1.1/24", r.wan, "eth0", "10.231.1.2/24")
	r.lan.Run(t, "ip", "route", "add", "default", "via", "10.231.0.2")
	r.wan.Run(t, "ip", "route", "add", "default", "via", "10.231.1.1")
	r.fw.Run(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward") // this namespace's only
	return r
}

// newNS is a namespace of these tests, named nflnft<role>-<random>.
func newNS(t *testing.T, role string) *netlab.NS {
	t.Helper()
	return netlab.NewNS(t, "nft"+role)
}

// records reads an NFLOG group in a namespace with the agent's collector and
// keeps a one-line summary of each record.
type records struct {
	mu   sync.Mutex
	seen []string
}

func listen(t *testing.T, n *netlab.NS, group uint16) *records {
	t.Helper()
	g, err := collector.OpenGroup(collector.GroupConfig{Group: group}, collector.GroupOptions{NetNS: n.Fd()})
	if err != nil {
		t.Fatalf("open NFLOG group %d in %s: %v", group, n.Name, err)
	}
	t.Cleanup(func() { g.Close() })
	rs := &records{}
	go func() {
		for batch := range g.Records() {
			rs.mu.Lock()
			recs := batch.Records()
			for i := range recs {
				rs.seen = append(rs.seen, summary(&recs[i]))
			}
			rs.mu.Unlock()
		}
	}()
	return rs
}

// expect waits until a record with this summary has arrived.
func (rs *records) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs.mu.Lock()
		seen := append([]string(nil), rs.seen...)
		rs.mu.Unlock()
		for _, s := range seen {
			if s == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record %q; got:\n  %s", want, strings.Join(seen, "\n  "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// only checks that exactly n records arrived: those a test expected, none
// of the traffic it sent before them that must not be logged.
func (rs *records) only(t *testing.T, n int) {
	t.Helper()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.seen) != n {
		t.Errorf("%d records, want %d:\n  %s", len(rs.seen), n, strings.Join(rs.seen, "\n  "))
	}
}

var hookNames = map[uint8]string{
	decode.HookPrerouting: "prerouting", decode.HookInput: "input", decode.HookForward: "forward",
	decode.HookOutput: "output", decode.HookPostrouting: "postrouting",
}

// summary is "<group> <hook> <prefix>|<proto> <src> -> <dst>:<dport>", what
// the tests compare records with.
func summary(r *decode.Record) string {
	first := layers.LayerTypeIPv4
	if r.IsIPv6() {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(r.Payload, first, gopacket.Lazy)
	var src, dst, proto string
	var dport uint16
	if n := p.NetworkLayer(); n != nil {
		src, dst = n.NetworkFlow().Src().String(), n.NetworkFlow().Dst().String()
	}
	switch l := p.TransportLayer().(type) {
	case *layers.TCP:
		proto, dport = "tcp", uint16(l.DstPort)
	case *layers.UDP:
		proto, dport = "udp", uint16(l.DstPort)
	}
	return fmt.Sprintf("%d %s %s|%s %s -> %s", r.Group, hookNames[r.Hook], r.Prefix, proto, src,
		net.JoinHostPort(dst, fmt.Sprint(dport)))
}

// dialTCP opens a TCP connection (its SYN is the new connection the rules
// log). Nothing listens, so it is refused or, if a policy drops it, times out.
func dialTCP(addr string) error {
	if c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond); err == nil {
		c.Close()
	}
	return nil
}

// sendUDP sends one datagram.
func sendUDP(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("nflog-agent test"))
	return err
}
