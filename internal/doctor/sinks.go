package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/config"
	"github.com/nflog-agent/nflog-agent/internal/redact"
	"github.com/nflog-agent/nflog-agent/ship"
)

// The checks of the sinks: for each remote sink, the path an event takes:
// DNS, TCP (through HTTPS_PROXY when one applies), TLS with the sink's own
// settings, and the credentials where a harmless request can test them.

// sinkCheckTimeout bounds all the checks of one sink together.
const sinkCheckTimeout = 10 * time.Second

// clientCertWait is how long a sink check waits, after a TLS handshake in
// which the server asked for a client certificate, for the server to refuse
// it: in TLS 1.3 the refusal comes after the client's side is done.
const clientCertWait = 500 * time.Millisecond

// certExpiryWarn is how close to its expiry a server certificate is warned about.
const certExpiryWarn = 14 * 24 * time.Hour

// checkSinks checks the path to each remote sink.
func (d *Doctor) checkSinks(cfg *config.Config) []checkResult {
	if len(cfg.Sinks) == 0 {
		return []checkResult{{status: statusSkip, name: "sinks", detail: "none configured: events go to stdout"}}
	}
	var out []checkResult
	for _, s := range cfg.Sinks {
		switch s.Type {
		case ship.TypeHTTP, ship.TypeElasticsearch, ship.TypeSekoia, ship.TypeSyslog:
			out = append(out, checkSink(context.Background(), s, sinkCheckTimeout))
		default:
			out = append(out, checkResult{status: statusSkip, name: "sink " + sinkName(s), detail: "local sink (" + s.Type + ")"})
		}
	}
	return out
}

func sinkName(s ship.SinkConfig) string {
	if s.Name != "" {
		return s.Name
	}
	return s.Type
}

// checkSink checks one remote sink step by step, stopping at the first
// failing step, which the detail names: one line per sink. No event is sent;
// an elasticsearch sink's credentials are tried with GET /, the others'
// cannot be without sending data. No secret reaches the result.
func checkSink(ctx context.Context, s ship.SinkConfig, timeout time.Duration) checkResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := &sinkProbe{r: checkResult{name: "sink " + sinkName(s)}}
	r := p.run(ctx, s)
	r.detail, r.fix = p.secrets.Redact(r.detail), p.secrets.Redact(r.fix)
	return r
}

type sinkProbe struct {
	r       checkResult
	done    []string       // what passed, for the detail
	secrets redact.Secrets // to keep out of the result
}

func (p *sinkProbe) fail(step, detail, fix string) checkResult {
	p.r.status, p.r.detail, p.r.fix = statusFail, step+" failed: "+detail, fix
	return p.r
}

func (p *sinkProbe) pass(last string) checkResult {
	p.r.detail = strings.Join(append(p.done, last), "; ")
	return p.r
}

