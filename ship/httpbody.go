package ship

import (
	"bytes"
	"net/http/httptrace"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// bodyPool holds request body buffers for reuse, one per request in flight:
// a batch's body (about a megabyte, a tenth of that compressed) would
// otherwise be allocated, zeroed and collected for every request.
type bodyPool chan []byte

// get returns an empty buffer with room for n bytes.
func (p bodyPool) get(n int) []byte {
	select {
	case b := <-p:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, n)
}

// put keeps b for a later get, unless the pool is full.
func (p bodyPool) put(b []byte) {
	select {
	case p <- b[:0]:
	default:
	}
}

// gzipWriters holds a sink's compressors, one per request in flight: a
// sync.Pool would drop them at every garbage collection, and each is a
// few hundred kilobytes to allocate and zero again.
type gzipWriters chan *gzip.Writer

// compress appends the gzip compression of b to dst.
func (ws gzipWriters) compress(dst, b []byte) []byte {
	buf := bytes.NewBuffer(dst)
	var w *gzip.Writer
	select {
	case w = <-ws:
		w.Reset(buf)
	default:
		w, _ = gzip.NewWriterLevel(buf, gzip.BestSpeed)
	}
	w.Write(b) // writes to a bytes.Buffer do not fail
	w.Close()
	select {
	case ws <- w:
	default:
	}
	return buf.Bytes()
}

// bodyLease returns a request body to its pool once the transport can no
// longer read it. Returning from Client.Do is not enough: a server may
// answer before it has read the body, and the transport then goes on
// sending it; and the transport may send it again on another connection.
// Every attempt to send it takes a connection first (GotConn) and reports
// the end of its write (WroteRequest) whatever the outcome, so the body is
// free when the request has returned and every attempt that took a
// connection has finished writing. An attempt that took a connection and
// never wrote keeps the body out of the pool for good: it is then left to
// the garbage collector, which is always safe.
type bodyLease struct {
	mu       sync.Mutex
	body     []byte
	pool     bodyPool
	attempts int // connections taken to send the body
	written  int // writes of the body finished, well or not
	returned bool
}

// trace is the client trace that follows the lease's body.
func (l *bodyLease) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			l.mu.Lock()
			l.attempts++
			l.mu.Unlock()
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			l.mu.Lock()
			l.written++
			l.releaseIfFree()
			l.mu.Unlock()
		},
	}
}

// requestReturned records that the request returned: no new attempt can
// start.
func (l *bodyLease) requestReturned() {
	l.mu.Lock()
	l.returned = true
	l.releaseIfFree()
	l.mu.Unlock()
}

func (l *bodyLease) releaseIfFree() {
	if l.returned && l.written == l.attempts && l.body != nil {
		l.pool.put(l.body)
		l.body = nil
	}
}
