package sse

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Readers that stopped reading: a client that takes no byte while bytes
// wait for it is found by a failed write only once the kernel's send
// buffer is full, hours on a quiet stream. So on Linux the heartbeat
// goroutine (and a Stream, at its writes) looks at the socket's send
// queue with TCP_INFO: a stream whose queue stayed non-empty with no
// byte acknowledged for WriteTimeout ends with ErrNotReading.
// docs/design.md, "Readers that stop reading", has the costs and the
// streams it covers (not HTTP/2, not outside Linux).

// ErrNotReading is the reason of a stream whose client took no byte of it
// for Options.WriteTimeout while bytes waited for it, and which was
// therefore ended (see BrokerStats.Evicted). It wraps ErrEvicted.
var ErrNotReading = fmt.Errorf("%w: it took no byte of its stream for the write timeout (Options.WriteTimeout)", ErrEvicted)

// readProgress follows the send queue of one socket across looks, in 16
// bytes (an idle stream's client struct stays in its size class).
type readProgress struct {
	acked uint64 // the bytes the peer had acknowledged at the last look
	// since is the first of the looks, up to the last, that all saw
	// bytes queued and acknowledged nothing new (Unix nanoseconds); 0:
	// the last look saw an empty queue.
	since int64
}

// observe records a look at now: queued says bytes wait in the send
// queue, acked is how many the peer has acknowledged in all. It reports
// whether the queue has been non-empty without a byte acknowledged for
// limit or longer.
func (s *readProgress) observe(now int64, queued bool, acked uint64, limit time.Duration) bool {
	moved := acked != s.acked
	s.acked = acked
	switch {
	case !queued:
		s.since = 0
	case s.since == 0 || moved:
		s.since = now // bytes are queued now: count from here
	default:
		return now-s.since >= int64(limit)
	}
	return false
}

// queued reports whether the last look saw bytes queued.
func (s *readProgress) queued() bool { return s.since != 0 }

// connKey keys a request's connection in its context (ConnContext).
type connKey struct{}

// ConnContext is for http.Server.ConnContext: it keeps each connection
// in the contexts of its requests, so that the broker's streams on the
// ordinary path and [Stream]s can look at their sockets to find clients
// that stopped reading (see [ErrNotReading]). Hijacked streams need it not.
//
//	srv := &http.Server{Handler: b, ConnContext: sse.ConnContext}
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// requestSocket returns the socket of r's connection if it is HTTP/1.x
// and the server keeps its connections with ConnContext; nil otherwise.
func requestSocket(r *http.Request) syscall.RawConn {
	if r.ProtoMajor != 1 {
		return nil // HTTP/2: the socket is shared by many streams
	}
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if c == nil {
		return nil
	}
	return rawConnOf(socketConn(c))
}

// socketConn looks through the wrappers of conn (a tls.Conn, a listener's
// connection cap) that expose what they wrap with NetConn, down to the
// connection that has a file descriptor, or the innermost one.
func socketConn(conn net.Conn) net.Conn {
	for {
		if _, ok := conn.(syscall.Conn); ok {
			return conn
		}
		u, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			return conn
		}
		conn = u.NetConn()
	}
}

// rawConnOf returns the descriptor's RawConn of c, or nil if it has none.
func rawConnOf(c net.Conn) syscall.RawConn {
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			return raw
		}
	}
	return nil
}

// lookAt looks at the sockets of clients, which wrote since the last
// tick or had bytes queued then, and ends those stopped for
// WriteTimeout. It is called by the heartbeat goroutine, the only one
// that touches client.progress, without b.mu held: the syscalls do not
// hold up fan-out or connects. It returns clients, emptied.
func (b *Broker) lookAt(clients []*client, now time.Time, p *sockProbe) []*client {
	limit := b.opts.WriteTimeout
	stopped := clients[:0]
	for _, c := range clients {
		queued, acked, ok := p.look(c.t.socket())
		if ok && c.progress.observe(now.UnixNano(), queued, acked, limit) {
			stopped = append(stopped, c)
		}
	}
	if len(stopped) > 0 {
		b.mu.RLock() // end's callers hold it, and a client still in b.clients is live
		for _, c := range stopped {
			if _, live := b.clients[c]; live && c.end(ErrNotReading, 0) {
				b.stats.evicted.Add(1)
			}
		}
		b.mu.RUnlock()
	}
	clear(clients[:cap(clients)])
	return clients[:0]
}
