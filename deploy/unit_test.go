// Package deploy holds no Go code: its tests check the systemd unit, the
// example configuration and the Debian package that deploy/ ships.
package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// unitSettings reads the [Service] assignments of the unit; a key set on
// several lines keeps each value.
func unitSettings(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("nflog-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			m[k] = append(m[k], v)
		}
	}
	return m
}

// The unit's sandbox settings, and what must agree with the package
// (paths) and the agent (CAP_NET_ADMIN, AF_NETLINK).
func TestUnitSettings(t *testing.T) {
	s := unitSettings(t)
	want := map[string]string{
		"User":                    "nflog-agent",
		"Group":                   "nflog-agent",
		"ExecStart":               "/usr/bin/nflog-agent run --config /etc/nflog-agent/nflog-agent.yaml",
		"ExecStartPre":            "/usr/bin/nflog-agent check --config /etc/nflog-agent/nflog-agent.yaml",
		"AmbientCapabilities":     "CAP_NET_ADMIN",
		"CapabilityBoundingSet":   "CAP_NET_ADMIN",
		"StateDirectory":          "nflog-agent",
		"RestrictAddressFamilies": "AF_NETLINK AF_INET AF_INET6",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"MemoryDenyWriteExecute":  "yes",
		"LockPersonality":         "yes",
		"RestrictNamespaces":      "yes",
		"PrivateMounts":           "yes",
		"LogsDirectory":           "nflog-agent",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"MemoryMax":               "1G",
		"TasksMax":                "256",
	}
	for k, v := range want {
		if got := s[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if f := s["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter=%q, want @system-service first", f)
	}
	// Either would take NFLOG out of reach: the host's network namespace,
	// and a capability that counts in it, are the point of the service.
	for _, k := range []string{"PrivateNetwork", "PrivateUsers", "DynamicUser"} {
		if v := s[k]; len(v) > 0 {
			t.Errorf("%s=%q must not be set", k, v)
		}
	}
}

// systemd-analyze rates the unit's exposure from 0 (locked down) to 10;
// offline, without booting systemd, it must not rise above maxExposure
// either.
func TestUnitExposure(t *testing.T) {
	testenv.NeedCommand(t, "systemd-analyze", "systemd")
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "nflog-agent.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for nflog-agent\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exposure %.1f", score)
	if score > maxExposure {
		t.Errorf("exposure %.1f, want at most %.1f:\n%s", score, maxExposure, out)
	}
}

// The capabilities the unit grants are enough to read NFLOG, as the unit's
// unprivileged user would: the agent, run with exactly the unit's ambient
// and bounding sets as nobody inside a throw-away network namespace, turns a
// logged connection into an event; without them it refuses to start and
// says why.
func TestUnitCapabilitiesSuffice(t *testing.T) {
	testenv.NeedRoot(t, "network namespace, nft, setpriv")
	for tool, pkg := range map[string]string{"nft": "nftables", "ip": "iproute2", "setpriv": "util-linux"} {
		testenv.NeedCommand(t, tool, pkg)
	}
	s := unitSettings(t)
	caps := func(key string) string { // CAP_NET_ADMIN → -all,+net_admin
		v := "-all"
		for _, c := range strings.Fields(strings.Join(s[key], " ")) {
			v += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
		}
		return v
	}
	// Not in t.TempDir(), whose parent is private to root: nobody must be
	// able to reach the binary.
	dir, err := os.MkdirTemp("", "nflog-agent-unit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "nflog-agent")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/agent").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	lab := netlab.NewFirewall(t, "../nft/nflog-agent.nft")
	ns := lab.B.Name

	agent := func(ambient, bounding string) *exec.Cmd {
		return exec.Command("ip", "netns", "exec", ns, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
			"--inh-caps="+ambient, "--ambient-caps="+ambient, "--bounding-set="+bounding, "--no-new-privs", bin, "run")
	}

	if out, err := agent("-all", "-all").CombinedOutput(); err == nil || !strings.Contains(string(out), "needs CAP_NET_ADMIN") {
		t.Errorf("without capabilities: %v, output:\n%s", err, out)
	}

	cmd := agent(caps("AmbientCapabilities"), caps("CapabilityBoundingSet"))
	var stdout, stderr netlab.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	netlab.WaitFor(t, "the agent to start", func() bool { return strings.Contains(stderr.String(), "reading NFLOG group") })
	lab.Connect(t, 9061)
	netlab.WaitFor(t, "an event", func() bool { return strings.Contains(stdout.String(), "DPT=9061") })
	if !strings.Contains(stdout.String(), `"message":"IPTABLES: ACCEPT IN=`+lab.VethB) {
		t.Errorf("event:\n%s", stdout.String())
	}
}
