package ship

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// A server may answer before it has read the body; the transport then goes
// on sending it after the request returned. Nothing the transport may still
// read is reused for the next request: every body the server does read
// arrives whole, over HTTP/1.1 and HTTP/2, compressed or not.
func TestBodyNotReusedWhileTheTransportReadsIt(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		for _, compression := range []string{"gzip", "none"} {
			t.Run(proto+" "+compression, func(t *testing.T) {
				testBodyNotReused(t, proto == "HTTP/2", compression)
			})
		}
	}
}

func testBodyNotReused(t *testing.T, h2 bool, compression string) {
	var mu sync.Mutex
	var bad []string
	n := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		n++
		early := n%2 == 1
		mu.Unlock()
		if early {
			// The whole answer first, then the body, later than the
			// transport waits for its write to end (50 ms): it may
			// give up on the body (truncated), but what arrives must
			// be the batch's.
			http.NewResponseController(w).EnableFullDuplex() // HTTP/2 is always
			w.Header().Set("Content-Length", "2")
			w.Write([]byte("ok"))
			http.NewResponseController(w).Flush()
			time.Sleep(60 * time.Millisecond)
		}
		if err := checkBodyPrefix(req); err != nil {
			mu.Lock()
			bad = append(bad, err.Error())
			mu.Unlock()
		}
	}))
	srv.Config.ErrorLog = quietLog
	srv.EnableHTTP2 = h2
	// A small receive window, so that the body outgrows what the sockets
	// can hold and the transport is still sending when the request returns.
	srv.Listener.Close()
	srv.Listener = smallWindowListener(t)
	srv.StartTLS()
	defer srv.Close()
	s := testHTTPSink(t, srv.URL, caFile(t, srv), compression)
	for range 20 {
		if _, err := s.Send(context.Background(), bodyEvents); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d of %d bodies read were damaged: %v", len(bad), n/2, bad[0])
	}
}

// smallWindowListener listens on loopback with a 64 KiB receive buffer,
// which the connections it accepts inherit (and keep: no autotuning).
func smallWindowListener(t *testing.T) net.Listener {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		})
		return err
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// checkBodyPrefix reads req's body and returns an error unless what it
// could read (all of it, or the start of it when the client gave up) is
// the start of wantBody.
func checkBodyPrefix(req *http.Request) error {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			return err
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if !bytes.HasPrefix(wantBody, b) {
		return fmt.Errorf("%d bytes read differ from the batch's", len(b))
	}
	if err == nil && len(b) != len(wantBody) {
		return fmt.Errorf("%d bytes, not the batch's %d", len(b), len(wantBody))
	}
	return nil
}

// bodyEvents are 4000 events (~5 MB: more than a socket takes at once), and
// wantBody the NDJSON the http sink sends of them.
var bodyEvents, wantBody = func() ([]Event, []byte) {
	var evs []Event
	for range 16 {
		evs = append(evs, benchEvents()...)
	}
	var b []byte
	for _, ev := range evs {
		b = append(append(b, ev.JSON...), '\n')
	}
	return evs, b
}()

// A body goes back to its pool only when the request has returned and
// every attempt that took a connection has finished writing it.
func TestBodyLeaseWaitsForEveryWrite(t *testing.T) {
	pool := make(bodyPool, 1)
	l := &bodyLease{body: make([]byte, 10), pool: pool}
	tr := l.trace()
	released := func() bool { return len(pool) == 1 }
	tr.GotConn(httptrace.GotConnInfo{})
	tr.WroteRequest(httptrace.WroteRequestInfo{})
	tr.GotConn(httptrace.GotConnInfo{}) // a second attempt, still writing
	l.requestReturned()
	if released() {
		t.Fatal("released while an attempt was still writing")
	}
	tr.WroteRequest(httptrace.WroteRequestInfo{})
	if !released() {
		t.Fatal("not released once every write had ended")
	}

	l = &bodyLease{body: make([]byte, 10), pool: make(bodyPool, 1)}
	tr = l.trace()
	tr.GotConn(httptrace.GotConnInfo{})
	tr.WroteRequest(httptrace.WroteRequestInfo{})
	if len(l.pool) != 0 {
		t.Fatal("released before the request returned: a retry may still send it")
	}
}
