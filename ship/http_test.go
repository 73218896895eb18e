package ship

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// ndjsonIDs returns the event.id of every line of an NDJSON or JSON-array
// body of our test events.
func ndjsonIDs(t *testing.T, body []byte) []string {
	var docs []struct {
		Event struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	if bytes.HasPrefix(body, []byte("[")) {
		if err := json.Unmarshal(body, &docs); err != nil {
			t.Errorf("JSON array body: %v", err)
		}
	} else {
		for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			var d struct {
				Event struct {
					ID string `json:"id"`
				} `json:"event"`
			}
			if err := json.Unmarshal(line, &d); err != nil {
				t.Errorf("NDJSON line %q: %v", line, err)
			}
			docs = append(docs, d)
		}
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.Event.ID
	}
	return ids
}

// collector answers every request with status(n) for the n-th request
// (from 0) and records the events of 2xx requests only.
func collector(t *testing.T, rcv *receiver, status func(n int, ids []string) int) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := readBody(t, req)
		ids := ndjsonIDs(t, body)
		code := http.StatusOK
		if status != nil {
			code = status(int(n.Add(1)-1), ids)
		}
		if code < 300 {
			rcv.record(req, body, ids)
		}
		w.WriteHeader(code)
	})
}

func httpSinkConfig(url, ca string) SinkConfig {
	return SinkConfig{Type: TypeHTTP, URL: url, TLS: TLSConfig{CAFile: ca}, Retry: fastRetry, Batch: smallBatch}
}

func TestHTTPDeliversEveryEventOnce(t *testing.T) {
	rcv := newReceiver(95)
	srv, ca := tlsServer(t, collector(t, rcv, nil))
	h := startShipper(t, nil, httpSinkConfig(srv.URL+"/ingest", ca))
	h.append(testEvents(95))
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 95 || st.SpoolPending != 0 || len(st.Failed) != 0 || st.Retried != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if st.Requests != uint64(rcv.nrequests()) || st.Latency <= 0 {
		t.Fatalf("requests %d (server saw %d), latency %v", st.Requests, rcv.nrequests(), st.Latency)
	}
	for _, id := range []string{"ev-0000", "ev-0094"} {
		if rcv.count(id) != 1 {
			t.Fatalf("%s received %d times", id, rcv.count(id))
		}
	}
	req := rcv.requests[0]
	if req.Header.Get("Content-Encoding") != "gzip" || req.Header.Get("Content-Type") != "application/x-ndjson" ||
		req.URL.Path != "/ingest" || req.Method != http.MethodPost {
		t.Fatalf("request: %s %s %v", req.Method, req.URL, req.Header)
	}
}

func TestHTTPJSONArrayWithHeadersUncompressed(t *testing.T) {
	rcv := newReceiver(12)
	srv, ca := tlsServer(t, collector(t, rcv, nil))
	c := httpSinkConfig(srv.URL, ca)
	c.Format, c.Compression = "json_array", "none"
	c.Headers = map[string]string{"Authorization": "Bearer s3cret-token", "X-Tenant": "fw"}
	h := startShipper(t, nil, c)
	h.append(testEvents(12))
	rcv.wait(t)
	h.finalStats()
	req := rcv.requests[0]
	if req.Header.Get("Content-Encoding") != "" || req.Header.Get("Content-Type") != "application/json" ||
		req.Header.Get("Authorization") != "Bearer s3cret-token" || req.Header.Get("X-Tenant") != "fw" {
		t.Fatalf("headers: %v", req.Header)
	}
	if !bytes.HasPrefix(rcv.bodies[0], []byte(`[{"event"`)) {
		t.Fatalf("body: %s", rcv.bodies[0])
	}
}

func TestHTTPRetriesStatusesThenDelivers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []int
		kind  string
	}{
		{"429 with Retry-After", []int{429, 429}, errHTTP429},
		{"500 then 503", []int{500, 503}, errHTTP5xx},
		{"408", []int{408}, errHTTP408},
		// More failures than Attempts: the runner keeps the batch and
		// tries again.
		{"503 storm", []int{503, 503, 503, 503, 503, 503, 503}, errHTTP5xx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(5)
			var n atomic.Int64
			h := func(w http.ResponseWriter, req *http.Request) {
				body := readBody(t, req)
				if i := int(n.Add(1) - 1); i < len(tc.codes) {
					w.Header().Set("Retry-After", "1") // capped to a few ms by MaxRetryAfter
					w.WriteHeader(tc.codes[i])
					return
				}
				rcv.record(req, body, ndjsonIDs(t, body))
			}
			srv, ca := tlsServer(t, http.HandlerFunc(h))
			hs := startShipper(t, nil, httpSinkConfig(srv.URL, ca))
			hs.append(testEvents(5))
			rcv.wait(t)
			st := hs.finalStats()
			if st.Sent != 5 || st.SendErrors[tc.kind] != uint64(len(tc.codes)) || st.Retried != uint64(len(tc.codes)) {
				t.Fatalf("stats: %+v", st)
			}
			if rcv.count("ev-0000") != 1 || rcv.nrequests() != 1 {
				t.Fatalf("delivered requests %d, ev-0000 %d times", rcv.nrequests(), rcv.count("ev-0000"))
			}
		})
	}
}

