// Package tlstest makes throw-away certificates for tests and benchmarks:
// ECDSA P-256 keys, valid from an hour ago for a day, for servers on the
// loopback. SelfSigned makes a CA-less self-signed server certificate whose
// PEM is all a client needs as its CA file; SelfSignedClient does the same
// for a client certificate. CA signs server and client certificates for
// tests that need one authority on both sides (mTLS) or an unrelated one.
//
// Nothing here is fit for production: keys are in memory, certificates
// carry no revocation information and expire in a day.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"time"
)

// Cert is a generated certificate and its private key.
type Cert struct {
	TLS     tls.Certificate // for tls.Config.Certificates; Leaf is set
	CertPEM []byte          // the certificate, one CERTIFICATE block
	KeyPEM  []byte          // the key, one EC PRIVATE KEY block
}

// SelfSigned returns a self-signed server certificate for hosts (DNS names
// or IP addresses such as "127.0.0.1" and "localhost"; at least one). Its
// CertPEM is the CA file that makes a client trust it.
func SelfSigned(hosts ...string) (*Cert, error) {
	if len(hosts) == 0 {
		return nil, errors.New("tlstest: no host names")
	}
	tmpl := template(hosts[0], x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign, x509.ExtKeyUsageServerAuth)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	addHosts(tmpl, hosts)
	return create(tmpl, nil, nil)
}

// SelfSignedClient returns a self-signed client certificate with common
// name name. A server trusts it with its certificate alone as a client CA.
func SelfSignedClient(name string) (*Cert, error) {
	tmpl := template(name, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign, x509.ExtKeyUsageClientAuth)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	return create(tmpl, nil, nil)
}

// CA is a throw-away certificate authority.
type CA struct {
	PEM  []byte // the CA certificate, the CA file of either side
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA returns a CA with common name name.
func NewCA(name string) (*CA, error) {
	tmpl := template(name, x509.KeyUsageCertSign)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	c, err := create(tmpl, nil, nil)
	if err != nil {
		return nil, err
	}
	return &CA{PEM: c.CertPEM, cert: c.TLS.Leaf, key: c.TLS.PrivateKey.(*ecdsa.PrivateKey)}, nil
}

// Pool returns a pool holding the CA certificate, for tls.Config.RootCAs
// or ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// Server returns a server certificate signed by ca for hosts (DNS names or
// IP addresses; at least one).
func (ca *CA) Server(hosts ...string) (*Cert, error) {
	if len(hosts) == 0 {
		return nil, errors.New("tlstest: no host names")
	}
	tmpl := template(hosts[0], x509.KeyUsageDigitalSignature, x509.ExtKeyUsageServerAuth)
	addHosts(tmpl, hosts)
	return create(tmpl, ca.cert, ca.key)
}

// Client returns a client certificate signed by ca, with common name name.
func (ca *CA) Client(name string) (*Cert, error) {
	return create(template(name, x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth), ca.cert, ca.key)
}

// template returns a certificate template valid from an hour ago for a
// day, with a random serial number.
func template(cn string, usage x509.KeyUsage, ext ...x509.ExtKeyUsage) *x509.Certificate {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     usage,
		ExtKeyUsage:  ext,
	}
}

// addHosts puts hosts in tmpl's subject alternative names.
func addHosts(tmpl *x509.Certificate, hosts []string) {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
}

// create makes a key and a certificate from tmpl, signed by parent's key,
// or self-signed when parent is nil.
func create(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Cert{
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}, nil
}
