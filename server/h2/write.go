package h2

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Writing. Every frame is encoded into c.out under c.mu, whole; flush,
// on a goroutine that runs only while out holds frames, writes them to
// the socket, many frames in one write. What a connection holds for its
// socket is bounded:
//   - handlers' frames (heads, DATA) wait (or, not blocking, stop) while
//     out holds maxOut bytes, and DATA also while the stream's or the
//     connection's window is spent;
//   - frames the client makes us send (RST_STREAM, PING and SETTINGS
//     acknowledgements, WINDOW_UPDATE) never wait, but are counted until
//     flush takes them: a client that makes us queue more than
//     maxUnwritten of them reads slower than it makes us answer, and the
//     connection goes away (ENHANCE_YOUR_CALM), as with Go's server;
//   - the end of a response (an empty DATA frame) and GOAWAY come once
//     per stream and per connection.
// So out holds at most maxOut bytes, a head or a frame more, and
// maxUnwritten small frames; and flush's write, as much again.

// Buffers for out, in two sizes: most flushes carry a few small frames
// (a heartbeat, an acknowledgement), and 5,000 connections that each
// took a large buffer for them would hold hundreds of megabytes in the
// pool.
const (
	smallOut = 1 << 10
	largeOut = maxOut + maxDataFrame + 9
)

var (
	smallOutPool = sync.Pool{New: func() any { b := make([]byte, 0, smallOut); return &b }}
	largeOutPool = sync.Pool{New: func() any { b := make([]byte, 0, largeOut); return &b }}
)

// getBuf returns an empty buffer for out, large if the first frame is.
func getBuf(first int) []byte {
	if first > smallOut {
		return (*largeOutPool.Get().(*[]byte))[:0]
	}
	return (*smallOutPool.Get().(*[]byte))[:0]
}

// putBuf keeps b for reuse, in the pool of its size; one of a size in
// between, or grown past the large size, is let go.
func putBuf(b []byte) {
	switch c := cap(b); {
	case c >= largeOut && c <= 2*largeOut:
		b = b[:0]
		largeOutPool.Put(&b)
	case c >= smallOut && c <= 2*smallOut: // one that grew further would make the small pool large
		b = b[:0]
		smallOutPool.Put(&b)
	}
}

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// frameHeaderLocked appends a frame header to c.out, with room for its
// payload.
func (c *conn) frameHeaderLocked(typ http2.FrameType, flags http2.Flags, id uint32, length int) {
	if cap(c.out)-len(c.out) < 9+length {
		c.roomLocked(9 + length)
	}
	c.out = append(c.out, byte(length>>16), byte(length>>8), byte(length), byte(typ), byte(flags),
		byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id))
}

// roomLocked makes room for n more bytes in c.out, from the pools: a
// small buffer that fills up is swapped for a large one, which every
// DATA writer fills to maxOut, rather than grown by append, step by step,
// into sizes the pools do not keep.
func (c *conn) roomLocked(n int) {
	switch {
	case c.out == nil:
		c.out = getBuf(n)
	case cap(c.out) < largeOut && len(c.out)+n <= largeOut:
		b := append(getBuf(largeOut), c.out...)
		putBuf(c.out)
		c.out = b
	}
	// Else the buffer grows (appends): control frames past the large size.
}

// queueFrame queues a frame with payload p and starts the flush.
func (c *conn) queueFrame(typ http2.FrameType, flags http2.Flags, id uint32, p []byte) {
	if c.closed {
		return
	}
	c.frameHeaderLocked(typ, flags, id, len(p))
	c.out = append(c.out, p...)
	c.kickLocked()
}

// queueControl queues a frame the client made us send (RST_STREAM,
// WINDOW_UPDATE, a PING or SETTINGS acknowledgement), counting it until
// flush takes it. Past maxUnwritten the frame is dropped and the
// connection marked calm: the read loop then ends it (process).
func (c *conn) queueControl(typ http2.FrameType, flags http2.Flags, id uint32, p []byte) {
	if c.calm {
		return
	}
	if c.unwritten >= maxUnwritten {
		c.calm = true
		return
	}
	c.unwritten++
	c.queueFrame(typ, flags, id, p)
}

