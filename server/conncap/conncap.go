// Package conncap caps the connections a listener keeps open at once,
// so that a server never runs out of file descriptors. An accept that
// fails with EMFILE stalls the whole accept loop, health checks
// included, and the open connections can no longer open files or dial
// anything; a connection over the cap is instead accepted and closed at
// once, so its client sees it reset and retries later, and everyone
// else is served.
//
// The cap should sit below the process's limit on open files, with
// headroom for the files and connections the process opens itself:
//
//	ln, err := net.Listen("tcp", ":8080")
//	...
//	if n := conncap.ForFDLimit(conncap.FDLimit()); n > 0 {
//		ln = conncap.New(ln, n, func() { refused.Add(1) })
//	}
//	http.Serve(ln, handler)
//
// The connections it returns unwrap to the accepted ones through a
// NetConn method, as crypto/tls's do, so that code that needs the
// socket (for its file descriptor) still reaches it; code that takes the
// socket over and closes it itself calls their Detach method, and the
// release it returns once the socket has closed.
package conncap

import (
	"net"
	"sync/atomic"
)

// Listener accepts connections from the listener it wraps, at most its
// cap of them open at once.
type Listener struct {
	net.Listener
	max     int64
	refused func() // may be nil
	open    atomic.Int64
}

// New caps ln at max connections open at once; max <= 0 sets no cap
// (the connections are still counted, see Open). refused, when not
// nil, is called for each connection closed over the cap, from the
// goroutine calling Accept.
func New(ln net.Listener, max int, refused func()) *Listener {
	return &Listener{Listener: ln, max: int64(max), refused: refused}
}

// Accept returns the next connection within the cap, closing those over
// it. A connection frees its place when it is first closed.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max && l.max > 0 {
			l.open.Add(-1)
			if l.refused != nil {
				l.refused()
			}
			c.Close()
			continue
		}
		return &conn{Conn: c, l: l}, nil
	}
}

// Open returns how many connections Accept returned that are not
// closed yet.
func (l *Listener) Open() int { return int(l.open.Load()) }

// conn frees its place once, on the first Close.
type conn struct {
	net.Conn
	l      *Listener
	closed atomic.Bool
}

// NetConn returns the accepted connection.
func (c *conn) NetConn() net.Conn { return c.Conn }

// Detach hands c's place over to a caller that has taken c's socket
// over and closes it itself (a hijacked event stream that keeps its file
// descriptor alone, and not c): c's Close no longer frees the place, and
// release does, once the socket has closed. It returns nil if c was
// closed already.
func (c *conn) Detach() (release func()) {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	l := c.l
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			l.open.Add(-1)
		}
	}
}

func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.open.Add(-1)
	}
	return c.Conn.Close()
}

// ForFDLimit returns a cap for a process limited to fdLimit open files:
// the limit less a headroom for the rest of the process (files,
// outgoing connections, logs) of at least 64, or a tenth of the limit;
// at least 1. It returns 0 (no cap) when fdLimit is unknown (0 or
// less).
func ForFDLimit(fdLimit int) int {
	if fdLimit <= 0 {
		return 0
	}
	return max(1, fdLimit-max(64, fdLimit/10))
}
