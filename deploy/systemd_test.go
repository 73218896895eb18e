package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// The package under a real systemd: a Debian system booted by
// systemd-nspawn with systemd as PID 1 and a network namespace of its own
// gets the .deb, the example rules and a file sink; traffic from a second
// namespace inside it must come out as events, and the unit must behave as
// docs/systemd.md says (reload, restart, stop, a bad config).
func TestUnderSystemd(t *testing.T) {
	if testing.Short() {
		testenv.Skipf(t, "-short: boots a container (a minute, a few more without the cached root)")
	}
	requireContainerHost(t)
	tmp := t.TempDir()
	deb := buildDeb(t, tmp, "1.2.3~test")
	root := filepath.Join(tmp, "root")
	makeRoot(t, root)
	if err := copyFile(deb, filepath.Join(root, "var/tmp/nflog-agent.deb")); err != nil {
		t.Fatal(err)
	}
	// The unit as shipped, except that a system call the filter refuses
	// kills the agent (SIGSYS) instead of failing with EPERM: a denial the
	// agent would shrug off cannot pass unnoticed.
	dropIn := filepath.Join(root, "etc/systemd/system/nflog-agent.service.d")
	if err := os.MkdirAll(dropIn, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropIn, "fatal-seccomp.conf"), []byte("[Service]\nSystemCallErrorNumber=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := boot(t, root)

	c.run(t, "dpkg", "-i", "/var/tmp/nflog-agent.deb")
	c.run(t, "nft", "-f", "/usr/share/nflog-agent/nflog-agent.nft")
	// A peer namespace behind a veth: its connections reach the container
	// through v0 (not loopback), where the rules log them.
	c.run(t, "sh", "-ec", `ip netns add peer
		ip link add v0 type veth peer name v1 netns peer
		ip addr add 10.99.0.1/24 dev v0
		ip link set v0 up
		ip -n peer addr add 10.99.0.2/24 dev v1
		ip -n peer link set v1 up`)
	connect := func(port int) { // refused, but its SYN is logged
		c.exec("ip", "netns", "exec", "peer", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/10.99.0.1/%d", port))
	}

	// The packaged config with the file sink it documents, added as an
	// administrator would.
	conf := filepath.Join(root, "etc/nflog-agent/nflog-agent.yaml")
	packaged, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	withSink := string(packaged) + "\nsinks:\n  - type: file\n    path: /var/log/nflog-agent/events.ndjson\n"
	if err := os.WriteFile(conf, []byte(withSink), 0o640); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(root, "var/log/nflog-agent/events.ndjson")
	fileHas := func(path, what string) bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), what)
	}

	if !t.Run("events reach the file sink", func(t *testing.T) {
		// Enabled, as an administrator would: it also keeps systemd from
		// forgetting the unit's exit status once it is stopped.
		c.run(t, "systemctl", "enable", "--now", "nflog-agent")
		waitUntil(t, time.Minute, "the agent to read its group", func() bool {
			return strings.Contains(c.journal(t), "nflog-agent started")
		})
		if j := c.journal(t); !strings.Contains(j, " groups=100 spool=disk spool_dir=/var/lib/nflog-agent/spool backlog=0") {
			t.Errorf("start-up line:\n%s", j)
		}
		connect(9001)
		waitUntil(t, time.Minute, "the event in "+events, func() bool { return fileHas(events, "DPT=9001 ") })
		if !fileHas(events, `"message":"IPTABLES: ACCEPT IN=v0 `) {
			t.Errorf("events:\n%s", readFile(events))
		}
	}) {
		return
	}

	if !t.Run("reload reopens the file", func(t *testing.T) {
		pid := c.show(t, "MainPID")
		if err := os.Rename(events, events+".1"); err != nil { // as logrotate does
			t.Fatal(err)
		}
		c.run(t, "systemctl", "reload", "nflog-agent")
		waitUntil(t, time.Minute, "the reopen in the journal", func() bool {
			return strings.Contains(c.journal(t), "reopen requested (SIGHUP)")
		})
		connect(9002)
		waitUntil(t, time.Minute, "the event in the new file", func() bool { return fileHas(events, "DPT=9002 ") })
		if fileHas(events+".1", "DPT=9002 ") {
			t.Error("an event after the reload went to the moved file")
		}
		if got := c.show(t, "MainPID"); got != pid {
			t.Errorf("MainPID %s after reload, want %s (the same process)", got, pid)
		}
	}) {
		return
	}

	if !t.Run("Restart= brings it back after SIGKILL", func(t *testing.T) {
		pid := c.show(t, "MainPID")
		c.run(t, "systemctl", "kill", "--signal=KILL", "nflog-agent")
		waitUntil(t, time.Minute, "a new main process", func() bool {
			p := c.show(t, "MainPID")
			return p != pid && p != "0" && c.show(t, "ActiveState") == "active"
		})
		if n := c.show(t, "NRestarts"); n != "1" {
			t.Errorf("NRestarts=%s, want 1", n)
		}
		// Active once started, reading its group a moment later.
		waitUntil(t, time.Minute, "the new agent to read its group", func() bool {
			return strings.Count(c.journal(t), "nflog-agent started") == 2
		})
		connect(9003)
		waitUntil(t, time.Minute, "an event after the restart", func() bool { return fileHas(events, "DPT=9003 ") })
	}) {
		return
	}

	if !t.Run("stop drains and exits 0", func(t *testing.T) {
		// A burst, then SIGTERM at once: what the agent has read by then
		// must all be delivered before it exits.
		c.run(t, "ip", "netns", "exec", "peer", "bash", "-c",
			"for p in $(seq 9100 9139); do (exec 3<>/dev/tcp/10.99.0.1/$p) 2>/dev/null; done; true")
		c.run(t, "systemctl", "stop", "nflog-agent")
		for key, want := range map[string]string{"Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0"} {
			if got := c.show(t, key); got != want {
				t.Errorf("%s=%s after stop, want %s", key, got, want)
			}
		}
		j := c.journal(t)
		received, sent := lastValue(j, "group totals", "received"), lastValue(j, "sink totals", "sent")
		if received < 1 || sent != received || lastValue(j, "sink totals", "pending") != 0 {
			t.Errorf("at stop: received %d, sent %d, want all of them sent:\n%s", received, sent, j)
		}
	}) {
		return
	}

	t.Run("a bad config fails ExecStartPre with file:line", func(t *testing.T) {
		lines := strings.Count(withSink, "\n")
		if err := os.WriteFile(conf, []byte(withSink+"bogus: 1\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if out, err := c.exec("systemctl", "start", "nflog-agent"); err == nil {
			t.Fatalf("start with a bad config succeeded:\n%s", out)
		}
		if got := c.show(t, "Result"); got != "exit-code" {
			t.Errorf("Result=%s, want exit-code", got)
		}
		want := fmt.Sprintf("/etc/nflog-agent/nflog-agent.yaml:%d: bogus", lines+1)
		if j := c.journal(t); !strings.Contains(j, want) {
			t.Errorf("journal lacks %q:\n%s", want, j)
		}
	})

	t.Run("systemd-analyze security", func(t *testing.T) {
		out, _ := c.exec("systemd-analyze", "security", "--no-pager", "nflog-agent.service")
		m := regexp.MustCompile(`Overall exposure level for nflog-agent\.service: ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no overall exposure level in:\n%s", out)
		}
		score, _ := strconv.ParseFloat(m[1], 64)
		t.Logf("systemd-analyze security nflog-agent.service: %.1f", score)
		if score > maxExposure {
			t.Errorf("exposure %.1f, want at most %.1f:\n%s", score, maxExposure, out)
		}
	})

	t.Run("another namespace through the unit's documented drop-in", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dropIn, "netns.conf"), []byte(documentedDropIn(t)), 0o644); err != nil {
			t.Fatal(err)
		}
		// The firewall is namespace fw, which the peer reaches over w1-w0.
		c.run(t, "sh", "-ec", `ip netns add fw
			ip -n fw link set lo up
			ip -n peer link add w1 type veth peer name w0 netns fw
			ip -n fw addr add 10.98.0.1/24 dev w0
			ip -n fw link set w0 up
			ip -n peer addr add 10.98.0.2/24 dev w1
			ip -n peer link set w1 up
			ip netns exec fw nft -f /usr/share/nflog-agent/nflog-agent.nft`)
		if err := os.WriteFile(conf, []byte(withSink+"netns: /run/netns/fw\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		c.run(t, "systemctl", "daemon-reload")
		c.run(t, "systemctl", "reset-failed", "nflog-agent")
		c.run(t, "systemctl", "start", "nflog-agent")
		waitUntil(t, time.Minute, "the agent to read group 100 in fw", func() bool {
			return strings.Contains(c.journal(t), `msg="nflog-agent started" netns=/run/netns/fw groups=100`)
		})
		c.exec("ip", "netns", "exec", "peer", "bash", "-c", "exec 3<>/dev/tcp/10.98.0.1/9200")
		waitUntil(t, time.Minute, "the event from fw", func() bool { return fileHas(events, "DPT=9200 ") })
		if !fileHas(events, `"message":"IPTABLES: ACCEPT IN=w0 `) {
			t.Errorf("events:\n%s", readFile(events))
		}
	})

	t.Run("no permission or seccomp denial in the journal", func(t *testing.T) {
		denial := regexp.MustCompile(`(?i)permission denied|operation not permitted|seccomp|audit|status=31/SYS`)
		for _, line := range strings.Split(c.journal(t), "\n") {
			if denial.MatchString(line) {
				t.Errorf("journal: %s", line)
			}
		}
	})
}

