// Command nflog-agent reads netfilter NFLOG groups, rebuilds the kernel's log
// line and an ECS event for every logged packet, and ships the events.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "unknown"
)

const usage = `usage: nflog-agent <command> [options]

commands:
  run [--config FILE]     read NFLOG groups and print ECS JSON lines (the default;
                          without a config: group 100 to stdout)
  replay FILE...          decode NFLOG pcap/pcapng files to ECS JSON lines on stdout
  check --config FILE     build everything run would from a configuration
                          (secrets, certificates, namespace, folders), short
                          of binding sockets: a configuration that passes starts
  rules [--config FILE]   print an nftables ruleset for the configured groups
  doctor [--config FILE]  check this host: kernel, capability, groups, rules
  version                 print version, commit and Go version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runRun(args, stdout, stderr)
	case "replay":
		return runReplay(args, stdout, stderr)
	case "check":
		return runCheck(args, stdout, stderr)
	case "rules":
		return runRules(args, stdout, stderr)
	case "doctor":
		return runDoctor(args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "nflog-agent %s (commit %s, %s)\n", version, commit, runtime.Version())
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "nflog-agent: unknown command %q\n%s", cmd, usage)
	return 2
}
