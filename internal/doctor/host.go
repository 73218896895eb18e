package doctor

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// checkKernel looks for nfnetlink_log, the kernel side of NFLOG: its /proc
// file exists once it is loaded or built in; otherwise the module must at
// least be installed, as the kernel loads it on the first subscription.
func (d *Doctor) checkKernel() checkResult {
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
func (d *Doctor) checkCapability() checkResult {
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
