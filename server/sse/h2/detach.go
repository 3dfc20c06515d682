package h2

import (
	"net"
	"time"
)

// Detacher is implemented by a ResponseWriter whose response can outlive
// its handler, as a hijacked HTTP/1.1 connection can: this package's.
// An sse.Broker detaches every event stream served through one, so that
// an idle stream holds no goroutine; it finds the Detacher under
// middleware that wraps the ResponseWriter and has an Unwrap method, as
// http.ResponseController does.
type Detacher interface {
	// Detach sends the response head, status 200 and the header set on
	// the ResponseWriter, and returns the response's body, which stays
	// open after the handler returns until its Close. It fails, having
	// sent nothing, once the response has started.
	Detach() (DetachedStream, error)
}

// DetachedStream is the body of a detached response (see [Detacher]).
// Its owner uses it from one goroutine at a time, but for
// SetWriteDeadline, which may come from another while a write waits.
type DetachedStream interface {
	// WriteBuffers writes bufs, waiting for room (the client's flow
	// control, a full socket) until the write deadline. bufs is consumed.
	WriteBuffers(bufs net.Buffers) error
	// TryWriteBuffers writes what it can without waiting and returns
	// the rest, as a slice of bufs.
	TryWriteBuffers(bufs net.Buffers) (net.Buffers, error)
	// SetWriteDeadline bounds the write that waits and later ones;
	// zero means none.
	SetWriteDeadline(t time.Time) error
	// OnClose has f called once, on a goroutine of its own, when the
	// client ends the stream or its connection ends, unless Close came
	// first; at once if that has happened already.
	OnClose(f func())
	// Close ends the response without waiting.
	Close() error
}
