package h2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssewasm/ssewasm/server/detach"
	"golang.org/x/net/http2"
)

// The compiler checks the contract with package sse (see package detach).
var _ detach.Detacher = (*responseWriter)(nil)

var (
	errStreamDone    = errors.New("h2: the response has ended")
	errBodyClosed    = errors.New("h2: read on a closed request body")
	errHandlerDone   = errors.New("h2: write after the handler returned")
	errStarted       = errors.New("h2: Detach after the response started: detach first")
	errNotDetachable = errors.New("h2: Detach is for GET responses")
)

// stream is one request and its response. Its fields are guarded by
// c.mu, but for req (the read loop's until the handler has it).
type stream struct {
	c      *conn
	id     uint32
	req    *http.Request
	ctx    context.Context
	cancel context.CancelCauseFunc

	sendWindow int64
	recvWindow int64
	recvUsed   int64
	declared   int64 // the request's Content-Length; -1: none
	got        int64 // request body bytes received
	body       []byte
	bodyErr    error // io.EOF once the body is whole
	bodyClosed bool

	remoteDone  bool // the request has ended (END_STREAM received)
	localDone   bool // the response has ended (END_STREAM queued)
	reset       bool // RST_STREAM sent or received
	resetByUs   bool // sent
	handlerDone bool
	onClose     func()
	wdeadline   time.Time
	rdeadline   time.Time
}

func (c *conn) newStreamLocked(id uint32, req *http.Request, ended bool) *stream {
	ctx, cancel := context.WithCancelCause(c.ctx)
	s := &stream{
		c: c, id: id, ctx: ctx, cancel: cancel,
		sendWindow: c.peerWindow,
		recvWindow: streamWindow,
		declared:   req.ContentLength,
		remoteDone: ended,
	}
	if ended {
		s.bodyErr = io.EOF
		req.Body = http.NoBody
		req.ContentLength = 0
	} else {
		req.Body = requestBody{s}
	}
	if t := c.hs.ReadTimeout; t > 0 {
		s.rdeadline = time.Now().Add(t)
	}
	s.req = req.WithContext(ctx)
	c.streams[id] = s
	c.open++
	if c.idle != nil {
		c.idle.Stop()
	}
	return s
}

// newRequest makes the http.Request of a HEADERS block, checked as RFC
// 9113 section 8.3 says.
func (c *conn) newRequest(f *http2.MetaHeadersFrame) (*http.Request, error) {
	method, path := f.PseudoValue("method"), f.PseudoValue("path")
	scheme, authority := f.PseudoValue("scheme"), f.PseudoValue("authority")
	if f.PseudoValue("protocol") != "" {
		return nil, errors.New("h2: :protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL")
	}
	var u *url.URL
	switch {
	case method == http.MethodConnect:
		if scheme != "" || path != "" || authority == "" {
			return nil, errors.New("h2: malformed CONNECT")
		}
		u, path = &url.URL{Host: authority}, authority
	case method == "" || path == "" || scheme != "https" && scheme != "http":
		return nil, errors.New("h2: :method, :path or :scheme missing")
	case path == "*" && method == http.MethodOptions:
		u = &url.URL{Path: "*"}
	default:
		var err error
		if u, err = url.ParseRequestURI(path); err != nil {
			return nil, err
		}
	}
	header := make(http.Header, len(f.Fields))
	for _, hf := range f.RegularFields() {
		if connectionHeader(hf.Name) || hf.Name == "te" && hf.Value != "trailers" {
			return nil, fmt.Errorf("h2: connection-specific header %q", hf.Name)
		}
		k := http.CanonicalHeaderKey(hf.Name)
		header[k] = append(header[k], hf.Value)
	}
	if cookies := header["Cookie"]; len(cookies) > 1 {
		header["Cookie"] = []string{strings.Join(cookies, "; ")} // RFC 9113 section 8.2.3
	}
	host := authority
	if host == "" {
		host = header.Get("Host")
	}
	cl := int64(-1)
	if vv := header["Content-Length"]; len(vv) > 0 {
		for _, v := range vv[1:] {
			if v != vv[0] {
				return nil, errors.New("h2: differing Content-Length")
			}
		}
		n, err := strconv.ParseInt(vv[0], 10, 64)
		if err != nil || n < 0 {
			return nil, errors.New("h2: bad Content-Length")
		}
		cl = n
	}
	return &http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        header,
		ContentLength: cl,
		Host:          host,
		RemoteAddr:    c.remote,
		RequestURI:    path,
		TLS:           c.tlsState,
	}, nil
}