func (p *sinkProbe) run(ctx context.Context, s ship.SinkConfig) checkResult {
	rawURL := s.URL
	if s.Type == ship.TypeSekoia && rawURL == "" {
		rawURL = ship.SekoiaURL(s.Region)
	}
	// A syslog or RELP connection is probed like an HTTPS one (TLS) or a
	// plain HTTP one (in the clear), without a proxy.
	addr, secure, stream := ship.SyslogTarget(s)
	if stream {
		rawURL = "http://" + addr
		if secure {
			rawURL = "https://" + addr
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		// Neither the URL nor the parse error is shown: either may hold a password.
		return p.fail("URL", "not an http:// or https:// URL with a host", "correct the sink's url in the config")
	}
	if pw, ok := u.User.Password(); ok {
		p.secrets.Add(pw)
	}
	target := net.JoinHostPort(u.Hostname(), portOf(u))

	// With a proxy, DNS and TCP are the proxy's; the proxy resolves the sink.
	dialHost, dialAddr := u.Hostname(), target
	proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u})
	if stream {
		proxy, err = nil, nil
	}
	if err != nil {
		return p.fail("proxy", "bad proxy setting in the environment", "correct HTTPS_PROXY / HTTP_PROXY")
	}
	if proxy != nil {
		if pw, ok := proxy.User.Password(); ok {
			p.secrets.Add(pw)
		}
		if proxy.Scheme != "http" {
			p.r.status = statusWarn
			p.r.detail = fmt.Sprintf("not checked: the agent connects through a %s proxy, which doctor cannot test", proxy.Scheme)
			p.r.fix = "test the sink from this host with curl"
			return p.r
		}
		dialHost, dialAddr = proxy.Hostname(), net.JoinHostPort(proxy.Hostname(), portOf(proxy))
	}

	if net.ParseIP(dialHost) == nil {
		addrs, err := net.DefaultResolver.LookupHost(ctx, dialHost)
		if err != nil {
			return p.fail("DNS", fmt.Sprintf("cannot resolve %s: %v", dialHost, err),
				"check the host name in the sink's url (or in HTTPS_PROXY) and this host's resolver (/etc/resolv.conf)")
		}
		p.done = append(p.done, fmt.Sprintf("%s resolves to %s", dialHost, strings.Join(addrs[:min(len(addrs), 2)], ", ")))
	}

	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", dialAddr)
	if err != nil {
		return p.fail("TCP", fmt.Sprintf("cannot connect to %s: %v", dialAddr, err),
			"check the port in the url, that the service is up, the firewall's output rules and HTTPS_PROXY")
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	p.done = append(p.done, "connected to "+dialAddr)
	if proxy != nil {
		if err := connectTunnel(conn, proxy, target); err != nil {
			return p.fail("proxy", fmt.Sprintf("%s opens no tunnel to %s: %v", dialAddr, target, err),
				"check HTTPS_PROXY, NO_PROXY and the proxy's rules")
		}
		p.done = append(p.done, "tunnel to "+target)
	}

	tlsCfg, err := s.TLS.ClientConfig()
	if err != nil {
		return p.fail("TLS settings", err.Error(), "correct the sink's tls: files (PEM, readable by the agent's user)")
	}
	tlsCfg = tlsCfg.Clone()
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = u.Hostname()
	}
	if u.Scheme == "https" {
		if r, ok := p.handshake(ctx, conn, tlsCfg, target); !ok {
			return r
		}
	} else {
		plain := "plain HTTP, no TLS"
		if stream {
			plain = "plain TCP, no TLS"
		}
		p.done = append(p.done, plain)
	}

	if s.Type != ship.TypeElasticsearch {
		return p.pass("no harmless probe for authentication")
	}
	return p.elasticAuth(ctx, s, u, tlsCfg)
}

func portOf(u *url.URL) string {
	if port := u.Port(); port != "" {
		return port
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// connectTunnel asks an HTTP proxy on c for a tunnel to target, as
// net/http does for an https:// URL.
func connectTunnel(c net.Conn, proxy *url.URL, target string) error {
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: target}, Host: target, Header: http.Header{}}
	if proxy.User != nil {
		pw, _ := proxy.User.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(proxy.User.Username()+":"+pw)))
	}
	if err := req.Write(c); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("proxy answered %s", ship.Printable(resp.Status, 128))
	}
	return nil
}

// handshake runs the TLS handshake on conn as the sink would. In TLS 1.3 a
// server judges the client certificate after the client's handshake is
// done, so when it asked for one, a refusal is waited for briefly.
func (p *sinkProbe) handshake(ctx context.Context, conn net.Conn, cfg *tls.Config, target string) (checkResult, bool) {
	hasCert := len(cfg.Certificates) > 0
	asked := false
	cfg = cfg.Clone()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked = true
		if hasCert {
			return &cfg.Certificates[0], nil
		}
		return &tls.Certificate{}, nil
	}
	tc := tls.Client(conn, cfg)
	err := tc.HandshakeContext(ctx)
	if err == nil && asked {
		tc.SetReadDeadline(time.Now().Add(clientCertWait))
		if _, rerr := tc.Read(make([]byte, 1)); rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded) {
			err = rerr
		}
	}
	if err != nil {
		return p.fail("TLS", fmt.Sprintf("handshake with %s: %v", target, err), tlsFix(err, cfg.ServerName, asked, hasCert)), false
	}
	st := tc.ConnectionState()
	done := "TLS " + strings.TrimPrefix(tls.VersionName(st.Version), "TLS ") + " ok"
	if asked && hasCert {
		done += ", client certificate accepted"
	}
	p.done = append(p.done, done)
	if len(st.PeerCertificates) > 0 && !cfg.InsecureSkipVerify {
		if left := time.Until(st.PeerCertificates[0].NotAfter); left < certExpiryWarn {
			p.r.status = statusWarn
			p.r.fix = "renew the server's certificate"
			p.done = append(p.done, fmt.Sprintf("server certificate expires %s", st.PeerCertificates[0].NotAfter.UTC().Format(time.DateOnly)))
		}
	}
	return checkResult{}, true
}

