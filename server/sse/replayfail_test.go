package sse

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// failingEngine is a MemoryEngine whose Replay fails with err.
type failingEngine struct {
	*MemoryEngine
	err error
}

func (e *failingEngine) Replay(context.Context, []string, string) (Replay, error) {
	return Replay{}, e.err
}

// logRecorder is a slog.Handler that keeps the records it is given.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// at returns the records at level, each as its message and attributes.
func (l *logRecorder) at(level slog.Level) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.records {
		if r.Level != level {
			continue
		}
		m := map[string]string{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

// TestReplayFails: an engine that cannot read a replay does not end the
// stream: the client gets the gap event (unavailable), whose ID is the
// newest event, then live events on the same stream; it is counted and
// logged as a warning with the engine's error.
func TestReplayFails(t *testing.T) { run(t, testReplayFails) }

func testReplayFails(t *testing.T, mode testMode) {
	logs := &logRecorder{}
	eng := &failingEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{}), err: errors.New("jetstream: replay: NATS is unavailable")}
	b, srv := newTestBroker(t, mode, Options{Engine: eng, Logger: slog.New(logs)})
	first := publish(t, b, "t", "0")
	publish(t, b, "other", "1")
	newest := publish(t, b, "t", "2")
	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {first}})
	expectGap(t, c, first, protocol.GapUnavailable, newest)
	live := publish(t, b, "t", "live")
	if e := c.nextEvent(); e.Data != "live" || e.ID != live {
		t.Errorf("after the gap: %+v, want the live event %s", e, live)
	}
	s := b.Stats()
	if s.ReplaysFailed != 1 || s.Gaps != 1 || s.Clients != 1 {
		t.Errorf("ReplaysFailed %d, Gaps %d, Clients %d; want 1, 1, 1 (the stream open)", s.ReplaysFailed, s.Gaps, s.Clients)
	}
	warns := logs.at(slog.LevelWarn)
	if len(warns) != 1 || warns[0]["err"] != eng.err.Error() || warns[0]["lastEventId"] != first {
		t.Errorf("warnings %v; want one with the engine's error and the Last-Event-ID", warns)
	}
}

// TestReplayFailsBeforeAnyEvent: a broker that has seen no event yet
// sends the gap without an ID (the client keeps its own), then every
// live event.
func TestReplayFailsBeforeAnyEvent(t *testing.T) {
	run(t, testReplayFailsBeforeAnyEvent, hijackMode, http1Mode, h2detMode)
}

func testReplayFailsBeforeAnyEvent(t *testing.T, mode testMode) {
	eng := &failingEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{}), err: errors.New("no history")}
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	const sent = "elsewhere-7"
	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {sent}})
	expectGap(t, c, sent, protocol.GapUnavailable, "")
	var want []string
	for i := range 3 {
		want = append(want, publish(t, b, "t", strconv.Itoa(i)))
	}
	var got []string
	for _, e := range c.events(3) {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("after the gap: IDs %q, want %q", got, want)
	}
}

// TestReplayFailuresLoggedSparingly: a storm of failed replays logs one
// warning per interval, which counts those held back; every one is
// counted and every client gets its gap.
func TestReplayFailuresLoggedSparingly(t *testing.T) {
	logs := &logRecorder{}
	eng := &failingEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{}), err: errors.New("down")}
	b, srv := newTestBroker(t, http1Mode, Options{Engine: eng, Logger: slog.New(logs)})
	b.replayWarns.every = 200 * time.Millisecond
	id := publish(t, b, "t", "0")
	const storm = 20
	for range storm {
		c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {id}})
		expectGap(t, c, id, protocol.GapUnavailable, id)
		c.Close()
	}
	if n := len(logs.at(slog.LevelWarn)); n < 1 || n > 3 { // 20 resumptions well within 600 ms
		t.Errorf("%d warnings for %d failures at once, want 1 (a few on a slow machine)", n, storm)
	}
	time.Sleep(b.replayWarns.every)
	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {id}})
	expectGap(t, c, id, protocol.GapUnavailable, id)
	warns := logs.at(slog.LevelWarn)
	held := 0
	for _, w := range warns {
		n, _ := strconv.Atoi(w["suppressed"])
		held += n
	}
	if held+len(warns) != storm+1 {
		t.Errorf("%d warnings counting %d held back, want %d failures in all", len(warns), held, storm+1)
	}
	if n := b.Stats().ReplaysFailed; n != storm+1 {
		t.Errorf("BrokerStats.ReplaysFailed %d, want %d", n, storm+1)
	}
}

func TestWarnLimiter(t *testing.T) {
	var l warnLimiter
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{replayWarnEvery - 1, false, 0},
		{replayWarnEvery, true, 2},
		{replayWarnEvery + time.Second, false, 0},
		{3 * replayWarnEvery, true, 1},
		{4 * replayWarnEvery, true, 0},
	} {
		ok, n := l.allow(t0.Add(c.at))
		if ok != c.ok || n != c.suppressed {
			t.Errorf("at %v: allow %v, %d held back; want %v, %d", c.at, ok, n, c.ok, c.suppressed)
		}
	}
}
