package ship

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

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