func (c *conn) queueSettings() {
	var p []byte
	add := func(id http2.SettingID, v uint32) {
		p = append(p, byte(id>>8), byte(id))
		p = append(p, u32(v)...)
	}
	add(http2.SettingMaxConcurrentStreams, c.srv.maxStreams())
	add(http2.SettingMaxHeaderListSize, uint32(c.maxHeaderList()))
	add(http2.SettingEnablePush, 0)
	c.queueFrame(http2.FrameSettings, 0, 0, p)
}

func (c *conn) queueGoAway(code http2.ErrCode) {
	p := append(u32(c.maxID), u32(uint32(code))...)
	c.queueFrame(http2.FrameGoAway, 0, 0, p)
}

// kickLocked starts flush if frames wait and none runs.
func (c *conn) kickLocked() {
	if !c.flushing && len(c.out) > 0 && !c.closed {
		c.flushing = true
		go c.flush()
	}
}

// flush writes c.out to the socket until it is empty, each write within
// WriteTimeout. A write that fails ends the connection.
func (c *conn) flush() {
	runtime.Gosched() // handlers ready to run add their frames first: one write for all
	c.mu.Lock()
	for len(c.out) > 0 && !c.closed {
		buf := c.out
		c.out = nil
		c.unwritten = 0
		c.writing = len(buf)
		c.cond.Broadcast() // room in out: writers fill it while this is written
		c.mu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout())) //nolint:errcheck // a closed conn fails the write
		_, err := c.nc.Write(buf)
		putBuf(buf)
		c.mu.Lock()
		c.writing = 0
		if err != nil {
			c.mu.Unlock()
			c.close(err)
			c.mu.Lock()
			break
		}
	}
	c.flushing = false
	if c.closing && !c.closed {
		c.lingerLocked()
	}
	c.mu.Unlock()
}

// writeHeadersLocked queues a header block: :status, then h's fields,
// in a HEADERS frame and as many CONTINUATION frames as the client's
// frame size needs, once out has room (as writeData, until s's write
// deadline).
func (c *conn) writeHeadersLocked(s *stream, status int, h http.Header, end bool) error {
	for {
		if err := c.writeErrLocked(s); err != nil {
			return err
		}
		if len(c.out) < maxOut {
			break
		}
		if c.waitLocked(s.wdeadline) {
			return deadlineErr
		}
	}
	c.hbuf.Reset()
	henc := c.encoderLocked()
	henc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)}) //nolint:errcheck // writes to memory
	for k, vv := range h {
		name := strings.ToLower(k)
		if !httpguts.ValidHeaderFieldName(k) || connectionHeader(name) || strings.HasPrefix(k, http.TrailerPrefix) || name == "trailer" {
			continue // not HTTP/2's, or not a field: dropped as net/http does
		}
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				henc.WriteField(hpack.HeaderField{Name: name, Value: v}) //nolint:errcheck // writes to memory
			}
		}
	}
	block := c.hbuf.Bytes()
	typ := http2.FrameHeaders
	for first := true; first || len(block) > 0; first = false {
		n := min(len(block), c.peerFrame)
		var flags http2.Flags
		if n == len(block) {
			flags |= http2.FlagHeadersEndHeaders
		}
		if first && end {
			flags |= http2.FlagHeadersEndStream
		}
		c.frameHeaderLocked(typ, flags, s.id, n)
		c.out = append(c.out, block[:n]...)
		block = block[n:]
		typ = http2.FrameContinuation
	}
	c.hbuf.Reset()
	if c.hbuf.Cap() > 4<<10 {
		c.hbuf = bytes.Buffer{} // a large block's buffer is not kept (henc writes to &c.hbuf, which stays)
	}
	if end {
		c.localDoneLocked(s)
	}
	c.kickLocked()
	return nil
}

// Heads are encoded with HPACK's dynamic table (headerTableSize, or the
// client's smaller one), as by Go's server: the fields of responses
// repeat, and a /healthz head shrinks from 70 bytes to 5. An encoder and
// its table cost a connection about 0.7 KB, and a connection left with
// only event streams (detached) sends no more heads: after encoderIdle
// without a handler it drops them, and the encoder of a later head
// empties the client's table first (a size update to 0, RFC 7541 section
// 4.2).

