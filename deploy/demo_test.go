package deploy

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// `make demo` must keep working: run deploy/demo.sh as root against a fresh
// build and check that it showed doctor's verdict, metrics and events, and
// left no namespace behind.
func TestDemo(t *testing.T) {
	testenv.NeedRoot(t, "the demo uses network namespaces, nft, NFLOG")
	testenv.NeedCommand(t, "ip", "iproute2")
	testenv.NeedCommand(t, "nft", "nftables")
	testenv.NeedCommand(t, "bash", "bash")
	bin := filepath.Join(t.TempDir(), "nflog-agent")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/agent").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := netlab.Cmd(t, "bash", "demo.sh", bin)
	for _, want := range []string{
		"no check failed",
		`nflog_agent_received_events_total{group="100"} `,
		"/healthz: ok",
		"accept  tcp       10.232.0.1:",
		"accept  udp       10.232.0.1:",
		`"message":"IPTABLES: ACCEPT IN=nfdf`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// Other packages' lab tests make namespaces at the same time: look only
	// for the demo's own, named in its first lines.
	m := regexp.MustCompile(`namespaces (nfldemo-client-\d+) .* and (nfldemo-fw-\d+) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo did not name its namespaces:\n%s", out)
	}
	for _, line := range strings.Fields(netlab.Cmd(t, "ip", "netns", "list")) {
		if line == m[1] || line == m[2] {
			t.Errorf("namespace %s left behind", line)
		}
	}
}