// maxExposure is the unit's systemd-analyze rating under systemd 252;
// docs/systemd.md says what is left open and why.
const maxExposure = 1.5

// documentedDropIn is the drop-in the unit's comments give for reading
// another network namespace (the "#   " lines from [Service] on).
func documentedDropIn(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("nflog-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "#   "); ok && (out.Len() > 0 || rest == "[Service]") {
			out.WriteString(rest + "\n")
		} else if out.Len() > 0 {
			break
		}
	}
	if out.Len() == 0 {
		t.Fatal("nflog-agent.service documents no drop-in for another namespace")
	}
	return out.String()
}

// lastValue is the number after key= on the journal's last line holding
// msg, or -1.
func lastValue(journal, msg, key string) int {
	v := -1
	for _, line := range strings.Split(journal, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if n, ok := strings.CutPrefix(f, key+"="); ok {
				v, _ = strconv.Atoi(n)
			}
		}
	}
	return v
}

// requireContainerHost skips the test, or fails it in CI, unless this host
// can build and boot the container: root and the tools.
func requireContainerHost(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "debootstrap, systemd-nspawn")
	for tool, pkg := range map[string]string{"debootstrap": "debootstrap", "systemd-nspawn": "systemd-container",
		"nsenter": "util-linux", "tar": "tar", "dpkg-deb": "dpkg"} {
		testenv.NeedCommand(t, tool, pkg)
	}
}

