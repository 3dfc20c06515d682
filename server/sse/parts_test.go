package sse

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// partedEngine replays in parts of two messages through Replay.More, as
// an engine that does not hold a replay at once does (the JetStream one).
// fail, if set, is the error of the part after the first; block makes
// that part wait for its context.
type partedEngine struct {
	*MemoryEngine
	released atomic.Int32
	mores    atomic.Int32
	fail     error
	block    bool
	blocked  chan struct{}
}

func (e *partedEngine) Replay(ctx context.Context, topics []string, last string) (Replay, error) {
	r, err := e.MemoryEngine.Replay(ctx, topics, last)
	if err != nil || len(r.Messages) <= 2 {
		return r, err
	}
	rest := r.Messages[2:]
	r.Messages = r.Messages[:2]
	r.Release = func() { e.released.Add(1) }
	r.More = func(ctx context.Context) ([]*Message, error) {
		if e.mores.Add(1) == 1 {
			switch {
			case e.fail != nil:
				return nil, e.fail
			case e.block:
				e.blocked <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}
		part := rest[:min(2, len(rest))]
		rest = rest[len(part):]
		return part, nil
	}
	return r, nil
}

// TestReplayInParts: the broker writes every part of a replay an engine
// gives in parts, in order, then the live events, and releases the
// replay once.
func TestReplayInParts(t *testing.T) { run(t, testReplayInParts) }

func testReplayInParts(t *testing.T, mode testMode) {
	eng := &partedEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{})}
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	first := publish(t, b, "t", "0")
	var want []string
	for i := 1; i <= 7; i++ {
		publish(t, b, "t", strconv.Itoa(i))
		want = append(want, strconv.Itoa(i))
	}
	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {first}})
	if got := datas(c.events(7)); !slices.Equal(got, want) {
		t.Errorf("replayed %q, want %q", got, want)
	}
	publish(t, b, "t", "live")
	if e := c.nextEvent(); e.Data != "live" {
		t.Errorf("after the replay: %+v, want the live event", e)
	}
	waitFor(t, "the replay's release", func() bool { return eng.released.Load() == 1 })
	if n := eng.mores.Load(); n != 4 { // parts 2, 3, 4, and the empty one
		t.Errorf("More called %d times, want 4", n)
	}
	c.Close()
	waitFor(t, "the stream to end", func() bool { return b.Stats().Clients == 0 })
	if n := eng.released.Load(); n != 1 {
		t.Errorf("Release called %d times, want once", n)
	}
}

// TestReplayPartFails: a part that cannot be read gives, after the
// parts written, the gap event (unavailable, with the replay's Head as
// its ID), then live events on the same stream; the replay is released.
func TestReplayPartFails(t *testing.T) { run(t, testReplayPartFails) }

func testReplayPartFails(t *testing.T, mode testMode) {
	eng := &partedEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{}), fail: errors.New("the part's events expired")}
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	first := publish(t, b, "t", "0")
	var head string
	for i := 1; i <= 5; i++ {
		head = publish(t, b, "t", strconv.Itoa(i))
	}
	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {first}})
	if got := datas(c.events(2)); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("first part %q, want 1 2", got)
	}
	expectGap(t, c, first, protocol.GapUnavailable, head)
	publish(t, b, "t", "live")
	if e := c.nextEvent(); e.Data != "live" {
		t.Errorf("after the gap: %+v, want the live event", e)
	}
	waitFor(t, "the replay's release", func() bool { return eng.released.Load() == 1 })
	if s := b.Stats(); s.ReplaysFailed != 1 || s.Gaps != 1 || s.Clients != 1 {
		t.Errorf("ReplaysFailed %d, Gaps %d, Clients %d; want 1, 1, 1", s.ReplaysFailed, s.Gaps, s.Clients)
	}
}

// TestLeaveBetweenParts: a client that leaves while a part is read stops
// the replay (its context ends), which is released.
func TestLeaveBetweenParts(t *testing.T) { run(t, testLeaveBetweenParts, hijackMode, http1Mode) }

func testLeaveBetweenParts(t *testing.T, mode testMode) {
	eng := &partedEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{}), block: true, blocked: make(chan struct{}, 1)}
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	first := publish(t, b, "t", "0")
	for i := 1; i <= 5; i++ {
		publish(t, b, "t", strconv.Itoa(i))
	}
	conn := rawResume(t, srv, "t", first)
	select {
	case <-eng.blocked:
	case <-time.After(wait):
		t.Fatal("the second part was never asked for")
	}
	conn.Close()
	waitFor(t, "the replay's release", func() bool { return eng.released.Load() == 1 })
	waitFor(t, "the stream to end", func() bool { return b.Stats().Clients == 0 })
	if n := b.Stats().ReplaysFailed; n != 0 {
		t.Errorf("BrokerStats.ReplaysFailed %d after the client left, want 0: leaving is no failure", n)
	}
}
