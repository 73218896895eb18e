package ship

import (
	"bufio"
	"crypto/tls"
	"net"
	"strconv"
	"testing"

	"github.com/nflog-agent/nflog-agent/ship/internal/relp"
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
			evs := benchEvents()
			want := benchWant(b, evs)
			col, ca := newSyslogCollector(b, transport == TransportRELPTLS, want)
			defer col.l.Close()
			b.SetBytes(int64(len(evs[0].Message)))
			benchShip(b, SinkConfig{Type: TypeSyslog, Transport: transport, Address: col.l.Addr().String(),
				TLS: TLSConfig{CAFile: ca}}, evs, want, col.done)
		})
	}
}
