package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/collector/nflogpcap"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/rsyslogtest"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// ecsEvent is what the syslog checks read from an ECS document.
type ecsEvent struct {
	Timestamp string `json:"@timestamp"`
	Message   string `json:"message"`
	Event     struct {
		ID string `json:"id"`
	} `json:"event"`
	Observer struct {
		Hostname string `json:"hostname"`
	} `json:"observer"`
}

func parseEvents(t *testing.T, ndjson []byte) ([]ecsEvent, []ship.Event) {
	t.Helper()
	var docs []ecsEvent
	var evs []ship.Event
	sc := bufio.NewScanner(bytes.NewReader(ndjson))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d ecsEvent
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("not an ECS document: %v\n%s", err, sc.Text())
		}
		at, err := time.Parse(time.RFC3339Nano, d.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
		evs = append(evs, ship.Event{ID: []byte(d.Event.ID), Time: at, Message: []byte(d.Message),
			JSON: bytes.Clone(sc.Bytes())})
	}
	return docs, evs
}

// syslogLine is the line rsyslog's fields template writes for an event sent
// with the given APP-NAME, PROCID, MSGID and SD: HOSTNAME is
// observer.hostname, TIMESTAMP the event's @timestamp as it is.
func syslogLine(d ecsEvent, app, procid, msgid, sd string) string {
	return strings.Join([]string{d.Observer.Hostname, d.Timestamp, app, procid, msgid, sd, d.Message}, "|")
}

// checkFields compares what rsyslog parsed with the events, in order.
func checkFields(t *testing.T, what string, got []string, docs []ecsEvent, app, procid, msgid, sd string) {
	t.Helper()
	if len(got) != len(docs) {
		t.Fatalf("%s: rsyslog received %d events, want %d", what, len(got), len(docs))
	}
	for i, d := range docs {
		if want := syslogLine(d, app, procid, msgid, sd); got[i] != want {
			t.Fatalf("%s: event %d:\n got %s\nwant %s", what, i, got[i], want)
		}
	}
}

// A capture of 3000 logged packets, replayed (nflog-agent replay) into ECS
// events and shipped by syslog sinks over TLS and RELP/TLS: rsyslog parses
// every header field as configured, in order.
func TestSyslogReplayedCaptureToRsyslog(t *testing.T) {
	srv := rsyslogtest.Start(t)
	pkts := make([]logged, 3000)
	for i := range pkts {
		payload := []byte{0x45, 0, 0, 28, byte(i >> 8), byte(i), 0, 0, 64, 17, 0, 0, 192, 0, 2, byte(1 + i%200), 198, 51, 100, 7,
			byte(1024 + i>>8), byte(i), 0, 53, 0, 8, 0, 0}
		prefix := []string{"FW DROP ", "IPTABLES: ACCEPT ", ""}[i%3]
		pkts[i] = newLogged(100, 2, 3, prefix, at.Add(time.Duration(i)*1237*time.Microsecond), payload)
	}
	capture := writeCapture(t, "many.pcap", nflogpcap.LinkTypeNFLOG, 0, pkts...)
	var out, errOut bytes.Buffer
	if code := runReplay([]string{"--hostname", "fw-paris-01", "--ifname", "2=lan0", "--ifname", "3=wan0", capture}, &out, &errOut); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut.String())
	}
	docs, evs := parseEvents(t, out.Bytes())
	if len(evs) != len(pkts) {
		t.Fatalf("replay gave %d events, want %d", len(evs), len(pkts))
	}

	q := spool.NewMemory(0, 0, spool.Drop)
	s, err := ship.New(q, []ship.SinkConfig{
		{Type: ship.TypeSyslog, Name: "tcp", Address: srv.Addr[rsyslogtest.TCP], TLS: ship.TLSConfig{CAFile: srv.CAFile},
			AppName: "nflog", ProcID: "100", MsgID: "NETFILTER",
			StructuredData: ship.StructuredData{ID: "fw@32473", Params: map[string]string{"site": "paris"}}},
		{Type: ship.TypeSyslog, Name: "relp", Transport: ship.TransportRELPTLS, Address: srv.Addr[rsyslogtest.RELP],
			TLS: ship.TLSConfig{CAFile: srv.CAFile}, MsgID: "LOG"},
	}, ship.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if err := q.Append(evs...); err != nil {
		t.Fatal(err)
	}
	tcp := srv.WaitFields(t, rsyslogtest.TCP, len(evs))
	relp := srv.WaitFields(t, rsyslogtest.RELP, len(evs))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	q.Close()
	checkFields(t, "tcp", tcp, docs, "nflog", "100", "NETFILTER", `[fw@32473 site="paris"]`)
	checkFields(t, "relp", relp, docs, "nflog-agent", "-", "LOG", "-")
}

