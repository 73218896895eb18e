package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/internal/testenv"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// gate is an HTTP collector that answers 503 while closed and records the
// event.id of every event it accepts.
type gate struct {
	mu   sync.Mutex
	open bool
	ids  map[string]int // accepted copies of each event
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = open
}

func (g *gate) accepted() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := make(map[string]int, len(g.ids))
	for k, v := range g.ids {
		m[k] = v
	}
	return m
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	if !open {
		http.Error(w, "closed for the test", http.StatusServiceUnavailable)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	var ids []string
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Event struct{ ID string } `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Event.ID == "" {
			http.Error(w, "not an event", http.StatusBadRequest)
			return
		}
		ids = append(ids, ev.Event.ID)
	}
	if sc.Err() != nil {
		http.Error(w, sc.Err().Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range ids {
		g.ids[id]++
	}
}

// metricLine matches one unlabelled or labelled sample of the text format.
var metricLine = regexp.MustCompile(`(?m)^(\S+) (\S+)$`)

// scrape returns every sample of /metrics by its series (name and labels).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	_, body := get(t, base+"/metrics")
	m := map[string]float64{}
	for _, s := range metricLine.FindAllStringSubmatch(body, -1) {
		if v, err := strconv.ParseFloat(s[2], 64); err == nil {
			m[s[1]] = v
		}
	}
	return m
}

// The agent on a spool whose disk fills up, run as in production, with
// every count checked at each step: the events that do not fit are lost
// and counted (disk_full) and /healthz says why; once the sink has
// delivered what was stored, the spool frees its space without a restart,
// although its segment is far from full; when another file fills the disk,
// the events are lost and counted until the space is back; then events are
// stored and delivered again. Nothing else is lost, nothing is sent twice.
func TestRunSpoolFullDiskLab(t *testing.T) {
	lab := netlab.NewFirewall(t, projectRules)
	disk := testenv.Tmpfs(t, 160<<10)
	g := &gate{ids: map[string]int{}}
	srv := httptest.NewServer(g)
	defer srv.Close()
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`netns: %s
metrics: {listen: "127.0.0.1:0"}
spool: {dir: %s}
sinks:
  - type: http
    name: collector
    url: %s/ingest
    batch: {max_age: 20ms}
    retry: {initial_backoff: 10ms, max_backoff: 50ms}
`, lab.B.Path(), filepath.Join(disk, "spool"), srv.URL)), 0o600)
	a := startAgent(t, cfgPath)
	base := "http://" + metricsAddr.FindStringSubmatch(a.stderr.String())[1]

	const (
		received = `nflog_agent_received_events_total{group="100"}`
		appended = `nflog_agent_spool_appended_events_total`
		diskFull = `nflog_agent_spool_lost_events_total{reason="disk_full"}`
		degraded = `nflog_agent_spool_degraded{reason="disk_full"}`
		sent     = `nflog_agent_sink_sent_events_total{sink="collector"}`
		pending  = `nflog_agent_sink_pending_events{sink="collector"}`
		size     = `nflog_agent_spool_size_bytes`
	)
	logged := 0 // connections made, each logged once by the rules
	port := 9400
	var m map[string]float64
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last metrics: %v\nagent log:\n%s", m, a.stderr.String())
		}
	})
	// connect makes n new connections and waits until the agent has
	// stored or lost each of their events. It stays below the rules' rate
	// limit (50 new connections a second), which would not log them all.
	connect := func(n int) {
		t.Helper()
		for range n {
			time.Sleep(25 * time.Millisecond)
			lab.Connect(t, port)
			port++
		}
		logged += n
		a.waitUntil(t, fmt.Sprintf("%d events stored or lost", logged), func() bool {
			m = scrape(t, base)
			return m[received] == float64(logged) && m[appended]+m[diskFull] == float64(logged)
		})
		for _, zero := range []string{
			`nflog_agent_spool_dropped_events_total{group="100"}`, `nflog_agent_kernel_lost_events_total{group="100"}`,
			`nflog_agent_spool_lost_events_total{reason="write_error"}`, `nflog_agent_decode_errors_total{group="100"}`,
		} {
			if m[zero] != 0 {
				t.Fatalf("%s = %v", zero, m[zero])
			}
		}
	}
	healthz := func(wantCode int, want string) {
		t.Helper()
		if code, body := get(t, base+"/healthz"); code != wantCode || !strings.Contains(body, want) {
			t.Fatalf("/healthz: %d %q, want %d with %q", code, body, wantCode, want)
		}
	}

	// 1. The sink is down and the spool fills its disk.
	for round := 0; m[diskFull] == 0; round++ {
		if round == 20 {
			t.Fatalf("the disk never filled: %v", m)
		}
		connect(20)
	}
	// The batch that met the full disk may have left room for a smaller
	// one: the disk is full once a whole round stores nothing.
	stored := m[appended]
	for round := 0; ; round++ {
		if round == 5 {
			t.Fatalf("events still stored after 5 rounds on a full disk: %v", m)
		}
		connect(20)
		if m[appended] == stored {
			break
		}
		stored = m[appended]
	}
	if m[diskFull] != float64(logged)-stored || m[degraded] != 1 {
		t.Fatalf("on a full disk: stored %v, now %v", stored, m)
	}
	healthz(http.StatusServiceUnavailable, "spool: degraded (disk_full)")

	// 2. The sink comes back: it gets exactly what was stored, and the
	// spool frees its disk.
	g.set(true)
	a.waitUntil(t, "the stored events delivered and their space freed", func() bool {
		m = scrape(t, base)
		return m[sent] == stored && m[pending] == 0 && m[size] == 16 && m[degraded] == 0
	})
	if got := g.accepted(); len(got) != int(stored) {
		t.Fatalf("the collector has %d events, want %d", len(got), int(stored))
	}
	healthz(http.StatusOK, "ok")
	var st syscall.Statfs_t
	syscall.Statfs(disk, &st)
	if free := int64(st.Bfree) * st.Bsize; free < 140<<10 {
		t.Fatalf("%d bytes free on the 160 KiB disk after delivery", free)
	}

	// 3. The sink is down again and another file fills the disk: the
	// events are lost, counted, but for the two or three that fit in the
	// page the segment's header already holds.
	g.set(false)
	filler, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err = filler.Write(make([]byte, 4096)); err == nil; _, err = filler.Write(make([]byte, 4096)) {
	}
	filler.Close()
	lost := m[diskFull]
	connect(20)
	inSlack := m[appended] - stored
	if inSlack > 3 || m[diskFull] != lost+20-inSlack || m[degraded] != 1 {
		t.Fatalf("with the filler: %v", m)
	}
	healthz(http.StatusServiceUnavailable, "spool: degraded (disk_full)")

	// 4. The space is back: events are stored again at once, and the sink
	// delivers them when it is back, all without a restart.
	os.Remove(filler.Name())
	connect(20)
	total := stored + inSlack + 20
	if m[appended] != total || m[diskFull] != lost+20-inSlack || m[degraded] != 0 {
		t.Fatalf("after the filler went: %v", m)
	}
	g.set(true)
	a.waitUntil(t, "the new events delivered", func() bool {
		m = scrape(t, base)
		return m[sent] == total && m[pending] == 0
	})
	healthz(http.StatusOK, "ok")
	a.stop(t)

	got := g.accepted()
	if len(got) != int(total) {
		t.Fatalf("the collector has %d events, want %d", len(got), int(total))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("event %s accepted %d times", id, n)
		}
	}
	t.Logf("%d events logged: %d stored and delivered, %d lost to the full disk, counted", logged, len(got), int(m[diskFull]))
}

// The spool is opened before any NFLOG group is bound: with the group held
// by another socket and the spool by another agent, the start fails on the
// spool, never having tried the group.
func TestRunOpensTheSpoolBeforeBindingGroups(t *testing.T) {
	ns := netlab.NewNSWithRules(t, "spool", projectRules)
	holder, err := collector.OpenGroup(collector.GroupConfig{Group: 100}, collector.GroupOptions{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	dir := filepath.Join(t.TempDir(), "spool")
	other, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("netns: %s\nmetrics: {listen: off}\nspool: {dir: %s}\n", ns.Path(), dir)), 0o600)
	var stdout, stderr netlab.SyncBuffer
	code := runAgent(context.Background(), []string{"--config", cfgPath}, &stdout, &stderr, nil)
	if code != 1 || !strings.Contains(stderr.String(), "directory in use") || strings.Contains(stderr.String(), "group 100") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}
