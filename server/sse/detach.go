package sse

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Detacher is implemented by a ResponseWriter whose response can outlive
// its handler, as a hijacked HTTP/1.1 connection can. The HTTP/2 server
// of package [github.com/ssewasm/ssewasm/server/sse/h2] implements it.
// The broker detaches every event stream served through one, so that an
// idle HTTP/2 stream holds no goroutine: its writer pool writes the
// stream's events, as it does for hijacked connections (see hijack.go).
// The broker finds a Detacher under middleware that wraps the
// ResponseWriter and has an Unwrap method, as http.ResponseController
// does.
type Detacher interface {
	// Detach sends the response head, status 200 and the header set on
	// the ResponseWriter, and returns the response's body, which stays
	// open after the handler returns until its Close. It fails, having
	// sent nothing, once the response has started.
	Detach() (DetachedStream, error)
}

// DetachedStream is the body of a detached response (see [Detacher]).
// The broker uses it from one goroutine at a time, but for
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

// detacher returns the Detacher under w, unwrapping middleware, or nil.
func detacher(w http.ResponseWriter) Detacher {
	for {
		switch t := w.(type) {
		case Detacher:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// detach detaches r's response if w can (see Detacher) and the broker
// does not keep to the ordinary path: the head goes out with the stream
// headers. nil means nothing was written.
func (b *Broker) detach(w http.ResponseWriter) DetachedStream {
	if b.ordinary {
		return nil
	}
	d := detacher(w)
	if d == nil {
		return nil
	}
	setStreamHeaders(w.Header())
	ds, err := d.Detach()
	if err != nil {
		return nil
	}
	return ds
}

// serveDetached opens the stream of a registered client on its detached
// response (see open) and hands it to the writers, which end it; or it
// ends the stream if it could not open. As serveHijacked, without a
// socket of its own: the stream's end comes from OnClose, its writes
// from the HTTP/2 connection's window.
func (b *Broker) serveDetached(c *client, d DetachedStream) {
	b.mu.Lock()
	c.det = d
	c.ctx, c.stopOpen = context.WithCancel(c.ctx)
	c.w, c.rc = nil, nil
	b.mu.Unlock()
	b.startWriters(false)
	d.OnClose(func() { c.end(errClientGone, 0) })
	if err := b.open(c, nil); err != nil {
		b.finish(c, err)
		return
	}
	c.stopOpen()
	c.ctx = nil
	c.sched.Store(true) // see serveHijacked
	c.hijacked.Store(true)
	c.reschedule()
}

