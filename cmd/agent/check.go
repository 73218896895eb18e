package main

import (
	"fmt"
	"io"
)

// runCheck is `nflog-agent check --config FILE`: validate a configuration
// without opening any group, so that an operator (or a package script, or
// ExecStartPre) can test a change before restarting the agent. It prints
// "FILE: ok" and returns 0, or prints the loader's error — file, line and
// key — and returns 1.
func runCheck(args []string, stdout, stderr io.Writer) int {
	_, path, status, stop := command{
		name:       "check",
		summary:    "Validates a configuration file without starting the agent.",
		configHelp: "YAML configuration `file` to validate (required)",
		required:   true,
	}.parse(args, stderr)
	if stop {
		return status
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}
