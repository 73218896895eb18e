package ship

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/ship/internal/relp"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// syslogCollector is a TLS server on loopback that reads octet-counted
// syslog frames, or RELP sessions whose every message it acknowledges, and
// signals when it has seen want messages.
type syslogCollector struct {
	l    net.Listener
	want int
	done chan struct{}
	got  chan int
}

func newSyslogCollector(b *testing.B, isRELP bool, want int) (*syslogCollector, string) {
	p := newPKI(b, "bench")
	cert, _, _ := p.issue(false, "127.0.0.1")
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		b.Fatal(err)
	}
	c := &syslogCollector{l: l, want: want, done: make(chan struct{}), got: make(chan int, 64)}
	go c.count()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			if isRELP {
				go c.relp(conn)
			} else {
				go c.octets(conn)
			}
		}
	}()
	return c, p.CAFile
}

func (c *syslogCollector) count() {
	n := 0
	for k := range c.got {
		if n += k; n >= c.want {
			close(c.done)
			return
		}
	}
}

func (c *syslogCollector) octets(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 256<<10)
	for {
		lenText, err := r.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(lenText[:len(lenText)-1])
		if err != nil {
			return
		}
		if _, err := r.Discard(n); err != nil {
			return
		}
		c.got <- 1
	}
}

func (c *syslogCollector) relp(conn net.Conn) {
	defer conn.Close()
	r, w := bufio.NewReaderSize(conn, 256<<10), bufio.NewWriter(conn)
	var out []byte
	for {
		f, err := relp.ReadFrame(r)
		if err != nil {
			return
		}
		data := "200 OK"
		if f.Command == "open" {
			data = "200 OK\ncommands=syslog"
		}
		out = relp.AppendFrame(out[:0], relp.Frame{Txnr: f.Txnr, Command: "rsp", Data: []byte(data)})
		w.Write(out)
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
		if f.Command == "syslog" {
			c.got <- 1
		}
	}
}

// BenchmarkShipSyslog measures events per second from Append to a loopback
// TLS server, as BenchmarkShipHTTPS does: disk spool (fsync per Append of
// 256 events), batches of 1000, one connection; octet-counted syslog over
// TLS (acknowledged by nobody) and RELP over TLS (every message answered).
func BenchmarkShipSyslog(b *testing.B) {
	for _, transport := range []string{TransportTLS, TransportRELPTLS} {
		b.Run(transport, func(b *testing.B) {
			evs := make([]Event, 256)
			for i := range evs {
				id := fmt.Sprintf("bench-%015d", i)
				evs[i] = Event{ID: []byte(id), Time: time.Now(),
					Message: []byte("IPTABLES: DROP IN=eth0 OUT= SRC=203.0.113.7 DST=192.0.2.10 LEN=60 PROTO=TCP SPT=40000 DPT=22"),
					JSON:    fmt.Appendf(nil, benchDoc, i, 40000+i, id, 40000+i, i)}
			}
			want := (b.N + len(evs) - 1) / len(evs) * len(evs)
			col, ca := newSyslogCollector(b, transport == TransportRELPTLS, want)
			defer col.l.Close()
			q, err := spool.Open(b.TempDir(), spool.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			s, err := New(q, []SinkConfig{{Type: TypeSyslog, Transport: transport, Address: col.l.Addr().String(),
				TLS: TLSConfig{CAFile: ca}, Batch: BatchConfig{MaxEvents: 1000, MaxAge: 10 * time.Millisecond}}}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(evs[0].Message)))
			b.ResetTimer()
			start := time.Now()
			s.Start()
			for sent := 0; sent < want; sent += len(evs) {
				if err := q.Append(evs...); err != nil {
					b.Fatal(err)
				}
			}
			<-col.done
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(want)/elapsed.Seconds(), "events/s")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		})
	}
}

