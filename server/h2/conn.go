package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Sizes. The windows are what a client may send before it hears from
// us: they bound the request bytes a connection buffers.
const (
	clientPreface   = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	initialWindow   = 65535         // the protocol's default window, for both sides until SETTINGS say otherwise
	streamWindow    = initialWindow // what we grant per stream: never changed
	connWindow      = 1 << 20       // per connection, granted after the preface
	maxWindow       = 1<<31 - 1
	maxReadFrame    = 16 << 10 // the protocol's default and minimum: never raised
	maxDataFrame    = 16 << 10 // what we send, whatever the client allows
	maxOut          = 64 << 10 // frames queued for the socket before DATA writers wait
	maxQueued       = 1 << 20  // frames queued at all: past that the client does not read (a PING or SETTINGS flood)
	bigFrame        = 4 << 10  // a frame read larger than this: the Framer's buffer is dropped after it
	headerTableSize = 4096     // the HPACK table the client's requests may use (the default)
	goAwayLinger    = time.Second
)

// errConnClosed is the error of a write on a connection that closed.
var errConnClosed = errors.New("h2: the connection closed")

// conn is one HTTP/2 connection. The read loop (serve) owns the Framer
// and the HPACK decoder; mu guards everything else, and the frames are
// queued in out under it, so that each frame, and each header block, is
// whole and in order. A goroutine of its own (flush) writes out to the
// socket while it holds frames; an idle connection has none.
type conn struct {
	srv         *Server
	hs          *http.Server
	nc          net.Conn
	h           http.Handler
	ctx         context.Context
	tlsState    *tls.ConnectionState
	remote      string
	fr          *http2.Framer
	hdec        *hpack.Decoder
	src         []byte // what fr reads (frameSource)
	in          []byte // bytes read, short of a whole frame, while parked
	sawSettings bool
	raw         syscall.RawConn // the socket, for parking; nil: the read loop waits
	pollID      uint64          // its key in the Server's epoll set, once parked
	done        chan struct{}   // closed once the connection has closed

	mu        sync.Mutex
	cond      sync.Cond // on mu: windows opened, out drained, deadlines moved, the connection closed
	streams   map[uint32]*stream
	maxID     uint32 // the highest stream ID the client has used
	open      int    // streams counted against MaxConcurrentStreams
	refused   int    // streams refused over it
	draining  bool   // GOAWAY sent: no new streams; close once open is 0
	closing   bool   // close once out is written
	lingering bool   // the close is on its way
	closed    bool
	idle      *time.Timer

	out        []byte // frames for the socket
	flushing   bool   // flush runs
	sendWindow int64  // what the connection's window lets us send
	peerWindow int64  // SETTINGS_INITIAL_WINDOW_SIZE: each new stream's
	peerFrame  int    // the largest DATA frame we send
	henc       *hpack.Encoder
	hbuf       bytes.Buffer
	recvWindow int64 // what the client may still send on the connection
	recvUsed   int64 // bytes consumed and not yet granted again
}

// newConn makes the connection; park says whether its read loop may
// park (Start) or must wait (ServeConn).
func newConn(s *Server, hs *http.Server, nc net.Conn, h http.Handler, ctx context.Context, park bool) *conn {
	c := &conn{
		srv: s, hs: hs, nc: nc, h: h, ctx: ctx,
		remote:     nc.RemoteAddr().String(),
		streams:    make(map[uint32]*stream),
		sendWindow: initialWindow,
		peerWindow: initialWindow,
		peerFrame:  maxDataFrame, // the protocol's minimum: every client takes it
		recvWindow: initialWindow,
	}
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	c.cond.L = &c.mu
	c.done = make(chan struct{})
	if park {
		c.raw = rawSocket(nc)
	}
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.henc.SetMaxDynamicTableSizeLimit(0) // responses are few per stream: no table to keep
	c.hdec = hpack.NewDecoder(headerTableSize, nil)
	c.hdec.SetMaxStringLength(c.framerHeaderList())
	c.fr = c.newFramer()
	return c
}

