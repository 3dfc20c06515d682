package sse

import (
	"context"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/ssewasm/ssewasm/server/detach"
)

// Detached streams: a ResponseWriter that implements detach.Detacher
// (package h2's, for HTTP/2) lets the broker detach the stream from its
// handler, as hijacking does for HTTP/1.1 (see hijack.go), so that an
// idle HTTP/2 stream holds no goroutine; the writer pool writes its
// events as DATA frames.

// detacher returns the detach.Detacher under w, unwrapping middleware,
// or nil.
func detacher(w http.ResponseWriter) detach.Detacher {
	for {
		switch t := w.(type) {
		case detach.Detacher:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// detach detaches r's response if w can (see detach.Detacher) and the broker
// does not keep to the ordinary path: the head goes out with the stream
// headers. nil means nothing was written.
func (b *Broker) detach(w http.ResponseWriter) detach.Stream {
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

// serveDetached is serveHijacked for a detached response: no socket of
// its own, so the stream's end comes from OnClose, not the watcher, and
// its writes are DATA frames within the HTTP/2 windows.
func (b *Broker) serveDetached(req context.Context, c *client, d detach.Stream) {
	b.mu.Lock()
	c.t = &detachedStream{d}
	ctx, stop := openContext(req)
	c.stopOpen = stop
	b.mu.Unlock()
	b.startWriters(false)
	d.OnClose(func() { c.end(errClientGone, 0) })
	b.openAndHandOver(ctx, c, nil) // the head went out with Detach
}

// detachedStream is a detached HTTP/2 stream's transport: DATA frames
// within the HTTP/2 windows, on a connection shared with other streams.
type detachedStream struct{ s detach.Stream }

func (t *detachedStream) setWriteDeadline(d time.Time) error {
	t.s.SetWriteDeadline(d) //nolint:errcheck // a closed stream fails the write anyway
	return nil
}

func (t *detachedStream) write(bufs net.Buffers) error { return t.s.WriteBuffers(bufs) }

func (t *detachedStream) tryWrite(_ *rawWriter, bufs net.Buffers) (net.Buffers, bool, error) {
	rest, err := t.s.TryWriteBuffers(bufs)
	return rest, len(rest) == 0, err
}

// socket is nil: the connection's socket is shared by its streams.
func (t *detachedStream) socket() syscall.RawConn { return nil }

func (t *detachedStream) close() {
	t.s.Close() //nolint:errcheck // does not wait; a reset stream has nothing to end
}
