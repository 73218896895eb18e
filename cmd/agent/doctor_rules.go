package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/cmd/agent/internal/nftlog"
	"github.com/nflog-agent/nflog-agent/cmd/agent/internal/procnet"
)

// checkRules lists the ruleset (in the agent's network namespace) and
// reports, per configured group, the rules that log to it. A group no rule
// logs to is a failure: the agent would run and never see an event.
func (d *doctor) checkRules(cfg *config) []checkResult {
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

// inNetNS runs fn on an OS thread that has joined the network namespace at
// path, or directly when path is empty. Commands fn starts inherit the
// thread's namespace. The thread is never returned to the scheduler: it
// exits with its goroutine, so no other goroutine can run in the wrong
// namespace.
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			errc <- fmt.Errorf("network namespace: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("network namespace %s: setns: %w", path, err)
			return
		}
		errc <- fn()
	}()
	err := <-errc
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exit status %d", ee.ExitCode())
	}
	return err
}
