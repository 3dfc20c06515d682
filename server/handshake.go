package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// TLS handshakes in goroutines of their own (docs/design.md, "Streams
// over TLS").
//
// http.Server.ServeTLS handshakes in the goroutine that then serves the
// connection, and a TLS 1.3 handshake (a post-quantum key share, a
// certificate signature) grows that goroutine's stack to 16–32 KB. The
// runtime only shrinks a stack by half at a garbage collection, and an
// idle server collects once in two minutes, so an HTTP/2 connection,
// whose serving goroutine lives as long as the connection, kept that
// stack for minutes. handshakeListener does the handshake in a
// short-lived goroutine instead, which exits (and frees its stack) once
// the connection is handed to Accept: http.Server then finds the
// handshake done (Handshake returns at once), reads the negotiated ALPN
// protocol and serves HTTP/2 or HTTP/1.1 on a goroutine with a fresh
// stack.
//
// Accept never waits for a handshake: one goroutine accepts, and each
// handshake runs in its own goroutine, at most maxHandshakes at once and
// each under handshakeTimeout, so that clients that open connections and
// never finish a handshake (a slow-loris) hold a bounded number of
// goroutines and descriptors for a bounded time. A connection over the
// bound is closed at once; both refusals are counted in /metrics
// (ssewasm_refused_total{reason="tls_busy"|"tls_timeout"}).

const (
	// maxHandshakes bounds the handshakes in progress: a handshake takes
	// well under 10 ms of CPU, so 1,024 at once is a queue of seconds on
	// a small machine, well above what honest clients need, and about
	// 50 MB at most of stacks and handshake state.
	maxHandshakes = 1024
	// handshakeTimeout bounds one handshake, the time to read the
	// ClientHello included (as http.Server's ReadHeaderTimeout bounds
	// the request's header).
	handshakeTimeout = 10 * time.Second
)

// Refusal reasons of handshakeListener, for /metrics.
const (
	refusedTLSBusy    = "tls_busy"    // over maxHandshakes in progress: closed at once
	refusedTLSTimeout = "tls_timeout" // a handshake not done within handshakeTimeout: closed
)

// handshakeListener accepts TCP connections from its Listener, does the
// TLS handshake of each in a goroutine of its own, and returns from
// Accept the *tls.Conn of those whose handshake succeeded.
type handshakeListener struct {
	net.Listener // the TCP connections, as accepted (under the cap)
	config       *tls.Config
	timeout      time.Duration
	ref          *refusals
	log          *slog.Logger
	// h2, if set, takes the connections that chose HTTP/2 instead of
	// Accept (h2.Server.Start).
	h2 func(*tls.Conn)

	slots chan struct{} // one per handshake in progress: buffered to the bound
	ready chan net.Conn // handshaken connections for Accept: unbuffered, the handshake goroutine waits for Accept
	errs  chan error    // accept errors for Accept: unbuffered, the accepting goroutine waits for Accept

	ctx    context.Context // cancelled by Close: ends the handshakes in progress
	cancel context.CancelFunc
	once   sync.Once
	wg     sync.WaitGroup // the accepting goroutine and the handshakes; Close waits for them
}

// newHandshakeListener starts accepting from ln; the accepting goroutine
// and every handshake end when Close is called (http.Server.Serve closes
// its listener when it returns).
func newHandshakeListener(ln net.Listener, config *tls.Config, max int, timeout time.Duration, ref *refusals, log *slog.Logger) *handshakeListener {
	l := &handshakeListener{
		Listener: ln, config: config, timeout: timeout, ref: ref, log: log,
		slots: make(chan struct{}, max),
		ready: make(chan net.Conn),
		errs:  make(chan error),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Go(l.acceptLoop)
	return l
}

// Accept returns the next connection whose handshake is done.
func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops accepting, ends the handshakes in progress and waits for
// their goroutines.
func (l *handshakeListener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.Listener.Close()
		l.wg.Wait()
	})
	return err
}

func (l *handshakeListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err: // http.Server backs off on a temporary error before its next Accept
			case <-l.ctx.Done():
				return
			}
			if isTemporary(err) {
				continue
			}
			return
		}
		select {
		case l.slots <- struct{}{}:
			l.wg.Go(func() { l.handshake(c) })
		default:
			l.ref.add(refusedTLSBusy)
			c.Close()
		}
	}
}

// isTemporary reports an accept error worth retrying (EMFILE, say), as
// http.Server.Serve decides it.
func isTemporary(err error) bool {
	te, ok := err.(interface{ Temporary() bool })
	return ok && te.Temporary()
}

// handshake does c's handshake and hands the TLS connection to Accept.
func (l *handshakeListener) handshake(c net.Conn) {
	defer func() { <-l.slots }()
	tc := tls.Server(c, l.config)
	c.SetDeadline(time.Now().Add(l.timeout)) //nolint:errcheck // a closed conn fails the handshake
	if err := tc.HandshakeContext(l.ctx); err != nil {
		l.failed(c, err)
		return
	}
	c.SetDeadline(time.Time{}) //nolint:errcheck // as above
	if l.h2 != nil && tc.ConnectionState().NegotiatedProtocol == "h2" {
		l.h2(tc) // served by package h2, without a goroutine of http.Server's
		return
	}
	select {
	case l.ready <- tc:
	case <-l.ctx.Done():
		c.Close()
	}
}

// failed closes c after a failed handshake. A client that spoke plain
// HTTP gets a 400 that says so, as from http.Server.
func (l *handshakeListener) failed(c net.Conn, err error) {
	defer c.Close()
	var ne net.Error
	var re tls.RecordHeaderError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		l.ref.add(refusedTLSTimeout)
	case errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader):
		c.SetWriteDeadline(time.Now().Add(time.Second))                                                        //nolint:errcheck // best effort
		io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n") //nolint:errcheck // best effort
	}
	l.log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
}

// looksLikeHTTP reports whether the first bytes of a connection are a
// plain HTTP request line (http.Server's test).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
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
