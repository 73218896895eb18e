package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/rsyslogtest"
	"github.com/nflog-agent/nflog-agent/ship/tlstest"
)

// The sink checks run against httptest servers on 127.0.0.1 only.

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverCA writes the test server's certificate as a CA file.
func serverCA(t *testing.T, srv *httptest.Server) string {
	return writeFile(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

// clientCert makes a self-signed client certificate; it returns the cert
// and key files and a pool that trusts it.
func clientCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	c, err := tlstest.SelfSignedClient("agent")
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(c.TLS.Leaf)
	return writeFile(t, "client.pem", c.CertPEM), writeFile(t, "client.key", c.KeyPEM), pool
}

// quiet keeps a test server's handshake errors, which the tests provoke, out of the log.
func quiet(srv *httptest.Server) *httptest.Server {
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return srv
}

func ok200(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

func sinkCheck(t *testing.T, s ship.SinkConfig) checkResult {
	t.Helper()
	r := checkSink(context.Background(), s, 5*time.Second)
	t.Log(r.line())
	return r
}

func TestCheckSinkTLS(t *testing.T) {
	srv := quiet(httptest.NewUnstartedServer(http.HandlerFunc(ok200)))
	srv.StartTLS()
	defer srv.Close()
	ca := serverCA(t, srv)

	r := sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, Name: "siem", URL: srv.URL + "/in", TLS: ship.TLSConfig{CAFile: ca}})
	if r.status != statusPass || r.name != "sink siem" || !strings.Contains(r.detail, "TLS 1.3 ok; no harmless probe for authentication") {
		t.Errorf("trusted: %s", r.line())
	}

	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeSekoia, URL: srv.URL + "/array", IntakeKeyEnv: "NOPE"})
	if r.status != statusFail || !strings.HasPrefix(r.detail, "TLS failed") || !strings.Contains(r.fix, "tls.ca_file") {
		t.Errorf("untrusted: %s", r.line())
	}

	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: srv.URL, TLS: ship.TLSConfig{CAFile: ca, ServerName: "wrong.example"}})
	if r.status != statusFail || !strings.HasPrefix(r.detail, "TLS failed") || !strings.Contains(r.fix, "tls.server_name") {
		t.Errorf("wrong name: %s", r.line())
	}

	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: srv.URL, TLS: ship.TLSConfig{InsecureSkipVerify: true}})
	if r.status != statusPass {
		t.Errorf("insecure: %s", r.line())
	}

	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: srv.URL, TLS: ship.TLSConfig{CAFile: filepath.Join(t.TempDir(), "missing.pem")}})
	if r.status != statusFail || !strings.HasPrefix(r.detail, "TLS settings failed") {
		t.Errorf("missing ca_file: %s", r.line())
	}

	plain := httptest.NewServer(http.HandlerFunc(ok200))
	defer plain.Close()
	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: "https://" + plain.Listener.Addr().String()})
	if r.status != statusFail || !strings.Contains(r.fix, "does not speak TLS") {
		t.Errorf("https to a plain port: %s", r.line())
	}
	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: plain.URL})
	if r.status != statusPass || !strings.Contains(r.detail, "plain HTTP") {
		t.Errorf("plain: %s", r.line())
	}
}

func TestCheckSinkClientCert(t *testing.T) {
	certFile, keyFile, pool := clientCert(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		srv := quiet(httptest.NewUnstartedServer(http.HandlerFunc(ok200)))
		srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MaxVersion: version}
		srv.StartTLS()
		ca := serverCA(t, srv)
		name := tls.VersionName(version)

		r := sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: srv.URL, TLS: ship.TLSConfig{CAFile: ca}})
		if r.status != statusFail || !strings.HasPrefix(r.detail, "TLS failed") || !strings.Contains(r.fix, "tls.cert_file") {
			t.Errorf("%s, no client certificate: %s", name, r.line())
		}
		r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: srv.URL, TLS: ship.TLSConfig{CAFile: ca, CertFile: certFile, KeyFile: keyFile}})
		if r.status != statusPass || !strings.Contains(r.detail, "client certificate accepted") {
			t.Errorf("%s, client certificate: %s", name, r.line())
		}
		// A certificate the server does not trust.
		otherCert, otherKey, _ := clientCert(t)
		r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: srv.URL, TLS: ship.TLSConfig{CAFile: ca, CertFile: otherCert, KeyFile: otherKey}})
		if r.status != statusFail || !strings.HasPrefix(r.detail, "TLS failed") || !strings.Contains(r.fix, "refused the client certificate") {
			t.Errorf("%s, untrusted client certificate: %s", name, r.line())
		}
		srv.Close()
	}
}