// A 4xx that is not about the credentials is split down to the events the
// destination refuses alone: only those are dropped, counted and logged
// with the start of the answer (printable, cut, without the secret the
// server echoes back).
func TestHTTPRefusedEventsAreIsolated(t *testing.T) {
	long := strings.Repeat("x", 2000)
	rcv := newReceiver(8)
	var n atomic.Int64
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n.Add(1)
		body := readBody(t, req)
		ids := ndjsonIDs(t, body)
		if slices.Contains(ids, "ev-0003") || slices.Contains(ids, "ev-0007") {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("\x1b[31mmapping error\n" + `{"auth":"` + req.Header.Get("Authorization") + `","pad":"` + long + `"}`))
			return
		}
		rcv.record(req, body, ids)
	}))
	c := httpSinkConfig(srv.URL, ca)
	c.Headers = map[string]string{"Authorization": "Bearer s3cret-token"}
	h := startShipper(t, nil, c)
	h.append(testEvents(10))
	rcv.wait(t)
	waitFor(t, "the refusals", func() bool { return h.s.Stats()[0].Failed[FailRejected] == 2 })
	st := h.finalStats()
	if st.Sent != 8 || st.SpoolPending != 0 || st.Blocked != "" || len(st.Failed) != 1 {
		t.Fatalf("stats: %+v", st)
	}
	if rcv.count("ev-0003") != 0 || rcv.count("ev-0002") != 1 || rcv.count("ev-0008") != 1 {
		t.Fatal("wrong events delivered around the refused ones")
	}
	logs := h.logs.String()
	for _, want := range []string{"event_id=ev-0003", "event_id=ev-0007", "status=400", `x1b[31mmapping error\\x0a{`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the log does not show %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "s3cret-token") || strings.Contains(logs, long) || strings.Contains(logs, "\x1b") {
		t.Fatalf("the log shows the secret, the whole body or a raw escape:\n%s", logs)
	}
}

// A refused credential keeps every event: the sink is blocked (and says
// so, once) until the destination takes the credential again.
func TestHTTPRefusedCredentialsKeepEvents(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusProxyAuthRequired} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var accept atomic.Bool
			var refusals atomic.Int64
			rcv := newReceiver(7)
			srv, ca := tlsServer(t, collector(t, rcv, func(int, []string) int {
				if accept.Load() {
					return http.StatusOK
				}
				refusals.Add(1)
				return code
			}))
			c := httpSinkConfig(srv.URL, ca)
			c.Headers = map[string]string{"Authorization": "Bearer s3cret-token"}
			h := startShipper(t, nil, c)
			h.append(testEvents(7))
			waitFor(t, "refusals", func() bool { return refusals.Load() >= 3 })
			h.blockedThenDelivered(rcv, &accept, 7, BlockAuth, "s3cret-token")
		})
	}
}

func TestHTTPSplitsOn413(t *testing.T) {
	rcv := newReceiver(9)
	srv, ca := tlsServer(t, collector(t, rcv, func(_ int, ids []string) int {
		for _, id := range ids {
			if id == "ev-0004" { // too large even alone
				return http.StatusRequestEntityTooLarge
			}
		}
		if len(ids) > 3 {
			return http.StatusRequestEntityTooLarge
		}
		return http.StatusOK
	}))
	h := startShipper(t, nil, httpSinkConfig(srv.URL, ca))
	h.append(testEvents(10))
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 9 || st.Failed[FailTooLarge] != 1 || st.SpoolPending != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if rcv.count("ev-0004") != 0 || rcv.count("ev-0003") != 1 || rcv.count("ev-0005") != 1 {
		t.Fatal("wrong events delivered around the oversized one")
	}
}

