// Package testcert makes self-signed TLS certificates for tests that
// serve HTTPS on 127.0.0.1: each is for 127.0.0.1 only, valid from an
// hour ago to an hour from now, with a fresh P-256 key. Clients accept it
// with InsecureSkipVerify, or by trusting it ([x509.CertPool.AddCert]).
//
//	srv.TLS = &tls.Config{Certificates: []tls.Certificate{testcert.Certificate(t)}}
//
//	certFile, keyFile := testcert.WriteFiles(t, t.TempDir()) // for -tls-cert and -tls-key
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// New returns a self-signed certificate for 127.0.0.1, with its key.
func New() (tls.Certificate, error) {
	der, key, err := create()
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// Certificate is [New] for a test: it fails t if the certificate cannot
// be made.
func Certificate(t testing.TB) tls.Certificate {
	t.Helper()
	cert, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// WriteFiles writes a new certificate and its key into dir, PEM-encoded,
// as cert.pem and key.pem, for a program's certificate and key flags, and
// returns their paths. It fails t on an error.
func WriteFiles(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	der, key, err := create()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// create makes the certificate, DER-encoded, and its key.
func create() ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return der, key, nil
}
