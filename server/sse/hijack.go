package sse

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Hijacked streams: on Linux an HTTP/1.x stream, plain or TLS, is taken
// over after its headers, so that an idle one holds no goroutine. The
// writer pool (runQueue, Broker.writer) writes its batches with one
// non-blocking writev; what the socket does not take goes to a goroutine
// of its own under WriteTimeout. The epoll watcher ends the stream of a
// client that hangs up. The response ends with the connection
// ("Connection: close"). Why, and what each part costs: docs/design.md,
// "Hijacked streams (HTTP/1.1)".

// errClientGone is the reason of a hijacked stream whose client closed
// the connection: like a cancelled request context on the ordinary path.
var errClientGone = fmt.Errorf("sse: client closed the connection: %w", context.Canceled)

// hijack takes over r's connection, if it is HTTP/1.x and w can be
// hijacked, and returns it with its deadlines cleared; nil otherwise,
// and then nothing was written.
func (b *Broker) hijack(w http.ResponseWriter, r *http.Request) net.Conn {
	if !canHijack || b.ordinary || r.ProtoMajor != 1 {
		return nil
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil
	}
	// A GET has no body; anything buffered is a pipelined request,
	// which a stream never answers.
	_ = brw
	conn.SetDeadline(time.Time{}) //nolint:errcheck // the server's ReadTimeout/WriteTimeout must not cut the stream
	return conn
}

// appendHeader appends the response head of a hijacked stream: the
// headers the handler (and middleware, such as CORS) set on w, and ours.
func appendHeader(dst []byte, h http.Header) []byte {
	setStreamHeaders(h)
	h.Set("Connection", "close")
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	if h.Get("Date") == "" {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	dst = append(dst, "HTTP/1.1 200 OK\r\n"...)
	var b headerBuf
	h.Write(&b) //nolint:errcheck // writes to memory
	dst = append(dst, b...)
	return append(dst, "\r\n"...)
}

type headerBuf []byte

func (b *headerBuf) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// serveHijacked opens the stream of a registered client on its hijacked
// connection (see open) and hands it to the writers, which end it; or it
// ends the stream if it could not open.
func (b *Broker) serveHijacked(req context.Context, c *client, conn net.Conn, h http.Header) {
	// The TLS layer, and a listener's wrapper (a connection cap, say),
	// hide the socket: socketConn looks through the wrappers that expose
	// it with NetConn. Writes and Close still go through conn, the
	// outermost.
	// A plain connection is held as its bare socket when it can be
	// (sockFD: an idle stream then keeps 4 bytes of it, not Go's
	// net.Conn).
	var raw syscall.RawConn
	t := detachSocket(conn)
	if t != nil {
		raw = t.socket()
	} else {
		nc := socketConn(conn)
		raw = rawConnOf(nc)
		t = &hijackedConn{conn: conn, raw: raw}
		if tc, ok := conn.(*tls.Conn); ok { // see tlsconn.go
			sock, _ := nc.(*tlsSock)
			if sock != nil {
				sock.raw = raw
			}
			t = &hijackedTLS{tls: tc, sock: sock, raw: raw}
		}
	}
	if raw != nil && b.opts.SendBuffer > 0 {
		setSendBuffer(raw, b.opts.SendBuffer) // see Options.SendBuffer
	}
	b.mu.Lock() // end reads c.t with b.mu held
	// Drop the ResponseWriter: it holds net/http's connection and its
	// 8 KB of buffers, which an idle stream must not keep.
	c.t = t
	ctx, stop := openContext(req)
	c.stopOpen = stop
	b.mu.Unlock()
	b.startWriters(raw != nil)
	if w := b.watcher.Load(); w != nil && raw != nil {
		w.add(c, raw) // a client that leaves during the replay is noticed too
	}
	b.openAndHandOver(ctx, c, appendHeader(nil, h))
}

// Detacher is what a wrapper of an accepted connection (a listener's
// connection cap, say) implements so that a hijacked stream can hold the
// socket under it as a bare file descriptor: NetConn returns the
// connection it wraps; Detach hands over the account the wrapper keeps
// of the connection (the wrapper's own Close must no longer settle it)
// and returns what settles it, called once the socket has closed (nil:
// nothing to settle). A stream whose connection has a wrapper that does
// not implement it keeps the connection as it is (and its cost).
type Detacher interface {
	NetConn() net.Conn
	Detach() (release func())
}

// hijackedConn is a hijacked HTTP/1.x connection's transport.
type hijackedConn struct {
	conn net.Conn        // the outermost connection: writes and Close go through it
	raw  syscall.RawConn // its socket's; nil: it has none, and every write blocks in a goroutine of its own
}

func (t *hijackedConn) setWriteDeadline(d time.Time) error {
	t.conn.SetWriteDeadline(d) //nolint:errcheck // a closed conn fails the write anyway
	return nil
}

func (t *hijackedConn) write(bufs net.Buffers) error {
	_, err := bufs.WriteTo(t.conn)
	return err
}

func (t *hijackedConn) tryWrite(w *rawWriter, bufs net.Buffers) (net.Buffers, bool, error) {
	if t.raw == nil {
		return bufs, false, nil
	}
	rest, err := w.write(t.raw, bufs)
	return rest, len(rest) == 0, err
}

func (t *hijackedConn) socket() syscall.RawConn { return t.raw }

func (t *hijackedConn) close() { t.conn.Close() }

// openAndHandOver opens a taken-over stream (hijacked or detached) with
// head, and hands it to the writer pool, which ends it; or it ends the
// stream if it could not open.
func (b *Broker) openAndHandOver(ctx context.Context, c *client, head []byte) {
	if err := b.open(ctx, c, head); err != nil {
		b.finish(c, err)
		return
	}
	// Hand over. From here on a signal schedules the client on the pool;
	// anything queued meanwhile is written by the pool at once. This
	// goroutine holds the turn (sched) while hijacked is set, so that no
	// signal schedules the client yet, then gives it up as a writer does
	// (reschedule). It must not clear sched before that: a signal in
	// between would push the client, and reschedule would clear sched
	// and push it again, putting it in the pool twice, where two writers
	// would write it at once and interleave its frames.
	c.stopOpen() // the replay is over: release the context
	c.mu.Lock()  // end reads stopOpen with mu held
	c.stopOpen = nil
	c.mu.Unlock()
	c.sched.Store(true)
	c.hijacked.Store(true)
	c.reschedule()
}

// openContext returns the context of a stream's opening on the
// hijacked and detached paths: cancelled by stop, or when the request's
// is (net/http cancels it once the handler returns). It is not the
// request's child, so that the stream, which keeps stop for end, does
// not keep the request's contexts and their values (about 1 KB a
// stream) alive once the handler has returned.
func openContext(req context.Context) (context.Context, context.CancelFunc) {
	ctx, stop := context.WithCancel(context.Background())
	context.AfterFunc(req, stop)
	return ctx, stop
}

// hasWork reports whether the writers have something to do for c.
func (c *client) hasWork() bool {
	if c.hbDue.Load() || c.killed.Load() {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) > 0 || c.reason != nil
}

// reschedule gives up c's turn and takes a new one if work arrived
// while c was being written (its signal found sched set).
func (c *client) reschedule() {
	c.sched.Store(false)
	if c.hasWork() && c.sched.CompareAndSwap(false, true) {
		c.b.pool.push(c)
	}
}

// runQueue holds the hijacked clients that have something to write. A
// client is in it at most once (client.sched), so it holds at most one
// entry per client.
type runQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	q      []*client
	head   int
	closed bool
}