func (c *conn) maxHeaderList() int {
	if n := c.hs.MaxHeaderBytes; n > 0 {
		return n
	}
	return http.DefaultMaxHeaderBytes
}

// newFramer returns a Framer that reads the frames processBuffered
// gives it (frameSource). One is made again after a large frame: a
// Framer keeps the buffer its largest frame needed.
func (c *conn) newFramer() *http2.Framer {
	fr := http2.NewFramer(nil, frameSource{c}) // never written through: we encode our frames (frameHeaderLocked)
	fr.SetMaxReadFrameSize(maxReadFrame)
	fr.ReadMetaHeaders = c.hdec
	fr.MaxHeaderListSize = uint32(c.framerHeaderList())
	return fr
}

// framerHeaderList is the header list the Framer decodes, four times
// what we take (the Framer would end the connection over one value
// longer than its limit: we answer 431 instead, and only beyond this
// end it, as it ends a block that outgrows its limit twice).
func (c *conn) framerHeaderList() int { return min(4*c.maxHeaderList(), 1<<30) }

// headerListSize is the size of f's fields as RFC 9113 counts it.
func headerListSize(f *http2.MetaHeadersFrame) int {
	n := 0
	for _, hf := range f.Fields {
		n += int(hf.Size())
	}
	return n
}

func (c *conn) idleTimeout() time.Duration {
	if c.srv.IdleTimeout > 0 {
		return c.srv.IdleTimeout
	}
	return c.hs.IdleTimeout
}

// serve reads the client's preface, then its frames: on Linux only when
// they have arrived (it returns once the connection is parked, see
// park), else in a loop that waits for them, until the
// connection closes. c.done is closed once it has.
func (c *conn) serve() {
	c.nc.SetReadDeadline(time.Now().Add(prefaceTimeout)) //nolint:errcheck // a closed conn fails the read
	var preface [len(clientPreface)]byte
	if _, err := io.ReadFull(c.nc, preface[:]); err != nil || string(preface[:]) != clientPreface {
		c.close(errConnClosed)
		return // not HTTP/2: nothing to say in its language
	}
	c.mu.Lock()
	c.queueSettings()
	c.queueFrame(http2.FrameWindowUpdate, 0, 0, u32(connWindow-initialWindow))
	c.recvWindow = connWindow
	c.idleLocked()
	c.mu.Unlock()
	if canPark && c.raw != nil {
		// What came with the preface is read first: it may sit in the
		// TLS layer's buffers, where epoll cannot see it.
		if c.readArrived(readNone) && c.srv.park(c) {
			return // readReady goes on
		}
	}
	c.readLoop()
}

// readReady reads what a parked connection's client has sent, then
// parks it again: the epoll set's goroutine starts it when the socket is
// readable.
func (c *conn) readReady() {
	if c.readArrived(readFirst) && !c.srv.park(c) {
		c.close(errConnClosed)
	}
}

// How readArrived waits.
type readWait int

const (
	readNone   readWait = iota // only what has arrived
	readFirst                  // the first read waits, up to stallTimeout: the socket is readable
	readAlways                 // every read waits, without a deadline: the read loop of a connection that is not parked
)

// Reading. The bytes read wait in a buffer until they make a whole frame
// (a whole header block, for HEADERS and its CONTINUATION frames), which
// the Framer then reads from it: a read that stops mid-frame, as a
// parked connection's does, never leaves the Framer half-way.

const (
	stallTimeout = 30 * time.Second // a record begun must end within it
	readChunk    = 16<<10 + 512     // room for a whole TLS record's plaintext
)

// pastDeadline makes a read return at once unless the TLS layer holds a
// whole record already.
var pastDeadline = time.Unix(1, 0)

var readPool = sync.Pool{New: func() any { b := make([]byte, 0, 2*readChunk); return &b }}

// readLoop reads and answers frames, waiting for them, until the
// connection ends.
func (c *conn) readLoop() {
	c.nc.SetReadDeadline(time.Time{}) //nolint:errcheck // a closed conn fails the read
	c.readArrived(readAlways)
}