func TestCheckSinkElasticsearch(t *testing.T) {
	const key = "c2VjcmV0LWFwaS1rZXk6czNjcjN0"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/":
			w.WriteHeader(http.StatusNotFound)
		case r.Header.Get("Authorization") == "ApiKey "+key:
			w.Write([]byte(`{"cluster_name":"test"}`))
		case r.Header.Get("Authorization") == "Basic ZWxhc3RpYzppbmdlc3Qtb25seS1wdw==": // elastic:ingest-only-pw
			w.WriteHeader(http.StatusForbidden)
		default:
			// Echo the credential, as a careless proxy might.
			w.Header().Set("WWW-Authenticate", "ApiKey")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("bad credentials: " + r.Header.Get("Authorization")))
		}
	}))
	defer srv.Close()
	ca := serverCA(t, srv)
	es := func(keyValue string) ship.SinkConfig {
		return ship.SinkConfig{Type: ship.TypeElasticsearch, Name: "es", URL: srv.URL + "/", TLS: ship.TLSConfig{CAFile: ca},
			APIKeyFile: writeFile(t, "key", []byte(keyValue+"\n"))}
	}
	noSecret := func(r checkResult, secret string) {
		t.Helper()
		if strings.Contains(r.line(), secret) {
			t.Errorf("secret in %q", r.line())
		}
	}

	r := sinkCheck(t, es(key))
	if r.status != statusPass || !strings.Contains(r.detail, "credentials accepted") {
		t.Errorf("right key: %s", r.line())
	}
	noSecret(r, key)

	const wrong = "d3Jvbmcta2V5OndoYXRldmVy"
	r = sinkCheck(t, es(wrong))
	if r.status != statusFail || !strings.Contains(r.detail, "credentials refused") || !strings.HasPrefix(r.detail, "authentication failed") {
		t.Errorf("wrong key: %s", r.line())
	}
	noSecret(r, wrong)

	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeElasticsearch, URL: srv.URL, TLS: ship.TLSConfig{CAFile: ca}})
	if r.status != statusFail || !strings.Contains(r.detail, "none are configured") {
		t.Errorf("no credentials: %s", r.line())
	}

	t.Setenv("ES_TEST_PASSWORD", "ingest-only-pw")
	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeElasticsearch, URL: srv.URL, TLS: ship.TLSConfig{CAFile: ca},
		Username: "elastic", PasswordEnv: "ES_TEST_PASSWORD"})
	if r.status != statusWarn || !strings.Contains(r.detail, "403") {
		t.Errorf("403: %s", r.line())
	}
	noSecret(r, "ZWxhc3RpYzppbmdlc3Qtb25seS1wdw==")
	noSecret(r, "ingest-only-pw")

	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeElasticsearch, URL: srv.URL + "/sub", TLS: ship.TLSConfig{CAFile: ca}, APIKeyEnv: "ES_TEST_KEY"})
	if r.status != statusFail || !strings.HasPrefix(r.detail, "credentials failed") || !strings.Contains(r.detail, "ES_TEST_KEY") {
		t.Errorf("unset key variable: %s", r.line())
	}

	t.Setenv("ES_TEST_KEY", key)
	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeElasticsearch, URL: srv.URL + "/sub", TLS: ship.TLSConfig{CAFile: ca}, APIKeyEnv: "ES_TEST_KEY"})
	if r.status != statusWarn || !strings.Contains(r.detail, "404") {
		t.Errorf("not ES: %s", r.line())
	}
	noSecret(r, key)
}

