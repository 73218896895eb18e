package ship

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/ship/internal/relp"
	"github.com/nflog-agent/nflog-agent/ship/internal/rfc5424"
	"github.com/nflog-agent/nflog-agent/ship/rsyslogtest"
)

// syslogEvents returns n events whose documents carry observer.hostname
// fw-<i%3>, as decode writes them.
func syslogEvents(n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		id := fmt.Sprintf("ev-%06d", i)
		line := fmt.Sprintf("IPTABLES: DROP IN=eth0 OUT= SRC=10.0.%d.%d DST=10.0.0.1 LEN=60 PROTO=TCP SPT=%d DPT=22 ", i/250%250, i%250, 1024+i)
		evs[i] = Event{
			ID:      []byte(id),
			Time:    time.Date(2026, 11, 30, 1, 2, 3, i*1000+7000, time.UTC),
			Message: []byte(line),
			JSON: fmt.Appendf(nil, `{"@timestamp":"x","message":%q,"event":{"id":"%s"},"observer":{"hostname":"fw-%d","type":"firewall"}}`,
				line, id, i%3),
		}
	}
	return evs
}

// syslogCase is one way to configure a syslog sink and what rsyslog must
// parse from each event.
type syslogCase struct {
	name  string
	input string // rsyslogtest.TCP or RELP
	cfg   SinkConfig
	// fields: HOSTNAME|TIMESTAMP|APP-NAME|PROCID|MSGID|SD|MSG; raw: the
	// message as sent.
	fields, raw func(ev Event) string
}

func eventHost(ev Event) string { return string(observerHostname(ev.JSON)) }

