package ship

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// benchDoc is the shape of a real event: ~1 KB of ECS JSON.
const benchDoc = `{"@timestamp":"2026-11-30T01:02:03.123456Z","message":"IPTABLES: DROP IN=eth0 OUT= ` +
	`MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.7 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ` +
	`ID=%d DF PROTO=TCP SPT=%d DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 ","ecs":{"version":"8.17.0"},"event":{"kind":"event",` +
	`"category":["network"],"type":["connection","denied"],"module":"netfilter","dataset":"netfilter.log","id":"%s"},` +
	`"action":{"name":"drop","outcome":"success"},"event.outcome":"success","rule":{"name":"IPTABLES: DROP"},` +
	`"observer":{"hostname":"fw1","type":"firewall","vendor":"Linux","product":"Netfilter","ingress":{"interface":{"name":"eth0"}}},` +
	`"source":{"ip":"203.0.113.7","address":"203.0.113.7","port":%d,"mac":"52:54:00:65:43:21","bytes":60},` +
	`"destination":{"ip":"192.0.2.10","address":"192.0.2.10","port":22,"mac":"52:54:00:12:34:56"},` +
	`"network":{"transport":"tcp","iana_number":"6","type":"ipv4","community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg="},` +
	`"related":{"ip":["203.0.113.7","192.0.2.10"]},"iptables":{"input_device":"eth0","output_device":"","ether_type":2048,` +
	`"length":60,"tos":0,"precedence_bits":0,"ttl":52,"id":%d,"fragment_flags":["DF"],"tcp":{"flags":["SYN"],"reserved_bits":0,"window":64240}}}`

// countingCollector counts the NDJSON lines it receives and signals when it
// has seen want of them.
type countingCollector struct {
	mu   sync.Mutex
	n    int
	want int
	done chan struct{}
}

func (c *countingCollector) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	zr, err := gzip.NewReader(req.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	b, _ := io.ReadAll(zr)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += bytes.Count(b, []byte("\n"))
	if c.n >= c.want && c.done != nil {
		close(c.done)
		c.done = nil
	}
}

// BenchmarkShipHTTPS measures events per second from Append to a loopback
// HTTPS collector: disk spool (fsync per Append of 256 events), batches of
// 1000, gzip, 2 requests in flight.
func BenchmarkShipHTTPS(b *testing.B) {
	evs := benchEvents()
	col := &countingCollector{done: make(chan struct{})}
	srv, ca := tlsServer(b, col)
	want := benchWant(b, evs)
	col.mu.Lock()
	col.want = want
	col.mu.Unlock()
	b.SetBytes(int64(len(evs[0].JSON)))
	benchShip(b, SinkConfig{Type: TypeHTTP, URL: srv.URL, TLS: TLSConfig{CAFile: ca}}, evs, want, col.done)
}

// benchEvents are 256 events of the shape of real ones.
func benchEvents() []Event {
	evs := make([]Event, 256)
	for i := range evs {
		id := fmt.Sprintf("bench-%015d", i)
		evs[i] = Event{ID: []byte(id), Time: time.Now(),
			Message: []byte("IPTABLES: DROP IN=eth0 OUT= SRC=203.0.113.7 DST=192.0.2.10 LEN=60 PROTO=TCP SPT=40000 DPT=22"),
			JSON:    fmt.Appendf(nil, benchDoc, i, 40000+i, id, 40000+i, i)}
	}
	return evs
}

// benchWant is b.N rounded up to whole Appends of evs.
func benchWant(b *testing.B, evs []Event) int { return (b.N + len(evs) - 1) / len(evs) * len(evs) }

// benchShip appends evs to a disk spool until want events are in, with one
// sink c (batches of 1000), and reports events/s until done is closed.
func benchShip(b *testing.B, c SinkConfig, evs []Event, want int, done <-chan struct{}) {
	q, err := spool.Open(b.TempDir(), spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	c.Batch = BatchConfig{MaxEvents: 1000, MaxAge: 10 * time.Millisecond}
	s, err := New(q, []SinkConfig{c}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	s.Start()
	for sent := 0; sent < want; sent += len(evs) {
		if err := q.Append(evs...); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(want)/elapsed.Seconds(), "events/s")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Shutdown(ctx)
}
