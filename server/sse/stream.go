package sse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"time"
)

// ErrFlushUnsupported is wrapped by the error NewStream returns when the
// ResponseWriter cannot flush, so events would sit in a buffer.
var ErrFlushUnsupported = errors.New("sse: response writer cannot flush")

// Stream writes events to one HTTP response. Each method encodes, writes
// and flushes, and returns the write error, so a handler's send loop ends
// when the client is gone. A Stream starts no goroutines and is not safe
// for concurrent use: one handler goroutine owns it.
type Stream struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	ctx          context.Context
	buf          []byte
	writeTimeout time.Duration

	// The socket, to find a stopped reader (stoppedreader.go): nil unless the
	// server has ConnContext and the request is HTTP/1.x.
	peer     syscall.RawConn
	progress readProgress
	nextLook int64 // Unix nanoseconds
	probe    *sockProbe
}

// NewStream starts an event stream on w. It first checks that w can
// flush, through http.ResponseController (so middleware wrappers with an
// `Unwrap() http.ResponseWriter` method work); if not, it writes nothing
// and returns an error wrapping ErrFlushUnsupported, so the caller can
// still answer with an error status. Otherwise it sets the headers
//
//	Content-Type: text/event-stream; charset=utf-8
//	Cache-Control: no-cache
//	X-Accel-Buffering: no
//
// writes status 200 and flushes, so the client sees the stream open at
// once. If that flush fails, the error is returned.
//
// An http.Server's WriteTimeout cuts long-lived streams: set it to 0 for
// servers that serve streams, and bound each write with
// [Stream.SetWriteTimeout] instead.
func NewStream(w http.ResponseWriter, r *http.Request) (*Stream, error) {
	if err := checkFlush(w); err != nil {
		return nil, err
	}
	setStreamHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	s := &Stream{w: w, rc: http.NewResponseController(w), ctx: r.Context(), peer: requestSocket(r)}
	if err := s.rc.Flush(); err != nil {
		return nil, fmt.Errorf("sse: flushing response headers: %w", err)
	}
	return s, nil
}

// checkFlush returns an error wrapping ErrFlushUnsupported unless w can
// flush (see canFlush).
func checkFlush(w http.ResponseWriter) error {
	if canFlush(w) {
		return nil
	}
	return fmt.Errorf("%w: %T is not an http.Flusher and has no Unwrap() http.ResponseWriter leading to one; if a middleware wraps the ResponseWriter, give it an Unwrap method",
		ErrFlushUnsupported, w)
}

// canFlush follows the same Unwrap chain as http.ResponseController.Flush,
// without flushing: flushing would commit the response headers.
func canFlush(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case interface{ FlushError() error }, http.Flusher:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// Context returns the request's context, which is done when the client
// goes away or the server shuts the connection.
func (s *Stream) Context() context.Context { return s.ctx }

// SetWriteTimeout bounds each later write and flush to d, using
// http.ResponseController.SetWriteDeadline; the deadline is cleared after
// each write, so the stream may stay idle between events for as long as
// the handler likes. This replaces the server's WriteTimeout for this
// response. d <= 0 turns the bound off. Writers that do not support
// deadlines are written to without one.
//
// When the server keeps its connections with [ConnContext], an HTTP/1.x
// stream also looks at its socket at its writes, at most once a second:
// a write returns an error wrapping [ErrNotReading] once the client has
// taken no byte for d while bytes waited for it, even though the
// socket's buffer still takes writes (a reader that stopped reading
// would otherwise be found only once that buffer is full).
func (s *Stream) SetWriteTimeout(d time.Duration) { s.writeTimeout = d }

// Send writes e and flushes it. An invalid e (see [Event.Validate])
// returns the validation error and writes nothing.
func (s *Stream) Send(e Event) error {
	b, err := AppendEvent(s.buf[:0], e)
	if err != nil {
		return err
	}
	return s.write(b)
}

// Comment writes the comment line ": text" and flushes it. Browsers
// ignore comments, so a periodic comment keeps an idle stream open through
// proxies that close silent connections. Text with CR or LF returns an
// error wrapping ErrInvalidComment and writes nothing.
func (s *Stream) Comment(text string) error {
	b, err := AppendComment(s.buf[:0], text)
	if err != nil {
		return err
	}
	return s.write(b)
}

// Retry writes a "retry:" line (see [AppendRetry]), which sets how long
// the browser waits before reconnecting, and flushes it. A negative d
// returns an error wrapping ErrInvalidRetry and writes nothing.
func (s *Stream) Retry(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w %v: must not be negative", ErrInvalidRetry, d)
	}
	return s.write(AppendRetry(s.buf[:0], d))
}

func (s *Stream) write(b []byte) error {
	s.buf = b[:0] // keep the grown buffer for the next write
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("sse: stream closed: %w", context.Cause(s.ctx))
	}
	if s.writeTimeout > 0 {
		if err := s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return fmt.Errorf("sse: setting write deadline: %w", err)
		}
		defer s.rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // best effort; the next write sets it again
	}
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("sse: writing event: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("sse: flushing event: %w", err)
	}
	return s.lookAtPeer()
}

// lookAtPeer looks at the socket's send queue, at most once a second
// (and twice per write timeout), and returns ErrNotReading if the client
// has taken nothing for the write timeout while bytes waited.
func (s *Stream) lookAtPeer() error {
	if s.peer == nil || s.writeTimeout <= 0 {
		return nil
	}
	now := time.Now().UnixNano()
	if now < s.nextLook {
		return nil
	}
	s.nextLook = now + int64(min(time.Second, s.writeTimeout/2))
	if s.probe == nil {
		s.probe = new(sockProbe)
	}
	if queued, acked, ok := s.probe.look(s.peer); ok && s.progress.observe(now, queued, acked, s.writeTimeout) {
		return ErrNotReading
	}
	return nil
}

// setStreamHeaders sets the headers of every event stream, hijacked or not.
func setStreamHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell nginx not to buffer the stream
}
