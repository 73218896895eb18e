package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/cmd/agent/internal/procnet"
	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/collector/ctmirror"
)

// runDoctor is `nflog-agent doctor [--config FILE]`: check, one line each,
// what the agent needs from this host — kernel NFLOG support, CAP_NET_ADMIN,
// every configured group free to bind, nft rules logging to those groups,
// and (once configured) the spool directory and the sinks — with the fix
// for each failure. It exits 0 when nothing failed (warnings included), 1
// otherwise, 2 on bad usage.
func runDoctor(args []string, stdout, stderr io.Writer) int {
	cfg, configPath, status, stop := command{
		name: "doctor",
		summary: "Checks that this host can run the agent: kernel NFLOG support, CAP_NET_ADMIN, the configured\n" +
			"groups free to bind, nft rules that log to them, the spool directory and the sinks.\n" +
			"Run it as the agent runs (root, or with CAP_NET_ADMIN).",
		configHelp: "YAML configuration `file` whose groups to check (default: group 100)",
	}.parse(args, stderr)
	if stop {
		return status
	}
	d := hostDoctor()
	if configPath != "" {
		d.configArg = " --config " + configPath
	}
	failed := 0
	for _, r := range d.run(cfg) {
		fmt.Fprintln(stdout, r.line())
		if r.status == statusFail {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d check(s) failed\n", failed)
		return 1
	}
	fmt.Fprintln(stdout, "no check failed")
	return 0
}

type checkStatus int

const (
	statusPass checkStatus = iota
	statusWarn             // worth knowing, does not stop the agent
	statusFail             // the agent will not work as configured
	statusSkip             // nothing to check (not configured)
)

func (s checkStatus) String() string {
	return [...]string{"PASS", "WARN", "FAIL", "SKIP"}[s]
}

// checkResult is one line of the report.
type checkResult struct {
	status checkStatus
	name   string // what was checked: "group 100 bindable"
	detail string // what was found
	fix    string // what to do, for WARN and FAIL
}

func (r checkResult) line() string {
	s := fmt.Sprintf("%s  %s: %s", r.status, r.name, r.detail)
	if r.fix != "" && (r.status == statusWarn || r.status == statusFail) {
		s += " — fix: " + r.fix
	}
	return s
}

// doctor holds where the checks look, so tests can point them at fakes.
type doctor struct {
	procRoot    string // /proc
	modulesRoot string // /lib/modules
	nft         string // nft binary name or path
	configArg   string // " --config FILE" as given, for the commands in fixes
}

func hostDoctor() *doctor {
	return &doctor{procRoot: "/proc", modulesRoot: "/lib/modules", nft: "nft"}
}

// run performs every check in a fixed order: the host, then each group,
// then the rules, then what ships events.
func (d *doctor) run(cfg *config) []checkResult {
	out := []checkResult{d.checkKernel(), d.checkCapability()}
	out = append(out, d.checkGroups(cfg)...)
	out = append(out, d.checkRules(cfg)...)
	out = append(out, d.checkShipping(cfg)...)
	return out
}

// checkKernel looks for nfnetlink_log, the kernel side of NFLOG: its /proc
// file exists once it is loaded or built in; otherwise the module must at
// least be installed, as the kernel loads it on the first subscription.
func (d *doctor) checkKernel() checkResult {
	r := checkResult{name: "kernel NFLOG support"}
	if _, err := os.Stat(filepath.Join(d.procRoot, "net/netfilter/nfnetlink_log")); err == nil {
		r.detail = "nfnetlink_log is loaded or built in"
		return r
	}
	if b, err := os.ReadFile(filepath.Join(d.procRoot, "modules")); err == nil && strings.Contains(string(b), "nfnetlink_log ") {
		r.detail = "module nfnetlink_log is loaded"
		return r
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		dir := filepath.Join(d.modulesRoot, unix.ByteSliceToString(uts.Release[:]))
		for _, f := range []string{"modules.builtin", "modules.dep"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil && strings.Contains(string(b), "/nfnetlink_log.ko") {
				r.detail = "module nfnetlink_log is installed; the kernel loads it on first use"
				return r
			}
		}
	}
	r.status = statusFail
	r.detail = "nfnetlink_log is neither loaded nor installed"
	r.fix = "`modprobe nfnetlink_log`; if that fails, use a kernel built with CONFIG_NETFILTER_NETLINK_LOG"
	return r
}

// capNetAdmin is CAP_NET_ADMIN's bit in the capability sets.
const capNetAdmin = 12

// checkCapability reads this process's effective capabilities: without
// CAP_NET_ADMIN, nfnetlink refuses to bind a group.
func (d *doctor) checkCapability() checkResult {
	r := checkResult{name: "CAP_NET_ADMIN"}
	eff, err := readCapEff(filepath.Join(d.procRoot, "self/status"))
	switch {
	case err != nil:
		r.status, r.detail = statusWarn, err.Error()
	case eff&(1<<capNetAdmin) != 0:
		r.detail = "in the effective capability set"
	default:
		r.status, r.detail = statusFail, "not in the effective capability set: groups cannot be bound"
		r.fix = "run doctor as the agent runs: as root (sudo), or with the capability " +
			"(the packaged unit grants it with AmbientCapabilities=CAP_NET_ADMIN)"
	}
	return r
}

func readCapEff(statusPath string) (uint64, error) {
	f, err := os.Open(statusPath)
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("read capabilities: CapEff %q: %w", v, err)
			}
			return eff, nil
		}
	}
	return 0, fmt.Errorf("read capabilities: no CapEff line in %s", statusPath)
}

