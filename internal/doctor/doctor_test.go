package doctor

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/internal/config"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

func TestCheckResultLine(t *testing.T) {
	for _, c := range []struct {
		r    checkResult
		want string
	}{
		{checkResult{statusPass, "a", "fine", "ignored"}, "PASS  a: fine"},
		{checkResult{statusWarn, "b", "odd", "look"}, "WARN  b: odd — fix: look"},
		{checkResult{statusFail, "c", "broken", "repair"}, "FAIL  c: broken — fix: repair"},
		{checkResult{statusSkip, "d", "none", ""}, "SKIP  d: none"},
	} {
		if got := c.r.line(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
}

// projectRules is the ruleset the lab tests load into their namespaces.
const projectRules = "../../nft/nflog-agent.nft"

// The kernel check on fake /proc and /lib/modules trees.
func TestDoctorKernel(t *testing.T) {
	proc, mods := t.TempDir(), t.TempDir()
	d := &Doctor{procRoot: proc, modulesRoot: mods}
	if r := d.checkKernel(); r.status != statusFail || !strings.Contains(r.fix, "modprobe nfnetlink_log") {
		t.Errorf("nothing there: %s", r.line())
	}
	os.WriteFile(filepath.Join(proc, "modules"), []byte("nf_tables 1 0 - Live 0x0\nnfnetlink_log 24576 1 - Live 0x0\n"), 0o644)
	if r := d.checkKernel(); r.status != statusPass || !strings.Contains(r.detail, "loaded") {
		t.Errorf("in /proc/modules: %s", r.line())
	}
	os.MkdirAll(filepath.Join(proc, "net/netfilter"), 0o755)
	os.WriteFile(filepath.Join(proc, "net/netfilter/nfnetlink_log"), nil, 0o444)
	if r := d.checkKernel(); r.status != statusPass {
		t.Errorf("/proc/net/netfilter/nfnetlink_log present: %s", r.line())
	}
}

func TestDoctorCapability(t *testing.T) {
	proc := t.TempDir()
	os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	d := &Doctor{procRoot: proc}
	status := func(capEff string) {
		os.WriteFile(filepath.Join(proc, "self/status"), []byte("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t"+capEff+"\nCapBnd:\t000001ffffffffff\n"), 0o644)
	}
	status("0000000000001000") // CAP_NET_ADMIN alone
	if r := d.checkCapability(); r.status != statusPass {
		t.Errorf("CAP_NET_ADMIN only: %s", r.line())
	}
	status("0000000000000000")
	if r := d.checkCapability(); r.status != statusFail || !strings.Contains(r.fix, "AmbientCapabilities=CAP_NET_ADMIN") {
		t.Errorf("no capabilities: %s", r.line())
	}
	os.WriteFile(filepath.Join(proc, "self/status"), []byte("Name:\tx\n"), 0o644)
	if r := d.checkCapability(); r.status != statusWarn {
		t.Errorf("no CapEff line: %s", r.line())
	}
}

// Without nft the rules cannot be checked: a warning, not a failure.
func TestDoctorNoNft(t *testing.T) {
	d := &Doctor{nft: "nft-not-installed-here"}
	rs := d.checkRules(config.Default())
	if len(rs) != 1 || rs[0].status != statusWarn || !strings.Contains(rs[0].fix, "apt-get install nftables") {
		t.Errorf("%+v", rs)
	}
}

// nft installed in /usr/sbin but a PATH without the sbin folders: doctor
// says where nft is and what to add to PATH, and still checks the rules
// with it.
func TestDoctorNftNotOnPath(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/nft"); err != nil {
		testenv.Skipf(t, "nft is not in /usr/sbin (apt-get install nftables): %v", err)
	}
	t.Setenv("PATH", "/usr/bin:/bin")
	d := &Doctor{nft: "nft"}
	rs := d.checkRules(config.Default())
	if len(rs) < 2 || rs[0].status != statusWarn || rs[0].detail != "nft is at /usr/sbin/nft but not on PATH" ||
		rs[0].fix != "add /usr/sbin to PATH" {
		t.Fatalf("%+v", rs)
	}
	for _, r := range rs[1:] {
		if strings.Contains(r.line(), "not found") || strings.Contains(r.line(), "install") {
			t.Errorf("nft was found, yet: %s", r.line())
		}
	}
}

// A netns: path that does not exist, or that names no network namespace,
// is a configuration mistake: doctor says so, with how to find the right
// path, and never tells root to run as root.
func TestDoctorBadNetNS(t *testing.T) {
	testenv.NeedRoot(t, "the group and rule checks run as the agent runs")
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, nil, 0o600)
	for path, want := range map[string]string{
		"/run/netns/nflog-agent-test-missing": "/run/netns/nflog-agent-test-missing does not exist",
		plain:                                 plain + " is not a namespace file",
		"/proc/self/ns/uts":                   "is a namespace, but not a network namespace",
	} {
		status, out := doctorIn(t, path)
		if status != 1 {
			t.Errorf("%s: exit %d", path, status)
		}
		wantLine(t, out, "FAIL  network namespace:", want, "fix: `ip netns list`", "netns: /run/netns/NAME")
		wantLine(t, out, "SKIP  groups and nft rules:")
		if strings.Contains(out, "as root") || strings.Contains(out, "bindable") {
			t.Errorf("%s:\n%s", path, out)
		}
	}
}

