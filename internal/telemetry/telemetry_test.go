package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/internal/telemetry/promsnap"
)

var testBuild = Build{Version: "1.2.3", Commit: "abc1234"}

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
	tel, err := New(Config{Listen: "127.0.0.1:0"}, testBuild, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
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
		fmt.Sprintf(`nflog_agent_build_info{commit=%q,goversion=%q,version=%q} 1`, testBuild.Commit, runtime.Version(), testBuild.Version),
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
	if _, err := New(Config{Listen: ln.Addr().String()}, testBuild, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("err %v", err)
	}
	tel, err := New(Config{}, testBuild, slog.New(slog.DiscardHandler)) // off
	if err != nil || tel.addr != nil || tel.Close(context.Background()) != nil {
		t.Errorf("off: %v %v", tel, err)
	}
}

// The profiler is served only when metrics.pprof asks for it.
func TestTelemetryPProf(t *testing.T) {
	for _, on := range []bool{false, true} {
		tel, err := New(Config{Listen: "127.0.0.1:0", PProf: on}, testBuild, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		code, body := get(t, "http://"+tel.addr.String()+"/debug/pprof/goroutine?debug=1")
		tel.Close(context.Background())
		if served := code == 200 && strings.Contains(body, "goroutine profile:"); served != on {
			t.Errorf("pprof %v: GET /debug/pprof/goroutine: %d %.80q", on, code, body)
		}
	}
}

// Each group's decode-stage losses are its own counters, exported by
// group and read back in the order the groups were given.
func TestDecodeStats(t *testing.T) {
	tel, err := New(Config{Listen: "127.0.0.1:0"}, testBuild, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
	stats, err := tel.RegisterDecodeStats([]uint16{100, 7})
	if err != nil {
		t.Fatal(err)
	}
	stats.Group(1).SpoolDropped.Add(3)
	stats.Group(0).EncoderPanics.Add(2)
	if got := stats.Totals(); len(got) != 2 || got[0] != (GroupDecode{100, 2, 0}) || got[1] != (GroupDecode{7, 0, 3}) {
		t.Errorf("totals %v", got)
	}
	_, body := get(t, "http://"+tel.addr.String()+"/metrics")
	for _, want := range []string{
		`nflog_agent_spool_dropped_events_total{group="100"} 0`,
		`nflog_agent_spool_dropped_events_total{group="7"} 3`,
		`nflog_agent_encoder_panics_total{group="100"} 2`,
		`nflog_agent_encoder_panics_total{group="7"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
