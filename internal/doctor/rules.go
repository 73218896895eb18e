package doctor

import (
	"bytes"
	"fmt"
	"os/exec"
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
	path, err := exec.LookPath(d.nft)
	if err != nil {
		return []checkResult{{status: statusWarn, name: name, detail: "nft not found, rules not checked",
			fix: "apt-get install nftables to check them; iptables-legacy rules are invisible to nft: `iptables-legacy-save | grep NFLOG`"}}
	}
	var out, errOut bytes.Buffer
	err = inNetNS(cfg.NetNS, func() error {
		cmd := exec.Command(path, "-j", "list", "ruleset")
		cmd.Stdout, cmd.Stderr = &out, &errOut
		return cmd.Run()
	})
	if err != nil {
		return []checkResult{{status: statusWarn, name: name,
			detail: fmt.Sprintf("`nft -j list ruleset` failed: %v: %s", err, strings.TrimSpace(errOut.String())),
			fix:    "run doctor as root to check the rules"}}
	}
	groups, err := nftlog.Groups(out.Bytes())
	if err != nil {
		return []checkResult{{status: statusWarn, name: name, detail: err.Error()}}
	}
	var res []checkResult
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
