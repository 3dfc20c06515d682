package h2

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ssewasm/ssewasm/server/internal/epoll"
)

// Server serves HTTP/2 connections. The zero value is ready to use; its
// fields must not change once it serves.
type Server struct {
	// MaxConcurrentStreams is the most streams a client may open on one
	// connection at once (SETTINGS_MAX_CONCURRENT_STREAMS). A stream
	// counts until its handler has returned, even once reset. 0 means 250.
	MaxConcurrentStreams uint32
	// WriteTimeout bounds each write to the socket: a client whose
	// connection takes no bytes for that long loses the connection.
	// 0 means 10 s.
	WriteTimeout time.Duration
	// IdleTimeout closes a connection that has had no open stream for
	// that long. 0 means the http.Server's IdleTimeout; if that is 0 too,
	// idle connections stay open.
	IdleTimeout time.Duration

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
	idle     chan struct{} // closed when conns becomes empty (Wait)

	pmu     sync.Mutex
	poll    *epoll.Set[*conn] // the parked read loops' (park); nil while none is parked
	pollIDs uint64            // the last key given to a connection in poll
}

const (
	defaultMaxStreams   = 250
	defaultWriteTimeout = 10 * time.Second
	// prefaceTimeout bounds the client preface.
	prefaceTimeout = 10 * time.Second
)

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams > 0 {
		return s.MaxConcurrentStreams
	}
	return defaultMaxStreams
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return s.WriteTimeout
	}
	return defaultWriteTimeout
}

// ConfigureServer makes hs serve the connections that negotiate "h2"
// with s (hs.TLSNextProto), puts "h2" first in hs.TLSConfig's ALPN
// protocols (making the config if there is none), and has
// hs.Shutdown end s's connections gracefully (GOAWAY, then each closes
// once its streams have ended).
func (s *Server) ConfigureServer(hs *http.Server) {
	if hs.TLSConfig == nil {
		hs.TLSConfig = new(tls.Config)
	}
	if !slices.Contains(hs.TLSConfig.NextProtos, "h2") {
		hs.TLSConfig.NextProtos = append([]string{"h2"}, hs.TLSConfig.NextProtos...)
	}
	if !slices.Contains(hs.TLSConfig.NextProtos, "http/1.1") {
		hs.TLSConfig.NextProtos = append(hs.TLSConfig.NextProtos, "http/1.1")
	}
	if hs.TLSNextProto == nil {
		hs.TLSNextProto = make(map[string]func(*http.Server, *tls.Conn, http.Handler))
	}
	hs.TLSNextProto["h2"] = func(hs *http.Server, c *tls.Conn, h http.Handler) { s.ServeConn(c, hs, h) }
	hs.RegisterOnShutdown(s.Shutdown)
}

// ServeConn serves one HTTP/2 connection with h, under hs's settings
// (ReadTimeout bounds each request body, MaxHeaderBytes the header list,
// ReadHeaderTimeout each header block, IdleTimeout, ErrorLog,
// ConnContext), and returns when the connection
// has closed. nc is a *tls.Conn whose handshake chose "h2", or any
// connection that speaks HTTP/2 from its first byte. hs may be nil.
func (s *Server) ServeConn(nc net.Conn, hs *http.Server, h http.Handler) {
	// The preface, the first frames and every read loop run on other
	// goroutines: this one only waits, in shallow frames, so that the
	// stack it keeps for the connection's life stays small. The read
	// loop does not park (see park): hs may close nc (httptest and
	// http.Server.Close do), which only a read that waits notices.
	if c := s.start(nc, hs, h, false); c != nil {
		<-c.done
	}
}

// Start is ServeConn without the wait: it returns at once, and on Linux
// an idle connection then holds no goroutine at all. hs does not know of
// the connection: its Shutdown neither ends nor waits for it; call s's
// Shutdown, then Wait. Only s may close nc (Shutdown, Close, or the connection's own end): a
// parked connection closed elsewhere would not notice.
func (s *Server) Start(nc net.Conn, hs *http.Server, h http.Handler) { s.start(nc, hs, h, true) }

func (s *Server) start(nc net.Conn, hs *http.Server, h http.Handler, park bool) *conn {
	if hs == nil {
		hs = new(http.Server)
	}
	ctx := context.Background()
	if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
		ctx = bc.BaseContext() // net/http's, for TLSNextProto: its values and ConnContext's
	} else {
		ctx = context.WithValue(ctx, http.ServerContextKey, hs)
		ctx = context.WithValue(ctx, http.LocalAddrContextKey, nc.LocalAddr())
		if hs.ConnContext != nil {
			ctx = hs.ConnContext(ctx, nc)
		}
	}
	c := newConn(s, hs, nc, h, ctx, park)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		nc.Close()
		return nil
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.serve()
	return c
}

// forget drops a closed connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

// Wait waits until every connection has closed (after Shutdown, they
// close as their streams end) or ctx is done.
func (s *Server) Wait(ctx context.Context) error {
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes every connection at once.
func (s *Server) Close() {
	for _, c := range s.stop() {
		c.close(errConnClosed)
	}
}

// Shutdown tells every connection to go away (GOAWAY): each takes no new
// stream and closes once its streams have ended. Connections that arrive
// later are closed at once. It does not wait.
func (s *Server) Shutdown() {
	for _, c := range s.stop() {
		c.drain()
	}
}

// stop takes no more connections and returns those open.
func (s *Server) stop() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}
