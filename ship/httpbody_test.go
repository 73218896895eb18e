package ship

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/nflog-agent/nflog-agent/internal/redact"
)

// A server may answer before it has read the body; the transport then goes
// on sending it after the request returned. Nothing the transport may still
// read is reused for the next request: every body the server does read
// arrives whole.
func TestBodyNotReusedWhileTheTransportReadsIt(t *testing.T) {
	var mu sync.Mutex
	var bad []string
	n := 0
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		n++
		early := n%2 == 1
		mu.Unlock()
		if early {
			return // answered at once, the body unread
		}
		zr, err := gzip.NewReader(req.Body)
		if err == nil {
			var b []byte
			if b, err = io.ReadAll(zr); err == nil && !bytes.Equal(b, wantBody) {
				err = fmt.Errorf("%d bytes, not the batch's %d", len(b), len(wantBody))
			}
		}
		if err != nil {
			mu.Lock()
			bad = append(bad, err.Error())
			mu.Unlock()
		}
	}))
	c, err := SinkConfig{Type: TypeHTTP, Name: "h", URL: srv.URL, TLS: TLSConfig{CAFile: ca}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newHTTPSink(&c, &redact.Secrets{}, newCounters())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 40 {
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
