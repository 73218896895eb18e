package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runAgent(context.Background(), []string{"extra"}, &out, &errb, nil); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
	if code := runAgent(context.Background(), []string{"--bogus"}, &out, &errb, nil); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	errb.Reset()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("groups:\n  - group: 1\n    overflow: maybe\n"), 0o600)
	if code := runAgent(context.Background(), []string{"--config", path}, &out, &errb, nil); code != 1 ||
		!strings.Contains(errb.String(), path+":3: groups[0].overflow") {
		t.Errorf("bad config: exit %d, stderr %q", code, errb.String())
	}
}

// projectRules is the ruleset the lab tests load into their namespaces
// (netlab.NewFirewall, netlab.NewNSWithRules): the project's own, which logs
// new connections and invalid packets to group 100, but not loopback.
const projectRules = "../../nft/nflog-agent.nft"

// `run` end to end in a namespace: the project's rules log new connections
// to group 100, the agent prints ECS JSON lines, and SIGTERM stops it after
// draining.
func TestRunEndToEnd(t *testing.T) {
	lab := netlab.NewFirewall(t, projectRules)
	ns := lab.B
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("netns: %s\nhostname: labhost\nmetrics: {listen: off}\ngroups:\n  - group: 100\n    message_flags: all\n", ns.Path())), 0o600)

	a := startAgent(t, cfgPath)

	const conns = 3
	for i := range conns {
		lab.Connect(t, 9000+i)
	}
	a.waitUntil(t, "three events", func() bool { return strings.Count(a.stdout.String(), "\n") >= conns })
	a.stop(t)

	lines := strings.Split(strings.TrimSuffix(a.stdout.String(), "\n"), "\n")
	if len(lines) != conns {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), conns, a.stdout.String())
	}
	for i, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		msg, _ := ev["message"].(string)
		wantStart := fmt.Sprintf("IPTABLES: ACCEPT IN=%s OUT= MACSRC=%s MACDST=%s MACPROTO=0800 SRC=%s DST=%s ",
			lab.VethB, lab.MACA, lab.MACB, netlab.IPv4A, netlab.IPv4B)
		wantPort := fmt.Sprintf(" DPT=%d ", 9000+i)
		if !strings.HasPrefix(msg, wantStart) || !strings.Contains(msg, wantPort) || !strings.Contains(msg, " SYN ") {
			t.Errorf("event %d message %q", i, msg)
		}
		if !strings.Contains(line, `"labhost"`) {
			t.Errorf("event %d has no observer hostname labhost: %s", i, line)
		}
	}
	for _, want := range []string{"stopping: draining what was read", "group totals", "received=3", "kernel_lost=0"} {
		if !strings.Contains(a.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, a.stderr.String())
		}
	}
}

// Through the command: a group another socket holds is a clear error and
// exit status 1, not a hang or a retry loop.
func TestRunGroupBusy(t *testing.T) {
	ns := netlab.NewNSWithRules(t, "run", projectRules)
	holder, err := collector.OpenGroup(collector.GroupConfig{Group: 100}, collector.GroupOptions{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte("netns: "+ns.Path()+"\nmetrics: {listen: off}\n"), 0o600)
	var stdout, stderr netlab.SyncBuffer
	code := runAgent(context.Background(), []string{"--config", cfgPath}, &stdout, &stderr, nil)
	if code != 1 || !strings.Contains(stderr.String(), "group 100") || !strings.Contains(stderr.String(), "ulogd2") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

// labAgent is `nflog-agent run --config FILE` running in the test process.
type labAgent struct {
	stdout, stderr netlab.SyncBuffer
	exit           chan int
}

// startAgent runs the agent and waits until it reads its groups. The test
// catches SIGTERM and SIGHUP too while it runs, so that neither can kill the
// test binary whatever the agent's state.
func startAgent(t *testing.T, cfgPath string) *labAgent {
	t.Helper()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(sigs) })
	a := &labAgent{exit: make(chan int, 1)}
	go func() { a.exit <- runRun([]string{"--config", cfgPath}, &a.stdout, &a.stderr) }()
	a.waitUntil(t, "the agent to start", func() bool { return strings.Contains(a.stderr.String(), "reading NFLOG group") })
	return a
}

func (a *labAgent) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, what, cond, a.exit)
}

// stop sends SIGTERM and fails the test unless the agent exits with 0.
func (a *labAgent) stop(t *testing.T) {
	t.Helper()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-a.exit:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, a.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("SIGTERM did not stop the agent; stderr:\n%s", a.stderr.String())
	}
}

func waitUntil(t *testing.T, what string, cond func() bool, exit <-chan int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		select {
		case code := <-exit:
			t.Fatalf("agent exited with %d while waiting for %s", code, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A stop step stuck in the kernel (a hung disk) is given up on at its
// deadline instead of keeping the agent from exiting.
func TestWithinGivesUpOnAStuckStep(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	if err := within(10*time.Millisecond, "close the spool", func() error { <-stuck; return nil }); err == nil ||
		!strings.Contains(err.Error(), "close the spool") {
		t.Fatalf("within: %v", err)
	}
	if err := within(time.Minute, "a quick step", func() error { return nil }); err != nil {
		t.Fatalf("within: %v", err)
	}
}
