package sse

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// client is one open stream. Fan-out only appends to its queue, never
// blocks, and evicts the client when it falls too far behind (see
// enqueue). One writer at a
// time takes the whole queue, builds one batch of it ([client.batch])
// and writes it with one deadline and one flush ([client.writeAll]):
// the goroutine serving the request on the ordinary path (client.serve),
// a writer of the pool on the hijacked path (hijack.go).
type client struct {
	b    *Broker
	info ClientInfo
	// stopOpen cancels the context of the stream's opening on the
	// taken-over paths (openContext), where net/http no longer watches
	// the connection: end calls it, so that a client that left while its
	// stream opened (waiting for a replay, say) stops the replay. Set
	// with b.mu held before the stream can end (before the watcher or
	// OnClose can call end), and dropped at the handover with mu held,
	// under which end reads it; nil on the ordinary path, whose request
	// context net/http cancels.
	stopOpen context.CancelFunc
	// t is where the bytes go (transport.go): the ResponseWriter, then,
	// taken over, a hijacked connection or a detached HTTP/2 stream.
	// Changed with b.mu held, before the stream opens; never after.
	t     transport
	slots []int // guarded by b.mu: index in b.topics[info.Topics[i]].clients
	spare []*Message
	// killed: end was called, and a write must not start.
	killed atomic.Bool
	wrote  atomic.Bool // wrote since the last heartbeat tick
	hbDue  atomic.Bool // the heartbeat goroutine asks for a heartbeat
	// hbEvt: heartbeats as protocol.HeartbeatEvent, not comments. (The
	// small fields sit together: the struct is 408 bytes, a 416-byte
	// allocation; spread out, their padding made it 480.)
	hbEvt bool
	drain bool // guarded by mu; see reason
	// through is the Seq the replay covered: live messages up to it are
	// skipped. Set by open, before any batch is built.
	through uint64
	// progress follows the socket's send queue, to find a reader that
	// stopped (progress.go): the heartbeat goroutine's alone.
	progress readProgress

	// Grants (identity.go, revoke.go). expires is when the identity
	// expires, Unix nanoseconds (8 bytes, where a time.Time takes 24),
	// 0 for never and once expired or revoked: fan-out compares it with
	// its one clock reading. lost has bit i set once a revocation took
	// info.Topics[i] (at most 64 topics: maxTopicsPerStream), so that a
	// batch or a replay drops what is queued for it. revoked: the
	// identity was revoked (the stream is anonymous now); guarded by b.mu.
	expires atomic.Int64
	lost    atomic.Uint64
	revoked bool
	over    bool // guarded by mu; lag > MaxLag: in b.lagging

	// Taken-over streams (see hijack.go). sched says who owns the
	// writing: the handler until the handover, then a writer of the pool
	// or a slow write while it is set; a signal schedules the client
	// only when it can set it.
	hijacked atomic.Bool
	sched    atomic.Bool

	// wake wakes the ordinary path's writer (serve); nil on the taken-over
	// paths, whose streams do not pay its 96 bytes. The channel is
	// buffered (1) so that fan-out and the heartbeat goroutine never
	// block on it: one pending signal is enough, since the writer takes
	// everything queued when it wakes.
	wake atomic.Pointer[chan struct{}]

	mu      sync.Mutex
	pending []*Message // guarded by mu; in Seq order
	// reason is why the stream must stop, set by end, or by endWith
	// with drain: then the stream stops once what is queued (ending with
	// its last event) is written, and nothing more is queued; end may
	// still make it stop at once. Guarded by mu.
	reason error
	// lag is the bytes of the frames queued and of the batch being
	// written (taken, not yet written): how far the client is behind.
	lag       int   // guarded by mu
	overSince int64 // guarded by mu; when over was set, Unix nanoseconds (8 bytes, not a time.Time's 24: one per stream)
}

func (c *client) signal() {
	if c.hijacked.Load() {
		if c.sched.CompareAndSwap(false, true) {
			c.b.pool.push(c)
		}
		return
	}
	if w := c.wake.Load(); w != nil {
		select {
		case *w <- struct{}{}:
		default:
		}
	}
}

// serveOrdinary makes c's stream one for serve: signals wake it from now
// on, and it wakes once at its start for what was queued before.
func (c *client) serveOrdinary() {
	w := make(chan struct{}, 1)
	w <- struct{}{}
	c.wake.Store(&w)
}

