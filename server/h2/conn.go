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
	maxOut          = 64 << 10 // frames queued for the socket before handlers' writes wait
	bigFrame        = 4 << 10  // a frame read larger than this: the Framer's buffer is dropped after it
	headerTableSize = 4096     // the HPACK tables of requests and of responses (the protocol's default)
	goAwayLinger    = time.Second
)

// Limits on what a client can make a connection do (see also
// Server.MaxConcurrentStreams, and the refused streams of processHeaders).
const (
	// maxUnwritten bounds the frames a client made us send (resets,
	// acknowledgements, window updates) that wait for the socket: a
	// client that makes us answer faster than it reads (a PING,
	// SETTINGS or RST_STREAM flood, never read) loses the connection
	// (ENHANCE_YOUR_CALM). Go's server allows as many (10,000, about
	// 170 KB of frames).
	maxUnwritten = 10000
	// SETTINGS frames: settingsBurst at once, then settingsRate a
	// second. Each may make us walk every open stream (a change of
	// INITIAL_WINDOW_SIZE); a client that sends more (a SETTINGS flood,
	// read or not) loses the connection (ENHANCE_YOUR_CALM). Clients
	// send one or two.
	settingsBurst = 100
	settingsRate  = 10
	// firstSettingsTimeout bounds the wait for the SETTINGS frame that
	// ends the client's preface, as in Go's server: a client that sends
	// the preface and nothing more holds a connection no longer.
	firstSettingsTimeout = 2 * time.Second
	// defaultHeaderTimeout bounds a header block begun and not ended (a
	// HEADERS frame without END_HEADERS, then CONTINUATION frames that
	// never end it, or that trickle), unless the http.Server sets
	// ReadHeaderTimeout or ReadTimeout: a block held open holds its
	// bytes, and the idle timer stops while streams are open.
	defaultHeaderTimeout = 10 * time.Second
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
	scanned     int    // of the unit at the head of the bytes read: how far unitLen has found whole frames
	sawSettings bool
	owing       owed            // what the read loop last told oweLocked
	raw         syscall.RawConn // the socket, for parking; nil: the read loop waits
	pollID      uint64          // its key in the Server's epoll set, once parked
	done        chan struct{}   // closed once the connection has closed

	mu        sync.Mutex
	cond      sync.Cond // on mu: windows opened, out drained, deadlines moved, the connection closed
	streams   map[uint32]*stream
	maxID     uint32 // the highest stream ID the client has used
	open      int    // streams counted against MaxConcurrentStreams
	running   int    // handlers running
	refused   int    // streams refused over it
	draining  bool   // GOAWAY sent: no new streams; close once open is 0
	closing   bool   // close once out is written
	lingering bool   // the close is on its way
	closed    bool
	idle      *time.Timer
	calm      bool // the client made us queue too much (queueControl): the read loop ends the connection

	owes      owed        // what the client owes, due by owesTimer
	owesTimer *time.Timer // overdue: the connection goes away
	owesGen   uint64      // which owed owesTimer was set for

	settingsTokens float64   // SETTINGS frames the client may still send (settingsBurst, settingsRate)
	settingsAt     time.Time // when settingsTokens was counted

	out        []byte         // frames for the socket
	unwritten  int            // frames in out the client made us send (queueControl)
	writing    int            // bytes flush is writing
	flushing   bool           // flush runs
	sendWindow int64          // what the connection's window lets us send
	peerWindow int64          // SETTINGS_INITIAL_WINDOW_SIZE: each new stream's
	peerFrame  int            // the largest DATA frame we send
	henc       *hpack.Encoder // nil until a head is written, and again once only detached streams were left for encoderIdle
	dropTimer  *time.Timer    // drops henc (dropEncoderLaterLocked)
	hencReset  bool           // the client's table may hold entries: the next encoder empties it first
	peerTable  uint32         // SETTINGS_HEADER_TABLE_SIZE: the client's table for our heads
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
		peerTable:  headerTableSize,

		settingsTokens: settingsBurst,
		settingsAt:     time.Now(),
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
	c.owing = owesSettings
	c.oweLocked(owesSettings, false)
	c.mu.Unlock()
	if canPark && c.raw != nil {
		// What came with the preface is read first: it may sit in the
		// TLS layer's buffers, where epoll cannot see it.
		if !c.readArrived(readNone) {
			return // the connection has ended, or goes away
		}
		if c.srv.park(c) {
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
	// The bytes of a unit begun, when a connection parks: up to
	// keepSmall, a copy of them; beyond, a buffer of at most a quarter
	// more (and minRoom), the one read into if it is no larger, which the
	// next reads fill on and grow by a quarter when full. A header block
	// that trickles in then costs time linear in its length (copying it
	// at every park and wake cost the square), and a parked connection
	// holds little more than its bytes.
	keepSmall = 4 << 10
	minRoom   = 1 << 10
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
// the connection ends. It reports false once the connection has ended,
// or goes away (goAway: it closes by itself).
func (c *conn) readArrived(wait readWait) bool {
	buf := c.in // a unit begun: kept, or copied if small
	c.in = nil
	var bp *[]byte
	if len(buf) <= keepSmall { // nothing, or a copy: into a pooled buffer
		bp = readPool.Get().(*[]byte)
		buf = append((*bp)[:0], buf...)
	}
	kept := false
	defer func() {
		if kept || cap(buf) != 2*readChunk { // kept, or not of the pool's size
			return
		}
		if bp == nil {
			bp = new([]byte)
		}
		*bp = buf[:0]
		readPool.Put(bp)
	}()
	for first := true; ; first = false {
		switch {
		case wait == readAlways:
		case first && wait == readFirst:
			c.nc.SetReadDeadline(time.Now().Add(stallTimeout)) //nolint:errcheck // a closed conn fails the read
		default:
			c.nc.SetReadDeadline(pastDeadline) //nolint:errcheck // as above
		}
		if cap(buf)-len(buf) < minRoom {
			buf = slices.Grow(buf, max(readChunk, len(buf)/4)) // a header block larger than the buffer: bounded in processBuffered
		}
		n, err := c.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		rest, ok := c.processBuffered(buf)
		if !ok {
			c.mu.Lock()
			later := c.lingering // after a GOAWAY: closes by itself
			c.mu.Unlock()
			if !later {
				c.close(errConnClosed)
			}
			return false
		}
		if len(rest) < len(buf) {
			buf = buf[:copy(buf, rest)]
		}
		if err != nil {
			var ne net.Error
			if wait != readAlways && !(first && wait == readFirst) && errors.As(err, &ne) && ne.Timeout() {
				switch n := len(buf); {
				case n > keepSmall && cap(buf) <= n+n/4+minRoom:
					c.in, kept = buf, true
				case n > keepSmall:
					c.in = append(make([]byte, 0, n+n/4+minRoom), buf...)
				case n > 0:
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
	for answered := false; ; answered = true {
		var n int
		n, c.scanned = unitLen(buf, c.scanned)
		if n == 0 {
			// A header block may be twice the header list we take
			// (Go's Framer lets a fragment be) and a frame more; past
			// that, or its time, it never ends well (CONTINUATION
			// flood).
			if len(buf) > 2*c.maxHeaderList()+maxReadFrame {
				c.goAway(http2.ErrCodeEnhanceYourCalm)
				return nil, false
			}
			c.owe(buf, answered)
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
// its 9 bytes of header: the Framer refuses it from them. from is where
// the last call on the same unit stopped (0 for a new unit), next where
// this one did: a header block that arrives in many reads is scanned
// once.
func unitLen(buf []byte, from int) (n, next int) {
	n = from
	for first := from == 0; ; first = false {
		if len(buf) < n+9 {
			return 0, n
		}
		h := buf[n : n+9]
		length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		typ, flags := http2.FrameType(h[3]), http2.Flags(h[4])
		if length > maxReadFrame {
			return n + 9, 0
		}
		if len(buf) < n+9+length {
			return 0, n
		}
		n += 9 + length
		switch {
		case first && typ != http2.FrameHeaders && typ != http2.FramePushPromise,
			flags.Has(http2.FlagHeadersEndHeaders),
			!first && typ != http2.FrameContinuation:
			return n, 0
		}
	}
}

// What a client owes: a connection waits at most so long for the
// SETTINGS frame that ends the preface, and for the end of a header
// block begun; then it goes away.
type owed int

const (
	owesNothing     owed = iota
	owesSettings         // within firstSettingsTimeout
	owesHeaderBlock      // within headerTimeout
)

// owe notes, after the whole units of the bytes read were answered,
// what the client owes with rest, the bytes left: the first SETTINGS
// until it came, then the end of a header block begun. answered says
// whether units were answered before rest: then a header block in rest
// is a new one, whose time starts now.
func (c *conn) owe(rest []byte, answered bool) {
	what := owesNothing
	switch {
	case !c.sawSettings:
		what = owesSettings
	case len(rest) >= 9 && (http2.FrameType(rest[3]) == http2.FrameHeaders || http2.FrameType(rest[3]) == http2.FramePushPromise):
		what = owesHeaderBlock
	}
	again := what == owesHeaderBlock && answered
	if what == c.owing && !again {
		return // as the timer counts already: no lock
	}
	c.owing = what
	c.mu.Lock()
	c.oweLocked(what, again)
	c.mu.Unlock()
}

// oweLocked starts counting the time the client has to pay what, unless
// it counts already (and again is false); owesNothing stops it.
func (c *conn) oweLocked(what owed, again bool) {
	if what == c.owes && !again || c.closed {
		return
	}
	if c.owesTimer != nil {
		c.owesTimer.Stop()
		c.owesTimer = nil
	}
	c.owes = what
	c.owesGen++
	var d time.Duration
	switch what {
	case owesNothing:
		return
	case owesSettings:
		d = firstSettingsTimeout
	case owesHeaderBlock:
		d = c.headerTimeout()
	}
	gen := c.owesGen
	c.owesTimer = time.AfterFunc(d, func() { c.overdue(gen) })
}

// overdue ends a connection whose client did not pay in time: GOAWAY
// (PROTOCOL_ERROR for the preface's missing SETTINGS, ENHANCE_YOUR_CALM
// for a header block held open), then the close.
func (c *conn) overdue(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.owesGen || c.closed {
		return
	}
	code := http2.ErrCodeEnhanceYourCalm
	if c.owes == owesSettings {
		code = http2.ErrCodeProtocol
	}
	c.draining = true
	c.queueGoAway(code)
	c.lingerLocked()
}

func (c *conn) headerTimeout() time.Duration {
	switch {
	case c.hs.ReadHeaderTimeout > 0:
		return c.hs.ReadHeaderTimeout
	case c.hs.ReadTimeout > 0:
		return c.hs.ReadTimeout
	}
	return defaultHeaderTimeout
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
		calm := c.calm
		c.mu.Unlock()
		if !calm {
			return true
		}
		c.goAway(http2.ErrCodeEnhanceYourCalm) // resets it does not read
	case errors.As(err, &ce):
		c.goAway(http2.ErrCode(ce))
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.goAway(http2.ErrCodeFrameSize)
	}
	return false
}

// goAway sends GOAWAY with code; the caller stops reading, and the
// connection closes a second later (goAwayLinger), for the client to
// read the GOAWAY first. What the client sends meanwhile is not read, as
// in Go's server: a client that floods us waits, rather than make us
// read on, or connect again.
func (c *conn) goAway(code http2.ErrCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	c.queueGoAway(code)
	c.lingerLocked()
}

// process answers one frame. A client that made us queue more than it
// reads (queueControl) is told to go away instead.
func (c *conn) process(f http2.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errConnClosed
	}
	err := c.processLocked(f)
	if c.calm {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return err
}

func (c *conn) processLocked(f http2.Frame) error {
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
		c.queueControl(http2.FramePing, http2.FlagPingAck, 0, f.Data[:])
		return nil
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

// processSettings applies a SETTINGS frame. A parameter may come more
// than once in a frame, and then its last value counts (RFC 9113
// section 6.5.3, h2spec 6.5.3): the new INITIAL_WINDOW_SIZE is applied
// to the open streams once, not once for each of the frame's entries
// (a frame can hold 2,730, and a walk of 250 streams each cost seconds
// of CPU). HEADER_TABLE_SIZE is applied at each (the encoder must
// signal the smallest, RFC 7541 section 4.2), at no cost.
func (c *conn) processSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	if !c.settingsAllowedLocked() {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	window := int64(-1)
	err := f.ForeachSetting(func(st http2.Setting) error {
		if err := st.Valid(); err != nil {
			return err
		}
		switch st.ID {
		case http2.SettingInitialWindowSize:
			window = int64(st.Val)
		case http2.SettingMaxFrameSize:
			c.peerFrame = min(int(st.Val), maxDataFrame)
		case http2.SettingHeaderTableSize:
			c.peerTable = st.Val
			if c.henc != nil {
				c.henc.SetMaxDynamicTableSize(st.Val) // within our limit, headerTableSize
			} else {
				c.hencReset = true // the smallest size since the last head is signalled: 0 is
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if delta := window - c.peerWindow; window >= 0 && delta != 0 {
		for _, s := range c.streams {
			if s.sendWindow += delta; s.sendWindow > maxWindow {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
		}
		c.peerWindow = window
	}
	c.cond.Broadcast()
	c.queueControl(http2.FrameSettings, http2.FlagSettingsAck, 0, nil)
	return nil
}

// settingsAllowedLocked takes one SETTINGS frame from the client's
// allowance (settingsBurst, then settingsRate a second), if any is left.
func (c *conn) settingsAllowedLocked() bool {
	now := time.Now()
	c.settingsTokens = min(settingsBurst, c.settingsTokens+now.Sub(c.settingsAt).Seconds()*settingsRate)
	c.settingsAt = now
	if c.settingsTokens < 1 {
		return false
	}
	c.settingsTokens--
	return true
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
	c.running++
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
		c.queueControl(http2.FrameWindowUpdate, 0, 0, u32(uint32(c.recvUsed)))
		c.recvWindow += c.recvUsed
		c.recvUsed = 0
	}
	if s == nil || s.remoteDone || s.reset {
		return
	}
	s.recvUsed += n
	if s.recvUsed >= streamWindow/2 {
		c.queueControl(http2.FrameWindowUpdate, 0, s.id, u32(uint32(s.recvUsed)))
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
	c.queueControl(http2.FrameRSTStream, 0, id, u32(uint32(code)))
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
	if c.owesTimer != nil {
		c.owesTimer.Stop()
	}
	if c.dropTimer != nil {
		c.dropTimer.Stop()
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