// encoderIdle is how long a connection with only event streams left
// keeps its encoder: the requests that come soon after (a page's) find
// their fields indexed. A variable for the tests.
var encoderIdle = 10 * time.Second

// encoderLocked returns the connection's HPACK encoder, made if there is
// none.
func (c *conn) encoderLocked() *hpack.Encoder {
	if c.henc == nil {
		c.henc = hpack.NewEncoder(&c.hbuf)
		c.henc.SetMaxDynamicTableSizeLimit(headerTableSize)
		if c.hencReset {
			c.henc.SetMaxDynamicTableSize(0)
		}
		if c.hencReset || c.peerTable != headerTableSize {
			c.henc.SetMaxDynamicTableSize(c.peerTable)
		}
		c.hencReset = false
	}
	return c.henc
}

// dropEncoderLaterLocked drops the encoder and its table after
// encoderIdle, unless a handler runs then.
func (c *conn) dropEncoderLaterLocked() {
	if c.henc == nil || c.closed {
		return
	}
	if c.dropTimer != nil {
		c.dropTimer.Reset(encoderIdle)
		return
	}
	c.dropTimer = time.AfterFunc(encoderIdle, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.dropTimer = nil
		if c.running == 0 && c.henc != nil {
			c.henc = nil
			c.hencReset = true
		}
	})
}

func connectionHeader(name string) bool {
	switch name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// writeData queues bufs as DATA frames of s, within the windows: if
// block, waiting for room until s's write deadline; else only what fits
// now. It returns what it did not queue. end ends the stream once all
// is queued. bufs is consumed.
func (c *conn) writeData(s *stream, bufs net.Buffers, end, block bool) (net.Buffers, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	for {
		if err := c.writeErrLocked(s); err != nil {
			return bufs, err
		}
		if total == 0 {
			if end {
				c.endResponseLocked(s)
			}
			return nil, nil
		}
		n := min(int64(total), s.sendWindow, c.sendWindow, int64(c.peerFrame), int64(maxOut-len(c.out)))
		if n <= 0 {
			if !block {
				return bufs, nil
			}
			if c.waitLocked(s.wdeadline) {
				return bufs, deadlineErr
			}
			continue
		}
		var flags http2.Flags
		if end && int(n) == total {
			flags = http2.FlagDataEndStream
		}
		c.frameHeaderLocked(http2.FrameData, flags, s.id, int(n))
		s.sendWindow -= n
		c.sendWindow -= n
		total -= int(n)
		for n > 0 {
			k := min(int(n), len(bufs[0]))
			c.out = append(c.out, bufs[0][:k]...)
			if bufs[0] = bufs[0][k:]; len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
			n -= int64(k)
		}
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if flags != 0 {
			c.localDoneLocked(s)
			c.kickLocked()
			return nil, nil
		}
		c.kickLocked()
	}
}

// writeErrLocked is why s can take no more bytes, if it cannot.
func (c *conn) writeErrLocked(s *stream) error {
	switch {
	case c.closed:
		return errConnClosed
	case s.reset:
		return context.Cause(s.ctx) // set with the reset (endStreamLocked)
	case s.localDone:
		return errStreamDone
	case !s.wdeadline.IsZero() && !time.Now().Before(s.wdeadline):
		return deadlineErr
	}
	return nil
}

// endResponseLocked queues an empty DATA frame that ends s's response.
func (c *conn) endResponseLocked(s *stream) {
	c.frameHeaderLocked(http2.FrameData, http2.FlagDataEndStream, s.id, 0)
	c.localDoneLocked(s)
	c.kickLocked()
}

// localDoneLocked notes that s's response has ended (END_STREAM queued).
// A client still sending its request is told to stop (RST_STREAM with
// NO_ERROR, RFC 9113 section 8.1).
func (c *conn) localDoneLocked(s *stream) {
	s.localDone = true
	if !s.remoteDone {
		c.resetLocked(s.id, http2.ErrCodeNo, errStreamDone)
		return
	}
	c.maybeRemoveLocked(s)
}
