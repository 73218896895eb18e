package main

import (
	"fmt"
	"io"
	"log/slog"
)

// runCheck is `nflog-agent check --config FILE`: build everything `run`
// would from the configuration — secrets, certificates, the namespace,
// folders, the spool, every number — short of binding sockets, so that an
// operator (or a package script, or ExecStartPre) can test a change before
// restarting the agent: a configuration that passes starts. It prints each
// warning, then "FILE: ok", and returns 0; or it prints the first mistake —
// file, line, key and reason, as `run` would refuse it — and returns 1.
func runCheck(args []string, stdout, stderr io.Writer) int {
	cfg, path, status, stop := command{
		name:       "check",
		summary:    "Validates a configuration file without starting the agent: it reads every secret, certificate, namespace and folder the agent would.",
		configHelp: "YAML configuration `file` to validate (required)",
		required:   true,
	}.parse(args, stderr)
	if stop {
		return status
	}
	a, err := build(cfg, checkOnly, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		fmt.Fprintf(stderr, "nflog-agent check: %v\n", err)
		return 1
	}
	for _, w := range a.warnings {
		fmt.Fprintf(stderr, "nflog-agent check: warning: %v\n", w)
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}
