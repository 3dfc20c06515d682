package sse

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

func TestValidIdempotencyKey(t *testing.T) {
	for _, c := range []struct {
		key string
		ok  bool
	}{
		{"8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{`"quoted"`, true},
		{"!~", true},
		{strings.Repeat("k", MaxIdempotencyKeyLen), true},
		{"", false},
		{strings.Repeat("k", MaxIdempotencyKeyLen+1), false},
		{"a b", false},
		{"a\tb", false},
		{"a\x00", false},
		{"a\x7f", false},
		{"é", false},
	} {
		if got := ValidIdempotencyKey(c.key); got != c.ok {
			t.Errorf("ValidIdempotencyKey(%q) = %v, want %v", c.key, got, c.ok)
		}
	}
}

// TestMemoryKeyLifetime: a key lives exactly as long as its event is in
// the history; once the event is dropped (by count, bytes or age), a
// publish with the key stores a new event.
func TestMemoryKeyLifetime(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		opts  MemoryOptions
		evict func(m *MemoryEngine, clock *fakeClock) // drops the keyed event, keeps the history otherwise
	}{
		{"count", MemoryOptions{HistorySize: 3}, func(m *MemoryEngine, _ *fakeClock) {
			for range 3 {
				m.Publish(ctx, "t", Event{Data: "filler"})
			}
		}},
		{"bytes", MemoryOptions{HistoryBytes: 200}, func(m *MemoryEngine, _ *fakeClock) {
			m.Publish(ctx, "t", Event{Data: strings.Repeat("x", 150)})
		}},
		{"age", MemoryOptions{HistoryAge: time.Minute}, func(m *MemoryEngine, clock *fakeClock) {
			clock.Advance(61 * time.Second)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1e9, 0)}
			c.opts.Now = clock.Now
			m := NewMemoryEngine(c.opts)
			first, dup, err := m.PublishOnce(ctx, "t", "k", Event{Data: "once"})
			if err != nil || dup {
				t.Fatalf("first publish: dup %v, %v", dup, err)
			}
			again, dup, err := m.PublishOnce(ctx, "t", "k", Event{Data: "once"})
			if err != nil || !dup || again != first {
				t.Fatalf("retry while in history: %+v, dup %v, %v; want the first message", again, dup, err)
			}
			c.evict(m, clock)
			if r, _ := m.Replay(ctx, []string{"t"}, protocol.FormatID(m.Epoch(), first.Seq-1)); r.Gap == "" && len(r.Messages) > 0 && r.Messages[0] == first {
				t.Fatal("the keyed event is still in the history")
			}
			if n := len(m.keys); n != 0 {
				t.Errorf("%d keys remembered after their event left", n)
			}
			later, dup, err := m.PublishOnce(ctx, "t", "k", Event{Data: "once"})
			if err != nil || dup || later.Seq <= first.Seq {
				t.Errorf("after the event left: %+v, dup %v, %v; want a new event", later, dup, err)
			}
		})
	}
}

// TestMemoryKeyBytes: keys count in HistoryBytes, so a flood of keyed
// publishes stays under the bound too.
func TestMemoryKeyBytes(t *testing.T) {
	const limit = 64 << 10
	m := NewMemoryEngine(MemoryOptions{HistoryBytes: limit, HistorySize: 1 << 20})
	ctx := context.Background()
	key := strings.Repeat("k", MaxIdempotencyKeyLen-8)
	for i := range 2000 {
		if _, _, err := m.PublishOnce(ctx, "t", fmt.Sprintf("%s%08d", key, i), Event{Data: "x"}); err != nil {
			t.Fatal(err)
		}
		if b := m.HistoryBytes(); b > limit {
			t.Fatalf("history holds %d bytes with keys, over %d", b, limit)
		}
	}
	frame := len("id: " + protocol.FormatID(m.Epoch(), 2000) + "\ndata: x\n\n")
	if n, want := len(m.keys), limit/(frame+MaxIdempotencyKeyLen+keyOverhead); n > want+1 || n < want-2 || n != m.n {
		t.Errorf("%d keys for %d entries kept, want about %d", n, m.n, want)
	}
	t.Logf("2,000 publishes with %d-byte keys under %d bytes: %d kept, %d bytes", MaxIdempotencyKeyLen, limit, m.n, m.HistoryBytes())
}