// The live agent in a namespace with the project's rules: real packets, a
// real NFLOG read, shipped to rsyslog over TLS and RELP/TLS, and to a file
// that says what each event is. rsyslog gets every event once, in order,
// with every header field as configured.
func TestSyslogLabToRsyslog(t *testing.T) {
	ns := netlab.NewNSWithRules(t, "sys", projectRules)
	// Log every datagram to one port too, past the project rules' rate
	// limit, to get a few thousand events quickly: first in the chain, as
	// the project rules do not log loopback.
	ns.Nft(t, `insert rule inet nflog_agent input udp dport 9999 log prefix "IPTABLES: LAB " group 100`)
	srv := rsyslogtest.Start(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "events.ndjson")
	cfgPath := filepath.Join(dir, "agent.yaml")
	writeTestFile(t, cfgPath, fmt.Sprintf(`netns: %s
hostname: lab-fw-1
metrics: {listen: "127.0.0.1:0"}
spool: {dir: %s}
sinks:
  - type: file
    path: %s
  - type: syslog
    name: tcp
    address: %s
    tls: {ca_file: %s}
    facility: local4
    app_name: fw
    msgid: NF
    structured_data: {id: lab@32473, params: {zone: "dmz \"1\""}}
  - type: syslog
    name: relp
    transport: relp+tls
    address: %s
    tls: {ca_file: %s}
    format: kernel
`, ns.Path(), filepath.Join(dir, "spool"), events, srv.Addr[rsyslogtest.TCP], srv.CAFile, srv.Addr[rsyslogtest.RELP], srv.CAFile))
	a := startAgent(t, cfgPath)

	const n = 2000
	ns.MustDo(t, func() error {
		// Unconnected: the port unreachable answers must not fail the writes.
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		defer c.Close()
		to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9999}
		for i := range n {
			if _, err := c.WriteToUDP(fmt.Appendf(nil, "datagram %d", i), to); err != nil {
				return err
			}
			if i%100 == 99 {
				time.Sleep(time.Millisecond) // the NFLOG socket's buffer is not the subject here
			}
		}
		return nil
	})
	srv.WaitFields(t, rsyslogtest.TCP, n)
	srv.WaitFields(t, rsyslogtest.RELP, n)
	// The syslog sinks' counters: nothing pending, and as many sent as
	// rsyslog wrote.
	base := "http://" + metricsAddr.FindStringSubmatch(a.stderr.String())[1]
	a.waitUntil(t, "sent counters matching what rsyslog wrote", func() bool {
		_, body := get(t, base+"/metrics")
		for _, in := range []string{rsyslogtest.TCP, rsyslogtest.RELP} {
			if !strings.Contains(body, fmt.Sprintf("nflog_agent_sink_pending_events{sink=%q} 0\n", in)) ||
				!strings.Contains(body, fmt.Sprintf("nflog_agent_sink_sent_events_total{sink=%q} %d\n", in, len(srv.Fields(t, in)))) {
				return false
			}
		}
		return true
	})
	a.stop(t)
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := parseEvents(t, b)
	if len(docs) < n || docs[0].Observer.Hostname != "lab-fw-1" {
		t.Fatalf("%d events in the file sink, want at least %d from lab-fw-1", len(docs), n)
	}
	checkFields(t, "tcp", srv.Fields(t, rsyslogtest.TCP), docs, "fw", "-", "NF", `[lab@32473 zone="dmz \"1\""]`)
	checkFields(t, "relp", srv.Fields(t, rsyslogtest.RELP), docs, "nflog-agent", "-", "-", "-")
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
