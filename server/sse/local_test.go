package sse

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// A local event reaches the topic's clients only, without an id line, and
// is neither stored nor replayed.
func TestPublishLocal(t *testing.T) { run(t, testPublishLocal) }

func testPublishLocal(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{})
	on := connect(t, srv, topicsQuery("stats"), nil)
	off := connect(t, srv, topicsQuery("other"), nil)
	first := publish(t, b, "stats", "stored 1")
	if err := b.PublishLocal("stats", Event{Name: "load", Data: "local"}); err != nil {
		t.Fatal(err)
	}
	second := publish(t, b, "stats", "stored 2")

	got := on.events(3)
	if want := []string{"stored 1", "local", "stored 2"}; !slices.Equal(datas(got), want) {
		t.Fatalf("got %q, want %q", datas(got), want)
	}
	// The decoder, like a browser, reports the last ID seen: the local
	// event has none of its own, so the stored event's stays.
	if got[1].ID != first || got[1].Name != "load" {
		t.Errorf("local event %+v: want event load and the last ID unchanged (%s)", got[1], first)
	}
	off.expectNothing(20 * time.Millisecond)

	// Not replayed: a client resuming after the first stored event gets
	// the second only.
	re := connect(t, srv, topicsQuery("stats"), http.Header{"Last-Event-ID": {first}})
	ev := re.nextEvent()
	if ev.ID != second {
		t.Errorf("replay gave %+v, want only the stored event %s", ev, second)
	}
	re.expectNothing(20 * time.Millisecond)

	if s := b.Stats(); s.Published != 2 || s.Local != 1 || s.Delivered != 3 {
		t.Errorf("stats %+v, want 2 published, 1 local, 3 delivered (the replay counts in Replayed)", s)
	}
}

// The wire form of a local event has no id: field, so a browser keeps
// its Last-Event-ID.
func TestPublishLocalWire(t *testing.T) { run(t, testPublishLocalWire) }

func testPublishLocalWire(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{Retry: -1}) // no retry line: the frame alone
	resp, err := srv.Client().Get(srv.URL + "/events?" + topicsQuery("s"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitFor(t, "the client", func() bool { return b.Stats().Clients == 1 })
	if err := b.PublishLocal("s", Event{Data: "x"}); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	var frame strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, ":") { // heartbeat
			continue
		}
		frame.WriteString(line)
		if line == "\n" {
			break
		}
	}
	if got, want := frame.String(), "data: x\n\n"; got != want {
		t.Errorf("frame %q, want %q", got, want)
	}
}

// PublishLocal checks its event like Publish, and fails after Shutdown.
func TestPublishLocalChecks(t *testing.T) {
	b, err := New(Options{MaxEventSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		topic string
		e     Event
		want  error
	}{
		{"bad topic", Event{Data: "x"}, ErrInvalidTopic},
		{"t", Event{ID: "1", Data: "x"}, ErrIDAssigned},
		{"t", Event{Name: protocol.GapEvent, Data: "x"}, ErrReservedEvent},
		{"t", Event{Data: "12345"}, ErrEventTooLarge},
		{"t", Event{Name: "a\nb", Data: "x"}, ErrInvalidEvent},
	} {
		if err := b.PublishLocal(c.topic, c.e); !errors.Is(err, c.want) {
			t.Errorf("PublishLocal(%q, %+v) = %v, want %v", c.topic, c.e, err, c.want)
		}
	}
	if err := b.PublishLocal("", Event{Data: "x"}); err != nil {
		t.Errorf("no client: %v", err)
	}
	b.Shutdown(context.Background())
	if err := b.PublishLocal("t", Event{Data: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Shutdown: %v, want ErrClosed", err)
	}
}

// A local event sent while a client's history is being read is queued
// with the live events and delivered after the replay, not skipped as
// covered by it (it has no Seq), and the stored events around it keep
// their order and are neither lost nor doubled.
func TestPublishLocalDuringHandoff(t *testing.T) { run(t, testPublishLocalDuringHandoff) }

func testPublishLocalDuringHandoff(t *testing.T, mode testMode) {
	mem := NewMemoryEngine(MemoryOptions{})
	eng := &raceEngine{MemoryEngine: mem}
	var b *Broker
	eng.before = func() {
		if err := b.PublishLocal("t", Event{Data: "local before"}); err != nil {
			t.Error(err)
		}
		if _, err := mem.Publish(context.Background(), "t", Event{Data: "during"}); err != nil {
			t.Error(err)
		}
	}
	read := make(chan struct{}) // closed once the client's history was read
	eng.after = func() {
		if err := b.PublishLocal("t", Event{Data: "local after"}); err != nil {
			t.Error(err)
		}
		close(read)
	}
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	first := publish(t, b, "t", "missed")
	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {first}})
	// Not before the replay has read the history: some transports send
	// the response's head before it, and "after" would then be replayed.
	<-read
	publish(t, b, "t", "after")
	got := datas(c.events(4))
	if want := []string{"during", "local before", "local after", "after"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	c.expectNothing(20 * time.Millisecond)
	if s := b.Stats(); s.Replayed != 1 || s.Delivered != 3 || s.Local != 2 {
		t.Errorf("stats %+v, want 1 replayed, 3 delivered live (2 local), 2 local", s)
	}
}