// The container's system: Debian 12 (systemd 252) with what the test uses
// beside the package: nft for the rules, ip for the peer, procps for the
// unit's /bin/kill.
const rootSuite = "bookworm"

var rootPackages = []string{"systemd", "systemd-sysv", "dbus", "nftables", "iproute2", "procps"}

// rootCache keeps debootstrap's result between runs, one tarball per
// suite, mirror and package list; without it a run takes a few minutes more.
const rootCache = "/var/cache/nflog-agent-ci"

// makeRoot fills dir with a fresh Debian system, from the cache when it
// has one.
func makeRoot(t *testing.T, dir string) {
	t.Helper()
	mirror := debianMirror()
	sum := sha256.Sum256([]byte(rootSuite + " " + mirror + " " + strings.Join(rootPackages, ",")))
	cached := filepath.Join(rootCache, "systemd-root-"+hex.EncodeToString(sum[:6])+".tar")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cached); err == nil {
		netlab.Cmd(t, "tar", "--numeric-owner", "-xpf", cached, "-C", dir)
		return
	}
	t.Logf("debootstrap %s from %s (no cached root in %s)", rootSuite, mirror, rootCache)
	out, err := exec.Command("debootstrap", "--variant=minbase", "--include="+strings.Join(rootPackages, ","),
		rootSuite, dir, mirror).CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, out)
	}
	// Written aside and renamed, so a parallel or interrupted run never
	// sees half a tarball.
	tmp := cached + ".tmp" + netlab.Suffix()
	if err := os.MkdirAll(rootCache, 0o755); err == nil {
		err = exec.Command("tar", "--numeric-owner", "-cpf", tmp, "-C", dir, ".").Run()
		if err == nil {
			err = os.Rename(tmp, cached)
		}
		if err != nil {
			os.Remove(tmp)
			t.Logf("caching the root in %s: %v", cached, err)
		}
	}
}