// enqueue queues m (a reference: the frame is shared). A client that
// goes over MaxLag joins b.lagging, which makes Publish wait for it; it
// is evicted here when, already over, it reaches twice MaxLag or is over
// PublishWait after it went over (for events that come from another
// instance, whose publisher does not wait here), or when the deprecated
// QueueSize is full. Called by fan-out with b.mu read-locked, so c is
// registered.
func (c *client) enqueue(m *Message) {
	o := &c.b.opts
	c.mu.Lock()
	if c.reason != nil {
		c.mu.Unlock()
		return
	}
	evict := o.QueueSize > 0 && len(c.pending) >= o.QueueSize
	c.lag += len(m.Frame)
	joined := false
	if c.lag > o.MaxLag && !evict {
		switch {
		case o.PublishWait < 0:
			evict = true
		case !c.over: // one event may take it over, however large
			c.over, c.overSince, joined = true, time.Now().UnixNano(), true
		case c.lag > 2*o.MaxLag || time.Now().UnixNano()-c.overSince > int64(o.PublishWait):
			evict = true
		}
	}
	if evict {
		c.lag -= len(m.Frame)
		c.mu.Unlock()
		c.b.evict(c)
		return
	}
	c.pending = append(c.pending, m)
	first := len(c.pending) == 1
	if joined {
		c.b.lagAdd(c) // under c.mu, so that it cannot pass written's lagRemove
	}
	c.mu.Unlock()
	if first { // otherwise a wake-up is already pending
		c.signal()
	}
}

// endWith queues m, the stream's last event, after what is queued, and
// makes the stream stop for reason once it is written: nothing is queued
// after it. It does nothing to a stream that is ending already. Called
// with b.mu held (read or write), so c is registered.
func (c *client) endWith(m *Message, reason error) {
	c.mu.Lock()
	if c.reason != nil {
		c.mu.Unlock()
		return
	}
	c.reason, c.drain = reason, true
	c.lag += len(m.Frame)
	c.pending = append(c.pending, m)
	first := len(c.pending) == 1
	c.mu.Unlock()
	if first { // otherwise a wake-up is already pending
		c.signal()
	}
}

// ending reports whether the stream stops once its queue is written
// (endWith), or at once (end).
func (c *client) ending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason != nil
}

// written accounts for a batch of n bytes of queued frames that left
// (written, or dropped with the stream): a client back under MaxLag
// leaves b.lagging, and the publishers waiting for it go on.
func (c *client) written(n int) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	c.lag -= n
	if c.over && c.lag <= c.b.opts.MaxLag {
		c.over = false
		c.b.lagRemove(c)
	}
	c.mu.Unlock()
}

// heartbeatDue asks the writer for a heartbeat.
func (c *client) heartbeatDue() {
	c.hbDue.Store(true)
	c.signal()
}

// end makes the stream stop, for reason. The write deadline moves to
// grace from now, so a write blocked on a stopped client fails then.
// Callers hold b.mu (read or write), so c is registered and its response
// is live. It reports whether it ended the stream (false: it had ended).
func (c *client) end(reason error, grace time.Duration) bool {
	c.mu.Lock()
	if c.reason != nil && !c.drain {
		c.mu.Unlock()
		return false
	}
	c.reason, c.drain = reason, false
	stop := c.stopOpen
	c.mu.Unlock()
	c.killed.Store(true)
	if stop != nil {
		stop()
	}
	// Concurrent with the writer's own SetWriteDeadline: see writeAll.
	c.setWriteDeadline(time.Now().Add(grace))
	c.signal()
	return true
}

// setWriteDeadline bounds the write in progress or the next one.
func (c *client) setWriteDeadline(t time.Time) {
	c.t.setWriteDeadline(t) //nolint:errcheck // a closed connection fails the write anyway; unsupported, the write times out on its own
}

// take returns the queued messages, leaving an empty queue, or the
// reason to stop: once the queue of a stream that ends after it
// (endWith) has been taken, the writer is woken once more to find that
// reason.
func (c *client) take() ([]*Message, error) {
	c.mu.Lock()
	if c.reason != nil && (!c.drain || len(c.pending) == 0) {
		defer c.mu.Unlock()
		return nil, c.reason
	}
	q := c.pending
	c.pending = c.spare[:0]
	again := c.reason != nil // draining
	c.mu.Unlock()
	if again {
		c.signal() // a writer's turn is in progress: reschedule sees it (hasWork)
	}
	return q, nil
}

// release hands a written batch back for reuse, dropping its references.
// One that grew large (a client that fell far behind) is dropped instead:
// an idle client must not keep it.
func (c *client) release(q []*Message) {
	if cap(q) > maxSpare {
		c.spare = nil
		return
	}
	clear(q)
	c.spare = q[:0]
}

