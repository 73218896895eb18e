// Package netlab provides utilities for real-kernel network tests, as
// net/http/httptest does for HTTP: it is meant to be imported by _test.go
// files only, never by the agent itself.
//
// It builds throwaway network labs: network namespaces (optionally with a
// ruleset loaded from a file, see NewNSWithRules) joined by veth pairs, nft
// rulesets, raw packet injection and the kernel log, plus small helpers such
// tests share (Cmd, WaitFor, SyncBuffer). Everything a lab creates is removed
// with t.Cleanup, even when the test fails, and names carry a random suffix
// so that parallel or leftover runs never clash. Traffic never leaves the
// lab's namespaces.
package netlab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// Addresses inside every lab: side A is the sender, side B the firewall
// whose rules log. They exist only in the lab's namespaces.
var (
	IPv4A = net.ParseIP("10.231.0.1").To4()
	IPv4B = net.ParseIP("10.231.0.2").To4()
	IPv6A = net.ParseIP("fd00:231::1")
	IPv6B = net.ParseIP("fd00:231::2")
)

// Require skips the test unless it runs as root with nft and ip available:
// an ordinary `go test` passes, CI (root, CI=true) runs the lab and fails
// the test when it cannot.
func Require(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t, "netlab: network namespaces, nft, NFLOG")
	testenv.NeedCommand(t, "nft", "nftables")
	testenv.NeedCommand(t, "ip", "iproute2")
}

// Suffix returns a random hex string for unique names.
func Suffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NS is a network namespace created for one test.
type NS struct {
	Name string
	file *os.File
}

// NewNS creates a namespace with its loopback up, named "nfl<role>-<random>".
// It skips the test unless Require is satisfied.
func NewNS(t testing.TB, role string) *NS {
	t.Helper()
	Require(t)
	name := "nfl" + role + "-" + Suffix()
	Cmd(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatalf("netlab: open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	ns := &NS{Name: name, file: f}
	ns.Run(t, "ip", "link", "set", "lo", "up")
	return ns
}

// NewNSWithRules is NewNS with a ruleset file (nft -f syntax, such as the
// shipped nft/nflog-agent.nft) loaded into the namespace.
func NewNSWithRules(t testing.TB, role, rulesFile string) *NS {
	t.Helper()
	n := NewNS(t, role)
	n.NftFile(t, rulesFile)
	return n
}

// Fd is a file descriptor of the namespace, for go-nflog's and rtnetlink's
// Config.NetNS. It stays valid until the test ends.
func (n *NS) Fd() int { return int(n.file.Fd()) }

// Path is the namespace file, as the agent's `netns:` option takes it.
func (n *NS) Path() string { return "/run/netns/" + n.Name }

// Run runs a command inside the namespace and returns its output; failure
// fails the test.
func (n *NS) Run(t testing.TB, args ...string) string {
	t.Helper()
	return Cmd(t, append([]string{"ip", "netns", "exec", n.Name}, args...)...)
}

// Nft loads a ruleset (nft -f syntax) into the namespace.
func (n *NS) Nft(t testing.TB, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("netlab: nft -f in %s: %v\n%s\nruleset:\n%s", n.Name, err, out, ruleset)
	}
}

// NftFile loads a ruleset file into the namespace, as an operator would.
func (n *NS) NftFile(t testing.TB, path string) {
	t.Helper()
	n.Run(t, "nft", "-f", path)
}

// Do runs fn on an OS thread that has joined the namespace. The thread is
// returned to the original namespace afterwards, or retired if that fails.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return // thread still locked: it dies with the goroutine
		}
		defer orig.Close()
		if err := unix.Setns(n.Fd(), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// MustDo is Do that fails the test if fn (or joining the namespace) fails.
func (n *NS) MustDo(t testing.TB, fn func() error) {
	t.Helper()
	if err := n.Do(fn); err != nil {
		t.Fatalf("netlab: in %s: %v", n.Name, err)
	}
}

// Veth joins a and b with a veth pair named aDev in a and bDev in b, with
// the given addresses (CIDR notation), and brings both ends up. The pair is
// created under random names and renamed inside the namespaces, so fixed
// names like eth0 or lan0 never touch the host.
func Veth(t testing.TB, a *NS, aDev, aCIDR string, b *NS, bDev, bCIDR string) {
	t.Helper()
	ta, tb := "nfla"+Suffix(), "nflb"+Suffix()
	Cmd(t, "ip", "link", "add", ta, "netns", a.Name, "type", "veth", "peer", "name", tb, "netns", b.Name)
	for _, s := range []struct {
		ns             *NS
		tmp, dev, cidr string
	}{{a, ta, aDev, aCIDR}, {b, tb, bDev, bCIDR}} {
		s.ns.Run(t, "ip", "link", "set", "dev", s.tmp, "name", s.dev)
		s.ns.Run(t, "ip", "addr", "add", s.cidr, "dev", s.dev)
		s.ns.Run(t, "ip", "link", "set", s.dev, "up")
	}
}

// Cmd runs a command and returns its combined output; failure fails the test.
func Cmd(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("netlab: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Lab is two namespaces joined by a veth pair: A (10.231.0.1, fd00:231::1)
// sends, B (10.231.0.2, fd00:231::2) is the firewall whose rules log.
type Lab struct {
	A, B         *NS
	VethA, VethB string // interface names in A and B
	MACA, MACB   net.HardwareAddr
}

// New builds a lab. IPv6 addresses skip duplicate address detection so they
// are usable at once.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	l := &Lab{A: NewNS(t, "a"), B: NewNS(t, "b")}
	sfx := Suffix()
	l.VethA, l.VethB = "nfla"+sfx, "nflb"+sfx
	Cmd(t, "ip", "link", "add", l.VethA, "netns", l.A.Name, "type", "veth", "peer", "name", l.VethB, "netns", l.B.Name)
	for _, side := range []struct {
		ns       *NS
		dev      string
		ip4, ip6 net.IP
	}{{l.A, l.VethA, IPv4A, IPv6A}, {l.B, l.VethB, IPv4B, IPv6B}} {
		side.ns.Run(t, "ip", "addr", "add", side.ip4.String()+"/24", "dev", side.dev)
		side.ns.Run(t, "ip", "addr", "add", side.ip6.String()+"/64", "dev", side.dev, "nodad")
		side.ns.Run(t, "ip", "link", "set", side.dev, "up")
	}
	l.MACA = l.A.MAC(t, l.VethA)
	l.MACB = l.B.MAC(t, l.VethB)
	// Static neighbours: B answers test packets (RST, echo reply, ICMP
	// errors), and without these A would answer B's neighbour solicitations
	// from its own address, adding packets the tests did not send.
	l.B.Run(t, "ip", "neigh", "replace", IPv4A.String(), "lladdr", l.MACA.String(), "dev", l.VethB, "nud", "permanent")
	l.B.Run(t, "ip", "neigh", "replace", IPv6A.String(), "lladdr", l.MACA.String(), "dev", l.VethB, "nud", "permanent")
	l.A.Run(t, "ip", "neigh", "replace", IPv4B.String(), "lladdr", l.MACB.String(), "dev", l.VethA, "nud", "permanent")
	l.A.Run(t, "ip", "neigh", "replace", IPv6B.String(), "lladdr", l.MACB.String(), "dev", l.VethA, "nud", "permanent")
	return l
}

// NewFirewall is a lab whose side B, the firewall, has a ruleset file (such
// as the shipped nft/nflog-agent.nft) loaded: connections from A reach it
// over the veth pair, as traffic from another host would. Loopback traffic
// would not do: the shipped rules do not log it.
func NewFirewall(t testing.TB, rulesFile string) *Lab {
	t.Helper()
	l := New(t)
	l.B.NftFile(t, rulesFile)
	return l
}

// Connect opens a TCP connection from A to port on B. Nothing listens, so it
// is refused, but its SYN is the first packet of a new connection: what
// rules log.
func (l *Lab) Connect(t testing.TB, port int) {
	t.Helper()
	l.A.MustDo(t, func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(IPv4B.String(), strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
		}
		return nil
	})
}

// MAC returns the hardware address of an interface in the namespace.
func (n *NS) MAC(t testing.TB, dev string) net.HardwareAddr {
	t.Helper()
	var links []struct {
		Address string `json:"address"`
	}
	out := n.Run(t, "ip", "-j", "link", "show", "dev", dev)
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("netlab: ip -j link show %s: %v: %s", dev, err, out)
	}
	mac, err := net.ParseMAC(links[0].Address)
	if err != nil {
		t.Fatalf("netlab: MAC of %s: %v", dev, err)
	}
	return mac
}

