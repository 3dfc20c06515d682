package sse

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

func TestHeartbeat(t *testing.T) { run(t, testHeartbeat) }

func testHeartbeat(t *testing.T, mode testMode) {
	const hb = 60 * time.Millisecond
	b, srv := newTestBroker(t, mode, Options{Heartbeat: hb})

	t.Run("comment", func(t *testing.T) {
		c := connect(t, srv, "", nil)
		// next waits at most 5 s, a third of the default interval: the
		// heartbeat that comes is Options.Heartbeat's.
		if it := c.next(); !it.IsComm || it.Comment != "heartbeat" {
			t.Fatalf("got %+v, want the comment heartbeat", it)
		}
	})
	t.Run("event", func(t *testing.T) {
		id := publish(t, b, "", "before")
		c := connect(t, srv, protocol.HeartbeatParam+"=event", http.Header{"Last-Event-ID": {protocol.FormatID("x", 1)}})
		if e := c.nextEvent(); e.Name != protocol.GapEvent { // the gap sets the last event ID
			t.Fatalf("got %+v", e)
		}
		for range 2 {
			it := c.next()
			if it.IsComm || it.Event.Name != protocol.HeartbeatEvent {
				t.Fatalf("got %+v, want the heartbeat event", it)
			}
			// No id line: the last event ID stays the gap's.
			if it.ID != id {
				t.Errorf("heartbeat changed the last event ID to %q, want %q", it.ID, id)
			}
			ts, err := time.Parse(time.RFC3339, it.Data)
			if err != nil || time.Since(ts) > time.Minute || ts.Location() != time.UTC {
				t.Errorf("heartbeat data %q: %v, want the server time in RFC 3339 UTC", it.Data, err)
			}
		}
	})
}

func TestNoHeartbeatWhileEventsFlow(t *testing.T) { run(t, testNoHeartbeatWhileEventsFlow) }

func testNoHeartbeatWhileEventsFlow(t *testing.T, mode testMode) {
	const hb = 300 * time.Millisecond
	b, srv := newTestBroker(t, mode, Options{Heartbeat: hb})
	{
		c := connect(t, srv, topicsQuery("busy"), nil)
		waitFor(t, "client", func() bool { return b.Stats().Clients >= 1 })
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			tick := time.NewTicker(hb / 30)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					publish(t, b, "busy", "x")
				}
			}
		})
		deadline := time.After(5 * hb)
		heartbeats, events := 0, 0
	loop:
		for {
			select {
			case it := <-c.items:
				if it.IsComm {
					heartbeats++
				} else {
					events++
				}
			case <-deadline:
				break loop
			}
		}
		close(stop)
		wg.Wait()
		// The first tick may find the stream silent since it opened.
		if heartbeats > 1 || events < 10 {
			t.Errorf("%d heartbeats and %d events, want no heartbeat between frequent events", heartbeats, events)
		}
	}
}

func TestHeartbeatDisabled(t *testing.T) { run(t, testHeartbeatDisabled) }

func testHeartbeatDisabled(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{Heartbeat: -1})
	c := connect(t, srv, "", nil)
	select {
	case it := <-c.items:
		t.Fatalf("got %+v with heartbeats off", it)
	case <-time.After(100 * time.Millisecond):
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.ticking {
		t.Error("heartbeat goroutine started with heartbeats off")
	}
}

// A heartbeat to a client that is gone ends its stream, even when the
// server has not noticed the client leave.
func TestHeartbeatFindsDeadClient(t *testing.T) {
	reasons := make(chan error, 1) // buffered: the hook must not block
	b, err := New(Options{Heartbeat: 20 * time.Millisecond, Hooks: Hooks{OnDisconnect: func(_ ClientInfo, err error) { reasons <- err }}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(t.Context())
	w := &brokenWriter{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.ServeHTTP(w, newRequest(t.Context(), ""))
	}()
	select {
	case err := <-reasons:
		if err != errBroken {
			t.Errorf("reason %v, want the write error", err)
		}
	case <-time.After(wait):
		t.Fatal("dead client not found")
	}
	<-done
}