// runHandler runs h for s, then ends the response, unless it was
// detached (then its Close ends it).
func (c *conn) runHandler(s *stream, w *responseWriter, req *http.Request, h http.Handler) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.logf("h2: panic serving %v: %v\n%s", c.remote, p, buf)
			}
			c.mu.Lock()
			c.resetLocked(s.id, http2.ErrCodeInternal, errReset(http2.ErrCodeInternal))
			c.mu.Unlock()
		} else {
			w.finish()
		}
		s.cancel(context.Canceled)
		c.mu.Lock()
		w.done = true
		s.handlerDone = true
		c.closeBodyLocked(s) // what the handler did not read goes back to the connection's window
		c.maybeRemoveLocked(s)
		if c.running--; c.running == 0 && c.open > 0 {
			c.dropEncoderLaterLocked() // only detached streams are left: event streams, which send no more heads
		}
		c.mu.Unlock()
		w.releaseBuf()
	}()
	h.ServeHTTP(w, req)
}

func (c *conn) logf(format string, args ...any) {
	if l := c.hs.ErrorLog; l != nil {
		l.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// requestBody is a request's body: what DATA frames brought, until
// END_STREAM, read within the stream's read deadline.
type requestBody struct{ s *stream }

func (b requestBody) Read(p []byte) (int, error) {
	s := b.s
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(s.body) == 0 {
		if s.bodyClosed {
			return 0, errBodyClosed
		}
		if s.bodyErr != nil {
			return 0, s.bodyErr
		}
		if c.waitLocked(s.rdeadline) {
			return 0, deadlineErr
		}
	}
	n := copy(p, s.body)
	if s.body = s.body[n:]; len(s.body) == 0 {
		s.body = nil
	}
	c.creditLocked(s, int64(n))
	return n, nil
}

func (b requestBody) Close() error {
	c := b.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeBodyLocked(b.s)
	return nil
}

// closeBodyLocked drops what s's body holds unread, giving it back to
// the connection's window; what comes later is dropped on arrival.
func (c *conn) closeBodyLocked(s *stream) {
	if !s.bodyClosed {
		s.bodyClosed = true
		c.creditLocked(nil, int64(len(s.body)))
		s.body = nil
	}
}

// responseWriter is the http.ResponseWriter of a stream. The handler's
// goroutine uses it; the fields below c.mu's are its own.
type responseWriter struct {
	s        *stream
	c        *conn
	header   http.Header
	head     bool // a HEAD request: no body goes out
	declared int64

	status    int         // WriteHeader's
	snap      http.Header // the header as WriteHeader found it
	committed bool        // the head is queued
	buf       []byte      // body held until the head goes out
	written   int64
	done      bool // the handler returned (also read by Detach callers)
	detached  bool
}

// bufSize is how much body a response holds before its head goes out:
// a response that fits goes out with its Content-Length, in two frames.
const bufSize = 4 << 10

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 || w.detached || w.done {
		return // as net/http, a second call does nothing
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 {
		if code != http.StatusSwitchingProtocols { // 1xx: informational heads go out at once
			w.c.mu.Lock()
			w.c.writeHeadersLocked(w.s, code, w.header, false) //nolint:errcheck // the final head will fail alike
			w.c.mu.Unlock()
		}
		return
	}
	w.status = code
	w.snap = w.header.Clone()
	if cl := w.snap.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.snap.Del("Content-Length")
		}
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func (w *responseWriter) Write(p []byte) (int, error) {
	switch {
	case w.done:
		return 0, errHandlerDone
	case w.detached:
		return 0, errStreamDone
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.head && w.committed {
		return len(p), nil // a HEAD's body goes nowhere; the first 4 KB set its type and length
	}
	if !w.committed {
		if len(w.buf)+len(p) <= bufSize {
			if w.buf == nil {
				w.buf = getSmall()
			}
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.commit(false, p); err != nil {
			return 0, err
		}
		if w.head {
			return len(p), nil
		}
	}
	if _, err := w.c.writeData(w.s, net.Buffers{p}, false, true); err != nil {
		return 0, err
	}
	return len(p), nil
}

// commit queues the head, then the held body; end ends the stream with
// them. next is what is about to be written, for sniffing.
func (w *responseWriter) commit(end bool, next []byte) error {
	h := w.snap
	if _, ok := h["Content-Type"]; !ok && bodyAllowed(w.status) && (len(w.buf) > 0 || len(next) > 0) {
		sample := w.buf
		if len(sample) == 0 {
			sample = next
		}
		h.Set("Content-Type", http.DetectContentType(sample))
	}
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	c := w.c
	if w.head {
		end = true // the head is all a HEAD gets
		w.releaseBuf()
	}
	c.mu.Lock()
	err := c.writeHeadersLocked(w.s, w.status, h, end && len(w.buf) == 0)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	w.committed = true
	if len(w.buf) > 0 {
		if _, err := c.writeData(w.s, net.Buffers{w.buf}, end, true); err != nil {
			return err
		}
	}
	w.releaseBuf()
	return nil
}

// finish ends the response of a handler that returned: the head, the
// held body, END_STREAM.
func (w *responseWriter) finish() {
	if w.detached {
		return
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.committed {
		if !w.head {
			w.c.writeData(w.s, nil, true, true) //nolint:errcheck // the client left: nothing to end
		}
		return
	}
	if _, ok := w.snap["Content-Length"]; !ok && bodyAllowed(w.status) && (len(w.buf) > 0 || !w.head) {
		w.snap.Set("Content-Length", strconv.Itoa(len(w.buf)))
	}
	w.commit(true, nil) //nolint:errcheck // as above
}

func (w *responseWriter) releaseBuf() {
	if w.buf != nil {
		putSmall(w.buf)
		w.buf = nil
	}
}

// Flush sends the head and what the handler wrote.
func (w *responseWriter) Flush() { w.FlushError() } //nolint:errcheck // Flush has no error to give

// FlushError is Flush, with its error (http.ResponseController.Flush).
func (w *responseWriter) FlushError() error {
	switch {
	case w.done:
		return errHandlerDone
	case w.detached:
		return nil
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.committed {
		return nil // the frames are queued: the flush writes them at once
	}
	return w.commit(false, nil)
}

// SetWriteDeadline bounds the handler's writes (http.ResponseController).
func (w *responseWriter) SetWriteDeadline(t time.Time) error { return w.s.SetWriteDeadline(t) }

// SetReadDeadline bounds the reads of the request body
// (http.ResponseController).
func (w *responseWriter) SetReadDeadline(t time.Time) error {
	c := w.c
	c.mu.Lock()
	w.s.rdeadline = t
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

// EnableFullDuplex: HTTP/2 is (http.ResponseController).
func (w *responseWriter) EnableFullDuplex() error { return nil }

// Detach sends a 200 head with w's header and returns the response's
// body, which stays open after the handler returns (detach.Detacher).
func (w *responseWriter) Detach() (detach.Stream, error) {
	if w.status != 0 || w.committed || w.done || w.detached {
		return nil, errStarted
	}
	if w.head {
		return nil, errNotDetachable
	}
	w.status = http.StatusOK
	w.snap = w.header.Clone()
	w.snap.Del("Content-Length")
	if err := w.commit(false, nil); err != nil {
		return nil, err
	}
	w.detached = true
	return (*detachedStream)(w.s), nil
}

// SetWriteDeadline bounds s's writes that wait for room, and later ones.
func (s *stream) SetWriteDeadline(t time.Time) error {
	c := s.c
	c.mu.Lock()
	s.wdeadline = t
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

// detachedStream is a detached response's body (detach.Stream).
type detachedStream stream

func (d *detachedStream) s() *stream { return (*stream)(d) }

func (d *detachedStream) WriteBuffers(bufs net.Buffers) error {
	_, err := d.c.writeData(d.s(), bufs, false, true)
	return err
}

func (d *detachedStream) TryWriteBuffers(bufs net.Buffers) (net.Buffers, error) {
	return d.c.writeData(d.s(), bufs, false, false)
}

func (d *detachedStream) SetWriteDeadline(t time.Time) error { return d.s().SetWriteDeadline(t) }

func (d *detachedStream) OnClose(f func()) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.reset || c.closed {
		go f()
		return
	}
	d.onClose = f
}

func (d *detachedStream) Close() error {
	s := d.s()
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s.onClose = nil
	if c.closed || s.reset || s.localDone {
		return nil
	}
	c.endResponseLocked(s) // whatever the write deadline: Close does not wait
	return nil
}

var smallPool = sync.Pool{New: func() any { b := make([]byte, 0, bufSize); return &b }}

func getSmall() []byte { return (*smallPool.Get().(*[]byte))[:0] }

func putSmall(b []byte) {
	b = b[:0]
	smallPool.Put(&b)
}
