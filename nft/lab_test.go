// Package nft holds no Go code: its tests load the shipped rulesets into
// throw-away network namespaces and check that the packets they log reach
// the agent's collector.
package nft

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
)

// The namespace helpers below are the few that these tests need. The lab
// helpers of the collector (collector/internal/netlab) cannot be imported
// from here: Go only lets code under collector/ import them.

// requireLab skips unless root with nft and ip: an ordinary `go test` passes,
// CI (root) runs the lab.
func requireLab(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, nft, NFLOG); CI runs it as root")
	}
	for _, tool := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (apt-get install nftables iproute2)", tool)
		}
	}
}

func suffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func cmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netns is a network namespace with a random name, removed at cleanup even
// when the test fails.
type netns struct {
	name string
	file *os.File
}

func newNS(t *testing.T, role string) *netns {
	t.Helper()
	name := "nflnft" + role + "-" + suffix()
	cmd(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	n := &netns{name: name, file: f}
	n.run(t, "ip", "link", "set", "lo", "up")
	return n
}

func (n *netns) run(t *testing.T, args ...string) string {
	t.Helper()
	return cmd(t, append([]string{"ip", "netns", "exec", n.name}, args...)...)
}

// do runs fn on an OS thread inside the namespace; sockets fn opens stay in
// it. The thread is retired afterwards rather than returned to the pool.
func (n *netns) do(t *testing.T, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Setns(int(n.file.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in %s: %v", n.name, err)
	}
}

// link joins a and b with a veth pair named aDev in a and bDev in b, with
// the given addresses (CIDR). The pair is created under random names and
// renamed inside the namespaces, so fixed names like lan0 never touch the
// host.
func link(t *testing.T, a *netns, aDev, aAddr string, b *netns, bDev, bAddr string) {
	t.Helper()
	ta, tb := "nfla"+suffix(), "nflb"+suffix()
	cmd(t, "ip", "link", "add", ta, "netns", a.name, "type", "veth", "peer", "name", tb, "netns", b.name)
	for _, s := range []struct {
		ns             *netns
		tmp, dev, cidr string
	}{{a, ta, aDev, aAddr}, {b, tb, bDev, bAddr}} {
		s.ns.run(t, "ip", "link", "set", "dev", s.tmp, "name", s.dev)
		s.ns.run(t, "ip", "addr", "add", s.cidr, "dev", s.dev)
		s.ns.run(t, "ip", "link", "set", s.dev, "up")
	}
}

// router builds lan (10.231.0.1) — fw — wan (10.231.1.2): fw forwards
// between its interfaces lan0 (10.231.0.2) and wan0 (10.231.1.1), the names
// forward.nft and iptables-nflog.rules expect.
type router struct{ lan, fw, wan *netns }

func newRouter(t *testing.T) *router {
	t.Helper()
	r := &router{lan: newNS(t, "l"), fw: newNS(t, "f"), wan: newNS(t, "w")}
	link(t, r.lan, "eth0", "10.231.0.1/24", r.fw, "lan0", "10.231.0.2/24")
	link(t, r.fw, "wan0", "10.231.1.1/24", r.wan, "eth0", "10.231.1.2/24")
	r.lan.run(t, "ip", "route", "add", "default", "via", "10.231.0.2")
	r.wan.run(t, "ip", "route", "add", "default", "via", "10.231.1.1")
	r.fw.run(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward") // this namespace's only
	return r
}

// records reads an NFLOG group in a namespace with the agent's collector and
// keeps a one-line summary of each record.
type records struct {
	mu   sync.Mutex
	seen []string
}

func listen(t *testing.T, n *netns, group uint16) *records {
	t.Helper()
	g, err := collector.OpenGroup(collector.GroupConfig{Group: group}, collector.GroupOptions{NetNS: int(n.file.Fd())})
	if err != nil {
		t.Fatalf("open NFLOG group %d in %s: %v", group, n.name, err)
	}
	t.Cleanup(func() { g.Close() })
	rs := &records{}
	go func() {
		for r := range g.Records() {
			rs.mu.Lock()
			rs.seen = append(rs.seen, summary(&r))
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

// sendInvalidTCP sends a TCP segment with SYN and FIN set, a combination
// conntrack classifies as invalid, through a raw socket.
func sendInvalidTCP(src, dst string, dport uint16) error {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(dport), SYN: true, FIN: true, Window: 1024}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW) // implies IP_HDRINCL
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{}
	copy(to.Addr[:], ip.DstIP)
	return unix.Sendto(fd, buf.Bytes(), 0, to)
}
