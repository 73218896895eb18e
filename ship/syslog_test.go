package ship

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/ship/internal/relp"
	"github.com/nflog-agent/nflog-agent/ship/internal/rfc5424"
	"github.com/nflog-agent/nflog-agent/ship/rsyslogtest"
	"github.com/nflog-agent/nflog-agent/ship/spool"
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

func shipTo(t *testing.T, c SinkConfig, evs []Event) *Shipper {
	t.Helper()
	q := spool.NewMemory(1<<20, 1<<30)
	s, err := New(q, []SinkConfig{c}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		q.Close()
	})
	if err := q.Append(evs...); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSyslogSmoke(t *testing.T) {
	srv := rsyslogtest.Start(t)
	evs := syslogEvents(5)
	shipTo(t, SinkConfig{Type: TypeSyslog, Address: srv.Addr[rsyslogtest.TCP], TLS: TLSConfig{CAFile: srv.CAFile},
		MsgID: "NF", StructuredData: StructuredData{ID: "x@32473", Params: map[string]string{"k": `a"b]c\`}}}, evs)
	shipTo(t, SinkConfig{Type: TypeSyslog, Transport: TransportRELPTLS, Address: srv.Addr[rsyslogtest.RELP], TLS: TLSConfig{CAFile: srv.CAFile}}, evs)
	t.Log(strings.Join(srv.WaitFields(t, rsyslogtest.TCP, 5), "\n"))
	t.Log(strings.Join(srv.Raw(t, rsyslogtest.TCP), "\n"))
	t.Log(strings.Join(srv.WaitFields(t, rsyslogtest.RELP, 5), "\n"))
	t.Log(strings.Join(srv.Raw(t, rsyslogtest.RELP), "\n"))
}

// restartMidStream streams n events to the sink while rsyslog restarts
// (SIGTERM, start again on the same port), waits until the sink committed
// every event, and returns how many times rsyslog received each one.
func restartMidStream(t *testing.T, c SinkConfig, input string, n int) (received map[string]int, st Stats) {
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
			srv.Restart(t)
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
	received, st := restartMidStream(t, SinkConfig{Type: TypeSyslog, Transport: TransportRELPTLS}, rsyslogtest.RELP, n)
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
// when rsyslog stopped is lost. The loss is measured and bounded by those
// buffers.
func TestSyslogTCPRestartLoss(t *testing.T) {
	const n = 20000
	evs := syslogEvents(n)
	received, st := restartMidStream(t, SinkConfig{Type: TypeSyslog, Transport: TransportTLS}, rsyslogtest.TCP, n)
	lost, dups := lossAndDuplicates(evs, received)
	frame := len(rfc5424.AppendOctetCounted(nil, evs[0].Message)) + 60 // header and count
	t.Logf("tcp: %d events, %d lost (about %d KiB of frames), %d duplicates, %d retried requests",
		n, lost, lost*frame>>10, dups, st.Retried)
	if st.Sent != n {
		t.Fatalf("sent %d, want %d: every event counts as sent over TCP", st.Sent, n)
	}
	if bound := socketBuffers(t); lost*frame > bound {
		t.Fatalf("lost %d events (%d bytes): more than the socket buffers hold (%d bytes)", lost, lost*frame, bound)
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
