package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestOpenEngineDefault(t *testing.T) {
	e, release, err := openEngine(engineConfig{}, 10, time.Minute, 1<<20, discard)
	if err != nil || e != nil {
		t.Fatalf("no flags: engine %v, err %v; want the broker's own", e, err)
	}
	release()
}

func TestOpenEngineErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "nats://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, c := range []struct {
		cfg  engineConfig
		want []string
	}{
		{engineConfig{natsURL: "nats://x", natsEmbedded: t.TempDir()}, []string{"-nats and -nats-embedded"}},
		{engineConfig{natsURL: closed}, []string{"cannot reach NATS at " + closed, "fix -nats"}},
		{engineConfig{natsURL: jstest.StartFake(t, "2.8.4")}, []string{"is nats-server 2.8.4", "needs nats-server 2.9.0 or later", "upgrade nats-server"}},
	} {
		e, _, err := openEngine(c.cfg, 10, time.Minute, 1<<20, discard)
		if err == nil {
			e.(*jetstream.Engine).Close()
			t.Errorf("%+v: no error", c.cfg)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q does not say %q", c.cfg, err, w)
			}
		}
	}
}

// TestOpenEngineEmbeddedKeepsHistory: -nats-embedded stores the history
// in its directory, so a second run has the same epoch and replays the
// first run's events.
func TestOpenEngineEmbeddedKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, release, err := openEngine(engineConfig{natsEmbedded: dir}, 100, time.Hour, 64<<20, discard)
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.Publish(ctx, "t", sse.Event{Data: "one"})
	if err != nil {
		release()
		t.Fatal(err)
	}
	if _, err := e.Publish(ctx, "t", sse.Event{Data: strings.Repeat("x", 1<<20)}); err != nil {
		t.Errorf("a 1 MiB event (the default -max-event-size): %v", err)
	}
	release()

	e, release, err = openEngine(engineConfig{natsEmbedded: dir}, 100, time.Hour, 64<<20, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	r, err := e.Replay(ctx, []string{"t"}, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Gap != "" || r.Through != 2 || len(r.Messages) != 1 {
		t.Errorf("after a restart: gap %q through %d, %d messages; want the second event", r.Gap, r.Through, len(r.Messages))
	}
}

func TestReplayBytesFlag(t *testing.T) {
	if got := defaults(t).engine.replayBytes; got != jetstream.DefaultReplayBytes {
		t.Errorf("default -replay-bytes %d, want %d", got, jetstream.DefaultReplayBytes)
	}
	if got := defaults(t, "-replay-bytes", "1048576").engine.replayBytes; got != 1<<20 {
		t.Errorf("-replay-bytes 1048576 gave %d", got)
	}
	for _, v := range []string{"0", "-5"} {
		if _, err := parseFlags([]string{"-replay-bytes", v}, io.Discard); err == nil || !strings.Contains(err.Error(), "-replay-bytes must be positive") {
			t.Errorf("-replay-bytes %s: %v, want an error saying it must be positive", v, err)
		}
	}
}
