package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// The checks of what ships events: the spool directory when one is
// configured, and whether each remote sink's endpoint can be reached.

// sinkDialTimeout bounds each sink reachability check.
const sinkDialTimeout = 5 * time.Second

func (d *doctor) checkShipping(cfg *config) []checkResult {
	var out []checkResult
	if cfg.Spool.Dir == "" {
		out = append(out, checkResult{status: statusSkip, name: "spool directory",
			detail: "no spool.dir configured: events wait in memory and are lost at stop"})
	} else {
		minFree := uint64(cfg.Spool.MaxBytes)
		if minFree == 0 {
			minFree = spool.DefaultMaxBytes
		}
		out = append(out, checkSpoolDir(cfg.Spool.Dir, minFree))
	}
	if len(cfg.Sinks) == 0 {
		return append(out, checkResult{status: statusSkip, name: "sinks", detail: "none configured: events go to stdout"})
	}
	for _, s := range cfg.Sinks {
		name := s.Name
		if name == "" {
			name = s.Type
		}
		u := s.URL
		switch s.Type {
		case ship.TypeSekoia:
			if u == "" {
				u = ship.SekoiaURL(s.Region)
			}
		case ship.TypeHTTP, ship.TypeElasticsearch:
		default:
			out = append(out, checkResult{status: statusSkip, name: "sink " + name + " reachable", detail: "local sink (" + s.Type + ")"})
			continue
		}
		out = append(out, checkSinkReachable(context.Background(), name, u, sinkDialTimeout))
	}
	return out
}

// checkSpoolDir checks that dir exists, takes a new file, and has at least
// minFree bytes free for the spool to grow during an outage.
func checkSpoolDir(dir string, minFree uint64) checkResult {
	r := checkResult{name: "spool directory " + dir}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		r.status, r.detail = statusFail, fmt.Sprintf("not writable: %v", err)
		r.fix = "create it, owned by the agent's user (the packaged unit uses StateDirectory=nflog-agent: /var/lib/nflog-agent)"
		return r
	}
	f.Close()
	os.Remove(f.Name())
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		r.status, r.detail = statusWarn, fmt.Sprintf("writable, free space unknown: %v", err)
		return r
	}
	free := st.Bavail * uint64(st.Bsize)
	r.detail = fmt.Sprintf("writable, %d MiB free", free>>20)
	if free < minFree {
		r.status = statusWarn
		r.fix = fmt.Sprintf("free space, or move the spool: an outage can fill up to its size limit (want %d MiB free)", minFree>>20)
	}
	return r
}

// checkSinkReachable checks that a sink's endpoint accepts TCP connections
// within timeout: the cheapest test that catches a wrong host, a firewall
// or a missing proxy, without sending an event or a credential.
func checkSinkReachable(ctx context.Context, name, rawURL string, timeout time.Duration) checkResult {
	r := checkResult{name: "sink " + name + " reachable"}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		r.status, r.detail, r.fix = statusFail, fmt.Sprintf("bad URL %q", rawURL), "correct the sink's url in the config"
		return r
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		r.status, r.detail = statusFail, fmt.Sprintf("cannot connect to %s: %v", addr, err)
		r.fix = "check the URL, DNS, the firewall's output rules and HTTPS_PROXY"
		return r
	}
	c.Close()
	r.detail = "connected to " + addr
	return r
}
