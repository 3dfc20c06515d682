package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/ssewasm/ssewasm/server/h2"
)

// With -tls-cert the server does its TLS handshakes with an h2.Listener:
// each on a short-lived goroutine of its own, at most 1,024 at once and
// each within 10 s (its defaults); the connections that chose HTTP/2 go
// to our h2.Server (unless -http2-server=net/http), the others to
// http.Server. Its refusals are counted in /metrics
// (ssewasm_refused_total{reason="tls_busy"|"tls_timeout"}).

// Refusal reasons of the h2.Listener, for /metrics.
const (
	refusedTLSBusy    = "tls_busy"    // over its bound of handshakes in progress: closed at once
	refusedTLSTimeout = "tls_timeout" // a handshake not done within its timeout: closed
)

// tlsListener does the handshakes of the connections ln accepts, for srv
// (and s.h2, if set), counting its refusals in s.refused.
func (s *service) tlsListener(ln net.Listener, srv *http.Server, tlsCfg *tls.Config, log *slog.Logger) *h2.Listener {
	return h2.NewListener(ln, h2.ListenerConfig{
		TLSConfig:  tlsCfg,
		Server:     s.h2, // nil with -http2-server=net/http: srv serves HTTP/2 too
		HTTPServer: srv,
		OnRefuse: func(r h2.Refusal) {
			switch r {
			case h2.RefusedBusy:
				s.refused.add(refusedTLSBusy)
			case h2.RefusedTimeout:
				s.refused.add(refusedTLSTimeout)
			}
		},
		Logger: log,
	})
}

// serverTLSConfig loads the certificate and offers the protocols srv
// serves by ALPN: h2 (unless -tls-http2=false), then HTTP/1.1.
func serverTLSConfig(cfg config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("load -tls-cert %s and -tls-key %s: %w", cfg.tlsCert, cfg.tlsKey, err)
	}
	protos := []string{"http/1.1"}
	if cfg.tlsHTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos}, nil
}
