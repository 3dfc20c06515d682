package appstream

import (
	"sync"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// fakeFrames is a scheduler the test fires by hand.
type fakeFrames struct {
	t        *testing.T
	pending  bool
	requests int
	released bool
}

func (f *fakeFrames) schedule() {
	if f.pending {
		f.t.Error("schedule with a frame already pending")
	}
	if f.released {
		f.t.Error("schedule after release")
	}
	f.pending = true
	f.requests++
}
func (f *fakeFrames) cancel()  { f.pending = false }
func (f *fakeFrames) release() { f.pending, f.released = false, true }

// fakeQueue stands in for go-app's dispatch queue.
type fakeQueue struct {
	mu      sync.Mutex
	items   []func(app.Context)
	maxLen  int
	handled int
}

func (q *fakeQueue) dispatch(fn func(app.Context)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, fn)
	q.maxLen = max(q.maxLen, len(q.items))
}

// runAll runs the queued dispatches, as go-app's UI goroutine would.
func (q *fakeQueue) runAll() {
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.mu.Unlock()
			return
		}
		fn := q.items[0]
		q.items = q.items[1:]
		q.handled++
		q.mu.Unlock()
		fn(app.Context{})
	}
}

func newTestCoalescer(t *testing.T) (*coalescer, *fakeFrames, *fakeQueue) {
	q := &fakeQueue{}
	f := &fakeFrames{t: t}
	c := &coalescer{dispatch: q.dispatch, sched: f}
	return c, f, q
}

func TestCoalescerOneDispatchPerFrame(t *testing.T) {
	c, f, q := newTestCoalescer(t)
	var got []int
	for i := range 10000 {
		c.push(func(app.Context) { got = append(got, i) })
	}
	if f.requests != 1 || len(q.items) != 0 {
		t.Fatalf("after a burst: %d frame requests, %d dispatches; want 1, 0", f.requests, len(q.items))
	}
	c.frame(false)
	// More events while the batch waits in go-app's queue: no new frame, no
	// second dispatch.
	for i := 10000; i < 10005; i++ {
		c.push(func(app.Context) { got = append(got, i) })
	}
	c.frame(false) // a stray frame
	if f.requests != 1 || len(q.items) != 1 {
		t.Fatalf("with a batch in flight: %d frame requests, %d dispatches; want 1, 1", f.requests, len(q.items))
	}
	q.runAll()
	if len(got) != 10000 {
		t.Fatalf("first batch ran %d calls, want 10000", len(got))
	}
	if f.requests != 2 || !f.pending {
		t.Fatalf("after the batch ran with more waiting: %d frame requests, pending %v; want 2, true", f.requests, f.pending)
	}
	c.frame(true)
	q.runAll()
	for i, v := range got {
		if v != i {
			t.Fatalf("call %d ran value %d: out of order", i, v)
		}
	}
	if len(got) != 10005 || q.maxLen != 1 {
		t.Errorf("%d calls, go-app queue peaked at %d; want 10005, 1", len(got), q.maxLen)
	}
	want := StreamStats{Delivered: 10005, Batches: 2, MaxBatch: 10000, Frames: 1, Fallbacks: 1}
	if st := c.statsNow(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if f.pending {
		t.Error("a frame is pending with nothing queued")
	}
}

func TestCoalescerClose(t *testing.T) {
	c, f, q := newTestCoalescer(t)
	ran := 0
	c.push(func(app.Context) { ran++ })
	c.close()
	c.close()
	if !f.released || f.pending {
		t.Errorf("close: released %v, pending %v; want true, false", f.released, f.pending)
	}
	c.push(func(app.Context) { ran++ })
	c.frame(false)
	q.runAll()
	if ran != 0 || q.handled != 0 {
		t.Errorf("%d calls, %d dispatches after close; want none", ran, q.handled)
	}
}

func TestCoalescerCloseFromHandler(t *testing.T) {
	c, _, q := newTestCoalescer(t)
	ran := 0
	c.push(func(app.Context) { ran++; c.close() })
	c.push(func(app.Context) { ran++ })
	c.frame(false)
	q.runAll()
	if ran != 1 {
		t.Errorf("%d calls ran, want 1: the rest of the batch must be dropped after close", ran)
	}
}

// TestCoalescerConcurrent pushes from many goroutines while frames fire and
// batches run (run it with -race).
func TestCoalescerConcurrent(t *testing.T) {
	q := &fakeQueue{}
	var mu sync.Mutex // frames fire under the test's control
	c := &coalescer{dispatch: q.dispatch}
	frames := make(chan struct{}, 1) // buffered: schedule must not block
	c.sched = &chanFrames{ch: frames}
	var delivered int
	var wg sync.WaitGroup
	const writers, each = 8, 2000
	for range writers {
		wg.Go(func() {
			for range each {
				c.push(func(app.Context) { mu.Lock(); delivered++; mu.Unlock() })
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-frames:
			c.frame(false)
			q.runAll()
			continue
		case <-done:
		}
		break
	}
	for {
		select {
		case <-frames:
			c.frame(false)
			q.runAll()
			continue
		default:
		}
		break
	}
	if delivered != writers*each || q.maxLen != 1 {
		t.Errorf("%d delivered, queue peaked at %d; want %d, 1", delivered, q.maxLen, writers*each)
	}
}

type chanFrames struct{ ch chan struct{} }

func (f *chanFrames) schedule() { f.ch <- struct{}{} }
func (f *chanFrames) cancel()   {}
func (f *chanFrames) release()  {}