// debianMirror is the Debian mirror apt already uses for rootSuite
// (deb822 .sources or one-line sources.list), else deb.debian.org.
func debianMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, stanza := range strings.Split(string(b), "\n\n") {
			fields := map[string][]string{}
			for _, line := range strings.Split(stanza, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(k, "#") {
					fields[strings.TrimSpace(k)] = strings.Fields(v)
				}
			}
			if len(fields["URIs"]) > 0 && has(fields["Types"], "deb") && has(fields["Suites"], rootSuite) {
				return fields["URIs"][0]
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && f[0] == "deb" {
				if len(f) > 1 && strings.HasPrefix(f[1], "[") { // [options]
					for len(f) > 1 && !strings.HasSuffix(f[1], "]") {
						f = append(f[:1], f[2:]...)
					}
					f = append(f[:1], f[2:]...)
				}
				if len(f) > 2 && f[2] == rootSuite {
					return f[1]
				}
			}
		}
	}
	return "http://deb.debian.org/debian"
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// container is a Debian system booted by systemd-nspawn, systemd as its
// PID 1, in namespaces of its own (network included). The test reaches it
// with nsenter; it is powered off, or killed, when the test ends.
type container struct {
	pid1 int
}

func boot(t *testing.T, root string) *container {
	t.Helper()
	var console netlab.SyncBuffer
	// --register=no --keep-unit: the host has no systemd (nor a system bus)
	// to register the machine with.
	nspawn := exec.Command("systemd-nspawn", "--quiet", "-D", root, "--machine=nflog-agent-"+netlab.Suffix(),
		"--boot", "--private-network", "--register=no", "--keep-unit", "--console=pipe")
	nspawn.Stdout, nspawn.Stderr = &console, &console
	if err := nspawn.Start(); err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		nspawn.Wait()
		close(exited)
	}()
	c := &container{}
	t.Cleanup(func() {
		if t.Failed() && c.pid1 > 0 {
			j, _ := c.exec("journalctl", "--no-pager", "-u", "nflog-agent")
			t.Logf("journal of nflog-agent.service:\n%s", j)
		}
		// SIGTERM makes nspawn power the container off; killing PID 1
		// ends every process of its PID namespace.
		nspawn.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			if c.pid1 > 0 {
				syscall.Kill(c.pid1, syscall.SIGKILL)
			}
			nspawn.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("container console:\n%s", console.String())
		}
	})
	waitUntil(t, time.Minute, "systemd as the container's PID 1", func() bool {
		select {
		case <-exited:
			t.Fatalf("systemd-nspawn exited:\n%s", console.String())
		default:
		}
		c.pid1 = systemdChild(nspawn.Process.Pid)
		return c.pid1 > 0
	})
	// Early in the boot, systemctl finds no systemd ("offline") or cannot
	// reach it yet; then --wait waits for the boot to end.
	var state string
	waitUntil(t, 2*time.Minute, "the container's systemd to answer", func() bool {
		out, _ := c.exec("systemctl", "is-system-running", "--wait")
		state = strings.TrimSpace(out)
		return state != "offline" && !strings.Contains(state, "Failed to connect to bus")
	})
	switch state {
	case "running":
	case "degraded": // a unit the container cannot run; the test does not need it
		failed, _ := c.exec("systemctl", "--failed", "--no-legend")
		t.Logf("container degraded:\n%s", failed)
	default:
		t.Fatalf("container's systemd: %q\n%s", state, console.String())
	}
	return c
}

// systemdChild is the PID of pid's child running systemd, or 0.
func systemdChild(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(b)) {
		child, _ := strconv.Atoi(f)
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child)); strings.TrimSpace(string(comm)) == "systemd" {
			return child
		}
	}
	return 0
}

// exec runs a command inside the container and returns its output.
func (c *container) exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(c.pid1), "-a", "--"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER="}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return string(out), err
}

// run is exec that fails the test when the command fails.
func (c *container) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.exec(args...)
	if err != nil {
		t.Fatalf("in the container: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// show is one property of nflog-agent.service.
func (c *container) show(t *testing.T, property string) string {
	t.Helper()
	return strings.TrimSpace(c.run(t, "systemctl", "show", "--value", "-p", property, "nflog-agent"))
}

// journal is everything the journal holds about nflog-agent.service.
func (c *container) journal(t *testing.T) string {
	t.Helper()
	return c.run(t, "journalctl", "--no-pager", "-u", "nflog-agent")
}

// waitUntil polls cond every 100 ms until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
