package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// TLS handshakes on goroutines of their own.
//
// http.Server.ServeTLS handshakes in the goroutine that then serves the
// connection, and a TLS 1.3 handshake (a post-quantum key share, a
// certificate signature) grows that goroutine's stack to 16–32 KB. The
// runtime only shrinks a stack by half at a garbage collection, and an
// idle server collects once in two minutes, so a connection whose
// serving goroutine lives as long as the connection kept that stack for
// minutes. A Listener does the handshake in a short-lived goroutine
// instead, which exits (and frees its stack) once the connection is
// handed on: to Server.Start for HTTP/2, where an idle connection then
// holds no goroutine at all, or to Accept, where http.Server finds the
// handshake done (Handshake returns at once), reads the negotiated ALPN
// protocol and serves it on a goroutine with a fresh stack.
//
// Accept never waits for a handshake: one goroutine accepts, and each
// handshake runs in its own goroutine, at most MaxHandshakes at once and
// each under HandshakeTimeout, so that clients that open connections and
// never finish a handshake (a slow-loris) hold a bounded number of
// goroutines and descriptors for a bounded time. A connection over the
// bound is closed at once; both refusals are reported to OnRefuse.

const (
	// defaultMaxHandshakes bounds the handshakes in progress: a handshake
	// takes well under 10 ms of CPU, so 1,024 at once is a queue of
	// seconds on a small machine, well above what honest clients need,
	// and about 50 MB at most of stacks and handshake state.
	defaultMaxHandshakes = 1024
	// defaultHandshakeTimeout bounds one handshake, the time to read the
	// ClientHello included (as http.Server's ReadHeaderTimeout bounds
	// the request's header): a client that connects and says nothing
	// holds its slot no longer.
	defaultHandshakeTimeout = 10 * time.Second
)

// Refusal is why a [Listener] closed a connection without serving it.
type Refusal int

const (
	// RefusedBusy: MaxHandshakes were in progress; the connection was
	// closed at once, before its handshake.
	RefusedBusy Refusal = iota + 1
	// RefusedTimeout: the handshake did not finish within
	// HandshakeTimeout.
	RefusedTimeout
)

func (r Refusal) String() string {
	switch r {
	case RefusedBusy:
		return "busy"
	case RefusedTimeout:
		return "timeout"
	}
	return "unknown"
}

// ListenerConfig configures a [Listener]. TLSConfig is required; every
// other field's zero value means the default it names.
type ListenerConfig struct {
	// TLSConfig holds the certificates and the ALPN protocols offered
	// (NextProtos): "h2" first to serve HTTP/2, then "http/1.1".
	TLSConfig *tls.Config
	// Server, if not nil, serves the connections whose handshake chose
	// "h2", with [Server.Start] under HTTPServer's settings and handler:
	// Accept never returns them, and on Linux an idle one holds no
	// goroutine. Nil: Accept returns them too, for the http.Server to
	// serve HTTP/2 itself.
	Server *Server
	// HTTPServer is the http.Server whose settings (ReadTimeout,
	// ReadHeaderTimeout, MaxHeaderBytes, IdleTimeout, ErrorLog,
	// ConnContext) and Handler
	// (nil: http.DefaultServeMux) Server's connections get: the one that
	// serves the Listener. Nil: the zero http.Server's.
	HTTPServer *http.Server
	// MaxHandshakes bounds the handshakes in progress; a connection
	// accepted over it is closed at once (RefusedBusy). 0 means 1,024.
	MaxHandshakes int
	// HandshakeTimeout bounds each handshake, from the accept
	// (RefusedTimeout). 0 means 10 s.
	HandshakeTimeout time.Duration
	// OnRefuse, if set, is called once for each connection closed for a
	// [Refusal], on the goroutine that refused it: it must not block.
	OnRefuse func(Refusal)
	// Logger, if set, gets a Debug line for each failed handshake
	// (scanners and impatient clients make many).
	Logger *slog.Logger
}