func TestCheckSpoolDir(t *testing.T) {
	dir := t.TempDir()
	if r := checkSpoolDir(dir, 1); r.status != statusPass || !strings.Contains(r.detail, "MiB free") {
		t.Errorf("temp dir: %s", r.line())
	}
	if r := checkSpoolDir(dir, 1<<62); r.status != statusWarn {
		t.Errorf("want more space than any disk has: %s", r.line())
	}
	// Not there yet, as before the first start: fine if it can be created.
	if r := checkSpoolDir(filepath.Join(dir, "missing", "spool"), 1); r.status != statusPass || !strings.Contains(r.detail, "does not exist yet") {
		t.Errorf("dir to be created: %s", r.line())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
	// Under a file, it can never be created (this fails for root too).
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if r := checkSpoolDir(filepath.Join(file, "spool"), 1); r.status != statusFail || !strings.Contains(r.detail, file+" is not a folder") || !strings.Contains(r.fix, "/var/lib/nflog-agent") {
		t.Errorf("dir that cannot be created: %s", r.line())
	}
	// Nobody, root included, creates directories in /proc.
	if r := checkSpoolDir("/proc/nflog-agent-test/spool", 1); r.status != statusFail || !strings.Contains(r.detail, "cannot be created in /proc") {
		t.Errorf("dir under /proc: %s", r.line())
	}
	if r := checkSpoolDir(file, 1); r.status != statusFail || !strings.Contains(r.detail, "is not a folder") {
		t.Errorf("a file: %s", r.line())
	}
}

// doctorIn runs the doctor as `nflog-agent doctor` does, with a config
// naming the namespace, and returns its exit status and report.
func doctorIn(t *testing.T, nsPath string) (status int, out string) {
	return doctorWith(t, "netns: "+nsPath+"\n")
}

// doctorWith runs the doctor with the configuration yaml.
func doctorWith(t *testing.T, yaml string) (status int, out string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfg, []byte(yaml), 0o600)
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if New(cfg).Report(&stdout, c) > 0 {
		status = 1
	}
	return status, stdout.String()
}

func wantLine(t *testing.T, out, prefix string, contains ...string) {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, prefix) {
			for _, c := range contains {
				if !strings.Contains(line, c) {
					t.Errorf("line %q lacks %q", line, c)
				}
			}
			return
		}
	}
	t.Errorf("no line starting with %q in:\n%s", prefix, out)
}

// In a namespace with the shipped rules loaded, every check passes.
func TestDoctorLabPass(t *testing.T) {
	ns := netlab.NewNSWithRules(t, "run", projectRules)
	status, out := doctorIn(t, ns.Path())
	if status != 0 {
		t.Errorf("exit %d:\n%s", status, out)
	}
	wantLine(t, out, "PASS  group 100 bindable:")
	wantLine(t, out, "PASS  nft rules for group 100:", "inet nflog_agent input", "inet nflog_agent forward")
	wantLine(t, out, "SKIP  spool directory:")
	wantLine(t, out, "no check failed")
}

