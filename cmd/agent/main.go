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

// subcommand is one `nflog-agent NAME` command; the table below drives both
// dispatch and the help text, so help lists every command there is.
type subcommand struct {
	name    string
	args    string // synopsis of its arguments
	summary string // one line for the help text
	run     func(args []string, stdout, stderr io.Writer) int
}

// subcommands are the commands in the order help lists them.
func subcommands() []subcommand {
	return []subcommand{
		{"run", "[--config FILE]", "read NFLOG groups and ship ECS events (the default command)", runRun},
		{"replay", "FILE...", "decode NFLOG pcap/pcapng captures to ECS JSON lines on stdout", runReplay},
		{"check", "--config FILE", "build everything run would, short of binding sockets: what passes starts", runCheck},
		{"rules", "[--config FILE]", "print an nftables ruleset for the configured groups", runRules},
		{"doctor", "[--config FILE]", "check this host: kernel, capability, groups, rules, sinks", runDoctor},
		{"version", "", "print version, commit and Go version (also --version)", runVersion},
		{"help", "", "print this help (also -h, --help)", runHelp},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	name := "run"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help":
			name, args = "help", args[1:]
		case a == "-version" || a == "--version":
			name, args = "version", args[1:]
		case !strings.HasPrefix(a, "-"):
			name, args = a, args[1:]
		}
	}
	for _, c := range subcommands() {
		if c.name == name {
			return c.run(args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "nflog-agent: unknown command %q\n", name)
	writeUsage(stderr)
	return 2
}

func runVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "nflog-agent %s (commit %s, %s)\n", version, commit, runtime.Version())
	return 0
}

func runHelp(_ []string, stdout, _ io.Writer) int {
	writeUsage(stdout)
	return 0
}

func writeUsage(w io.Writer) {
	fmt.Fprint(w, "usage: nflog-agent [COMMAND] [OPTIONS]\n\ncommands:\n")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-24s%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprint(w, "\nWithout a config, run reads NFLOG group 100 and prints events on stdout.\n"+
		"`nflog-agent COMMAND -h` shows a command's options; `man nflog-agent` says more.\n")
}