func eventTime(ev Event) string { return ev.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

var syslogCases = []syslogCase{{
	name: "tls octet-counted kernel", input: rsyslogtest.TCP,
	cfg: SinkConfig{Type: TypeSyslog, Transport: TransportTLS, Facility: "local3", Severity: "info", AppName: "fw-agent",
		ProcID: "42", MsgID: "NETFILTER", StructuredData: StructuredData{ID: "origin@32473",
			Params: map[string]string{"site": `par"1]`, "env": `pro\d`}}},
	fields: func(ev Event) string {
		return eventHost(ev) + "|" + eventTime(ev) + `|fw-agent|42|NETFILTER|[origin@32473 env="pro\\d" site="par\"1\]"]|` + string(ev.Message)
	},
	raw: func(ev Event) string {
		return "<158>1 " + eventTime(ev) + " " + eventHost(ev) + ` fw-agent 42 NETFILTER [origin@32473 env="pro\\d" site="par\"1\]"] ` + string(ev.Message)
	},
}, {
	name: "tls lf json", input: rsyslogtest.TCP,
	cfg: SinkConfig{Type: TypeSyslog, Framing: FramingLF, Format: FormatJSON},
	fields: func(ev Event) string {
		return eventHost(ev) + "|" + eventTime(ev) + "|nflog-agent|-|-|-|" + string(ev.JSON)
	},
	raw: func(ev Event) string {
		return "<4>1 " + eventTime(ev) + " " + eventHost(ev) + " nflog-agent - - - " + string(ev.JSON)
	},
}, {
	name: "relp+tls kernel", input: rsyslogtest.RELP,
	cfg: SinkConfig{Type: TypeSyslog, Transport: TransportRELPTLS, MsgID: "LOG", Severity: "notice"},
	fields: func(ev Event) string {
		return eventHost(ev) + "|" + eventTime(ev) + "|nflog-agent|-|LOG|-|" + string(ev.Message)
	},
	raw: func(ev Event) string {
		return "<5>1 " + eventTime(ev) + " " + eventHost(ev) + " nflog-agent - LOG - " + string(ev.Message)
	},
}}

// A real rsyslog receives every event once, in order, with every header
// field as configured: HOSTNAME is observer.hostname, TIMESTAMP the
// event's time to the microsecond.
func TestSyslogToRsyslog(t *testing.T) {
	evs := syslogEvents(3000)
	for _, tc := range syslogCases {
		t.Run(tc.name, func(t *testing.T) {
			srv := rsyslogtest.Start(t)
			c := tc.cfg
			c.Address, c.TLS = srv.Addr[tc.input], TLSConfig{CAFile: srv.CAFile}
			c.Batch = BatchConfig{MaxEvents: 500, MaxAge: 5 * time.Millisecond}
			h := startShipper(t, nil, c)
			h.append(evs)
			fields := srv.WaitFields(t, tc.input, len(evs))
			raw := srv.WaitRaw(t, tc.input, len(evs))
			st := h.finalStats()
			if st.Sent != uint64(len(evs)) || len(fields) != len(evs) || len(raw) != len(evs) {
				t.Fatalf("sent %d, rsyslog parsed %d and wrote %d raw, want %d", st.Sent, len(fields), len(raw), len(evs))
			}
			for i, ev := range evs {
				if want := tc.fields(ev); fields[i] != want {
					t.Fatalf("event %d fields:\n got %s\nwant %s", i, fields[i], want)
				}
				if want := tc.raw(ev); raw[i] != want {
					t.Fatalf("event %d raw:\n got %s\nwant %s", i, raw[i], want)
				}
			}
		})
	}
}

// The sekoia sink's frame is the one Sekoia's rsyslog recipe forwards: the
// recipe's template applied by rsyslog to the same event received from a
// syslog sink (kern.warning, app-name kernel) gives, byte for byte, what the
// sekoia sink sends, over RELP and over TCP. (rsyslog's rawmsg drops the
// frame's final LF, as the file's lines drop the recipe's.)
func TestSekoiaFrameIsTheRecipes(t *testing.T) {
	evs := syslogEvents(500)
	srv := rsyslogtest.Start(t)
	keyFile := writeKey(t, rsyslogtest.RecipeKey)
	plain := startShipper(t, nil, SinkConfig{Type: TypeSyslog, Address: srv.Addr[rsyslogtest.TCP],
		TLS: TLSConfig{CAFile: srv.CAFile}, AppName: "kernel", Batch: smallBatch})
	plain.append(evs)
	want := srv.WaitRecipes(t, rsyslogtest.TCP, len(evs))
	plain.finalStats()
	for _, transport := range []string{TransportRELP, TransportSyslog} {
		in := rsyslogtest.RELP
		if transport == TransportSyslog {
			srv = rsyslogtest.Start(t)
			in = rsyslogtest.TCP
		}
		h := startShipper(t, nil, SinkConfig{Type: TypeSekoia, Transport: transport, Address: srv.Addr[in],
			IntakeKeyFile: keyFile, TLS: TLSConfig{CAFile: srv.CAFile}, Batch: smallBatch})
		h.append(evs)
		raw := srv.WaitRaw(t, in, len(evs))
		h.finalStats()
		if len(raw) != len(want) {
			t.Fatalf("%s: %d frames, recipe %d", transport, len(raw), len(want))
		}
		for i := range raw {
			if raw[i] != want[i] {
				t.Fatalf("%s: frame %d:\n got %s\nwant %s", transport, i, raw[i], want[i])
			}
		}
	}
}

func writeKey(t *testing.T, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "intake.key")
	writeFile(t, path, []byte(key+"\n"))
	return path
}

// restartMidStream streams n events to the sink while rsyslog restarts
// (SIGTERM, start again on the same port), waits until the sink committed
// every event, and returns how many times rsyslog received each one.
func restartMidStream(t *testing.T, c SinkConfig, input string, n int, restart func(*rsyslogtest.Server, testing.TB)) (received map[string]int, st Stats) {
	srv := rsyslogtest.Start(t)
	c.Address, c.TLS = srv.Addr[input], TLSConfig{CAFile: srv.CAFile}
	c.Batch, c.Retry = BatchConfig{MaxEvents: 200, MaxAge: time.Millisecond}, fastRetry
	h := startShipper(t, nil, c)
	evs := syslogEvents(n)
	const chunk = 100
	for i := 0; i < n; i += chunk {
		h.append(evs[i:min(i+chunk, n)])
		if i == n/2 {
			// Half the stream is appended, part of it still in flight.
			restart(srv, t)
		}
		time.Sleep(time.Millisecond) // a stream, not one burst
	}
	waitFor(t, "every event committed", func() bool { return h.s.Stats()[0].SpoolPending == 0 })
	st = h.finalStats()
	srv.Stop()
	received = map[string]int{}
	for _, f := range srv.Fields(t, input) {
		received[f[strings.LastIndexByte(f, '|')+1:]]++
	}
	return received, st
}