// Listener accepts TCP connections from its inner listener, does the
// TLS handshake of each on a goroutine of its own, hands those that
// chose HTTP/2 to its Server, and returns the others (HTTP/1.1) from
// Accept, as *tls.Conn whose handshake is done, for an http.Server to
// serve:
//
//	hs := &http.Server{Handler: mux}
//	srv := new(h2.Server)
//	srv.ConfigureServer(hs) // hs.Shutdown ends srv's connections
//	ln, err := net.Listen("tcp", addr)
//	...
//	l := h2.NewListener(ln, h2.ListenerConfig{
//		TLSConfig: &tls.Config{Certificates: certs, NextProtos: []string{"h2", "http/1.1"}},
//		Server: srv, HTTPServer: hs,
//	})
//	err = hs.Serve(l) // not ServeTLS: the handshakes are done
//
// Then, to stop: hs.Shutdown(ctx), which closes the Listener and sends
// every HTTP/2 connection a GOAWAY; srv.Wait(ctx) for those connections
// to end, which hs.Shutdown does not wait for; srv.Close() for the rest.
type Listener struct {
	inner   net.Listener // the TCP connections, as accepted
	cfg     ListenerConfig
	handler http.Handler // cfg.HTTPServer's, for cfg.Server

	slots chan struct{} // one per handshake in progress: buffered to the bound
	ready chan net.Conn // handshaken connections for Accept: unbuffered, the handshake goroutine waits for Accept
	errs  chan error    // accept errors for Accept: unbuffered, the accepting goroutine waits for Accept

	ctx    context.Context // cancelled by Close: ends the handshakes in progress
	cancel context.CancelFunc
	once   sync.Once
	wg     sync.WaitGroup // the accepting goroutine and the handshakes; Close waits for them
}

// NewListener starts accepting from ln. The accepting goroutine and every
// handshake end when Close is called (http.Server.Serve closes its
// listener when it returns).
func NewListener(ln net.Listener, cfg ListenerConfig) *Listener {
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = defaultMaxHandshakes
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = defaultHandshakeTimeout
	}
	if cfg.HTTPServer == nil {
		cfg.HTTPServer = new(http.Server)
	}
	l := &Listener{
		inner: ln, cfg: cfg,
		handler: cfg.HTTPServer.Handler,
		slots:   make(chan struct{}, cfg.MaxHandshakes),
		ready:   make(chan net.Conn),
		errs:    make(chan error),
	}
	if l.handler == nil {
		l.handler = http.DefaultServeMux
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Go(l.acceptLoop)
	return l
}

// Accept returns the next connection whose handshake is done and that
// the Server does not serve: a *tls.Conn.
func (l *Listener) Accept() (net.Conn, error) {
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
// their goroutines. The connections already handed on stay open.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.inner.Close()
		l.wg.Wait()
	})
	return err
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

func (l *Listener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
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
			l.refuse(RefusedBusy)
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

func (l *Listener) refuse(r Refusal) {
	if f := l.cfg.OnRefuse; f != nil {
		f(r)
	}
}

// handshake does c's handshake and hands the TLS connection on.
func (l *Listener) handshake(c net.Conn) {
	defer func() { <-l.slots }()
	tc := tls.Server(c, l.cfg.TLSConfig)
	c.SetDeadline(time.Now().Add(l.cfg.HandshakeTimeout)) //nolint:errcheck // a closed conn fails the handshake
	if err := tc.HandshakeContext(l.ctx); err != nil {
		l.failed(c, err)
		return
	}
	c.SetDeadline(time.Time{}) //nolint:errcheck // as above
	if l.cfg.Server != nil && tc.ConnectionState().NegotiatedProtocol == "h2" {
		l.cfg.Server.Start(tc, l.cfg.HTTPServer, l.handler) // without a goroutine of http.Server's
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
func (l *Listener) failed(c net.Conn, err error) {
	defer c.Close()
	var ne net.Error
	var re tls.RecordHeaderError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		l.refuse(RefusedTimeout)
	case errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader):
		c.SetWriteDeadline(time.Now().Add(time.Second))                                                        //nolint:errcheck // best effort
		io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n") //nolint:errcheck // best effort
	}
	if log := l.cfg.Logger; log != nil {
		log.Debug("h2: TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
	}
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