// maxSpare is the largest queue kept for reuse: 8 KB of references.
const maxSpare = 1024

// nextBatch takes the queue and builds the next batch from it (see
// batch), appending to bufs; n is how many events it carries, size how
// many bytes of lag it clears once written (see client.written). An
// empty batch means there is nothing to write.
func (c *client) nextBatch(bufs net.Buffers) (_ net.Buffers, n, size int, err error) {
	q, err := c.take()
	if err != nil {
		return bufs, 0, 0, err
	}
	for _, m := range q {
		size += len(m.Frame)
	}
	bufs, n = c.batch(bufs, q, c.hbDue.Swap(false))
	c.release(q)
	return bufs, n, size, nil
}

// batch appends to bufs the frames of q that the replay did not cover,
// but those of topics a revocation took, and, if hb and no event goes out, a heartbeat: the one place that
// decides what a live write carries, on every path. The frames are the
// shared, encoded ones: a batch holds references, not copies.
func (c *client) batch(bufs net.Buffers, q []*Message, hb bool) (net.Buffers, int) {
	n := 0
	lost := c.lost.Load()
	for _, m := range q {
		if m.replayedBy(c.through) || lost != 0 && c.lostTopic(m.Topic, lost) {
			continue
		}
		bufs = append(bufs, m.Frame)
		n++
	}
	if hb && n == 0 { // a heartbeat only when no event goes out
		bufs = append(bufs, c.heartbeatFrame())
	}
	return bufs, n
}

// serve writes live events on the ordinary path until the stream must
// stop or ctx (the request's) is done, and returns why.
func (c *client) serve(ctx context.Context) error {
	var bufs net.Buffers
	wake := *c.wake.Load()
	for {
		// Shutdown and eviction wake the client through end; take then
		// returns their reason.
		select {
		case <-wake:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if d := c.b.opts.FlushWindow; d > 0 {
			time.Sleep(d) // let the events of the window join this batch
		}
		var n, size int
		var err error
		bufs, n, size, err = c.nextBatch(bufs[:0])
		if err != nil {
			return err
		}
		if len(bufs) > 0 {
			onFreshStack(func() { err = c.writeAll(bufs) }) // see Broker.ServeHTTP
			clear(bufs)
		}
		c.written(size)
		if err != nil {
			return err
		}
		c.b.stats.delivered.Add(uint64(n))
	}
}

// heartbeatFrame returns what to write as a heartbeat.
func (c *client) heartbeatFrame() []byte {
	if c.hbEvt {
		return *c.b.heartbeat.Load()
	}
	return heartbeatComment
}

var heartbeatComment = []byte(": heartbeat\n")

// writeAll writes bufs to the client and flushes, blocking, under one
// write deadline (Options.WriteTimeout), which is cleared after it: the
// pool's non-blocking writes fail once a deadline has passed, and on
// HTTP/2 a deadline that passes resets the stream even when no write is
// in progress. bufs is consumed. On the ordinary path an empty bufs
// still flushes (the response head).
//
// end may set the deadline concurrently. The order (set the deadline,
// then check killed; end: set killed, then the deadline) means that
// either writeAll sees killed, or end's deadline is the one in force;
// and if end set one after the write, the next turn sees killed. But
// writeAll's own deadline, or its clearing after the write, may come
// after end's: then it finds killed set (end sets it first) and sets
// the deadline to now, so that what net/http writes after the stream
// (the end of a chunked body) fails at once, and the connection closes
// rather than stay open for a next request, or block on a reader that
// stopped.
func (c *client) writeAll(bufs net.Buffers) error {
	t := c.b.opts.WriteTimeout
	if t > 0 {
		if err := c.t.setWriteDeadline(time.Now().Add(t)); err != nil {
			return c.writeErr(err)
		}
	}
	if c.killed.Load() {
		c.setWriteDeadline(time.Now()) // ours may have replaced end's
		return c.stopReason()
	}
	if err := c.t.write(bufs); err != nil {
		return c.writeErr(err)
	}
	if t > 0 {
		c.setWriteDeadline(time.Time{})
		if c.killed.Load() { // end ran during the write: its deadline may be cleared
			c.setWriteDeadline(time.Now())
		}
	}
	c.wrote.Store(true)
	return nil
}

// stopReason returns end's reason: nil while the stream may write.
func (c *client) stopReason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drain {
		return nil
	}
	return c.reason
}

// writeErr returns the reason the stream was ended if there is one (the
// write failed because of it), else the write error.
func (c *client) writeErr(err error) error {
	if r := c.stopReason(); r != nil {
		return r
	}
	return err
}