// readArrived reads what the client has sent and answers it: with
// readFirst, the first read waits for up to stallTimeout (a parked
// connection's socket is readable, but may hold part of a record only);
// then, and with readNone, the reads take what has arrived, and the
// first that would wait ends the call. With readAlways it reads until
// the connection ends. It reports false once the connection has ended.
func (c *conn) readArrived(wait readWait) bool {
	bp := readPool.Get().(*[]byte)
	buf := append((*bp)[:0], c.in...)
	c.in = nil
	defer func() {
		if cap(buf) <= 2*readChunk {
			*bp = buf[:0]
			readPool.Put(bp)
		}
	}()
	for first := true; ; first = false {
		switch {
		case wait == readAlways:
		case first && wait == readFirst:
			c.nc.SetReadDeadline(time.Now().Add(stallTimeout)) //nolint:errcheck // a closed conn fails the read
		default:
			c.nc.SetReadDeadline(pastDeadline) //nolint:errcheck // as above
		}
		if cap(buf)-len(buf) < readChunk {
			buf = slices.Grow(buf, readChunk) // a header block larger than the buffer: bounded in processBuffered
		}
		n, err := c.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		rest, ok := c.processBuffered(buf)
		if !ok {
			c.close(errConnClosed)
			return false
		}
		buf = buf[:copy(buf, rest)]
		if err != nil {
			var ne net.Error
			if wait != readAlways && !(first && wait == readFirst) && errors.As(err, &ne) && ne.Timeout() {
				if len(buf) > 0 {
					c.in = slices.Clone(buf) // a frame begun: kept, exactly
				}
				return true
			}
			c.close(err)
			return false
		}
	}
}

// processBuffered answers the whole frames at the head of buf and
// returns the rest; false means the connection must end.
func (c *conn) processBuffered(buf []byte) ([]byte, bool) {
	for {
		n := unitLen(buf)
		if n == 0 {
			if len(buf) > c.maxHeaderList()+4*maxReadFrame {
				c.goAway(http2.ErrCodeEnhanceYourCalm) // a header block that never ends
				return nil, false
			}
			return buf, true
		}
		c.src = buf[:n]
		f, err := c.fr.ReadFrame()
		if err == nil && !c.sawSettings {
			if _, ok := f.(*http2.SettingsFrame); !ok {
				err = http2.ConnectionError(http2.ErrCodeProtocol) // the preface ends with SETTINGS
			}
			c.sawSettings = true
		}
		if err == nil {
			err = c.process(f)
			if f.Header().Length > bigFrame {
				c.fr = c.newFramer() // its data was copied: drop the buffer
			}
		}
		if err != nil && !c.failed(err) {
			return nil, false
		}
		buf = buf[n:]
	}
}

// unitLen returns the length of the whole frame at the head of buf, or
// of the header block (HEADERS or PUSH_PROMISE, and CONTINUATION frames
// up to END_HEADERS, and the frame that breaks the block if one does),
// or 0 if it is not all there. A frame over the size we read counts as
// its 9 bytes of header: the Framer refuses it from them.
func unitLen(buf []byte) int {
	n := 0
	for first := true; ; first = false {
		if len(buf) < n+9 {
			return 0
		}
		h := buf[n : n+9]
		length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		typ, flags := http2.FrameType(h[3]), http2.Flags(h[4])
		if length > maxReadFrame {
			return n + 9
		}
		if len(buf) < n+9+length {
			return 0
		}
		n += 9 + length
		switch {
		case first && typ != http2.FrameHeaders && typ != http2.FramePushPromise,
			flags.Has(http2.FlagHeadersEndHeaders),
			!first && typ != http2.FrameContinuation:
			return n
		}
	}
}

// frameSource is what the Framer reads: the frame, or header block, that
// processBuffered gives it.
type frameSource struct{ c *conn }

func (s frameSource) Read(p []byte) (int, error) {
	if len(s.c.src) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, s.c.src)
	s.c.src = s.c.src[n:]
	return n, nil
}

