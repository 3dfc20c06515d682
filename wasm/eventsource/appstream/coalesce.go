package appstream

import (
	"sync"
	"sync/atomic"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// StreamStats are the counters of a [Stream]'s delivery to its component.
type StreamStats struct {
	// Delivered counts the handler calls queued and run: events, states,
	// gaps and decode errors.
	Delivered uint64
	// Batches counts the ctx.Dispatch calls: one per frame that had
	// something to deliver.
	Batches uint64
	// MaxBatch is the largest number of handler calls in one batch.
	MaxBatch int
	// Frames and Fallbacks count the batches started by an animation frame
	// and by the fallback timer.
	Frames, Fallbacks uint64
}

// scheduler calls the coalescer's frame function once, at the next
// animation frame or, if none comes soon, from a timer. Its methods are
// called with the coalescer's mu held.
type scheduler interface {
	schedule() // arrange one call; never called while one is pending
	cancel()   // cancel the pending call, if any
	release()  // cancel and free resources; no call happens after it
}

// coalescer queues handler calls and delivers them to the component in one
// ctx.Dispatch per frame, with at most one dispatch in go-app's queue.
type coalescer struct {
	dispatch func(func(app.Context)) // ctx.Dispatch
	sched    scheduler
	closed   atomic.Bool // read without mu by a running batch

	mu        sync.Mutex
	pending   []func(app.Context)
	spare     []func(app.Context) // the last batch's array, reused
	scheduled bool                // sched has a call pending
	inflight  bool                // a batch is dispatched and has not run yet
	stats     StreamStats
}

func newCoalescer(dispatch func(func(app.Context))) *coalescer {
	c := &coalescer{dispatch: dispatch}
	c.sched = newScheduler(c.frame)
	return c
}

// push queues fn for the next frame. It never blocks on go-app: safe on
// the browser's event loop.
func (c *coalescer) push(fn func(app.Context)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	c.pending = append(c.pending, fn)
	c.kick()
}

// kick asks for a frame if something waits and no frame or batch is
// pending. c.mu is held.
func (c *coalescer) kick() {
	if !c.scheduled && !c.inflight && len(c.pending) > 0 && !c.closed.Load() {
		c.scheduled = true
		c.sched.schedule()
	}
}

// frame dispatches the queued calls as one batch. fallback tells whether
// the timer, not an animation frame, called it.
func (c *coalescer) frame(fallback bool) {
	c.mu.Lock()
	if !c.scheduled || c.closed.Load() {
		c.mu.Unlock()
		return
	}
	c.scheduled = false
	c.sched.cancel() // the other of the frame and the timer
	batch := c.pending
	c.pending, c.spare = c.spare[:0], nil
	c.inflight = true
	c.stats.Batches++
	if fallback {
		c.stats.Fallbacks++
	} else {
		c.stats.Frames++
	}
	c.stats.MaxBatch = max(c.stats.MaxBatch, len(batch))
	c.mu.Unlock()
	// ctx.Dispatch may block when go-app's queue is full; ours adds at most
	// this one item to it.
	c.dispatch(func(ctx app.Context) { c.run(ctx, batch) })
}

// run calls a batch on the UI goroutine, then asks for the next frame if
// more arrived meanwhile.
func (c *coalescer) run(ctx app.Context, batch []func(app.Context)) {
	n := 0
	for _, fn := range batch {
		if c.closed.Load() { // a handler closed the stream
			break
		}
		fn(ctx)
		n++
	}
	clear(batch) // let the values go
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = false
	c.spare = batch[:0]
	c.stats.Delivered += uint64(n)
	c.kick()
}

// close drops the queued calls and cancels the pending frame. Idempotent.
func (c *coalescer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Swap(true) {
		return
	}
	c.sched.release()
	c.pending, c.spare = nil, nil
	c.scheduled = false
}

func (c *coalescer) statsNow() StreamStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