// TestPublishWith runs the broker's idempotent publish end to end: the
// answer, what is stored and delivered, and the refusals.
func TestPublishWith(t *testing.T) {
	ctx := context.Background()
	b, err := New(Options{Engine: NewMemoryEngine(MemoryOptions{Epoch: "e"}), Heartbeat: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(ctx)
	var delivered []string
	var mu sync.Mutex
	cancel, _ := b.engine.Subscribe(func(m *Message) { mu.Lock(); delivered = append(delivered, m.ID); mu.Unlock() })
	defer cancel()

	type step struct {
		name, topic, key string
		e                Event
		want             Published
		err              error
	}
	for _, s := range []step{
		{"first", "a", "k1", Event{Data: "x"}, Published{ID: "e-1"}, nil},
		{"retry", "a", "k1", Event{Data: "x"}, Published{ID: "e-1", Duplicate: true}, nil},
		{"other key", "a", "k2", Event{Data: "x"}, Published{ID: "e-2"}, nil},
		{"same key, other topic", "b", "k1", Event{Data: "x"}, Published{ID: "e-3"}, nil},
		{"default topic", "", "k1", Event{Data: "x"}, Published{ID: "e-4"}, nil},
		{"default topic retry", DefaultTopic, "k1", Event{Data: "x"}, Published{ID: "e-4", Duplicate: true}, nil},
		{"no key", "a", "", Event{Data: "x"}, Published{ID: "e-5"}, nil},
		{"no key again", "a", "", Event{Data: "x"}, Published{ID: "e-6"}, nil},
		{"reused for other data", "a", "k1", Event{Data: "y"}, Published{}, ErrIdempotencyKeyReused},
		{"reused for another name", "a", "k1", Event{Name: "n", Data: "x"}, Published{}, ErrIdempotencyKeyReused},
		{"reused with retry", "a", "k1", Event{Data: "x", Retry: time.Second}, Published{}, ErrIdempotencyKeyReused},
		{"key too long", "a", strings.Repeat("k", MaxIdempotencyKeyLen+1), Event{Data: "x"}, Published{}, ErrInvalidIdempotencyKey},
		{"key with a space", "a", "k 1", Event{Data: "x"}, Published{}, ErrInvalidIdempotencyKey},
		{"bad event, known key", "a", "k1", Event{Name: "sse.x", Data: "x"}, Published{}, ErrReservedEvent},
		{"retry still answered", "a", "k1", Event{Data: "x"}, Published{ID: "e-1", Duplicate: true}, nil},
	} {
		got, err := b.PublishWith(ctx, s.topic, s.e, PublishOptions{IdempotencyKey: s.key})
		if got != s.want || !errors.Is(err, s.err) || (s.err == nil) != (err == nil) {
			t.Errorf("%s: %+v, %v; want %+v, %v", s.name, got, err, s.want, s.err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(delivered, " ") != "e-1 e-2 e-3 e-4 e-5 e-6" {
		t.Errorf("delivered %v, want each event once", delivered)
	}
	if s := b.Stats(); s.Published != 6 || s.Deduplicated != 3 {
		t.Errorf("Published %d, Deduplicated %d; want 6 and 3", s.Published, s.Deduplicated)
	}
}

// TestPublishOnceConcurrent: many goroutines publishing with one key
// store exactly one event, and all get its ID.
func TestPublishOnceConcurrent(t *testing.T) {
	ctx := context.Background()
	b, err := New(Options{Heartbeat: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(ctx)
	const goroutines, keys = 64, 8
	ids := make([][keys]string, goroutines)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for k := range keys {
				p, err := b.PublishWith(ctx, "t", Event{Data: "same"}, PublishOptions{IdempotencyKey: "key-" + strconv.Itoa(k)})
				if err != nil {
					t.Error(err)
				}
				ids[g][k] = p.ID
			}
		})
	}
	close(start)
	wg.Wait()
	for g := range ids {
		if ids[g] != ids[0] {
			t.Fatalf("goroutine %d got %v, goroutine 0 %v", g, ids[g], ids[0])
		}
	}
	if s := b.Stats(); s.Published != keys || s.Deduplicated != goroutines*keys-keys {
		t.Errorf("Published %d, Deduplicated %d; want %d and %d", s.Published, s.Deduplicated, keys, goroutines*keys-keys)
	}
	if r, _ := b.engine.Replay(ctx, []string{"t"}, protocol.FormatID(b.ownEngine.Epoch(), 0)); len(r.Messages) != keys {
		t.Errorf("history holds %d events, want %d", len(r.Messages), keys)
	}
}
