package sse

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
)

// A plain hijacked stream keeps its socket as a bare descriptor when the
// listener's wrapper implements Detacher, whose account is settled once
// the stream's socket has closed, not before; behind a wrapper without
// it, the stream keeps the connection, and closes it through the
// wrapper. Both stream alike.
func TestHijackedSocket(t *testing.T) {
	for _, tt := range []struct {
		name   string
		detach bool
		want   string // the transport
	}{
		{"a wrapper with Detach: the bare descriptor", true, "*sse.sockFD"},
		{"a wrapper without: the net.Conn", false, "*sse.hijackedConn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var released, closed atomic.Int32
			b, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			srv := startServer(hijackMode, b, func(ln net.Listener) net.Listener {
				return wrapListener{ln, tt.detach, &released, &closed}
			})
			t.Cleanup(func() { stopBoth(t, b, srv) })
			c := connect(t, srv, topicsQuery("t"), nil)
			waitFor(t, "the stream", func() bool { return b.Stats().Clients == 1 })
			b.mu.RLock()
			got := ""
			for cl := range b.clients {
				got = fmt.Sprintf("%T", cl.t)
			}
			b.mu.RUnlock()
			if got != tt.want {
				t.Errorf("transport %s, want %s", got, tt.want)
			}
			publish(t, b, "t", "x")
			if e := c.nextEvent(); e.Data != "x" {
				t.Fatalf("got %+v", e)
			}
			if n := released.Load(); n != 0 {
				t.Errorf("released %d times while the stream is open", n)
			}
			c.Close() // noticed by the watcher, on the descriptor too
			waitFor(t, "the stream's end", func() bool { return b.Stats().Clients == 0 })
			if tt.detach {
				waitFor(t, "the release", func() bool { return released.Load() == 1 })
			} else {
				waitFor(t, "the wrapper's Close", func() bool { return closed.Load() >= 1 })
			}
		})
	}
}

// wrapListener wraps each connection as a listener's cap would: in a
// detachConn when detach is set, else in a wrapConn.
type wrapListener struct {
	net.Listener
	detach           bool
	released, closed *atomic.Int32
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	w := wrapConn{Conn: c, closed: l.closed}
	if l.detach {
		return detachConn{w, l.released}, nil
	}
	return w, nil
}

// wrapConn exposes the connection it wraps, and counts its Close calls.
type wrapConn struct {
	net.Conn
	closed *atomic.Int32
}

func (c wrapConn) NetConn() net.Conn { return c.Conn }

func (c wrapConn) Close() error {
	c.closed.Add(1)
	return c.Conn.Close()
}

// detachConn is a wrapConn that hands its account over.
type detachConn struct {
	wrapConn
	released *atomic.Int32
}

func (c detachConn) Detach() func() { return func() { c.released.Add(1) } }
