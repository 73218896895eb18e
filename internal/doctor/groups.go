package doctor

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/collector/ctmirror"
	"github.com/nflog-agent/nflog-agent/internal/config"
	"github.com/nflog-agent/nflog-agent/internal/doctor/procnet"
)

// checkGroups binds each configured group with the collector and closes it
// again; a group that cannot be bound is explained, down to the process
// that holds it.
func (d *Doctor) checkGroups(cfg *config.Config) []checkResult {
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
func (d *Doctor) checkGroup(nsPath string, netns int, gc collector.GroupConfig, maxEntries int) []checkResult {
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
func (d *Doctor) explainBusy(nsPath string, group uint16) (detail, fix string, status checkStatus) {
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

// groupHolders finds who listens on a group in the namespace at nsPath (""
// = this process's): /proc/thread-self/net is the namespace of the thread
// reading it, so the lookup runs on a thread that joined it.
func groupHolders(procRoot, nsPath string, group uint16) (holders []procnet.Process, exact bool, err error) {
	err = inNetNS(nsPath, func() error {
		var lerr error
		holders, exact, lerr = procnet.GroupHolders(procRoot+"/thread-self/net", procRoot, group)
		return lerr
	})
	return holders, exact, err
}
