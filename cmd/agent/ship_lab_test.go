package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// The agent ships to an HTTPS collector it trusts through tls.ca_file: the
// server receives exactly the events the rules logged, once each, and
// /metrics counts them as sent.
func TestRunShipHTTPSLab(t *testing.T) {
	lab := netlab.NewFirewall(t, projectRules)
	ns := lab.B

	var mu sync.Mutex
	var got []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		var lines []string
		for sc.Scan() {
			if len(sc.Bytes()) > 0 {
				lines = append(lines, sc.Text())
			}
		}
		if err := sc.Err(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, lines...)
		mu.Unlock()
	}))
	defer srv.Close()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	cfgPath := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`netns: %s
metrics: {listen: "127.0.0.1:0"}
spool: {dir: %s}
sinks:
  - type: http
    name: collector
    url: %s/ingest
    tls: {ca_file: %s}
    batch: {max_age: 100ms}
`, ns.Path(), filepath.Join(dir, "spool"), srv.URL, ca)), 0o600)

	a := startAgent(t, cfgPath)
	base := "http://" + metricsAddr.FindStringSubmatch(a.stderr.String())[1]

	const n = 7
	for i := range n {
		lab.Connect(t, 9300+i)
	}
	a.waitUntil(t, "the events at the server", func() bool { return len(received()) >= n })
	// Give a duplicate or an extra event the time to show up.
	time.Sleep(300 * time.Millisecond)
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		fmt.Sprintf(`nflog_agent_sink_sent_events_total{sink="collector"} %d`, n),
		`nflog_agent_sink_pending_events{sink="collector"} 0`,
		fmt.Sprintf(`nflog_agent_spool_appended_events_total %d`, n),
		`nflog_agent_spool_dropped_events_total{group="100"} 0`,
		`nflog_agent_encoder_panics_total{group="100"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, hb := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz: %d %q", code, hb)
	}

	a.stop(t)
	if a.stdout.String() != "" {
		t.Errorf("events on stdout with an http sink configured:\n%s", a.stdout.String())
	}

	lines := received()
	if len(lines) != n {
		t.Fatalf("server received %d events, want %d:\n%s", len(lines), n, strings.Join(lines, "\n"))
	}
	var ports []int
	ids := map[string]bool{}
	for _, line := range lines {
		var ev struct {
			Message string `json:"message"`
			Event   struct {
				ID string `json:"id"`
			} `json:"event"`
			Destination struct {
				Port int `json:"port"`
			} `json:"destination"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, line)
		}
		if !strings.HasPrefix(ev.Message, "IPTABLES: ACCEPT IN="+lab.VethB+" ") {
			t.Errorf("message %q", ev.Message)
		}
		if ids[ev.Event.ID] {
			t.Errorf("event.id %q received twice", ev.Event.ID)
		}
		ids[ev.Event.ID] = true
		ports = append(ports, ev.Destination.Port)
	}
	sort.Ints(ports)
	for i, p := range ports {
		if p != 9300+i {
			t.Errorf("destination ports %v, want 9300..%d", ports, 9300+n-1)
			break
		}
	}
}
