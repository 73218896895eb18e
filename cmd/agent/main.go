// Command nflog-agent reads netfilter NFLOG groups, rebuilds the kernel's log
// line and an ECS event for every logged packet, and ships the events.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "unknown"
)

const usage = `usage: nflog-agent <command> [options]

commands:
  replay FILE...   decode NFLOG pcap/pcapng files to ECS JSON lines on stdout
  version          print version, commit and Go version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "replay":
		return runReplay(args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "nflog-agent %s (commit %s, %s)\n", version, commit, runtime.Version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "nflog-agent: unknown command %q\n%s", cmd, usage)
	return 2
}