func TestHTTPEndpointDownThenBack(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // connections are refused until the server comes up here

	rcv := newReceiver(30)
	pk := newPKI(t, "test")
	cert, _, _ := pk.issue(false, "127.0.0.1")
	h := startShipper(t, nil, httpSinkConfig("https://"+addr, pk.CAFile))
	h.append(testEvents(30))
	waitFor(t, "failed attempts", func() bool { return h.s.Stats()[0].SendErrors[errNetwork] >= 5 })
	if st := h.s.Stats()[0]; st.Sent != 0 || st.SpoolPending != 30 {
		t.Fatalf("while down: %+v", st)
	}

	l, err = net.Listen("tcp", addr)
	if err != nil {
		testenv.Skipf(t, "cannot listen again on %s: %v", addr, err)
	}
	serverWithListener(t, l, &tls.Config{Certificates: []tls.Certificate{cert}}, collector(t, rcv, nil))
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 30 || st.SpoolPending != 0 || len(st.Failed) != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if !strings.Contains(h.logs.String(), "sink unavailable") || !strings.Contains(h.logs.String(), "sink available again") {
		t.Fatalf("outage not logged once each way:\n%s", h.logs.String())
	}
}

func TestHTTPConnectionResetMidRequest(t *testing.T) {
	rcv := newReceiver(10)
	var n atomic.Int64
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if n.Add(1) <= 2 {
			// Read part of the request, then drop the connection.
			req.Body.Read(make([]byte, 10))
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err) // the test server is HTTP/1.1 here
			}
			if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
				if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
					tcp.SetLinger(0) // RST, not FIN
				}
			}
			conn.Close()
			return
		}
		body := readBody(t, req)
		rcv.record(req, body, ndjsonIDs(t, body))
	}))
	h := startShipper(t, nil, httpSinkConfig(srv.URL, ca))
	h.append(testEvents(10))
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 10 || st.SendErrors[errNetwork] < 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestHTTPSlowAnswersAndTimeouts(t *testing.T) {
	rcv := newReceiver(20)
	var n atomic.Int64
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := readBody(t, req)
		if n.Add(1) == 1 {
			<-req.Context().Done() // never answers: the client gives up
			return
		}
		time.Sleep(20 * time.Millisecond) // slow, within the timeout
		rcv.record(req, body, ndjsonIDs(t, body))
	}))
	c := httpSinkConfig(srv.URL, ca)
	c.Timeout = 500 * time.Millisecond
	h := startShipper(t, nil, c)
	h.append(testEvents(20))
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 20 || st.SendErrors[errTimeout] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestHTTPUntrustedCertificateFailsClosed(t *testing.T) {
	var hits atomic.Int64
	srv, _ := tlsServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	other := newPKI(t, "other") // trusts a CA that did not sign the server
	dir := t.TempDir()
	q, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := startShipper(t, q, httpSinkConfig(srv.URL, other.CAFile))
	h.append(testEvents(4))
	waitFor(t, "a TLS failure", func() bool { return h.s.Stats()[0].SendErrors[errTLS] >= 2 })
	st := h.s.Stats()[0]
	if !strings.Contains(st.LastError, "certificate signed by unknown authority") {
		t.Fatalf("last error %q does not say why", st.LastError)
	}
	if !strings.Contains(h.logs.String(), "unknown authority") || !strings.Contains(h.logs.String(), "tls.ca_file") {
		t.Fatalf("log does not say why:\n%s", h.logs.String())
	}
	// The batch waits for the operator: nothing sent, nothing dropped.
	if st.SpoolPending != 4 || st.SpoolBytes <= 0 {
		t.Fatalf("while refused: %+v", st)
	}
	s := h.s
	if err := h.stop(10 * time.Millisecond); err == nil {
		t.Fatal("Shutdown reported the undeliverable batch as delivered")
	}
	st = s.Stats()[0]
	if hits.Load() != 0 || st.Sent != 0 || len(st.Failed) != 0 {
		t.Fatalf("server hits %d, stats %+v", hits.Load(), st)
	}
	q, err = spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	r, _ := q.Reader(TypeHTTP)
	if p := r.Stats().Pending; p != 4 {
		t.Fatalf("events left in the spool: %d, want 4", p)
	}
}