func lossAndDuplicates(evs []Event, received map[string]int) (lost, dups int) {
	for _, ev := range evs {
		switch k := received[string(ev.Message)]; {
		case k == 0:
			lost++
		case k > 1:
			dups += k - 1
		}
	}
	return lost, dups
}

// RELP loses nothing when the server restarts mid-stream: what it had not
// answered is sent again, so at most a window of messages arrives twice.
func TestSyslogRELPRestartLosesNothing(t *testing.T) {
	const n = 20000
	received, st := restartMidStream(t, SinkConfig{Type: TypeSyslog, Transport: TransportRELPTLS}, rsyslogtest.RELP, n,
		(*rsyslogtest.Server).Restart)
	lost, dups := lossAndDuplicates(syslogEvents(n), received)
	t.Logf("relp: %d events, %d lost, %d duplicates, %d retried requests", n, lost, dups, st.Retried)
	if lost != 0 || dups > relp.Window {
		t.Fatalf("lost %d, %d duplicates: want none lost and at most a window (%d) twice", lost, dups, relp.Window)
	}
	if st.Retried == 0 {
		t.Fatal("the restart did not interrupt the stream")
	}
}

// TCP syslog has no acknowledgement: what the kernel's socket buffers held
// when rsyslog stopped (restart) or died (crash) is lost. The loss is
// measured and bounded by those buffers.
func TestSyslogTCPRestartLoss(t *testing.T) {
	const n = 20000
	evs := syslogEvents(n)
	for name, restart := range map[string]func(*rsyslogtest.Server, testing.TB){
		"restart": (*rsyslogtest.Server).Restart, "crash": (*rsyslogtest.Server).Crash,
	} {
		t.Run(name, func(t *testing.T) {
			received, st := restartMidStream(t, SinkConfig{Type: TypeSyslog, Transport: TransportTLS}, rsyslogtest.TCP, n, restart)
			lost, dups := lossAndDuplicates(evs, received)
			frame := len(rfc5424.AppendOctetCounted(nil, evs[0].Message)) + 60 // header and count
			t.Logf("tcp %s: %d events, %d lost (about %d KiB of frames), %d duplicates, %d retried requests",
				name, n, lost, lost*frame>>10, dups, st.Retried)
			if st.Sent != n {
				t.Fatalf("sent %d, want %d: every event counts as sent over TCP", st.Sent, n)
			}
			if bound := socketBuffers(t); lost*frame > bound {
				t.Fatalf("lost %d events (%d bytes): more than the socket buffers hold (%d bytes)", lost, lost*frame, bound)
			}
		})
	}
}

// socketBuffers is the most a TCP connection's two socket buffers hold on
// this host: the sender's largest send buffer plus the receiver's largest
// receive buffer.
func socketBuffers(t *testing.T) int {
	var total int
	for _, f := range []string{"/proc/sys/net/ipv4/tcp_wmem", "/proc/sys/net/ipv4/tcp_rmem"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fs := strings.Fields(string(b))
		v, err := strconv.Atoi(fs[len(fs)-1])
		if err != nil {
			t.Fatal(err)
		}
		total += v
	}
	return total
}

