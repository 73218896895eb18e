// Package doctor checks, one line each, what the agent needs from this
// host: kernel NFLOG support, CAP_NET_ADMIN, the network namespace to read,
// every configured group free to bind, nft rules logging to those groups,
// the spool directory and the path to each sink, with the fix for each
// failure. Each family of checks has its own file: host.go, netns.go,
// groups.go, rules.go, spool.go, sinks.go.
package doctor

import (
	"fmt"
	"io"

	"github.com/nflog-agent/nflog-agent/internal/config"
)

// Report runs every check against cfg and writes one line each to w,
// then a summary. It returns how many checks failed: warnings do not
// count, as they do not stop the agent.
func (d *Doctor) Report(w io.Writer, cfg *config.Config) (failed int) {
	for _, r := range d.run(cfg) {
		fmt.Fprintln(w, r.line())
		if r.status == statusFail {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(w, "%d check(s) failed\n", failed)
	} else {
		fmt.Fprintln(w, "no check failed")
	}
	return failed
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

// Doctor holds where the checks look, so tests can point them at fakes.
type Doctor struct {
	procRoot    string // /proc
	modulesRoot string // /lib/modules
	nft         string // nft binary name or path
	configArg   string // " --config FILE" as given, for the commands in fixes
}

// New returns a Doctor that checks this host. configPath is the
// configuration file as given ("" for none), for the commands its fixes
// suggest.
func New(configPath string) *Doctor {
	d := &Doctor{procRoot: "/proc", modulesRoot: "/lib/modules", nft: "nft"}
	if configPath != "" {
		d.configArg = " --config " + configPath
	}
	return d
}

// run performs every check in a fixed order: the host, the network
// namespace, then each group and the rules (read inside that namespace, so
// skipped when it cannot be opened), then what ships events.
func (d *Doctor) run(cfg *config.Config) []checkResult {
	out := []checkResult{d.checkKernel(), d.checkCapability()}
	nsOpens := true
	if cfg.NetNS != "" {
		ns := checkNetNS(cfg.NetNS)
		nsOpens = ns.status != statusFail
		out = append(out, ns)
	}
	if nsOpens {
		out = append(out, d.checkGroups(cfg)...)
		out = append(out, d.checkRules(cfg)...)
	} else {
		out = append(out, checkResult{status: statusSkip, name: "groups and nft rules",
			detail: "not checked: they are read inside the network namespace"})
	}
	out = append(out, d.checkSpool(cfg))
	out = append(out, d.checkSinks(cfg)...)
	return out
}
