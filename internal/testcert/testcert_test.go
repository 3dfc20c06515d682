package testcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"testing"

	"github.com/ssewasm/ssewasm/internal/testcert"
)

// A client that trusts the certificate completes a handshake with a
// server that presents it, for 127.0.0.1, from both New and the files.
func TestHandshake(t *testing.T) {
	fromFiles := func() tls.Certificate {
		certFile, keyFile := testcert.WriteFiles(t, t.TempDir())
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	for name, cert := range map[string]tls.Certificate{"Certificate": testcert.Certificate(t), "WriteFiles": fromFiles()} {
		t.Run(name, func(t *testing.T) {
			leaf, err := x509.ParseCertificate(cert.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(leaf)
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					_, err = io.WriteString(c, "ok")
					c.Close()
				}
				done <- err
			}()
			c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
			if err != nil {
				t.Fatalf("a client that trusts the certificate: %v", err)
			}
			got, _ := io.ReadAll(c)
			c.Close()
			if err := <-done; err != nil || string(got) != "ok" {
				t.Fatalf("server %v, read %q", err, got)
			}
			if err := leaf.VerifyHostname("localhost"); err == nil {
				t.Error("the certificate is valid for localhost, want 127.0.0.1 only")
			}
		})
	}
}
