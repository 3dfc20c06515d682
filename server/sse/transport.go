package sse

import (
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// transport is where a stream's bytes go. A client has one at a time: a
// responseWriter (the ordinary path) from the start, then, if the
// stream is taken over before it opens, a hijacked connection
// (hijackedConn, or hijackedTLS over TLS) or a detached HTTP/2 stream
// (detachedStream). The switch is made with b.mu held.
type transport interface {
	// setWriteDeadline bounds the write in progress or the next one;
	// zero clears it. Any goroutine may call it: end does, while a
	// write waits.
	setWriteDeadline(t time.Time) error
	// write writes bufs, and flushes, waiting under the deadline in
	// force. bufs is consumed.
	write(bufs net.Buffers) error
	// tryWrite writes what the connection takes now, without waiting,
	// for a writer of the pool (w is its own), and returns the rest;
	// done reports that nothing waits, neither the rest nor bytes of an
	// earlier write (TLS ciphertext): otherwise write must finish.
	tryWrite(w *rawWriter, bufs net.Buffers) (rest net.Buffers, done bool, err error)
	// socket returns the stream's own socket, looked at for readers
	// that stopped (stoppedreader.go) and, taken over, watched for hang-ups; nil
	// if it has none it can look at (HTTP/2 shares one).
	socket() syscall.RawConn
	// close ends the response, without waiting.
	close()
}

// responseWriter is the ordinary path's transport: the handler's
// ResponseWriter, written by the goroutine that serves the request.
type responseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// raw is the socket of an HTTP/1.x request's connection when the
	// server keeps it with ConnContext (stoppedreader.go). Set with b.mu held.
	raw syscall.RawConn
	// noDeadline: w does not support write deadlines (a test double or
	// an odd middleware), and is not asked again: the error allocates.
	noDeadline atomic.Bool
}

func newResponseWriter(w http.ResponseWriter) *responseWriter {
	return &responseWriter{w: w, rc: http.NewResponseController(w)}
}

func (t *responseWriter) setWriteDeadline(d time.Time) error {
	if t.noDeadline.Load() {
		return nil // the write times out on its own, or never
	}
	err := t.rc.SetWriteDeadline(d)
	if errors.Is(err, http.ErrNotSupported) {
		t.noDeadline.Store(true)
		return nil
	}
	return err
}

// write writes bufs through the ResponseWriter and flushes: an empty
// bufs flushes the response head.
func (t *responseWriter) write(bufs net.Buffers) error {
	for _, p := range bufs {
		if _, err := t.w.Write(p); err != nil {
			return err
		}
	}
	return t.rc.Flush()
}

// tryWrite writes nothing: the ordinary path has no pool writer.
func (t *responseWriter) tryWrite(_ *rawWriter, bufs net.Buffers) (net.Buffers, bool, error) {
	return bufs, false, nil
}

func (t *responseWriter) socket() syscall.RawConn { return t.raw }

// close does nothing: the response ends when its handler returns.
func (t *responseWriter) close() {}
