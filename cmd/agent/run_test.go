package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/collector"
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

// syncBuffer is a bytes.Buffer safe for the agent's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// labNS creates a throwaway network namespace with the project's rules
// (nft/nflog-agent.nft) loaded, removed at cleanup. Skips unless root.
func labNS(t *testing.T) (path string, fd int) {
	t.Helper()
	return newLabNS(t, true)
}

// newLabNS is labNS, with or without the rules.
func newLabNS(t *testing.T, rules bool) (path string, fd int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespace, nft, NFLOG); CI runs it as root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not found (apt-get install nftables)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	name := "nflrun-" + hex.EncodeToString(b)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
	if rules {
		run("ip", "netns", "exec", name, "nft", "-f", "../../nft/nflog-agent.nft")
	}
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f.Name(), int(f.Fd())
}

// inNS runs fn on a thread that joined the namespace.
func inNS(t *testing.T, fd int, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread is retired with the goroutine
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// `run` end to end in a namespace: the project's rules log new connections
// to group 100, the agent prints ECS JSON lines, and SIGTERM stops it after
// draining.
func TestRunEndToEnd(t *testing.T) {
	nsPath, nsFd := labNS(t)
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("netns: %s\nhostname: labhost\nmetrics: {listen: off}\ngroups:\n  - group: 100\n    message_flags: all\n", nsPath)), 0o600)

	// Catch SIGTERM in the test too, so a signal can never kill the test
	// binary whatever the agent's state.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	defer signal.Stop(sigs)

	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() { exit <- runRun([]string{"--config", cfgPath}, &stdout, &stderr) }()
	waitUntil(t, "the agent to start", func() bool { return strings.Contains(stderr.String(), "reading NFLOG group") }, exit)

	const conns = 3
	inNS(t, nsFd, func() {
		for i := range conns {
			// Refused (nothing listens), but the SYN is a new connection
			// the rules log as IPTABLES: ACCEPT.
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", 9000+i), time.Second)
			if err == nil {
				c.Close()
			}
		}
	})
	waitUntil(t, "three events", func() bool { return strings.Count(stdout.String(), "\n") >= conns }, exit)
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("SIGTERM did not stop the agent; stderr:\n%s", stderr.String())
	}

	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != conns {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), conns, stdout.String())
	}
	for i, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		msg, _ := ev["message"].(string)
		wantStart := "IPTABLES: ACCEPT IN=lo OUT= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 SRC=127.0.0.1 DST=127.0.0.1 "
		wantPort := fmt.Sprintf(" DPT=%d ", 9000+i)
		if !strings.HasPrefix(msg, wantStart) || !strings.Contains(msg, wantPort) || !strings.Contains(msg, " SYN ") {
			t.Errorf("event %d message %q", i, msg)
		}
		if !strings.Contains(line, `"labhost"`) {
			t.Errorf("event %d has no observer hostname labhost: %s", i, line)
		}
	}
	for _, want := range []string{"stopping: draining what was read", "group totals", "received=3", "kernel_lost=0"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// Item 2/6d through the command: a group another socket holds is a clear
// error and exit status 1, not a hang or a retry loop.
func TestRunGroupBusy(t *testing.T) {
	nsPath, nsFd := labNS(t)
	holder, err := collector.OpenGroup(collector.GroupConfig{Group: 100}, collector.GroupOptions{NetNS: nsFd})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte("netns: "+nsPath+"\nmetrics: {listen: off}\n"), 0o600)
	var stdout, stderr syncBuffer
	code := runAgent(context.Background(), []string{"--config", cfgPath}, &stdout, &stderr, nil)
	if code != 1 || !strings.Contains(stderr.String(), "group 100") || !strings.Contains(stderr.String(), "ulogd2") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
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