// checkGroups binds each configured group with the collector and closes it
// again; a group that cannot be bound is explained, down to the process
// that holds it.
func (d *doctor) checkGroups(cfg *config) []checkResult {
	var out []checkResult
	netns := 0
	if cfg.NetNS != "" {
		f, err := os.Open(cfg.NetNS)
		if err != nil {
			return []checkResult{{status: statusFail, name: "network namespace", detail: err.Error(),
				fix: "create it, or correct netns: in the config"}}
		}
		defer f.Close()
		netns = int(f.Fd())
	}
	for _, g := range cfg.Groups {
		out = append(out, d.checkGroup(cfg.NetNS, netns, g.Collector, cfg.ConntrackMaxEntries)...)
	}
	return out
}

// checkGroup binds the group, and for a group with conntrack says where
// its entries would come from: the kernel, or a ctnetlink mirror.
func (d *doctor) checkGroup(nsPath string, netns int, gc collector.GroupConfig, maxEntries int) []checkResult {
	r := checkResult{name: fmt.Sprintf("group %d bindable", gc.Group)}
	var mirror *ctmirror.Mirror
	g, err := collector.OpenGroup(gc, collector.GroupOptions{NetNS: netns, Conntrack: func() (*ctmirror.Mirror, error) {
		m, err := ctmirror.Open(ctmirror.Options{NetNS: netns, MaxEntries: maxEntries})
		mirror = m
		return m, err
	}})
	if mirror != nil {
		defer mirror.Close()
	}
	ct := checkResult{name: fmt.Sprintf("group %d conntrack", gc.Group)}
	if err == nil {
		source := g.ConntrackSource()
		g.Close()
		r.detail = "bound and released"
		if !gc.Conntrack {
			return []checkResult{r}
		}
		ct.detail = "entries attached by the kernel (NFULA_CT)"
		if source == collector.ConntrackNetlink {
			ct.detail = fmt.Sprintf("this kernel cannot attach entries to NFLOG (EOPNOTSUPP: no "+
				"CONFIG_NETFILTER_NETLINK_GLUE_CT); entries come from a ctnetlink mirror (%d entries now)", mirror.Stats().Entries)
		}
		return []checkResult{r, ct}
	}
	var ge *collector.GroupError
	if errors.Is(err, collector.ErrNoConntrack) && errors.As(err, &ge) {
		r.detail = "bound and released"
		ct.status, ct.detail, ct.fix = statusFail, ge.Err.Error(), ge.Hint
		return []checkResult{r, ct}
	}
	r.status = statusFail
	switch {
	case errors.Is(err, collector.ErrGroupBusy):
		r.detail, r.fix, r.status = d.explainBusy(nsPath, gc.Group)
	case errors.Is(err, os.ErrPermission):
		r.detail = "permission denied"
		r.fix = "the agent needs CAP_NET_ADMIN (see the CAP_NET_ADMIN line)"
	default:
		r.detail = err.Error()
	}
	return []checkResult{r}
}

// explainBusy names the process that listens on a busy group. The agent
// itself holding it is fine: it is running.
func (d *doctor) explainBusy(nsPath string, group uint16) (detail, fix string, status checkStatus) {
	holders, exact, err := groupHolders(d.procRoot, nsPath, group)
	otherwise := "or use another group number in both the rules and the config (`nflog-agent rules" + d.configArg + "` prints matching rules)"
	switch {
	case err != nil || len(holders) == 0:
		return "another socket listens on it (its owner could not be found)",
			"stop the other NFLOG listener (ulogd2?), " + otherwise, statusFail
	case !exact:
		return fmt.Sprintf("another socket listens on it; processes with NFLOG-capable sockets: %s", processList(holders)),
			"stop the one that reads NFLOG (ulogd2?), " + otherwise, statusFail
	}
	h := holders[0]
	switch h.Comm {
	case "nflog-agent":
		return fmt.Sprintf("read by %s, the agent already running", h), "", statusPass
	case "ulogd":
		return fmt.Sprintf("held by %s: ulogd2 and the agent cannot listen on the same group", h),
			"`systemctl disable --now ulogd2` (see MIGRATING-FROM-ULOGD2.md), " + otherwise, statusFail
	}
	return fmt.Sprintf("held by %s", processList(holders)), "stop it, " + otherwise, statusFail
}

func processList(ps []procnet.Process) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
