package doctor

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nflog-agent/nflog-agent/internal/config"
	"github.com/nflog-agent/nflog-agent/internal/doctor/nftlog"
)

// checkRules lists the ruleset (in the agent's network namespace) and
// reports, per configured group, the rules that log to it. A group no rule
// logs to is a failure: the agent would run and never see an event.
func (d *Doctor) checkRules(cfg *config.Config) []checkResult {
	const name = "nft rules"
	var res []checkResult
	path, err := exec.LookPath(d.nft)
	if err != nil {
		path = findInSbin(d.nft)
		if path == "" {
			return []checkResult{{status: statusWarn, name: name, detail: "nft not found, rules not checked",
				fix: "apt-get install nftables to check them; iptables-legacy rules are invisible to nft: `iptables-legacy-save | grep NFLOG`"}}
		}
		res = append(res, checkResult{status: statusWarn, name: "nft on PATH",
			detail: fmt.Sprintf("nft is at %s but not on PATH", path),
			fix:    fmt.Sprintf("add %s to PATH", filepath.Dir(path))})
	}
	var out, errOut bytes.Buffer
	err = inNetNS(cfg.NetNS, func() error {
		cmd := exec.Command(path, "-j", "list", "ruleset")
		cmd.Stdout, cmd.Stderr = &out, &errOut
		return cmd.Run()
	})
	if err != nil {
		return append(res, checkResult{status: statusWarn, name: name,
			detail: fmt.Sprintf("`nft -j list ruleset` failed: %v: %s", err, strings.TrimSpace(errOut.String())),
			fix:    "run doctor as root to check the rules"})
	}
	groups, err := nftlog.Groups(out.Bytes())
	if err != nil {
		return append(res, checkResult{status: statusWarn, name: name, detail: err.Error()})
	}
	for _, g := range cfg.Groups {
		n := g.Collector.Group
		r := checkResult{name: fmt.Sprintf("nft rules for group %d", n)}
		rules := groups[n]
		if len(rules) == 0 {
			r.status = statusFail
			r.detail = fmt.Sprintf("no rule in the ruleset logs to group %d: the agent would receive nothing", n)
			r.fix = "`nflog-agent rules" + d.configArg + " | nft -f -`, " +
				"or add `log group N` (iptables: -j NFLOG --nflog-group N) to your own rules; iptables-legacy rules are invisible to nft"
			res = append(res, r)
			continue
		}
		var chains []string
		for _, rule := range rules {
			if s := rule.String(); !slices.Contains(chains, s) {
				chains = append(chains, s)
			}
		}
		r.detail = fmt.Sprintf("%d rule(s) log to it, in %s", len(rules), strings.Join(chains, ", "))
		res = append(res, r)
	}
	return res
}

// findInSbin returns the path of the executable name in one of the sbin
// folders, where Debian and most distributions install nft, or "" when
// none has it: a PATH without them (a plain user's, cron's) hides nft.
func findInSbin(name string) string {
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}
