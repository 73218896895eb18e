package ship

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nflog-agent/nflog-agent/internal/setting"
)

// TLSConfig configures the client side of a sink's TLS connections.
type TLSConfig struct {
	// CAFile adds the PEM certificates in it to the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (mTLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns certificate verification off (the agent
	// warns about it at check and at start).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// ClientConfig returns the tls.Config a sink connects with, for checks
// outside ship (nflog-agent doctor). Errors name files, never key material.
func (c TLSConfig) ClientConfig() (*tls.Config, error) { return c.build() }

// build returns the tls.Config: system roots plus CAFile, TLS 1.2 at least.
func (c TLSConfig) build() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify,
	}
	if c.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool() // no system roots on this host: the CA file alone
		}
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, &setting.Error{Key: "tls.ca_file", Err: err}
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &setting.Error{Key: "tls.ca_file", Err: fmt.Errorf("%s holds no PEM certificate", c.CAFile)}
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, &setting.Error{Key: "tls", Err: errors.New("cert_file and key_file go together")}
	}
	if c.CertFile != "" {
		cert, err := c.clientCertificate()
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// clientCertificate loads the client certificate and its key, each error
// naming the setting at fault. Errors name files, never key material.
func (c TLSConfig) clientCertificate() (tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.CertFile)
	if err != nil {
		return tls.Certificate{}, &setting.Error{Key: "tls.cert_file", Err: err}
	}
	keyPEM, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return tls.Certificate{}, &setting.Error{Key: "tls.key_file", Err: err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The pair's errors say which half is wrong ("failed to find
		// any PEM data in key input", "private key does not match public
		// key"); the key file is named, as it is the one to check against
		// the certificate.
		key := "tls.key_file"
		if strings.Contains(err.Error(), "certificate input") {
			key = "tls.cert_file"
		}
		return tls.Certificate{}, &setting.Error{Key: key, Err: fmt.Errorf("%s and %s: %w", c.CertFile, c.KeyFile, err)}
	}
	return cert, nil
}
