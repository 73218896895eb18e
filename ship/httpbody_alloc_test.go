//go:build !race

// The race detector changes what the runtime allocates: the tests that count
// allocated bytes are built without it.

package ship

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"testing"
)

// With gzip, a batch's body and its compressed copy are built in buffers
// reused from one request to the next: a request allocates a small part of
// the batch's size (TLS records, headers, the server's own).
func TestGzipBodyBufferIsReused(t *testing.T) {
	// The server discards what it gets: its own allocations count too.
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
	}))
	s := testHTTPSink(t, srv.URL, ca, "")
	var events []Event
	for range 4 {
		events = append(events, benchEvents()...)
	}
	var raw []byte
	for _, ev := range events {
		raw = append(append(raw, ev.JSON...), '\n')
	}
	send := func() {
		if _, err := s.Send(context.Background(), events); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		send()
	}
	const requests = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range requests {
		send()
	}
	runtime.ReadMemStats(&after)
	perRequest := int(after.TotalAlloc-before.TotalAlloc) / requests
	// A fresh compressed copy alone would be given a quarter of the batch.
	if perRequest > len(raw)/16 {
		t.Fatalf("each request of a %d-byte batch allocated %d bytes: the bodies are not reused", len(raw), perRequest)
	}
}