// Rename renames an interface of the namespace (down, rename, up: the
// kernel refuses to rename a running interface).
func (n *NS) Rename(t testing.TB, from, to string) {
	t.Helper()
	n.Run(t, "ip", "link", "set", "dev", from, "down")
	n.Run(t, "ip", "link", "set", "dev", from, "name", to)
	n.Run(t, "ip", "link", "set", "dev", to, "up")
}

// Counter returns the packet count of the rule carrying `comment "<tag>"`
// in the given chain.
func (n *NS) Counter(t testing.TB, family, table, chain, tag string) uint64 {
	t.Helper()
	out := n.Run(t, "nft", "list", "chain", family, table, chain)
	for line := range strings.Lines(out) {
		if !strings.Contains(line, `comment "`+tag+`"`) {
			continue
		}
		f := strings.Fields(line)
		for i := 0; i+2 < len(f); i++ {
			if f[i] == "counter" && f[i+1] == "packets" {
				var v uint64
				if _, err := fmt.Sscan(f[i+2], &v); err != nil {
					t.Fatalf("netlab: counter in %q: %v", line, err)
				}
				return v
			}
		}
	}
	t.Fatalf("netlab: no counter rule with comment %q in:\n%s", tag, out)
	return 0
}

// Sysctl sets a sysctl (a /proc/sys path relative name such as
// net/netfilter/nf_log_all_netns) and restores the old value at cleanup.
func Sysctl(t testing.TB, name, value string) {
	t.Helper()
	path := "/proc/sys/" + name
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("netlab: read sysctl %s: %v", name, err)
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		t.Fatalf("netlab: set sysctl %s=%s: %v", name, value, err)
	}
	t.Cleanup(func() { os.WriteFile(path, bytes.TrimSpace(old), 0o644) })
}
