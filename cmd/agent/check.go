package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// runCheck is `nflog-agent check --config FILE`: validate a configuration
// without opening any group, so that an operator (or a package script, or
// ExecStartPre) can test a change before restarting the agent. It prints
// "FILE: ok" and returns 0, or prints the loader's error — file, line and
// key — and returns 1.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration `file` to validate (required)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: nflog-agent check --config FILE\n\n"+
			"Validates a configuration file without starting the agent.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nflog-agent check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *configPath == "" {
		fmt.Fprintf(stderr, "nflog-agent check: --config FILE is required\n")
		fs.Usage()
		return 2
	}
	if _, err := loadConfig(*configPath); err != nil {
		fmt.Fprintf(stderr, "nflog-agent check: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", *configPath)
	return 0
}
