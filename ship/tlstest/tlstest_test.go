package tlstest

import (
	"crypto/x509"
	"strings"
	"testing"
)

// verify checks c's leaf for host with roots made of rootPEM.
func verify(t *testing.T, c *Cert, rootPEM []byte, host string, usage x509.ExtKeyUsage) error {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("root PEM holds no certificate")
	}
	_, err := c.TLS.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

func TestSelfSigned(t *testing.T) {
	c, err := SelfSigned("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := verify(t, c, c.CertPEM, host, x509.ExtKeyUsageServerAuth); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	for _, host := range []string{"example.com", "127.0.0.2"} {
		if err := verify(t, c, c.CertPEM, host, x509.ExtKeyUsageServerAuth); err == nil {
			t.Errorf("%s: verified", host)
		}
	}
	if !strings.Contains(string(c.KeyPEM), "EC PRIVATE KEY") {
		t.Errorf("key PEM: %q", c.KeyPEM)
	}
}

func TestCA(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server("collector.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(t, srv, ca.PEM, "collector.example", x509.ExtKeyUsageServerAuth); err != nil {
		t.Error(err)
	}
	if err := verify(t, srv, ca.PEM, "other.example", x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("other.example: verified")
	}
	cli, err := ca.Client("agent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.TLS.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client: %v", err)
	}
	self, err := SelfSignedClient("agent")
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(t, self, self.CertPEM, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("self-signed client: %v", err)
	}
	if err := verify(t, self, ca.PEM, "", x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("self-signed client verified by an unrelated CA")
	}
}
