package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lab addresses: A (sender) and B (the firewall whose rules log). They exist
// only in the two namespaces the benchmark creates.
const (
	addrA    = "10.231.0.1"
	addrB    = "10.231.0.2"
	floodDst = addrB + ":9000"
	nftTable = "nflbench"
)

// cleaner runs registered undo steps in reverse order, once, whether the
// benchmark ends normally, fails or is interrupted.
type cleaner struct {
	mu    sync.Mutex
	steps []func()
	done  bool
}

func (c *cleaner) add(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps = append(c.steps, f)
}

func (c *cleaner) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	for i := len(c.steps) - 1; i >= 0; i-- {
		c.steps[i]()
	}
}

// lab is two namespaces joined by a veth pair.
type lab struct {
	A, B string // namespace names
}

func command(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// newLab creates namespaces <prefix>a and <prefix>b. Their removal is
// registered with cl before anything else can fail.
func newLab(ctx context.Context, prefix string, cl *cleaner) (*lab, error) {
	l := &lab{A: prefix + "a", B: prefix + "b"}
	for _, ns := range []string{l.A, l.B} {
		if _, err := command(ctx, "ip", "netns", "add", ns); err != nil {
			return nil, err
		}
		cl.add(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	vethA, vethB := prefix+"va", prefix+"vb"
	steps := [][]string{
		{"ip", "link", "add", vethA, "netns", l.A, "type", "veth", "peer", "name", vethB, "netns", l.B},
		{"ip", "-n", l.A, "link", "set", "lo", "up"},
		{"ip", "-n", l.B, "link", "set", "lo", "up"},
		{"ip", "-n", l.A, "addr", "add", addrA + "/24", "dev", vethA},
		{"ip", "-n", l.B, "addr", "add", addrB + "/24", "dev", vethB},
		{"ip", "-n", l.A, "link", "set", vethA, "up"},
		{"ip", "-n", l.B, "link", "set", vethB, "up"},
	}
	for _, s := range steps {
		if _, err := command(ctx, s...); err != nil {
			return nil, err
		}
	}
	// Static neighbours: no ARP traffic in the middle of a flood.
	macA, err := l.mac(ctx, l.A, vethA)
	if err != nil {
		return nil, err
	}
	macB, err := l.mac(ctx, l.B, vethB)
	if err != nil {
		return nil, err
	}
	for _, s := range [][]string{
		{"ip", "-n", l.A, "neigh", "replace", addrB, "lladdr", macB, "dev", vethA, "nud", "permanent"},
		{"ip", "-n", l.B, "neigh", "replace", addrA, "lladdr", macA, "dev", vethB, "nud", "permanent"},
	} {
		if _, err := command(ctx, s...); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *lab) mac(ctx context.Context, ns, dev string) (string, error) {
	out, err := command(ctx, "ip", "-n", ns, "-o", "link", "show", "dev", dev)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "link/ether" {
			return f[i+1], nil
		}
	}
	return "", fmt.Errorf("no MAC address in %q", out)
}

// ruleset logs every flood packet that reaches B's input hook to each of
// groups (one rule and counter per group), then drops it: no socket, no
// replies. Loading it again replaces the table and zeroes the counters.
func ruleset(groups []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", nftTable, nftTable, nftTable)
	b.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "\t\tip saddr %s udp dport 9000 counter log prefix \"IPTABLES: ACCEPT \" group %d comment \"g%d\"\n", addrA, g, g)
	}
	fmt.Fprintf(&b, "\t\tip saddr %s udp dport 9000 counter drop comment \"drop\"\n\t}\n}\n", addrA)
	return b.String()
}

func (l *lab) loadRules(ctx context.Context, groups []int) error {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.B, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset(groups))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f in %s: %w: %s", l.B, err, out)
	}
	return nil
}

// counters returns the packet counter of each rule by its comment.
func (l *lab) counters(ctx context.Context) (map[string]uint64, error) {
	out, err := command(ctx, "ip", "netns", "exec", l.B, "nft", "list", "table", "inet", nftTable)
	if err != nil {
		return nil, err
	}
	return parseCounters(string(out)), nil
}

// parseCounters reads `counter packets N … comment "TAG"` rules of an
// `nft list` output.
func parseCounters(out string) map[string]uint64 {
	m := map[string]uint64{}
	for line := range strings.Lines(out) {
		i := strings.Index(line, `comment "`)
		if i < 0 {
			continue
		}
		tag, _, _ := strings.Cut(line[i+len(`comment "`):], `"`)
		f := strings.Fields(line)
		for j := 0; j+2 < len(f); j++ {
			if f[j] == "counter" && f[j+1] == "packets" {
				if v, err := strconv.ParseUint(f[j+2], 10, 64); err == nil {
					m[tag] = v
				}
			}
		}
	}
	return m
}

// boundGroups lists the NFLOG groups that have a listener in namespace ns
// (/proc/net/netfilter/nfnetlink_log is per namespace).
func (l *lab) boundGroups(ctx context.Context, ns string) (map[int]bool, error) {
	out, err := command(ctx, "ip", "netns", "exec", ns, "cat", "/proc/net/netfilter/nfnetlink_log")
	if err != nil {
		return nil, err
	}
	m := map[int]bool{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			if g, err := strconv.Atoi(f[0]); err == nil {
				m[g] = true
			}
		}
	}
	return m, nil
}

// proc is a child process of the benchmark. It dies with the benchmark
// (parent-death signal) even if the benchmark itself is killed.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(name string, args []string, stdout, stderr *os.File, pids *os.File) (*proc, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if pids != nil {
		fmt.Fprintln(pids, cmd.Process.Pid)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs.
func (p *proc) stop(grace time.Duration) error {
	if p.exited() {
		return fmt.Errorf("%s had already exited: %v", p.name, p.err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v after SIGTERM; killed", p.name, grace)
	}
}

func (p *proc) kill() {
	if !p.exited() {
		p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuTicks is utime+stime of a process (all its threads), in clock ticks.
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// parseStatCPU returns utime+stime from a /proc/PID/stat line. The command
// name in parentheses may contain spaces, so fields count from its end.
func parseStatCPU(s string) (uint64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat %q", s)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat %q", s)
	}
	return u + st, nil
}

// peakRSS is VmHWM of a process, in bytes.
func peakRSS(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(b))
}

func parseVmHWM(s string) (uint64, error) {
	for line := range strings.Lines(s) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseUint(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/PID/status")
}
