package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
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
	cert, err := selfSigned(filepath.Join(dir, recvCertFile))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var n atomic.Uint64
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { handleIngest(w, req, &n) }),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
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

// selfSigned makes a certificate for 127.0.0.1, writes it (PEM) to
// certPath and keeps the key in memory.
func selfSigned(certPath string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "nflogbench receiver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
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
