package sse

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// client is one open stream. The goroutine serving its request is its
// only writer: it waits on wake, takes the whole queue at once, and
// writes it as one batch with one deadline and one flush. Fan-out only
// appends to the queue, never blocks, and evicts the client when the
// queue is full.
type client struct {
	b     *Broker
	info  ClientInfo
	ctx   context.Context // the request's
	w     http.ResponseWriter
	rc    *http.ResponseController
	hbEvt bool  // heartbeats as HeartbeatEvent, not comments
	slots []int // guarded by b.mu: index in b.topics[info.Topics[i]].clients
	spare []*Message
	// noDeadline: w does not support write deadlines (a test double or
	// an odd middleware). Owned by the writer.
	noDeadline bool
	killed     atomic.Bool // end was called: a write must not start
	wrote      atomic.Bool // wrote since the last heartbeat tick
	hbDue      atomic.Bool // the heartbeat goroutine asks for a heartbeat

	// Hijacked streams (see hijack.go). conn is set before hijacked, and
	// neither changes after. sched says who owns the writing: the
	// handler until the handover, then a writer of the pool or a slow
	// write while it is set; a signal schedules the client only when it
	// can set it.
	conn     net.Conn
	raw      syscall.RawConn // nil: conn has no file descriptor; every write blocks in its own goroutine
	through  uint64          // Seq the replay covered; set before the handover
	hijacked atomic.Bool
	sched    atomic.Bool

	// wake is buffered (1) so that fan-out and the heartbeat goroutine
	// never block on it: one pending signal is enough, since the writer
	// takes everything queued when it wakes.
	wake chan struct{}

	mu      sync.Mutex
	pending []*Message // guarded by mu; in Seq order
	reason  error      // guarded by mu; set by end: why the stream must stop
}

func (c *client) signal() {
	if c.hijacked.Load() {
		if c.sched.CompareAndSwap(false, true) {
			c.b.pool.push(c)
		}
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// enqueue queues m, or evicts c if its queue is full. Called by fan-out
// with b.mu read-locked, so c is registered.
func (c *client) enqueue(m *Message) {
	c.mu.Lock()
	if c.reason != nil {
		c.mu.Unlock()
		return
	}
	if len(c.pending) >= c.b.opts.QueueSize {
		c.mu.Unlock()
		c.b.stats.evicted.Add(1)
		c.end(ErrEvicted, 0)
		return
	}
	c.pending = append(c.pending, m)
	first := len(c.pending) == 1
	c.mu.Unlock()
	if first { // otherwise a wake-up is already pending
		c.signal()
	}
}

// heartbeatDue asks the writer for a heartbeat.
func (c *client) heartbeatDue() {
	c.hbDue.Store(true)
	c.signal()
}

// end makes the stream stop, for reason. The write deadline moves to
// grace from now, so a write blocked on a stalled client fails then.
// Callers hold b.mu (read or write), so c is registered and its response
// is live.
func (c *client) end(reason error, grace time.Duration) {
	c.mu.Lock()
	if c.reason != nil {
		c.mu.Unlock()
		return
	}
	c.reason = reason
	c.mu.Unlock()
	c.killed.Store(true)
	// Concurrent with the writer's own SetWriteDeadline: see send.
	c.setWriteDeadline(time.Now().Add(grace))
	c.signal()
}

// setWriteDeadline bounds the write in progress or the next one.
func (c *client) setWriteDeadline(t time.Time) {
	if c.conn != nil {
		c.conn.SetWriteDeadline(t) //nolint:errcheck // a closed conn fails the write anyway
		return
	}
	c.rc.SetWriteDeadline(t) //nolint:errcheck // unsupported: the write times out on its own
}

// take returns the queued messages, leaving an empty queue, or the
// reason to stop.
func (c *client) take() ([]*Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return nil, c.reason
	}
	q := c.pending
	c.pending = c.spare[:0]
	return q, nil
}

// release hands a written batch back for reuse, dropping its references.
func (c *client) release(q []*Message) {
	clear(q)
	c.spare = q[:0]
}

// serve writes live events until the stream must stop, and returns why.
// Messages with Seq <= through were replayed already and are skipped.
func (c *client) serve(through uint64) error {
	ctx := c.ctx
	for {
		// Shutdown and eviction wake the client through end; take then
		// returns their reason.
		select {
		case <-c.wake:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		q, err := c.take()
		if err != nil {
			return err
		}
		due := c.hbDue.Swap(false)
		var extra []byte
		if due {
			extra = c.heartbeatFrame()
		}
		n, err := c.send(nil, q, through, extra)
		c.release(q)
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

// send writes pre, the frames of msgs with Seq > after, and post, then
// flushes, all under one write deadline; it returns how many messages it
// wrote. It writes nothing when there is nothing to write.
//
// end may set the deadline concurrently. The order (set the deadline,
// then check killed; end: set killed, then the deadline) means that
// either send sees killed, or end's deadline is the one in force.
func (c *client) send(pre []byte, msgs []*Message, after uint64, post []byte) (int, error) {
	if len(pre) == 0 && len(post) == 0 && !anyAfter(msgs, after) {
		return 0, nil
	}
	if t := c.b.opts.WriteTimeout; t > 0 && !c.noDeadline {
		if err := c.rc.SetWriteDeadline(time.Now().Add(t)); errors.Is(err, http.ErrNotSupported) {
			c.noDeadline = true // and do not ask again: the error allocates
		} else if err != nil {
			return 0, c.writeErr(err)
		}
	}
	if c.killed.Load() {
		return 0, c.stopReason()
	}
	if len(pre) > 0 {
		if _, err := c.w.Write(pre); err != nil {
			return 0, c.writeErr(err)
		}
	}
	n := 0
	for _, m := range msgs {
		if m.replayedBy(after) {
			continue
		}
		if _, err := c.w.Write(m.Frame); err != nil {
			return n, c.writeErr(err)
		}
		n++
	}
	if len(post) > 0 && n == 0 { // a heartbeat only when no event went out
		if _, err := c.w.Write(post); err != nil {
			return n, c.writeErr(err)
		}
	}
	if err := c.rc.Flush(); err != nil {
		return n, c.writeErr(err)
	}
	c.wrote.Store(true)
	return n, nil
}

// anyAfter reports whether a message of msgs is not covered by a replay
// through after.
func anyAfter(msgs []*Message, after uint64) bool {
	for _, m := range msgs {
		if !m.replayedBy(after) {
			return true
		}
	}
	return false
}

func (c *client) stopReason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
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