// A group another socket holds fails, naming the process: here, this test.
func TestDoctorLabGroupHeld(t *testing.T) {
	ns := netlab.NewNSWithRules(t, "run", projectRules)
	holder, err := collector.OpenGroup(collector.GroupConfig{Group: 100}, collector.GroupOptions{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	status, out := doctorIn(t, ns.Path())
	if status != 1 {
		t.Errorf("exit %d:\n%s", status, out)
	}
	wantLine(t, out, "FAIL  group 100 bindable:", fmt.Sprintf("(pid %d)", os.Getpid()), "fix: stop it")
}

// The usual culprit, a real ulogd2 reading the group, is called by its
// name with the command that stops it.
func TestDoctorLabUlogd(t *testing.T) {
	ns := netlab.NewNSWithRules(t, "run", projectRules)
	ulogd, err := exec.LookPath("ulogd")
	plugins, _ := filepath.Glob("/usr/lib/*/ulogd/ulogd_inppkt_NFLOG.so")
	if err != nil || len(plugins) == 0 {
		testenv.Skipf(t, "ulogd2 not installed (apt-get install ulogd2)")
	}
	dir := t.TempDir()
	plug := filepath.Dir(plugins[0])
	conf := filepath.Join(dir, "ulogd.conf")
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\nlogfile=%q\n", filepath.Join(dir, "ulogd.log"))
	for _, p := range []string{"inppkt_NFLOG", "raw2packet_BASE", "filter_IFINDEX", "filter_IP2STR", "filter_PRINTPKT", "output_LOGEMU"} {
		fmt.Fprintf(&b, "plugin=%q\n", filepath.Join(plug, "ulogd_"+p+".so"))
	}
	fmt.Fprintf(&b, "stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU\n[log1]\ngroup=100\n[emu1]\nfile=%q\n",
		filepath.Join(dir, "emu.log"))
	os.WriteFile(conf, []byte(b.String()), 0o600)
	var ulogdOut netlab.SyncBuffer
	cmd := exec.Command("ip", "netns", "exec", ns.Name, ulogd, "-v", "-c", conf)
	cmd.Stdout, cmd.Stderr = &ulogdOut, &ulogdOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// ulogd binds a moment after it starts. Wait by reading the kernel's
	// list of bound groups: a doctor run in the meantime would hold the
	// group for an instant, and ulogd gives up if it binds then.
	deadline := time.Now().Add(10 * time.Second)
	for {
		hs, exact, err := groupHolders("/proc", ns.Path(), 100)
		if err == nil && exact && len(hs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ulogd did not bind group 100 (%v, %v):\n%s", hs, err, ulogdOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, out := doctorIn(t, ns.Path())
	wantLine(t, out, "FAIL  group 100 bindable:", fmt.Sprintf("held by ulogd (pid %d)", cmd.Process.Pid), "systemctl disable --now ulogd2")
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(dir, "ulogd.log"))
		t.Logf("ulogd output:\n%s\nulogd.log:\n%s", ulogdOut.String(), log)
	}
}

// With no rule logging to the group, the rules check fails with the
// command that loads some.
func TestDoctorLabNoRules(t *testing.T) {
	ns := netlab.NewNS(t, "run")
	status, out := doctorIn(t, ns.Path())
	if status != 1 {
		t.Errorf("exit %d:\n%s", status, out)
	}
	wantLine(t, out, "PASS  group 100 bindable:")
	wantLine(t, out, "FAIL  nft rules for group 100:", "no rule", "fix: `nflog-agent rules --config ", "nft -f")
}

// doctor says, for a group with conntrack, where the entries come from.
func TestDoctorLabConntrack(t *testing.T) {
	ns := netlab.NewNSWithRules(t, "run", projectRules)
	status, out := doctorWith(t, "netns: "+ns.Path()+"\ngroups:\n  - group: 100\n    conntrack: true\n")
	if status != 0 {
		t.Errorf("exit %d:\n%s", status, out)
	}
	if strings.Contains(out, "ctnetlink") {
		wantLine(t, out, "PASS  group 100 conntrack:", "EOPNOTSUPP", "CONFIG_NETFILTER_NETLINK_GLUE_CT", "ctnetlink mirror")
	} else {
		wantLine(t, out, "PASS  group 100 conntrack:", "NFULA_CT")
	}
}
