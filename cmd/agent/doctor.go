package main

import (
	"io"

	"github.com/nflog-agent/nflog-agent/internal/doctor"
)

// runDoctor is `nflog-agent doctor [--config FILE]`: check, one line each,
// what the agent needs from this host, with the fix for each failure. It
// exits 0 when nothing failed (warnings included), 1 otherwise, 2 on bad
// usage.
func runDoctor(args []string, stdout, stderr io.Writer) int {
	cfg, configPath, status, stop := command{
		name: "doctor",
		summary: "Checks that this host can run the agent: kernel NFLOG support, CAP_NET_ADMIN, the configured\n" +
			"groups free to bind, nft rules that log to them, the spool directory and the sinks.\n" +
			"Run it as the agent runs (root, or with CAP_NET_ADMIN).",
		configHelp: "YAML configuration `file` whose groups to check (default: group 100)",
	}.parse(args, stderr)
	if stop {
		return status
	}
	if doctor.New(configPath).Report(stdout, cfg) > 0 {
		return 1
	}
	return 0
}