func (q *runQueue) push(c *client) {
	q.mu.Lock()
	q.q = append(q.q, c)
	q.mu.Unlock()
	q.cond.Signal()
}

// pop returns the next client, waiting for one; nil once closed and
// empty. waited says it had to wait: the queue was empty.
func (q *runQueue) pop() (c *client, waited bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.q) {
		if q.closed {
			return nil, waited
		}
		waited = true
		q.cond.Wait()
	}
	c = q.q[q.head]
	q.q[q.head] = nil
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	} else if q.head > 1024 && q.head > len(q.q)/2 {
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	return c, waited
}

func (q *runQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// startWriters starts the writer pool, and the epoll watcher when a
// connection has a descriptor to watch, once.
func (b *Broker) startWriters(watch bool) {
	b.poolOnce.Do(func() {
		b.pool.cond.L = &b.pool.mu
		n := runtime.GOMAXPROCS(0)
		b.poolWG.Add(n)
		for range n {
			go b.writer()
		}
	})
	if watch {
		b.watchOnce.Do(func() {
			w, err := newWatcher(b.opts.Logger)
			if err != nil {
				b.opts.Logger.Warn("sse: no epoll watcher: dead clients are found by heartbeats only", "err", err)
				return
			}
			b.watcher.Store(w)
		})
	}
}

// stopWriters ends the pool and the watcher once every hijacked stream
// has ended. Shutdown calls it.
func (b *Broker) stopWriters() {
	b.pool.mu.Lock()
	started := b.pool.cond.L != nil
	b.pool.mu.Unlock()
	if started {
		b.pool.close()
	}
	b.watchOnce.Do(func() {}) // no watcher starts after this
	if w := b.watcher.Load(); w != nil {
		w.close()
	}
	b.poolWG.Wait()
}

// writer is one goroutine of the pool.
func (b *Broker) writer() {
	defer b.poolWG.Done()
	w := &rawWriter{}
	for {
		c, waited := b.pool.pop()
		if c == nil {
			return
		}
		if waited { // see Coalescing above
			if d := b.opts.FlushWindow; d > 0 {
				time.Sleep(d)
			} else {
				runtime.Gosched()
			}
		}
		b.write(c, w)
	}
}

// write does one turn of c: it writes its next batch (see
// client.nextBatch) with one non-blocking writev of the shared frames,
// or ends the stream.
func (b *Broker) write(c *client, w *rawWriter) {
	bufs, n, size, err := c.nextBatch(w.bufs[:0])
	defer func() { // drop the references; keep the slice
		clear(bufs)
		w.bufs = bufs[:0]
	}()
	switch {
	case err != nil:
		b.finish(c, err)
		return
	case len(bufs) == 0:
		c.written(size) // all skipped: the replay had them
		c.reschedule()
		return
	case c.killed.Load():
		b.finish(c, c.stopReason())
		return
	}
	rest, done, err := c.t.tryWrite(w, bufs)
	if err != nil {
		b.finish(c, c.writeErr(err))
		return
	}
	if !done { // the socket is full: finish in a goroutine of its own
		go b.writeSlow(c, slices.Clone(rest), n, size) // references to frames nobody modifies
		return
	}
	c.written(size)
	b.stats.delivered.Add(uint64(n))
	c.wrote.Store(true)
	c.reschedule()
}

// writeSlow writes the rest of a batch that the socket could not take at
// once, blocking, with the write deadline; then c goes back to the pool.
func (b *Broker) writeSlow(c *client, rest net.Buffers, n, size int) {
	if err := c.writeAll(rest); err != nil {
		b.finish(c, err)
		return
	}
	c.written(size)
	b.stats.delivered.Add(uint64(n))
	c.reschedule()
}
