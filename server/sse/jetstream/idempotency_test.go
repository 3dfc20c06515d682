package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
)

// publishOnce publishes data on topic with key and fails the test on error.
func publishOnce(t *testing.T, e *Engine, topic, key, data string) (*sse.Message, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, dup, err := e.PublishOnce(ctx, topic, key, sse.Event{Name: "e", Data: data})
	if err != nil {
		t.Fatalf("publish %s on %s with key %s: %v", data, topic, key, err)
	}
	return m, dup
}

// storedMsgs is how many messages the stream holds.
func storedMsgs(t *testing.T, e *Engine) uint64 {
	t.Helper()
	info, err := e.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestPublishOnce: a key published through instance A and retried
// through instance B is stored and delivered once; the retry gets the
// first message, read back from the stream. Keys are per topic.
func TestPublishOnce(t *testing.T) { jstest.Run(t, testPublishOnce) }

func testPublishOnce(t *testing.T, n *jstest.Server) {
	a := newEngine(t, n, Options{HistoryAge: time.Minute})
	b := newEngine(t, n, Options{HistoryAge: time.Minute})
	info, err := a.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != time.Minute {
		t.Errorf("Duplicates window %v, want the history age, 1m", info.Config.Duplicates)
	}
	rec := newRecorder()
	cancel, err := b.Subscribe(rec.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	first, dup := publishOnce(t, a, "orders", "k1", "tea")
	if dup || first.Seq != 1 {
		t.Fatalf("first publish: seq %d, dup %v", first.Seq, dup)
	}
	retry, dup := publishOnce(t, b, "orders", "k1", "tea")
	if !dup || retry.ID != first.ID || string(retry.Frame) != string(first.Frame) || retry.Topic != "orders" {
		t.Errorf("retry through B: %+v %q, dup %v; want the first message %s %q", retry, retry.Frame, dup, first.ID, first.Frame)
	}
	other, dup := publishOnce(t, b, "invoices", "k1", "tea")
	if dup || other.Seq != 2 {
		t.Errorf("same key on another topic: seq %d, dup %v; want a new event", other.Seq, dup)
	}
	plain := publish(t, a, "orders", "no key")
	if plain.Seq != 3 {
		t.Errorf("publish without a key: seq %d", plain.Seq)
	}
	got := rec.wait(t, 3, 10*time.Second)
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show up
	if got = rec.got(); len(got) != 3 || storedMsgs(t, a) != 3 {
		t.Errorf("delivered seqs %v, stored %d; want 1, 2, 3 once", seqs(got), storedMsgs(t, a))
	}
	if _, _, err := a.PublishOnce(context.Background(), "orders", "a key", sse.Event{}); !errors.Is(err, sse.ErrInvalidIdempotencyKey) {
		t.Errorf("a key with a space: %v", err)
	}
}

// TestDuplicateWindowUpdated: a stream made before idempotent publish
// (NATS's default window of 2 minutes) gets the history age as its
// window when an engine starts on it.
func TestDuplicateWindowUpdated(t *testing.T) { jstest.Run(t, testDuplicateWindowUpdated) }

func testDuplicateWindowUpdated(t *testing.T, n *jstest.Server) {
	js, err := natsjs.New(connect(t, n))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: DefaultStream, Subjects: []string{DefaultSubject + ".>"}, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, n, Options{HistoryAge: time.Hour})
	info, err := e.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != time.Hour {
		t.Errorf("Duplicates window %v after the engine started, want 1h", info.Config.Duplicates)
	}
}

// TestPublishOnceConcurrent: many goroutines on two instances publish
// with the same keys at once: one message per key is stored.
func TestPublishOnceConcurrent(t *testing.T) { jstest.Run(t, testPublishOnceConcurrent) }

func testPublishOnceConcurrent(t *testing.T, n *jstest.Server) {
	engines := []*Engine{newEngine(t, n, Options{}), newEngine(t, n, Options{})}
	const goroutines, keys = 16, 5
	ids := make([][keys]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for k := range keys {
				m, _, err := engines[g%2].PublishOnce(context.Background(), "t", fmt.Sprint("key-", k), sse.Event{Data: "same"})
				if err != nil {
					t.Error(err)
					return
				}
				ids[g][k] = m.ID
			}
		})
	}
	wg.Wait()
	for g := range ids {
		if ids[g] != ids[0] {
			t.Fatalf("goroutine %d got %v, goroutine 0 %v", g, ids[g], ids[0])
		}
	}
	if got := storedMsgs(t, engines[0]); got != keys {
		t.Errorf("%d messages stored, want %d", got, keys)
	}
}

// TestPublishOnceAfterHistory: JetStream remembers a key for its
// Duplicates window, not for its message's life. A key whose message
// left the stream by count is still answered with the first ID (no
// frame); once the window has passed, the key stores a new message.
func TestPublishOnceAfterHistory(t *testing.T) { jstest.Run(t, testPublishOnceAfterHistory) }