// failed answers an error of the read loop, and reports whether the
// loop goes on: a stream error resets the stream; a connection error
// sends GOAWAY and ends the connection, as does a failed read.
func (c *conn) failed(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		c.mu.Lock()
		if se.Cause != nil && se.StreamID%2 == 1 && se.StreamID > c.maxID {
			c.maxID = se.StreamID // a HEADERS with bad fields: its ID is used
		}
		c.resetLocked(se.StreamID, se.Code, errReset(se.Code))
		c.mu.Unlock()
		return true
	case errors.As(err, &ce):
		c.goAway(http2.ErrCode(ce))
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.goAway(http2.ErrCodeFrameSize)
	}
	return false
}

// goAway sends GOAWAY with code, reads and drops what the client still
// sends for a second (a close with unread bytes would reset the
// connection, and the client could lose the GOAWAY), then returns.
func (c *conn) goAway(code http2.ErrCode) {
	c.mu.Lock()
	c.draining = true
	c.queueGoAway(code)
	c.mu.Unlock()                                      // the caller closes the connection after the linger
	c.nc.SetReadDeadline(time.Now().Add(goAwayLinger)) //nolint:errcheck // a closed conn fails the read
	io.Copy(io.Discard, c.nc)                          //nolint:errcheck // until the deadline or the close
}

// process answers one frame.
func (c *conn) process(f http2.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errConnClosed
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.processSettings(f)
	case *http2.MetaHeadersFrame:
		return c.processHeaders(f)
	case *http2.DataFrame:
		return c.processData(f)
	case *http2.WindowUpdateFrame:
		return c.processWindowUpdate(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil // we send no PING
		}
		return c.queueControl(http2.FramePing, http2.FlagPingAck, 0, f.Data[:])
	case *http2.RSTStreamFrame:
		return c.processReset(f)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol}
		}
		return nil // priorities are not used
	case *http2.GoAwayFrame:
		c.drainLocked() // the client opens no more streams
		return nil
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // only servers push
	}
	return nil // frames of unknown types are ignored
}

func (c *conn) processSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	err := f.ForeachSetting(func(st http2.Setting) error {
		if err := st.Valid(); err != nil {
			return err
		}
		switch st.ID {
		case http2.SettingInitialWindowSize:
			delta := int64(st.Val) - c.peerWindow
			for _, s := range c.streams {
				if s.sendWindow += delta; s.sendWindow > maxWindow {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.peerWindow = int64(st.Val)
		case http2.SettingMaxFrameSize:
			c.peerFrame = min(int(st.Val), maxDataFrame)
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSize(st.Val) // within our limit of 0
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.cond.Broadcast()
	return c.queueControl(http2.FrameSettings, http2.FlagSettingsAck, 0, nil)
}

func (c *conn) processWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		if c.sendWindow += inc; c.sendWindow > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.cond.Broadcast()
		return nil
	}
	if c.idleID(f.StreamID) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	s := c.streams[f.StreamID]
	if s == nil || s.reset {
		return nil // closed: a late update
	}
	if s.sendWindow += inc; s.sendWindow > maxWindow {
		return http2.StreamError{StreamID: s.id, Code: http2.ErrCodeFlowControl}
	}
	c.cond.Broadcast()
	return nil
}

func (c *conn) processReset(f *http2.RSTStreamFrame) error {
	if c.idleID(f.StreamID) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if s := c.streams[f.StreamID]; s != nil && !s.reset {
		s.reset = true // by the client: no RST_STREAM back
		c.endStreamLocked(s, fmt.Errorf("h2: the client reset the stream (%v): %w", f.ErrCode, context.Canceled))
	}
	return nil
}

// idleID reports whether the client has not opened stream id yet.
func (c *conn) idleID(id uint32) bool { return id > c.maxID }

func (c *conn) processHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol) // client streams are odd
	}
	if s := c.streams[id]; s != nil {
		switch {
		case s.resetByUs:
			return nil // frames in flight when we reset it are dropped
		case s.reset || s.remoteDone: // the client reset or ended it
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
		case !f.StreamEnded() || len(f.PseudoFields()) > 0:
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol} // only trailers may follow, and they end the stream
		}
		return c.endBodyLocked(s)
	}
	if id <= c.maxID {
		return http2.ConnectionError(http2.ErrCodeStreamClosed) // reused, or below one used
	}
	c.maxID = id
	if c.draining {
		return nil // after our GOAWAY: above its last stream, ignored
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if c.open >= int(c.srv.maxStreams()) {
		// Streams reset whose handlers still run count too: a client
		// that opens and resets streams in a loop ("rapid reset") is
		// refused here, and past ten times the limit, dropped.
		if c.refused++; c.refused > 10*int(c.srv.maxStreams()) {
			return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	req, err := c.newRequest(f)
	if err != nil {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol, Cause: err}
	}
	s := c.newStreamLocked(id, req, f.StreamEnded())
	w := &responseWriter{s: s, c: c, header: make(http.Header), head: req.Method == http.MethodHead, declared: -1}
	if f.Truncated || headerListSize(f) > c.maxHeaderList() {
		go c.runHandler(s, w, s.req, http.HandlerFunc(headersTooLarge))
	} else {
		go c.runHandler(s, w, s.req, c.h)
	}
	s.req = nil // the handler's now
	return nil
}

func headersTooLarge(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "431 Request Header Fields Too Large: send fewer or shorter headers", http.StatusRequestHeaderFieldsTooLarge)
}

