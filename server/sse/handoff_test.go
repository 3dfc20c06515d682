package sse

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
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
	read := make(chan struct{}) // closed once the client's history was read
	eng.before, eng.after = pub("during 1"), func() { pub("during 2")(); close(read) }
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	first := publish(t, b, "t", "missed")

	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {first}})
	<-read // "after" must not be in the replay: some transports send the head before it
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

// blockingEngine's Replay waits until its context ends.
type blockingEngine struct {
	*MemoryEngine
	entered, left chan struct{}
}

func (e *blockingEngine) Replay(ctx context.Context, topics []string, lastID string) (Replay, error) {
	e.entered <- struct{}{}
	<-ctx.Done()
	close(e.left)
	return Replay{}, ctx.Err()
}

// A client that leaves while its stream waits for a replay stops the
// replay: on the hijacked path net/http no longer watches the
// connection, so the broker must. Before, the replay went on for a
// client long gone, and in the soak such replays queued up behind the
// engine's bound on replays until instances hit MaxClients.
func TestLeaveDuringReplay(t *testing.T) { run(t, testLeaveDuringReplay, hijackMode, http1Mode) }

func testLeaveDuringReplay(t *testing.T, mode testMode) {
	eng := &blockingEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{}), entered: make(chan struct{}, 1), left: make(chan struct{})}
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	id := publish(t, b, "t", "x")
	conn := rawResume(t, srv, "t", id)
	select {
	case <-eng.entered:
	case <-time.After(wait):
		t.Fatal("the replay never started")
	}
	conn.Close()
	select {
	case <-eng.left:
	case <-time.After(wait):
		t.Fatal("the client left, but its replay went on")
	}
	waitFor(t, "the stream to end", func() bool { return b.Stats().Clients == 0 })
}

// rawResume opens a stream on topic after lastID on a raw connection,
// which the caller closes to leave.
func rawResume(t *testing.T, srv *httptest.Server, topic, lastID string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /?%s HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %s\r\n\r\n", topicsQuery(topic), lastID)
	return conn
}