func testPublishOnceAfterHistory(t *testing.T, n *jstest.Server) {
	const window = 300 * time.Millisecond
	e := newEngine(t, n, Options{HistorySize: 2, HistoryAge: time.Minute, DuplicateWindow: window})
	first, _ := publishOnce(t, e, "a", "k", "x")
	publish(t, e, "a", "filler 1")
	publish(t, e, "a", "filler 2") // first is gone
	m, dup := publishOnce(t, e, "a", "k", "x")
	if !dup || m.ID != first.ID || m.Frame != nil {
		t.Errorf("retry after its message left: %+v, dup %v; want the first ID without a frame", m, dup)
	}
	deadline := time.Now().Add(10 * time.Second)
	for dup && time.Now().Before(deadline) {
		time.Sleep(window / 3)
		m, dup = publishOnce(t, e, "a", "k", "x")
	}
	if dup || m.Seq != 4 {
		t.Errorf("after the Duplicates window: seq %d, dup %v; want a new message, seq 4", m.Seq, dup)
	}

	for _, w := range []time.Duration{-time.Second, 2 * time.Minute} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := New(ctx, connect(t, n), Options{HistoryAge: time.Minute, DuplicateWindow: w})
		cancel()
		if err == nil {
			t.Errorf("DuplicateWindow %v with HistoryAge 1m: no error", w)
		}
	}
}

// TestPublishOnceAcrossRestart: NATS rebuilds its duplicate window from
// the stored messages, so a retry after NATS restarts is still caught.
func TestPublishOnceAcrossRestart(t *testing.T) { jstest.Run(t, testPublishOnceAcrossRestart) }

func testPublishOnceAcrossRestart(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	first, _ := publishOnce(t, e, "a", "k", "x")
	restart(t, n, e.nc)
	m, dup := publishOnce(t, e, "a", "k", "x")
	if !dup || m.ID != first.ID || storedMsgs(t, e) != 1 {
		t.Errorf("retry after a NATS restart: %+v, dup %v, %d stored; want the first message", m, dup, storedMsgs(t, e))
	}
}

// TestBrokerPublishWith: the broker's idempotent publish over two
// instances, as /publish uses it.
func TestBrokerPublishWith(t *testing.T) { jstest.Run(t, testBrokerPublishWith) }

func testBrokerPublishWith(t *testing.T, n *jstest.Server) {
	var brokers []*sse.Broker
	for range 2 {
		b, err := sse.New(sse.Options{Engine: newEngine(t, n, Options{}), Heartbeat: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Shutdown(context.Background())
		brokers = append(brokers, b)
	}
	ctx := context.Background()
	opts := sse.PublishOptions{IdempotencyKey: "order-1"}
	p1, err := brokers[0].PublishWith(ctx, "orders", sse.Event{Data: "tea"}, opts)
	if err != nil || p1.Duplicate {
		t.Fatalf("first: %+v, %v", p1, err)
	}
	p2, err := brokers[1].PublishWith(ctx, "orders", sse.Event{Data: "tea"}, opts)
	if err != nil || !p2.Duplicate || p2.ID != p1.ID {
		t.Errorf("retry through the other instance: %+v, %v; want %s, duplicate", p2, err, p1.ID)
	}
	if _, err := brokers[1].PublishWith(ctx, "orders", sse.Event{Data: "cake"}, opts); !errors.Is(err, sse.ErrIdempotencyKeyReused) {
		t.Errorf("the key for another event: %v, want ErrIdempotencyKeyReused", err)
	}
	if s := brokers[1].Stats(); s.Deduplicated != 1 || s.Published != 0 {
		t.Errorf("instance B: Published %d, Deduplicated %d", s.Published, s.Deduplicated)
	}
}

// BenchmarkPublishOnce compares publishing to the embedded nats-server
// without a key, with a new key each time (NATS stores it in its
// Duplicates window), and a retry (a duplicate, read back by sequence).
func BenchmarkPublishOnce(b *testing.B) {
	ev := sse.Event{Name: "update", Data: `{"price":42.5,"symbol":"ABC"}`}
	for _, c := range []struct {
		name string
		key  func(i int) string
	}{
		{"no-key", nil},
		{"new-key", func(i int) string { return fmt.Sprintf("8e03978e-40d5-43e8-bc93-%012d", i) }},
		{"retry", func(int) string { return "8e03978e-40d5-43e8-bc93-000000000000" }},
	} {
		b.Run(c.name, func(b *testing.B) {
			n := jstest.Start(b)
			nc, err := nats.Connect(n.URL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			ctx := context.Background()
			e, err := New(ctx, nc, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			if c.key != nil {
				e.PublishOnce(ctx, "t", c.key(0), ev) // the retry's first
			}
			i := 0
			for b.Loop() {
				i++
				if c.key == nil {
					_, err = e.Publish(ctx, "t", ev)
				} else {
					_, _, err = e.PublishOnce(ctx, "t", c.key(i), ev)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
