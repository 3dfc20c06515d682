package sse

import (
	"crypto/tls"
	"net"
	"sync"
	"syscall"
	"time"
)

// HTTP/1.1 streams over TLS are hijacked like plain ones. A tls.Conn
// cannot be written without blocking (a timed-out write corrupts it), so
// the socket under the TLS layer does the non-blocking part: TLSListener
// wraps each accepted connection in a tlsSock, which writes each record
// with one non-blocking write(2) and keeps the ciphertext the socket did
// not take; the stream's writes are then pending, and a goroutine of its
// own finishes them. docs/design.md, "Streams over TLS", tells why and
// what it costs.

// TLSListener wraps the TCP listener that a TLS server serves (the
// listener given to http.Server.ServeTLS, or to tls.NewListener), so that
// HTTP/1.1 event streams over TLS are written by the broker's writer pool
// without blocking. Connections that are not TCP pass through unchanged;
// HTTP/2 and every other request are served as before.
//
//	ln, _ := net.Listen("tcp", addr)
//	srv.ServeTLS(sse.TLSListener(ln), certFile, keyFile)
//
// (The ssewasm server goes further: its h2.Listener, above this one, does
// the handshakes on short-lived goroutines, so that the goroutine that
// serves a connection does not keep the stack a handshake grew, and
// serves HTTP/2 with package h2.)
func TLSListener(ln net.Listener) net.Listener { return tlsListener{ln} }

type tlsListener struct{ net.Listener }

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return &tlsSock{TCPConn: tc}, nil
	}
	return c, err
}

// tlsSock is an accepted TCP connection under a TLS connection. Its
// fields are used by the stream's owner only (the handler, then one pool
// writer or the stream's slow writer at a time).
type tlsSock struct {
	*net.TCPConn
	raw     syscall.RawConn // set when the stream is hijacked
	w       *rawWriter      // set while a pool writer writes: Write does not block
	closing bool            // the stream ends: Write tries once and drops the rest
	rest    []byte          // ciphertext the socket did not take
}

// Write writes p, blocking, unless a pool writer writes (s.w set) or the
// stream ends: then it writes what the socket takes now and keeps the
// rest for flush (or, closing, drops it), and reports p written.
func (s *tlsSock) Write(p []byte) (int, error) {
	if s.w == nil && !s.closing || s.raw == nil {
		return s.TCPConn.Write(p)
	}
	if len(s.rest) > 0 { // the socket is full: keep the order
		if !s.closing {
			s.rest = append(s.rest, p...)
		}
		return len(p), nil
	}
	w := s.w
	if w == nil {
		w = &rawWriter{} // closing outside the pool: rare
	}
	rest, err := w.writeOne(s.raw, p)
	if err != nil {
		return 0, err
	}
	if len(rest) > 0 && !s.closing {
		s.rest = append(s.rest, rest...) // a copy: the TLS layer reuses its buffer
	}
	return len(p), nil
}

// pending reports whether ciphertext is waiting for flush.
func (s *tlsSock) pending() bool { return s != nil && len(s.rest) > 0 }

// flush writes the kept ciphertext, blocking under the deadline already
// set, and drops it.
func (s *tlsSock) flush() error {
	_, err := s.TCPConn.Write(s.rest)
	s.rest = nil
	return err
}

// tlsChunk is the most plaintext one tls.Conn.Write gets: one full record.
const tlsChunk = 16 << 10

// fill copies the head of bufs into chunk, up to tlsChunk bytes, and
// returns the chunk and what is left of bufs (whose first buffer it may
// reslice; the frames are not modified).
func fill(chunk []byte, bufs net.Buffers) ([]byte, net.Buffers) {
	for len(bufs) > 0 && len(chunk) < tlsChunk {
		n := min(len(bufs[0]), tlsChunk-len(chunk))
		chunk = append(chunk, bufs[0][:n]...)
		if bufs[0] = bufs[0][n:]; len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
	}
	return chunk, bufs
}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, tlsChunk); return &b }}

// hijackedTLS is the transport of a hijacked HTTP/1.1 connection over
// TLS.
type hijackedTLS struct {
	tls  *tls.Conn       // the hijacked connection: writes and Close go through it
	sock *tlsSock        // the socket under tls if TLSListener made it: non-blocking writes; nil otherwise
	raw  syscall.RawConn // the socket's, for the watcher
}

func (t *hijackedTLS) setWriteDeadline(d time.Time) error {
	t.tls.SetWriteDeadline(d) //nolint:errcheck // a closed conn fails the write anyway
	return nil
}

// write writes bufs through the TLS connection, blocking under the
// deadline already set: first the ciphertext a pool write left, then
// the frames.
func (t *hijackedTLS) write(bufs net.Buffers) error {
	if t.sock.pending() {
		if err := t.sock.flush(); err != nil {
			return err
		}
	}
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	for len(bufs) > 0 {
		var chunk []byte
		chunk, bufs = fill((*bp)[:0], bufs)
		if _, err := t.tls.Write(chunk); err != nil {
			return err
		}
	}
	return nil
}

// tryWrite writes bufs through the TLS connection from a pool writer,
// without blocking, and returns what the slow writer must write; it is
// not done while ciphertext waits in the tlsSock (pending). Without a
// tlsSock nothing is written here.
func (t *hijackedTLS) tryWrite(w *rawWriter, bufs net.Buffers) (net.Buffers, bool, error) {
	if t.sock == nil {
		return bufs, false, nil
	}
	if cap(w.chunk) == 0 {
		w.chunk = make([]byte, 0, tlsChunk)
	}
	t.sock.w = w
	defer func() { t.sock.w = nil }()
	for len(bufs) > 0 && !t.sock.pending() {
		var chunk []byte
		chunk, bufs = fill(w.chunk[:0], bufs)
		w.chunk = chunk[:0]
		if _, err := t.tls.Write(chunk); err != nil {
			return nil, false, err
		}
	}
	return bufs, len(bufs) == 0 && !t.sock.pending(), nil
}

func (t *hijackedTLS) socket() syscall.RawConn { return t.raw }

// close closes the TLS connection without blocking: the close_notify
// alert goes out if the socket takes it now.
func (t *hijackedTLS) close() {
	if t.sock != nil {
		t.sock.closing = true
	} else {
		t.tls.NetConn().Close() // no tlsSock: skip the alert rather than wait for it
	}
	t.tls.Close()
}
