package ship

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/redact"
	"github.com/nflog-agent/nflog-agent/ship/spool"
	"github.com/nflog-agent/nflog-agent/ship/tlstest"
)

// testEvents returns n events with ids ev-0000… and a kernel-like line.
func testEvents(n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		id := fmt.Sprintf("ev-%04d", i)
		evs[i] = Event{
			ID:      []byte(id),
			Time:    time.Date(2026, 11, 30, 1, 2, 3, i*1000, time.UTC),
			Message: fmt.Appendf(nil, "IN=eth0 OUT= SRC=10.0.0.%d DST=10.0.0.1 LEN=60 PROTO=TCP", i%250),
			JSON:    fmt.Appendf(nil, `{"event":{"id":"%s"},"message":"m%d"}`, id, i),
		}
	}
	return evs
}

// fastRetry makes tests quick: every backoff is a few milliseconds.
var fastRetry = RetryConfig{InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
	MaxRetryAfter: 4 * time.Millisecond, Attempts: 3}

var smallBatch = BatchConfig{MaxEvents: 10, MaxAge: 2 * time.Millisecond}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness runs one Shipper over a Memory queue.
type harness struct {
	t    *testing.T
	q    spool.Queue
	s    *Shipper
	logs *logBuffer
}

func startShipper(t *testing.T, q spool.Queue, cfgs ...SinkConfig) *harness {
	t.Helper()
	if q == nil {
		q = spool.NewMemory(0, 0, spool.Drop)
	}
	h := &harness{t: t, q: q, logs: &logBuffer{}}
	var err error
	h.s, err = New(q, cfgs, Options{Logger: slog.New(slog.NewTextHandler(h.logs, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.s.Start()
	t.Cleanup(func() { h.stop(100 * time.Millisecond) }) // only failed tests get here with work left
	return h
}

func (h *harness) append(evs []Event) {
	h.t.Helper()
	if err := h.q.Append(evs...); err != nil {
		h.t.Fatal(err)
	}
}

// stop shuts the shipper down (once) and closes the queue.
func (h *harness) stop(deadline time.Duration) error {
	if h.s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	err := h.s.Shutdown(ctx)
	h.q.Close()
	h.s = nil
	return err
}

// stats stops the shipper and returns the only sink's final counters.
func (h *harness) finalStats() Stats {
	h.t.Helper()
	s := h.s
	if err := h.stop(time.Minute); err != nil {
		h.t.Fatalf("Shutdown: %v", err)
	}
	return s.Stats()[0]
}

// waitFor polls cond (a counter the test cannot get as an event) every
// millisecond until it holds; the test fails after a generous minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// receiver records what a test server got. Events are identified by the
// string the sink sends for them (id or message).
type receiver struct {
	mu       sync.Mutex
	got      map[string]int
	requests []*http.Request
	bodies   [][]byte
	all      chan struct{} // closed once want distinct events arrived
	want     int
}

func newReceiver(want int) *receiver {
	return &receiver{got: map[string]int{}, all: make(chan struct{}), want: want}
}

func (r *receiver) record(req *http.Request, body []byte, keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req)
	r.bodies = append(r.bodies, body)
	before := len(r.got)
	for _, k := range keys {
		r.got[k]++
	}
	if before < r.want && len(r.got) >= r.want {
		close(r.all)
	}
}

// wait blocks until every wanted event arrived.
func (r *receiver) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.all:
	case <-time.After(time.Minute):
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("receiver got %d distinct events, want %d", len(r.got), r.want)
	}
}

func (r *receiver) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[key]
}

func (r *receiver) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) nrequests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// readBody returns the request body, gunzipped when it says so.
func readBody(t *testing.T, req *http.Request) []byte {
	var rd io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			t.Errorf("gzip: %v", err)
			return nil
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	return b
}

// tlsServer starts an httptest TLS server and returns it with a CA file
// that trusts it.
func tlsServer(t testing.TB, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = quietLog
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, caFile(t, srv)
}

// caFile writes the certificate of a started TLS test server as a PEM file
// for a sink's tls.ca_file.
func caFile(t testing.TB, srv *httptest.Server) string {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	return ca
}

// testHTTPSink builds an http sink towards url that trusts ca, with the
// given compression ("": the default) and otherwise default settings.
func testHTTPSink(t testing.TB, url, ca, compression string) *httpSink {
	t.Helper()
	c, err := SinkConfig{Type: TypeHTTP, Name: "h", URL: url, TLS: TLSConfig{CAFile: ca}, Compression: compression}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newHTTPSink(&c, &redact.Secrets{}, newCounters())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// pki is a throwaway CA with certificates it signs, written as PEM files.
type pki struct {
	t      testing.TB
	ca     *tlstest.CA
	CAFile string
}

func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	ca, err := tlstest.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{t: t, ca: ca, CAFile: filepath.Join(t.TempDir(), name+"-ca.pem")}
	writeFile(t, p.CAFile, ca.PEM)
	return p
}

// issue signs a server certificate for the names (DNS names or IPs), or a
// client certificate named names[0], and returns it as a tls.Certificate
// and as cert and key files.
func (p *pki) issue(client bool, names ...string) (tls.Certificate, string, string) {
	p.t.Helper()
	var c *tlstest.Cert
	var err error
	if client {
		c, err = p.ca.Client(names[0])
	} else {
		c, err = p.ca.Server(names...)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	dir := p.t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(p.t, certFile, c.CertPEM)
	writeFile(p.t, keyFile, c.KeyPEM)
	return c.TLS, certFile, keyFile
}

func (p *pki) pool() *x509.CertPool { return p.ca.Pool() }

// serverWithCert starts a TLS server with the given TLS configuration.
func serverWithCert(t *testing.T, cfg *tls.Config, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = quietLog
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// serverWithListener starts a TLS server on l.
func serverWithListener(t *testing.T, l net.Listener, cfg *tls.Config, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = quietLog
	srv.Listener.Close()
	srv.Listener = l
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// quietLog drops the test servers' own logs (expected handshake failures).
var quietLog = log.New(io.Discard, "", 0)

// blockedThenDelivered checks a sink that is blocked for reason: its n
// events all kept, one log line that holds the words and not the secret.
// Then it lets the destination accept and checks that all n are delivered
// and the sink is no longer blocked.
func (h *harness) blockedThenDelivered(rcv *receiver, accept *atomic.Bool, n uint64, reason, secret string, words ...string) {
	h.t.Helper()
	st := h.s.Stats()[0]
	if st.Blocked != reason || st.SpoolPending != n || st.Sent != 0 || len(st.Failed) != 0 || st.FailingSince.IsZero() {
		h.t.Fatalf("while blocked: %+v", st)
	}
	logs := h.logs.String()
	if strings.Count(logs, "sink blocked") != 1 || !strings.Contains(logs, "reason="+reason) || strings.Contains(logs, secret) {
		h.t.Fatalf("log:\n%s", logs)
	}
	for _, w := range words {
		if !strings.Contains(logs, w) {
			h.t.Fatalf("log lacks %q:\n%s", w, logs)
		}
	}
	accept.Store(true)
	rcv.wait(h.t)
	if st := h.finalStats(); st.Sent != n || st.Blocked != "" || len(st.Failed) != 0 || st.SpoolPending != 0 {
		h.t.Fatalf("once accepted: %+v", st)
	}
}