func (c *conn) processData(f *http2.DataFrame) error {
	id := f.StreamID
	if c.idleID(id) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	n := int64(f.Length) // with the padding: all of it counts
	if n > c.recvWindow {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= n
	s := c.streams[id]
	if s == nil || s.remoteDone || s.reset {
		c.creditLocked(nil, n) // not read by anyone: give it back
		if s != nil && s.resetByUs {
			return nil // in flight when we reset it
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if n > s.recvWindow {
		c.creditLocked(nil, n)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	}
	s.recvWindow -= n
	data := f.Data()
	if pad := n - int64(len(data)); pad > 0 {
		c.creditLocked(s, pad)
	}
	s.got += int64(len(data))
	if s.declared >= 0 && s.got > s.declared {
		c.creditLocked(nil, int64(len(data)))
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol} // more than its Content-Length
	}
	if s.bodyClosed {
		c.creditLocked(s, int64(len(data)))
	} else if len(data) > 0 {
		s.body = append(s.body, data...)
		c.cond.Broadcast()
	}
	if f.StreamEnded() {
		return c.endBodyLocked(s)
	}
	return nil
}

// endBodyLocked ends the request body of s: the client's END_STREAM.
func (c *conn) endBodyLocked(s *stream) error {
	if s.declared >= 0 && s.got != s.declared {
		return http2.StreamError{StreamID: s.id, Code: http2.ErrCodeProtocol} // shorter than its Content-Length
	}
	s.remoteDone = true
	if s.bodyErr == nil {
		s.bodyErr = io.EOF
	}
	c.cond.Broadcast()
	c.maybeRemoveLocked(s)
	return nil
}

// creditLocked gives back n bytes of the windows, to the connection and,
// unless nil or no longer receiving, to s, once enough has been used to
// be worth a WINDOW_UPDATE.
func (c *conn) creditLocked(s *stream, n int64) {
	c.recvUsed += n
	if c.recvUsed >= connWindow/4 {
		c.queueFrame(http2.FrameWindowUpdate, 0, 0, u32(uint32(c.recvUsed)))
		c.recvWindow += c.recvUsed
		c.recvUsed = 0
	}
	if s == nil || s.remoteDone || s.reset {
		return
	}
	s.recvUsed += n
	if s.recvUsed >= streamWindow/2 {
		c.queueFrame(http2.FrameWindowUpdate, 0, s.id, u32(uint32(s.recvUsed)))
		s.recvWindow += s.recvUsed
		s.recvUsed = 0
	}
}

// resetLocked resets stream id with code (RST_STREAM), and ends it with
// err if it is open.
func (c *conn) resetLocked(id uint32, code http2.ErrCode, err error) {
	if id == 0 {
		return
	}
	s := c.streams[id]
	if s != nil && s.resetByUs {
		return // once
	}
	c.queueFrame(http2.FrameRSTStream, 0, id, u32(uint32(code)))
	if s != nil {
		wasReset := s.reset
		s.reset, s.resetByUs = true, true
		if !wasReset {
			c.endStreamLocked(s, err)
		}
	}
}

type errReset http2.ErrCode

func (e errReset) Error() string { return "h2: stream reset: " + http2.ErrCode(e).String() }

// endStreamLocked ends what waits on s: its context, its body, a
// detached stream's owner (OnClose), its writers; and removes s if its
// handler is done.
func (c *conn) endStreamLocked(s *stream, err error) {
	if s.bodyErr == nil || s.bodyErr == io.EOF && !s.remoteDone {
		s.bodyErr = err
	}
	s.cancel(err)
	if f := s.onClose; f != nil {
		s.onClose = nil
		go f()
	}
	c.cond.Broadcast()
	c.maybeRemoveLocked(s)
}

// maybeRemoveLocked forgets s once it is over: reset, or ended both
// ways, and its handler done.
func (c *conn) maybeRemoveLocked(s *stream) {
	if !s.handlerDone || !s.reset && !(s.remoteDone && s.localDone) {
		return
	}
	if c.streams[s.id] != s {
		return
	}
	delete(c.streams, s.id)
	s.body = nil
	c.open--
	if c.open == 0 {
		if c.draining {
			c.closeWhenWrittenLocked()
		} else {
			c.idleLocked()
		}
	}
}

// idleLocked starts the idle timer of a connection without streams.
func (c *conn) idleLocked() {
	d := c.idleTimeout()
	if d <= 0 {
		return
	}
	if c.idle == nil {
		c.idle = time.AfterFunc(d, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.open == 0 && !c.closed {
				c.drainLocked()
			}
		})
		return
	}
	c.idle.Reset(d)
}

// drain sends GOAWAY (no error): the connection takes no new stream and
// closes once its streams have ended.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drainLocked()
}

