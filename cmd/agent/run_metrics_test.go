package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// SIGHUP reaches the reopen channel and does not stop anything.
func TestNotifySignalsHUP(t *testing.T) {
	ctx, reopen, stop := notifySignals(context.Background())
	defer stop()
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	select {
	case <-reopen:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGHUP not delivered to reopen")
	}
	if ctx.Err() != nil {
		t.Error("SIGHUP cancelled the run context")
	}
}

var metricsAddr = regexp.MustCompile(`msg="serving metrics and health" addr=(\S+)`)

// The agent in a lab namespace: N logged connections are N received events
// on /metrics, /healthz is ok, SIGHUP is logged and changes nothing, SIGTERM
// drains and stops.
func TestRunMetricsLab(t *testing.T) {
	lab := netlab.NewFirewall(t, projectRules)
	ns := lab.B
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte("netns: "+ns.Path()+"\nmetrics:\n  listen: 127.0.0.1:0\ngroups:\n  - group: 100\n"), 0o600)
	a := startAgent(t, cfgPath)
	m := metricsAddr.FindStringSubmatch(a.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", a.stderr.String())
	}
	base := "http://" + m[1]
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}

	const n = 20 // within the rules' burst of 100
	connect := func(from, count int) {
		for i := range count {
			lab.Connect(t, 9100+from+i)
		}
	}
	connect(0, n)
	a.waitUntil(t, "the events", func() bool { return strings.Count(a.stdout.String(), "\n") >= n })
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		fmt.Sprintf(`nflog_agent_received_events_total{group="100"} %d`, n),
		`nflog_agent_kernel_lost_events_total{group="100"} 0`,
		`nflog_agent_queue_dropped_events_total{group="100"} 0`,
		`nflog_agent_decode_errors_total{group="100"} 0`,
		`nflog_agent_build_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`nflog_agent_read_buffer_bytes\{group="100"\} [1-9]`).MatchString(body) {
		t.Errorf("no read buffer size in /metrics")
	}

	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	a.waitUntil(t, "the reopen log line", func() bool { return strings.Contains(a.stderr.String(), "reopen requested") })
	connect(n, 1)
	a.waitUntil(t, "an event after SIGHUP", func() bool { return strings.Count(a.stdout.String(), "\n") >= n+1 })

	a.stop(t)
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the metrics server still answers after the agent stopped")
	}
}

// blockedWriter blocks every Write until released, like a stdout pipe
// nobody reads.
type blockedWriter struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return len(p), nil
}

// A stuck sink (the default stdout sink on a pipe nobody reads, whose write
// ignores cancellation) cannot hold the agent past shutdown_timeout: it
// exits 1 saying the in-memory queue's events are lost. While it drains,
// /healthz says so with a 503.
func TestRunShutdownDeadlineLab(t *testing.T) {
	lab := netlab.NewFirewall(t, projectRules)
	ns := lab.B
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte("netns: "+ns.Path()+"\nshutdown_timeout: 1s\nmetrics: {listen: \"127.0.0.1:0\"}\n"), 0o600)
	out := &blockedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(out.release)
	var stderr netlab.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- runAgent(ctx, []string{"--config", cfgPath}, out, &stderr, nil) }()
	waitUntil(t, "the agent to start", func() bool { return strings.Contains(stderr.String(), "reading NFLOG group") }, exit)
	base := "http://" + metricsAddr.FindStringSubmatch(stderr.String())[1]
	lab.Connect(t, 9200)
	select {
	case <-out.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the event never reached the output")
	}
	start := time.Now()
	cancel()
	waitUntil(t, "the drain", func() bool { return strings.Contains(stderr.String(), "draining") }, exit)
	if code, body := get(t, base+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "agent: shutting down") {
		t.Errorf("/healthz while draining: %d %q", code, body)
	}
	select {
	case code := <-exit:
		if code != 1 || !strings.Contains(stderr.String(), "not drained after shutdown_timeout 1s") ||
			!strings.Contains(stderr.String(), "lost") {
			t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s to give up, shutdown_timeout is 1s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a stuck output held the agent; stderr:\n%s", stderr.String())
	}
}
