// Package h2test serves a handler with package h2 the way the ssewasm
// server does, for the tests of server/sse and server/h2: on a
// listener of its own, each TLS handshake on a goroutine, then
// h2.Server.Start, whose idle connections park their read loops.
//
//	addr, stop, err := h2test.Serve(srv, tlsConfig, hs, handler, nil)
//	defer stop()
package h2test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ssewasm/ssewasm/server/h2"
)

// Serve serves h with srv over TLS on a new listener on 127.0.0.1 (wrap,
// if not nil, wraps it, under the TLS layer). cfg gives the certificate;
// only "h2" is offered, and a connection that does not choose it is
// closed. It returns the listener's address, and stop, which closes the
// listener, waits for the handshakes in progress and closes srv's
// connections.
func Serve(srv *h2.Server, cfg *tls.Config, hs *http.Server, h http.Handler, wrap func(net.Listener) net.Listener) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				tc := tls.Server(nc, cfg)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := tc.HandshakeContext(ctx); err != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
					tc.Close()
					return
				}
				srv.Start(tc, hs, h)
			})
		}
	})
	return ln.Addr().String(), func() {
		ln.Close()
		wg.Wait()
		srv.Close()
	}, nil
}
