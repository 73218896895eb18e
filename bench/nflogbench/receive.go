package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nflog-agent/nflog-agent/ship/tlstest"
)

// Files the receiver writes into its directory.
const (
	recvCertFile  = "receiver-cert.pem" // self-signed certificate: the agent's tls.ca_file
	recvPortFile  = "receiver.port"     // the TCP port it listens on (127.0.0.1)
	recvCountFile = "receiver.count"    // events (NDJSON lines) received so far, rewritten as it grows
)

// receive is `nflogbench receive -dir DIR`: the HTTPS receiver of setup
// agent-https. Started in namespace B, it listens on 127.0.0.1 with a fresh
// self-signed certificate, accepts POSTs of NDJSON (gzip'd or not), answers
// 200 and counts the lines. The count goes to DIR/receiver.count every 20 ms
// when it changed, and once more on SIGTERM before it exits.
func receive(args []string) int {
	fs := flag.NewFlagSet("receive", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory for the certificate, port and count files (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "nflogbench receive: need -dir DIR")
		return 2
	}
	if err := serveReceiver(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "nflogbench receive: %v\n", err)
		return 1
	}
	return 0
}

func serveReceiver(dir string) error {
	cert, err := tlstest.SelfSigned("127.0.0.1")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, recvCertFile), cert.CertPEM, 0o644); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var n atomic.Uint64
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { handleIngest(w, req, &n) }),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert.TLS}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	countPath := filepath.Join(dir, recvCountFile)
	if err := writeAtomic(countPath, "0\n"); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		last := uint64(0)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if v := n.Load(); v != last {
					last = v
					writeAtomic(countPath, strconv.FormatUint(v, 10)+"\n")
				}
			}
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	// The port file last: once it exists, the receiver is ready.
	if err := writeAtomic(filepath.Join(dir, recvPortFile), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)+"\n"); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if werr := writeAtomic(countPath, strconv.FormatUint(n.Load(), 10)+"\n"); werr != nil {
		return werr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// handleIngest counts the lines of one POSTed batch.
func handleIngest(w http.ResponseWriter, req *http.Request, n *atomic.Uint64) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	lines, err := countNDJSON(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.Add(lines)
	w.WriteHeader(http.StatusOK)
}

// countNDJSON counts the lines of r, a last line without '\n' included.
func countNDJSON(r io.Reader) (uint64, error) {
	buf := make([]byte, 256<<10)
	var n uint64
	var last byte = '\n'
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += uint64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if err == io.EOF {
			if last != '\n' {
				n++
			}
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func writeAtomic(path, s string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readCount reads a number file the receiver wrote; 0 if there is none yet.
func readCount(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return v
}