// tlsFix names the likely fix for a failed handshake.
func tlsFix(err error, serverName string, asked, hasCert bool) string {
	var unknownCA x509.UnknownAuthorityError
	var badName x509.HostnameError
	var invalid x509.CertificateInvalidError
	var notTLS tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownCA):
		return "the server's certificate is not signed by a CA this host trusts: set the sink's tls.ca_file to its CA (PEM)"
	case errors.As(err, &badName):
		return "the server's certificate is not valid for " + serverName + ": use a name it lists in the url, or set tls.server_name"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the server's certificate is expired or not yet valid: renew it, or correct this host's clock"
	case errors.As(err, &notTLS):
		return "the server does not speak TLS on this port: use http:// or the TLS port"
	case asked && !hasCert:
		return "the server requires a client certificate: set the sink's tls.cert_file and tls.key_file"
	case asked:
		return "the server refused the client certificate: check that its CA is the one the server trusts, and its dates"
	}
	return "check the server's TLS setup against the sink's tls: settings"
}

// elasticAuth tries the sink's credentials with GET /, which reads nothing
// but the cluster's name and version. Like the sink, it never follows a
// redirect: that would hand the credentials to wherever it points.
func (p *sinkProbe) elasticAuth(ctx context.Context, s ship.SinkConfig, u *url.URL, tlsCfg *tls.Config) checkResult {
	auth, secrets, err := s.ElasticAuthorization()
	p.secrets.Add(secrets...)
	if err != nil {
		return p.fail("credentials", err.Error(), "make the sink's api_key_* or password_* readable by the agent (file) or set (environment)")
	}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	base := *u
	base.Path, base.RawPath, base.RawQuery = strings.TrimRight(u.Path, "/")+"/", "", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String(), nil)
	if err != nil {
		return p.fail("GET /", "cannot build the request", "correct the sink's url in the config")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := (&http.Client{Transport: tr, CheckRedirect: noRedirect}).Do(req)
	if err != nil {
		return p.fail("GET /", err.Error(), "check that the url points at Elasticsearch or OpenSearch")
	}
	// The body is not shown: a server may echo a credential.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return p.fail("redirect", fmt.Sprintf("GET / answered %d %s to %s, which the agent never follows",
			resp.StatusCode, http.StatusText(resp.StatusCode), ship.RedirectLocation(resp)),
			"set the sink's url to the address that answers itself: a redirect could carry the credentials elsewhere")
	case resp.StatusCode == http.StatusOK && auth == "":
		return p.pass("no credentials configured, GET / answered 200")
	case resp.StatusCode == http.StatusOK:
		return p.pass("credentials accepted (GET / answered 200)")
	case resp.StatusCode == http.StatusUnauthorized && auth == "":
		return p.fail("authentication", "the server wants credentials and none are configured (GET / answered 401)",
			"set the sink's api_key_file or api_key_env, or username with password_file or password_env")
	case resp.StatusCode == http.StatusUnauthorized:
		return p.fail("authentication", "credentials refused (GET / answered 401)",
			"check the sink's api key or password: it may be wrong, revoked or expired")
	case resp.StatusCode == http.StatusForbidden:
		// Authenticated, but not allowed cluster:monitor/main: a key limited
		// to writing the data stream gets this and still ships.
		p.r.status, p.r.fix = statusWarn, "if events are refused too, grant the key create_doc on the data stream"
		return p.pass("credentials refused for GET / (403): the key or user may be limited to writing, which is enough")
	}
	p.r.status, p.r.fix = statusWarn, "check that the url points at Elasticsearch or OpenSearch"
	return p.pass(fmt.Sprintf("GET / answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
}
