package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// TestPublishersRunUntilShutdown: a function added to publishers runs
// from the service's start, its events reach /events, and shutdown waits
// for it to return before it stops the broker.
func TestPublishersRunUntilShutdown(t *testing.T) {
	var returned atomic.Bool
	mine := topic.New[demo.BoardMessage]("mine", topic.Public)
	saved := publishers
	t.Cleanup(func() { publishers = saved })
	publishers = append(publishers, func(ctx context.Context, broker *sse.Broker, log *slog.Logger) {
		defer returned.Store(true)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				time.Sleep(50 * time.Millisecond) // shutdown must wait for this
				return
			case <-tick.C:
				sse.PublishTo(ctx, broker, mine, demo.BoardMessage{Text: "from a publisher"})
			}
		}
	})
	ts, svc := newTestService(t, defaults(t))
	resp := openStream(t, ts.URL+"/events?topic=mine")
	e, err := sse.NewDecoder(resp.Body).Next()
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "board" || e.Data != "from a publisher" {
		t.Errorf("got %q %q, want the publisher's event", e.Name, e.Data)
	}
	resp.Body.Close()
	svc.beginShutdown(5*time.Second, quiet)
	if !returned.Load() {
		t.Errorf("shutdown returned before the publisher did")
	}
}
