package config

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/nflog-agent/nflog-agent/ship"
)

// certExpiryNotice is how long before its end a certificate the agent
// presents or trusts is warned about.
const certExpiryNotice = 30 * 24 * time.Hour

// Warnings lists what starts but deserves a look: secrets other
// users can read, certificates about to expire, credentials that would
// cross the network in clear text, and endpoints without authentication
// reachable beyond this host. Files that cannot be read were errors
// already; here they are passed over.
func Warnings(cfg *Config) []*Error {
	var out []*Error
	warn := func(key, format string, args ...any) { out = append(out, cfg.ErrorAt(key, format, args...)) }
	for i, s := range cfg.Sinks {
		path := fmt.Sprintf("sinks[%d]", i)
		for _, f := range []struct{ key, file string }{
			{"intake_key_file", s.IntakeKeyFile}, {"api_key_file", s.APIKeyFile},
			{"password_file", s.PasswordFile}, {"tls.key_file", s.TLS.KeyFile},
		} {
			if why := exposed(f.file); why != "" {
				warn(path+"."+f.key, "%s", why)
			}
		}
		if len(s.Headers) > 0 {
			if why := exposed(cfg.file); why != "" {
				warn(path+".headers", "the headers are secrets and %s", why)
			}
		}
		for _, f := range []struct{ key, file string }{{"tls.cert_file", s.TLS.CertFile}, {"tls.ca_file", s.TLS.CAFile}} {
			if why := expiring(f.file, time.Now()); why != "" {
				warn(path+"."+f.key, "%s", why)
			}
		}
		if s.TLS.InsecureSkipVerify {
			warn(path+".tls.insecure_skip_verify", "certificate verification is off: anyone on the path can read and change the events")
		}
		if s.Type == ship.TypeSyslog && (s.Transport == ship.TransportTCP || s.Transport == ship.TransportRELP) && !loopbackHost(s.Address) {
			warn(path+".transport", "events cross the network in clear text: use tls or relp+tls")
		}
		if u, err := url.Parse(s.URL); err == nil && u.Scheme == "http" && hasCredentials(s, u) {
			warn(path+".url", "credentials would cross the network in clear text over http://: use https://")
		}
	}
	if m := cfg.Metrics; m.Listen != "" && !loopback(m.Listen) {
		warn("metrics.listen", "%s is reachable beyond this host, and /metrics and /healthz have no authentication", m.Listen)
		if m.PProf {
			warn("metrics.pprof", "the profiler is reachable beyond this host: it shows the agent's memory and command line")
		}
	}
	return out
}

// exposed says who besides the agent can read file: every user, or a
// group other than the one the agent runs as ("" when nobody, or when
// file is "" or cannot be read).
func exposed(file string) string {
	if file == "" {
		return ""
	}
	fi, err := os.Stat(file)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode().Perm()&0o004 != 0:
		return fmt.Sprintf("%s is readable by every user: chmod o-r %s", file, file)
	case ok && fi.Mode().Perm()&0o040 != 0 && int(st.Gid) != os.Getegid():
		name := strconv.Itoa(int(st.Gid))
		if g, err := user.LookupGroupId(name); err == nil {
			name = g.Name
		}
		return fmt.Sprintf("%s is readable by group %s, not only by the agent: chmod g-r %s, or give it the agent's group", file, name, file)
	}
	return ""
}

// expiring describes the first certificate in the PEM file that has
// expired or expires within certExpiryNotice of now ("" when none does).
func expiring(file string, now time.Time) string {
	if file == "" {
		return ""
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return ""
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil || b.Type != "CERTIFICATE" {
			continue
		}
		end := c.NotAfter.UTC().Format(time.DateOnly)
		switch left := c.NotAfter.Sub(now); {
		case left <= 0:
			return fmt.Sprintf("certificate %q in %s expired on %s", c.Subject.CommonName, file, end)
		case left < certExpiryNotice:
			return fmt.Sprintf("certificate %q in %s expires on %s, in %d days", c.Subject.CommonName, file, end, int(left.Hours()/24))
		}
	}
}

// hasCredentials says whether a request of sink s to u carries a secret.
func hasCredentials(s ship.SinkConfig, u *url.URL) bool {
	return u.User != nil || len(s.Headers) > 0 || s.IntakeKeyFile != "" || s.IntakeKeyEnv != "" ||
		s.APIKeyFile != "" || s.APIKeyEnv != "" || s.Username != ""
}

// loopback says whether a host:port listen address (valid: build checked
// it) only accepts connections from this host.
// loopbackHost says whether addr (HOST:PORT) names this host's loopback,
// without asking DNS.
func loopbackHost(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func loopback(listen string) bool {
	addr, err := net.ResolveTCPAddr("tcp", listen)
	return err == nil && addr.IP != nil && addr.IP.IsLoopback()
}