func (c *conn) drainLocked() {
	if c.closed {
		return
	}
	if !c.draining {
		c.draining = true
		c.queueGoAway(http2.ErrCodeNo)
	}
	if c.open == 0 {
		c.closeWhenWrittenLocked()
	}
}

// closeWhenWrittenLocked closes the connection a second after its
// frames are written (goAwayLinger): the client reads our GOAWAY before
// the close, and what it sends meanwhile is still answered.
func (c *conn) closeWhenWrittenLocked() {
	c.closing = true
	if !c.flushing {
		c.lingerLocked()
	}
}

func (c *conn) lingerLocked() {
	if c.lingering {
		return
	}
	c.lingering = true
	time.AfterFunc(goAwayLinger, func() { c.close(nil) })
}

// close ends the connection and every stream on it.
func (c *conn) close(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if err == nil {
		err = errConnClosed
	}
	for _, s := range c.streams {
		c.endStreamLocked(s, fmt.Errorf("%w: %w", err, context.Canceled))
	}
	if c.idle != nil {
		c.idle.Stop()
	}
	putBuf(c.out)
	c.out = nil
	c.cond.Broadcast()
	c.mu.Unlock()
	c.srv.unpark(c)
	c.srv.forget(c)
	defer close(c.done)
	// The socket, not the TLS layer: a close_notify would wait for a
	// socket that may be full.
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.NetConn().Close()
	}
	c.nc.Close()
}

// waitLocked waits on c.cond, until deadline if not zero; it reports
// whether the deadline has passed.
func (c *conn) waitLocked(deadline time.Time) bool {
	if deadline.IsZero() {
		c.cond.Wait()
		return false
	}
	d := time.Until(deadline)
	if d <= 0 {
		return true
	}
	t := time.AfterFunc(d, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	c.cond.Wait()
	t.Stop()
	return false
}

// deadlineErr is a write or read that passed its deadline.
var deadlineErr = os.ErrDeadlineExceeded
