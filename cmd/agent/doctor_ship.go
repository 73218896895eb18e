package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The checks of what ships events. They are not wired yet because the
// config has no spool or sinks yet; doctor.run says where they go.

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
