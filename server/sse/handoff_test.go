package sse

import (
	"context"
	"net/http"
	"slices"
	"testing"
)

// raceEngine publishes while a replay happens, at the worst moments.
type raceEngine struct {
	*MemoryEngine
	before, after func()
}

func (e *raceEngine) Replay(ctx context.Context, topics []string, lastID string) (Replay, error) {
	e.before()
	r, err := e.MemoryEngine.Replay(ctx, topics, lastID)
	e.after()
	return r, err
}

// An event published just before the history is read reaches the client
// once (it is both queued live and in the replay); one published just
// after reaches it too (live only).
func TestReplayLiveHandoff(t *testing.T) { run(t, testReplayLiveHandoff) }

func testReplayLiveHandoff(t *testing.T, mode testMode) {
	mem := NewMemoryEngine(MemoryOptions{})
	eng := &raceEngine{MemoryEngine: mem}
	pub := func(data string) func() {
		return func() {
			if _, err := mem.Publish(context.Background(), "t", Event{Data: data}); err != nil {
				t.Error(err)
			}
		}
	}
	eng.before, eng.after = pub("during 1"), pub("during 2")
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	first := publish(t, b, "t", "missed")

	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {first}})
	publish(t, b, "t", "after")
	got := datas(c.events(3))
	if want := []string{"during 1", "during 2", "after"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q: lost or doubled at the handoff", got, want)
	}
	c.expectNothing(20e6)
	// The counters are added after the write returns, which may be after
	// the client read the events (the TLS path under load): wait for them.
	waitFor(t, "1 replayed, 2 delivered live", func() bool {
		s := b.Stats()
		return s.Replayed == 1 && s.Delivered == 2
	})
	if s := b.Stats(); s.Replayed != 1 || s.Delivered != 2 {
		t.Errorf("stats %+v, want 1 replayed, 2 delivered live", s)
	}
}