func TestCheckSinkNetwork(t *testing.T) {
	r := sinkCheck(t, ship.SinkConfig{Type: ship.TypeElasticsearch, URL: "https://nonexistent.invalid:9200"})
	if r.status != statusFail || !strings.HasPrefix(r.detail, "DNS failed") || !strings.Contains(r.detail, "nonexistent.invalid") {
		t.Errorf("unresolvable: %s", r.line())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeSekoia, URL: "https://" + addr + "/array"})
	if r.status != statusFail || !strings.HasPrefix(r.detail, "TCP failed") || !strings.Contains(r.detail, addr) {
		t.Errorf("closed port: %s", r.line())
	}

	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeHTTP, URL: "https://user:hunter22@[::1"})
	if r.status != statusFail || !strings.HasPrefix(r.detail, "URL failed") || strings.Contains(r.line(), "hunter22") {
		t.Errorf("bad URL: %s", r.line())
	}
}

func TestConnectTunnel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			req, err := http.ReadRequest(bufio.NewReader(c))
			switch {
			case err != nil || req.Method != http.MethodConnect || req.Host != "sink.example:443":
				io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
			case req.Header.Get("Proxy-Authorization") != "Basic dTpwcm94eS1wdw==": // u:proxy-pw
				io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
			default:
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			}
			c.Close()
		}
	}()
	for _, c := range []struct {
		proxy, want string
	}{
		{"http://u:proxy-pw@" + ln.Addr().String(), ""},
		{"http://u:wrong@" + ln.Addr().String(), "407"},
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		proxy, _ := url.Parse(c.proxy)
		err = connectTunnel(conn, proxy, "sink.example:443")
		conn.Close()
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.proxy, err, c.want)
		}
	}
}

// doctor reports a redirect as a failure instead of following it to
// another host, where the key would be "accepted".
func TestCheckSinkElasticsearchRedirect(t *testing.T) {
	const key = "c2VjcmV0LWFwaS1rZXk6czNjcjN0"
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"cluster_name":"elsewhere"}`))
	}))
	defer other.Close()
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/?api_key="+key, code)
		}))
		r := sinkCheck(t, ship.SinkConfig{Type: ship.TypeElasticsearch, Name: "es", URL: srv.URL,
			TLS: ship.TLSConfig{CAFile: serverCA(t, srv)}, APIKeyFile: writeFile(t, "key", []byte(key))})
		srv.Close()
		if r.status != statusFail || !strings.HasPrefix(r.detail, "redirect failed") ||
			!strings.Contains(r.detail, other.URL+"/,") || !strings.Contains(r.fix, "url") {
			t.Errorf("%d: %s", code, r.line())
		}
		if strings.Contains(r.line(), key) {
			t.Errorf("%d: the key is in %q", code, r.line())
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the redirect was followed %d times", hits.Load())
	}
}

// doctor checks syslog sinks, and sekoia sinks on their syslog or RELP
// transport, where they connect: DNS, TCP, then TLS against a real rsyslog.
func TestCheckSinkSyslog(t *testing.T) {
	srv := rsyslogtest.Start(t)
	r := sinkCheck(t, ship.SinkConfig{Type: ship.TypeSyslog, Name: "siem", Transport: ship.TransportRELPTLS,
		Address: srv.Addr[rsyslogtest.RELP], TLS: ship.TLSConfig{CAFile: srv.CAFile}})
	// A warning only for the throw-away certificate's near expiry.
	if r.status == statusFail || !strings.Contains(r.detail, "connected to "+srv.Addr[rsyslogtest.RELP]) || !strings.Contains(r.detail, "TLS 1.") {
		t.Errorf("relp+tls: %s", r.line())
	}
	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeSekoia, Transport: ship.TransportSyslog, Address: srv.Addr[rsyslogtest.TCP],
		IntakeKeyEnv: "NOPE"})
	if r.status != statusFail || !strings.HasPrefix(r.detail, "TLS failed") {
		t.Errorf("sekoia syslog, untrusted: %s", r.line())
	}
	r = sinkCheck(t, ship.SinkConfig{Type: ship.TypeSyslog, Transport: ship.TransportTCP, Address: srv.Addr[rsyslogtest.TCP]})
	if r.status != statusPass || !strings.Contains(r.detail, "plain TCP, no TLS") {
		t.Errorf("tcp: %s", r.line())
	}
}