func TestHTTPClientCertificate(t *testing.T) {
	pk := newPKI(t, "mtls")
	srvCert, _, _ := pk.issue(false, "127.0.0.1")
	_, cliCert, cliKey := pk.issue(true, "agent")
	rcv := newReceiver(3)
	srv := serverWithCert(t, &tls.Config{
		Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pk.pool(),
	}, collector(t, rcv, nil))

	t.Run("with a certificate", func(t *testing.T) {
		c := httpSinkConfig(srv.URL, pk.CAFile)
		c.TLS.CertFile, c.TLS.KeyFile = cliCert, cliKey
		h := startShipper(t, nil, c)
		h.append(testEvents(3))
		rcv.wait(t)
		if st := h.finalStats(); st.Sent != 3 {
			t.Fatalf("stats: %+v", st)
		}
	})
	t.Run("without", func(t *testing.T) {
		h := startShipper(t, nil, httpSinkConfig(srv.URL, pk.CAFile))
		h.append(testEvents(3))
		waitFor(t, "a TLS failure", func() bool { return h.s.Stats()[0].SendErrors[errTLS] >= 1 })
		h.stop(10 * time.Millisecond)
	})
}

func TestHTTPServerNameOverrideAndInsecure(t *testing.T) {
	pk := newPKI(t, "sni")
	cert, _, _ := pk.issue(false, "collector.example")
	rcv := newReceiver(4)
	srv := serverWithCert(t, &tls.Config{Certificates: []tls.Certificate{cert}}, collector(t, rcv, nil))

	c := httpSinkConfig(srv.URL, pk.CAFile)
	c.TLS.ServerName = "collector.example"
	h := startShipper(t, nil, c)
	h.append(testEvents(2))
	waitFor(t, "two events", func() bool { return rcv.distinct() == 2 })
	h.finalStats()

	c = httpSinkConfig(srv.URL, "")
	c.TLS.InsecureSkipVerify = true
	h = startShipper(t, nil, c)
	h.append(testEvents(4))
	rcv.wait(t)
	h.finalStats()
}

func TestRetryStateWaits(t *testing.T) {
	policy := RetryConfig{InitialBackoff: time.Second, MaxBackoff: time.Minute, MaxRetryAfter: time.Hour}
	resp := func(v string) *http.Response {
		return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {v}}}
	}
	after := func(p RetryConfig, r *http.Response, blocked bool) time.Duration {
		s := &retryState{policy: p}
		s.failed(r)
		return s.wait(blocked)
	}
	if d := after(policy, resp("7"), false); d != 7*time.Second {
		t.Errorf("Retry-After 7: %v", d)
	}
	if d := after(policy, resp("7"), true); d != 7*time.Second {
		t.Errorf("Retry-After 7 while blocked: %v", d)
	}
	capped := policy
	capped.MaxRetryAfter = 3 * time.Second
	if d := after(capped, resp("7"), false); d != 3*time.Second {
		t.Errorf("Retry-After 7 capped at 3s: %v", d)
	}
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if d := after(policy, resp(date), false); d < 80*time.Second || d > 90*time.Second {
		t.Errorf("Retry-After date: %v", d)
	}
	if d := after(policy, resp("0"), false); d != time.Second {
		t.Errorf("Retry-After 0: %v, want initial_backoff", d)
	}
	if d := after(policy, resp("soon"), true); d != time.Minute {
		t.Errorf("blocked: %v, want max_backoff", d)
	}
	// Without Retry-After the backoff doubles with every failed attempt
	// of the batch, up to max_backoff, and a usable header in between does
	// not restart it.
	s := &retryState{policy: policy}
	for n := range 70 {
		r := resp("soon")
		if n == 3 {
			r = resp("2")
		}
		s.failed(r)
		d := s.wait(false)
		if n == 3 {
			if d != 2*time.Second {
				t.Errorf("attempt %d: Retry-After 2 gave %v", n, d)
			}
			continue
		}
		full := time.Minute
		if n < 6 {
			full = time.Second << n
		}
		if d < full/2 || d > full {
			t.Errorf("attempt %d: %v outside [%v, %v]", n, d, full/2, full)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	for code, want := range map[int]bool{400: false, 401: false, 403: false, 404: false, 408: true, 413: false,
		429: true, 500: true, 501: true, 502: true, 503: true} {
		if retryableStatus(code) != want {
			t.Errorf("status %d: retry %v", code, !want)
		}
	}
	for code, want := range map[int]error{301: errRedirected, 302: errRedirected, 307: errRedirected, 308: errRedirected,
		401: errUnauthorized, 403: errUnauthorized, 407: errUnauthorized, 413: errTooLarge} {
		for _, target := range []error{errRedirected, errUnauthorized, errTooLarge} {
			if errors.Is(&statusError{Code: code}, target) != (target == want) {
				t.Errorf("status %d matches %v: %v", code, target, target != want)
			}
		}
	}
	for code, want := range map[int]bool{307: false, 400: true, 404: true, 408: false, 422: true, 429: false, 500: false} {
		if (&statusError{Code: code}).Refused() != want {
			t.Errorf("status %d: refused %v", code, !want)
		}
	}
}
