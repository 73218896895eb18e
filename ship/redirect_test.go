package ship

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// trap is a plain-HTTP server that counts the requests it gets: a sink
// that follows a redirect there would hand it its credentials in clear.
func trap(t *testing.T, host string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"errors":false,"items":[],"event_ids":[]}`))
	}))
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.Config.ErrorLog = quietLog
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &hits
}

// No sink follows a redirect, to plain HTTP on another port or to another
// host: the answer is a send error of its own kind, the events stay
// queued, the sink is blocked, and the log shows where the redirect
// pointed without its user, password or query.
func TestSinksNeverFollowRedirects(t *testing.T) {
	const secret = "s3cret-key-value"
	sinks := map[string]func(t *testing.T, url, ca string) SinkConfig{
		TypeHTTP: func(_ *testing.T, url, ca string) SinkConfig {
			c := httpSinkConfig(url, ca)
			c.Headers = map[string]string{"X-Api-Key": secret}
			return c
		},
		TypeElasticsearch: func(t *testing.T, url, ca string) SinkConfig {
			t.Setenv("TEST_ES_REDIRECT_KEY", secret)
			c := elasticConfig(url, ca)
			c.APIKeyEnv = "TEST_ES_REDIRECT_KEY"
			return c
		},
		TypeSekoia: func(t *testing.T, url, ca string) SinkConfig { return sekoiaConfig(t, url, ca, secret) },
	}
	for typ, config := range sinks {
		for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			for where, host := range map[string]string{"http on another port": "127.0.0.1", "another host": "127.0.0.2"} {
				t.Run(fmt.Sprintf("%s %d to %s", typ, code, where), func(t *testing.T) {
					dst, hits := trap(t, host)
					target := strings.Replace(dst.URL, "http://", "http://user:"+secret+"@", 1) + "/steal?token=" + secret
					src, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
						readBody(t, req)
						http.Redirect(w, req, target, code)
					}))
					h := startShipper(t, nil, config(t, src.URL+"/ingest", ca))
					h.append(testEvents(4))
					waitFor(t, "redirects", func() bool { return h.s.Stats()[0].SendErrors[errRedirect] >= 3 })
					s := h.s
					h.stop(10 * time.Millisecond) // the batch waits for the operator
					st := s.Stats()[0]
					if hits.Load() != 0 {
						t.Fatalf("the redirect was followed %d times", hits.Load())
					}
					if st.Sent != 0 || len(st.Failed) != 0 || st.Blocked != BlockRedirect {
						t.Fatalf("stats: %+v", st)
					}
					logs := h.logs.String()
					if strings.Count(logs, "sink blocked") != 1 || !strings.Contains(logs, "reason=redirect") ||
						!strings.Contains(logs, dst.URL+"/steal") || !strings.Contains(st.LastError, dst.URL+"/steal") {
						t.Fatalf("log does not say where the redirect pointed:\n%s\nlast error %q", logs, st.LastError)
					}
					if strings.Contains(logs, secret) || strings.Contains(st.LastError, secret) || strings.Contains(logs, "token=") {
						t.Fatalf("the log shows a secret:\n%s", logs)
					}
				})
			}
		}
	}
}

// Once the destination stops redirecting, the kept events are delivered.
func TestRedirectBlocksUntilFixed(t *testing.T) {
	var redirect atomic.Bool
	redirect.Store(true)
	rcv := newReceiver(5)
	inner := collector(t, rcv, nil)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if redirect.Load() {
			http.Redirect(w, req, "https://elsewhere.example/", http.StatusFound)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	h := startShipper(t, nil, httpSinkConfig(srv.URL, ca))
	h.append(testEvents(5))
	waitFor(t, "redirects", func() bool { return h.s.Stats()[0].SendErrors[errRedirect] >= 2 })
	if st := h.s.Stats()[0]; st.Blocked != BlockRedirect || st.SpoolPending != 5 {
		t.Fatalf("while redirected: %+v", st)
	}
	redirect.Store(false)
	rcv.wait(t)
	if st := h.finalStats(); st.Sent != 5 || st.Blocked != "" || len(st.Failed) != 0 {
		t.Fatalf("after: %+v", st)
	}
}
