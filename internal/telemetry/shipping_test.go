package telemetry

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// The sink latency histogram is read from ship.Stats at scrape time.
func TestLatencyCollector(t *testing.T) {
	buckets := make([]uint64, len(ship.LatencyBounds))
	for i := range buckets {
		buckets[i] = 2
	}
	buckets[0] = 1
	stats := func() []ship.Stats {
		return []ship.Stats{{Sink: "es", Requests: 2, Latency: 30 * time.Millisecond, LatencyBuckets: buckets}}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newLatencyCollector(stats))
	families, err := reg.Gather()
	if err != nil || len(families) != 1 {
		t.Fatalf("gather: %d families, %v", len(families), err)
	}
	f := families[0]
	if f.GetName() != "nflog_agent_sink_request_duration_seconds" || len(f.Metric) != 1 {
		t.Fatalf("family %s with %d metrics", f.GetName(), len(f.Metric))
	}
	m := f.Metric[0]
	if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "sink" || l[0].GetValue() != "es" {
		t.Errorf("labels %v", l)
	}
	h := m.GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 0.03 || len(h.Bucket) != len(ship.LatencyBounds) {
		t.Fatalf("histogram count %d sum %v buckets %d", h.GetSampleCount(), h.GetSampleSum(), len(h.Bucket))
	}
	for i, b := range h.Bucket {
		if b.GetUpperBound() != ship.LatencyBounds[i].Seconds() || b.GetCumulativeCount() != buckets[i] {
			t.Errorf("bucket %d: le=%v count %d", i, b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
}

// A sink whose credentials are refused is reported at once: /metrics says
// it is blocked and why, /healthz fails with a line quoting the answer
// printable (a hostile server's escapes and newlines reach neither raw).
func TestBlockedSinkMetricsAndHealth(t *testing.T) {
	srv := quiet(httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("\x1b[2Jbad key\nsink other: ok"))
	})))
	srv.StartTLS()
	defer srv.Close()
	tel, err := New(Config{Listen: "127.0.0.1:0"}, testBuild, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
	q := spool.NewMemory(0, 0, spool.Drop)
	defer q.Close()
	sh, err := ship.New(q, []ship.SinkConfig{{Type: ship.TypeHTTP, Name: "siem", URL: srv.URL, TLS: ship.TLSConfig{CAFile: serverCA(t, srv)},
		Retry: ship.RetryConfig{InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond},
		Batch: ship.BatchConfig{MaxAge: time.Millisecond}}}, ship.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tel.RegisterShipping(q, sh, time.Hour); err != nil {
		t.Fatal(err)
	}
	base := "http://" + tel.addr.String()
	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz before: %d %q", code, body)
	}
	sh.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		sh.Shutdown(ctx)
	}()
	if err := q.Append(spool.Event{ID: []byte("ev-1"), JSON: []byte(`{"event":{"id":"ev-1"}}`)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); sh.Stats()[0].Blocked == ""; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sink was never reported blocked")
		}
	}
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		`nflog_agent_sink_blocked{reason="auth",sink="siem"} 1`,
		`nflog_agent_sink_blocked{reason="redirect",sink="siem"} 0`,
		`nflog_agent_sink_pending_events{sink="siem"} 1`,
		`nflog_agent_sink_failing{sink="siem"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, hb := get(t, base+"/healthz")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(hb, "sink siem: blocked (auth), events kept; last error: HTTP 401") ||
		strings.Count(hb, "\n") != 1 || strings.Contains(hb, "\x1b") || !strings.Contains(hb, `\x1b[2Jbad key\x0asink other: ok`) {
		t.Errorf("/healthz: %d %q", code, hb)
	}
}

// The spool's own counters, from a spool that was torn by a crash and has
// an unreadable cursor: torn bytes, cursor errors by operation, and the
// degraded gauge for every reason.
func TestSpoolMetrics(t *testing.T) {
	dir := t.TempDir()
	q, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Append(spool.Event{ID: []byte("a"), JSON: []byte(`{}`)})
	q.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("torn!"))
	f.Close()
	os.WriteFile(filepath.Join(dir, "cursor-es"), []byte("garbage"), 0o600)

	q, err = spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Reader("es"); err != nil {
		t.Fatal(err)
	}
	tel, err := New(Config{Listen: "127.0.0.1:0"}, testBuild, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
	if err := tel.register(newSpoolCollector(q)); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, "http://"+tel.addr.String()+"/metrics")
	for _, want := range []string{
		"nflog_agent_spool_appended_events_total 0",
		"nflog_agent_spool_torn_tails_total 1",
		"nflog_agent_spool_torn_bytes_total 5",
		`nflog_agent_spool_cursor_errors_total{op="load"} 1`,
		`nflog_agent_spool_cursor_errors_total{op="save"} 0`,
		"nflog_agent_spool_remove_errors_total 0",
		`nflog_agent_spool_degraded{reason="disk_full"} 0`,
		`nflog_agent_spool_degraded{reason="write_error"} 0`,
		`nflog_agent_spool_degraded{reason="cursor_save"} 0`,
		`nflog_agent_spool_degraded{reason="remove_failed"} 0`,
		"nflog_agent_spool_events 1",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := spoolCheck(q)(); err != nil {
		t.Errorf("health of a working spool: %v", err)
	}
}

// quiet keeps a test server's handshake errors out of the log.
func quiet(srv *httptest.Server) *httptest.Server {
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return srv
}

// serverCA writes the test server's certificate as a CA file.
func serverCA(t *testing.T, srv *httptest.Server) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