// relpServer is a RELP server over TLS on loopback whose every answer is
// chosen by the test: answer(session, frame) returns the bytes to send, ""
// for none, or "close" to drop the connection.
func relpServer(t *testing.T, answer func(session int, f relp.Frame) string) (addr, caFile string) {
	t.Helper()
	p := newPKI(t, "relp")
	cert, _, _ := p.issue(false, "127.0.0.1")
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for session := 0; ; session++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					f, err := relp.ReadFrame(r)
					if err != nil {
						return
					}
					out := answer(session, f)
					if out == "close" {
						return
					}
					if _, err := c.Write([]byte(out)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String(), p.CAFile
}

func relpAnswer(txnr int, data string) string {
	return string(relp.AppendFrame(nil, relp.Frame{Txnr: txnr, Command: "rsp", Data: []byte(data)}))
}

// The intake key is in every frame the sekoia sink sends: a server that
// quotes it back (when refusing the session, or a message) or drops the
// connection must not get it into a log line, an error or the counters.
func TestSekoiaRELPKeyNeverLeaks(t *testing.T) {
	const key = "sekoia-intake-key-d0d1d2"
	var delivered sync.Map
	addr, ca := relpServer(t, func(session int, f relp.Frame) string {
		switch {
		case session == 0:
			return relpAnswer(f.Txnr, "500 unknown intake_key="+key)
		case f.Command == "open":
			return relpAnswer(f.Txnr, "200 OK\ncommands=syslog")
		case f.Command == "close":
			return relpAnswer(f.Txnr, "")
		case session == 1 && f.Txnr == 5:
			return "close"
		case session == 2 && f.Txnr%3 == 0:
			return relpAnswer(f.Txnr, "500 refused: "+string(f.Data))
		}
		delivered.Store(string(f.Data), true)
		return relpAnswer(f.Txnr, "200 OK")
	})
	c := SinkConfig{Type: TypeSekoia, Address: addr, IntakeKeyFile: writeKey(t, key), TLS: TLSConfig{CAFile: ca},
		Retry: fastRetry, Batch: smallBatch}
	h := startShipper(t, nil, c)
	evs := syslogEvents(50)
	h.append(evs)
	waitFor(t, "every event delivered", func() bool { return h.s.Stats()[0].Sent == uint64(len(evs)) })
	st := h.finalStats()
	if st.SendErrors["bad_response"] == 0 || st.SendErrors["network"] == 0 {
		t.Errorf("send errors %v: want the refusals and the dropped connection counted", st.SendErrors)
	}
	for where, text := range map[string]string{"logs": h.logs.String(), "stats": fmt.Sprintf("%+v", st)} {
		if strings.Contains(text, key) {
			t.Errorf("the intake key is in the %s: %s", where, text)
		}
	}
	if !strings.Contains(h.logs.String(), "[REDACTED]") {
		t.Errorf("the refusal was not logged: %s", h.logs.String())
	}
	n := 0
	delivered.Range(func(k, _ any) bool {
		if !strings.Contains(k.(string), `[SEKOIA@53288 intake_key="`+key+`"]`) {
			t.Errorf("frame without the key: %s", k)
		}
		n++
		return true
	})
	if n != len(evs) {
		t.Errorf("%d distinct frames delivered, want %d", n, len(evs))
	}
}

func TestSyslogConfig(t *testing.T) {
	for _, tc := range []struct {
		c    SinkConfig
		want string
	}{
		{SinkConfig{Type: TypeSyslog}, "address is required"},
		{SinkConfig{Type: TypeSyslog, Address: "x"}, `address "x": want HOST:PORT`},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", URL: "https://x"}, "a syslog sink takes address"},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", Transport: TransportTCP, TLS: TLSConfig{CAFile: "/ca"}}, "tls: applies to the tls and relp+tls"},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", Transport: TransportRELP, Framing: FramingLF}, "RELP frames each message itself"},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", Framing: "counted"}, `framing: "counted"`},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", Format: "ndjson"}, `format: "ndjson": want kernel or json`},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", Severity: "loud"}, `severity: "loud"`},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", AppName: "an app"}, `app_name: "an app"`},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", MsgID: strings.Repeat("m", 33)}, "msgid"},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", StructuredData: StructuredData{Params: map[string]string{"a": "b"}}}, "structured_data.id: required with params"},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", Concurrency: 2}, "keeps one connection"},
		{SinkConfig{Type: TypeSyslog, Address: "x:1", Compression: "gzip"}, "compression: applies to HTTP sinks only"},
		{SinkConfig{Type: TypeFile, Path: "/x", Address: "x:1"}, "address and transport apply to syslog and sekoia"},
		{SinkConfig{Type: TypeSekoia, IntakeKeyEnv: "K", Transport: "udp"}, `transport: "udp": want relp, syslog or https`},
		{SinkConfig{Type: TypeSekoia, IntakeKeyEnv: "K"}, "set region or address"},
		{SinkConfig{Type: TypeSekoia, IntakeKeyEnv: "K", Transport: TransportHTTPS, Region: "fra1", Address: "x:1"}, "address: applies to the relp and syslog"},
		{SinkConfig{Type: TypeSekoia, IntakeKeyEnv: "K", Region: "fra1", AppName: "x"}, "apply to syslog sinks only"},
	} {
		if _, err := tc.c.withDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	c, err := SinkConfig{Type: TypeSyslog, Address: "x:1"}.withDefaults()
	if err != nil || c.Transport != TransportTLS || c.Framing != FramingOctetCounted || c.Format != FormatKernel ||
		c.AppName != "nflog-agent" || c.Facility != "kern" || c.Severity != "warning" {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		c         SinkConfig
		transport string
		addr      string
	}{
		{SinkConfig{Type: TypeSekoia, IntakeKeyEnv: "K", Region: "fra1"}, TransportRELP, "intake.sekoia.io:11514"},
		{SinkConfig{Type: TypeSekoia, IntakeKeyEnv: "K", Region: "usa1", Transport: TransportSyslog}, TransportSyslog, "intake.usa1.sekoia.io:10514"},
		{SinkConfig{Type: TypeSekoia, IntakeKeyEnv: "K", Region: "fra2", Address: "relay:6514"}, TransportRELP, "relay:6514"},
		{SinkConfig{Type: TypeSekoia, IntakeKeyEnv: "K", URL: "https://x"}, TransportHTTPS, ""},
	} {
		c, err := tc.c.withDefaults()
		addr, secure, _ := SyslogTarget(tc.c)
		if err != nil || c.Transport != tc.transport || addr != tc.addr || secure != (addr != "") {
			t.Errorf("%+v: transport %q, target %q (tls %v), %v", tc.c, c.Transport, addr, secure, err)
		}
	}
}

func TestObserverHostname(t *testing.T) {
	for doc, want := range map[string]string{
		`{"message":"\"observer\":{\"hostname\":\"no\"}","observer":{"hostname":"fw1","type":"firewall"}}`: "fw1",
		`{"observer":{"hostname":"f\"w\u00e9","type":"firewall"}}`:                                         "f\"wé",
		`{"observer":{"type":"firewall"}}`:                                                                 "",
		`{"observer":{"hostname":"cut`:                                                                     "",
		`{"observer":{"hostname":"bad\q"}}`:                                                                "",
	} {
		if got := string(observerHostname([]byte(doc))); got != want {
			t.Errorf("%s: %q, want %q", doc, got, want)
		}
	}
}

// A server that ends an idle session (rsyslog's serverclose, or a TCP
// close) costs no failed attempt: the sink sees it before the next batch
// and opens a new session.
func TestSyslogReconnectsAfterIdleClose(t *testing.T) {
	addr, ca := relpServer(t, func(session int, f relp.Frame) string {
		switch {
		case f.Command == "open":
			return relpAnswer(f.Txnr, "200 OK\ncommands=syslog")
		case session == 0 && f.Txnr == 11: // the 10th message: its answer, then the session's end
			return relpAnswer(f.Txnr, "200 OK") + "0 serverclose 0\n"
		case session == 0 && f.Txnr > 11:
			return "close"
		}
		return relpAnswer(f.Txnr, "200 OK")
	})
	h := startShipper(t, nil, SinkConfig{Type: TypeSyslog, Transport: TransportRELPTLS, Address: addr,
		TLS: TLSConfig{CAFile: ca}, Retry: fastRetry, Batch: smallBatch})
	evs := syslogEvents(20)
	h.append(evs[:10])
	waitFor(t, "the first batch", func() bool { return h.s.Stats()[0].Sent == 10 })
	h.append(evs[10:])
	waitFor(t, "the second batch", func() bool { return h.s.Stats()[0].Sent == 20 })
	if st := h.finalStats(); st.Retried != 0 || len(st.LastError) != 0 {
		t.Errorf("retried %d, last error %q: want a new session without a failed attempt", st.Retried, st.LastError)
	}
}
