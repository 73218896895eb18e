package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/cmd/agent/internal/promsnap"
	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/internal/config"
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

// The endpoint with fake group stats: names, labels, values, build info,
// and nothing outside the agent's prefix.
func TestTelemetry(t *testing.T) {
	tel, err := newTelemetry(config.Metrics{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.close(context.Background())
	stats := []collector.Stats{{Group: 100, Received: 42, KernelLost: 3, ENOBUFS: 1, QueueDropped: 2, DecodeErrors: 4, Forged: 6, Reopens: 5, ReadBuffer: 16 << 20}, {Group: 7}}
	if err := tel.register(promsnap.New("group", func() []collector.Stats { return stats }, groupID, groupMetrics...)); err != nil {
		t.Fatal(err)
	}
	base := "http://" + tel.addr.String()
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	for _, want := range []string{
		`nflog_agent_received_events_total{group="100"} 42`,
		`nflog_agent_kernel_lost_events_total{group="100"} 3`,
		`nflog_agent_enobufs_total{group="100"} 1`,
		`nflog_agent_queue_dropped_events_total{group="100"} 2`,
		`nflog_agent_decode_errors_total{group="100"} 4`,
		`nflog_agent_forged_datagrams_total{group="100"} 6`,
		`nflog_agent_socket_reopens_total{group="100"} 5`,
		`nflog_agent_read_buffer_bytes{group="100"} 1.6777216e+07`,
		`nflog_agent_received_events_total{group="7"} 0`,
		"# TYPE nflog_agent_received_events_total counter",
		"# TYPE nflog_agent_read_buffer_bytes gauge",
		fmt.Sprintf(`nflog_agent_build_info{commit=%q,goversion=%q,version=%q} 1`, commit, runtime.Version(), version),
		"nflog_agent_process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for line := range strings.Lines(body) {
		name := strings.Fields(strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE "))[0]
		if !strings.HasPrefix(name, metricPrefix) {
			t.Errorf("metric outside the prefix: %q", line)
		}
	}
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	resp, err := http.Post(base+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d", resp.StatusCode)
	}
}

// A taken port is a start error that names the address.
func TestTelemetryPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := newTelemetry(config.Metrics{Listen: ln.Addr().String()}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("err %v", err)
	}
	tel, err := newTelemetry(config.Metrics{}, slog.New(slog.DiscardHandler)) // off
	if err != nil || tel.addr != nil || tel.close(context.Background()) != nil {
		t.Errorf("off: %v %v", tel, err)
	}
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

// The profiler is served only when metrics.pprof asks for it.
func TestTelemetryPProf(t *testing.T) {
	for _, on := range []bool{false, true} {
		tel, err := newTelemetry(config.Metrics{Listen: "127.0.0.1:0", PProf: on}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		code, body := get(t, "http://"+tel.addr.String()+"/debug/pprof/goroutine?debug=1")
		tel.close(context.Background())
		if served := code == 200 && strings.Contains(body, "goroutine profile:"); served != on {
			t.Errorf("pprof %v: GET /debug/pprof/goroutine: %d %.80q", on, code, body)
		}
	}
}
