// Package detach is the contract between an HTTP server whose responses
// can outlive their handlers and a handler that keeps its response open
// without keeping its goroutine: an event stream that idles for hours.
//
// A server's ResponseWriter implements [Detacher]; a handler finds it
// (under middleware that has an Unwrap method, as
// http.ResponseController does), detaches, returns, and writes the
// [Stream] from elsewhere until it closes it:
//
//	func serve(w http.ResponseWriter, r *http.Request) {
//		d, ok := w.(detach.Detacher)
//		if !ok {
//			... // serve on this goroutine, as usual
//		}
//		w.Header().Set("Content-Type", "text/event-stream")
//		s, err := d.Detach() // the head goes out; the handler may return
//		if err != nil {
//			return
//		}
//		s.OnClose(func() { ... }) // the client left
//		go feed(s)               // writes s, then closes it
//	}
//
// The server in this module is package h2 (HTTP/2); the handler is
// sse.Broker.
//
// Why a package of its own, holding nothing but two interfaces: Go
// matches a method by its whole signature, and Detach returns a Stream,
// so both sides must name the same Stream type. An interface the handler
// declared for itself would have to name the server's Stream, and so
// import the server (the SSE library would link an HTTP/2 server and its
// dependencies into every program that uses it); the reverse would make
// the server import the library. Here the contract has one definition,
// which both import, with the standard library only, and the compiler
// checks that the server implements it.
package detach

import (
	"net"
	"time"
)

// Detacher is implemented by a ResponseWriter whose response can outlive
// its handler, as a hijacked HTTP/1.1 connection can.
type Detacher interface {
	// Detach sends the response head, status 200 and the header set on
	// the ResponseWriter, and returns the response's body, which stays
	// open after the handler returns until its Close. It fails, having
	// sent nothing, once the response has started.
	Detach() (Stream, error)
}

// Stream is the body of a detached response (see [Detacher]). Its owner
// uses it from one goroutine at a time, but for SetWriteDeadline, which
// may come from another while a write waits.
type Stream interface {
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
