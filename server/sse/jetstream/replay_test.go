package jetstream

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
)

// partSize is what a part holds by the engine's count.
func partSize(ms []*sse.Message) int64 {
	var n int64
	for _, m := range ms {
		n += int64(len(m.Frame)) + messageOverhead
	}
	return n
}

// TestReplayParts: a replay larger than one part comes in parts of at
// most the part's bytes, whole and in order across them, and gives its
// bytes back when released.
func TestReplayParts(t *testing.T) {
	n := startNATS(t)
	e := newEngine(t, n, Options{})
	e.partBytes = 64 << 10
	data := strings.Repeat("x", 2048)
	var want []uint64
	for i := range 300 {
		m := publish(t, e, []string{"a", "b", "a"}[i%3], data)
		if i%3 != 1 {
			want = append(want, m.Seq)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := e.Replay(ctx, []string{"a"}, sse.FormatID(e.Epoch(), 0))
	if err != nil {
		t.Fatal(err)
	}
	if r.More == nil || r.Release == nil {
		t.Fatalf("a replay of %d KiB in parts of %d KiB has no More or no Release", len(want)*2, e.partBytes>>10)
	}
	got, parts := r.Messages, 1
	for part := r.Messages; ; parts++ {
		// A part is within its bytes, give or take the frames' excess
		// over what NATS counts (the id and event lines).
		if size := partSize(part); size > int64(e.partBytes)*9/8 {
			t.Errorf("part %d holds %d bytes, over the part's %d", parts, size, e.partBytes)
		}
		if held := e.held.inUse(); held != partSize(part) {
			t.Errorf("part %d: %d bytes held, want the part's %d", parts, held, partSize(part))
		}
		if part, err = r.More(ctx); err != nil {
			t.Fatalf("part %d: %v", parts+1, err)
		}
		if len(part) == 0 {
			break
		}
		got = append(got, part...)
	}
	if !slices.Equal(seqs(got), want) {
		t.Errorf("%d messages in %d parts, want %d in order", len(got), parts, len(want))
	}
	if min := len(want) * 2048 / e.partBytes; parts < min {
		t.Errorf("%d parts, want at least %d", parts, min)
	}
	r.Release()
	r.Release() // idempotent
	if held := e.held.inUse(); held != 0 {
		t.Errorf("%d bytes held after Release", held)
	}
	t.Logf("%d messages in %d parts", len(got), parts)
}

// TestReplayBytesBound: many replays at once, each written slowly, hold
// no more than ReplayBytes between them (one part each at most, waiting
// for room), and every one completes.
func TestReplayBytesBound(t *testing.T) {
	n := startNATS(t)
	e := newEngine(t, n, Options{})
	e.partBytes = 32 << 10
	e.held.limit = 4 * int64(e.partBytes)
	data := strings.Repeat("y", 2048)
	var want []uint64
	for range 200 {
		want = append(want, publish(t, e, "a", data).Seq)
	}
	const replays = 20
	var peak atomic.Int64
	note := func() {
		for {
			h, p := e.held.inUse(), peak.Load()
			if h <= p || peak.CompareAndSwap(p, h) {
				return
			}
		}
	}
	errs := make(chan error, replays)
	var wg sync.WaitGroup
	for range replays {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := e.Replay(ctx, []string{"a"}, sse.FormatID(e.Epoch(), 0))
			if err != nil {
				errs <- err
				return
			}
			defer r.Release()
			got := r.Messages
			for part := r.Messages; len(part) > 0; {
				note()
				time.Sleep(5 * time.Millisecond) // the broker writes the part
				if part, err = r.More(ctx); err != nil {
					errs <- err
					return
				}
				got = append(got, part...)
			}
			if !slices.Equal(seqs(got), want) {
				errs <- fmt.Errorf("%d messages, want %d in order", len(got), len(want))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The frames' excess over NATS's bytes is taken without waiting:
	// allow an eighth.
	if p := peak.Load(); p > e.held.limit*9/8 {
		t.Errorf("replays held %d bytes at the peak, over the %d allowed", p, e.held.limit)
	} else {
		t.Logf("peak %d of %d bytes", p, e.held.limit)
	}
	if held := e.held.inUse(); held != 0 {
		t.Errorf("%d bytes held after every replay ended", held)
	}
}

// TestReplayExpiresMidway: when events expire from the stream between
// two parts, the next part fails (the client resumes after its last
// event), and that resumption gets the gap.
func TestReplayExpiresMidway(t *testing.T) {
	n := startNATS(t)
	e := newEngine(t, n, Options{})
	e.partBytes = 16 << 10
	data := strings.Repeat("z", 2048)
	for range 100 {
		publish(t, e, "a", data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := e.Replay(ctx, []string{"a"}, sse.FormatID(e.Epoch(), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if len(r.Messages) == 0 || r.More == nil {
		t.Fatalf("first part: %d messages, More %v; want a part and more", len(r.Messages), r.More != nil)
	}
	lastGot := r.Messages[len(r.Messages)-1]
	if err := e.stream.Purge(ctx, natsjs.WithPurgeSequence(60)); err != nil {
		t.Fatal(err)
	}
	if more, err := r.More(ctx); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("the part after the purge: %d messages, error %v; want an error saying the events expired", len(more), err)
	}
	r.Release()
	if held := e.held.inUse(); held != 0 {
		t.Errorf("%d bytes held after Release", held)
	}
	if again := replay(t, e, []string{"a"}, lastGot.ID); again.Gap != sse.GapExpired {
		t.Errorf("resuming after %s: gap %q, want %q", lastGot.ID, again.Gap, sse.GapExpired)
	}
}

// BenchmarkReplay: one replay from the start, every part read and
// released, of events events of size bytes on the replayed topic, with
// as many of another topic between them.
//
//	go test -run NONE -bench Replay -benchmem ./server/sse/jetstream
func BenchmarkReplay(b *testing.B) {
	for _, bc := range []struct {
		events, size int
	}{{100, 300}, {5000, 300}, {40, 1000 << 10}} {
		b.Run(fmt.Sprintf("%dx%dB", bc.events, bc.size), func(b *testing.B) {
			n := jstest.Start(b)
			nc, err := nats.Connect(n.URL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			ctx := context.Background()
			e, err := New(ctx, nc, Options{HistoryBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			ev := sse.Event{Data: strings.Repeat("x", bc.size)}
			for range bc.events {
				for _, topic := range []string{"a", "b"} {
					if _, err := e.Publish(ctx, topic, ev); err != nil {
						b.Fatal(err)
					}
				}
			}
			from := sse.FormatID(e.Epoch(), 0)
			for b.Loop() {
				r, err := e.Replay(ctx, []string{"a"}, from)
				if err != nil {
					b.Fatal(err)
				}
				got := len(r.Messages)
				for part := r.Messages; r.More != nil && len(part) > 0; got += len(part) {
					if part, err = r.More(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if r.Release != nil {
					r.Release()
				}
				if got != bc.events {
					b.Fatalf("replayed %d events, want %d", got, bc.events)
				}
			}
		})
	}
}

// TestReplayLargestEvents: events too large for an ordinary part are
// fetched alone in a part of the largest size, between small ones.
func TestReplayLargestEvents(t *testing.T) {
	n := startNATS(t)
	e := newEngine(t, n, Options{})
	big := strings.Repeat("L", int(e.nc.MaxPayload())-400) // with its headers, over an ordinary part
	if len(big) < replayPartBytes-1024 {
		t.Fatalf("NATS's max payload %d leaves no event larger than an ordinary part", e.nc.MaxPayload())
	}
	var want []uint64
	for i := range 6 {
		data := "small"
		if i%2 == 1 {
			data = big
		}
		want = append(want, publish(t, e, "a", data).Seq)
	}
	r := replay(t, e, []string{"a"}, sse.FormatID(e.Epoch(), 0))
	if r.Gap != "" || !slices.Equal(seqs(r.Messages), want) {
		t.Errorf("gap %q, replayed %v, want %v", r.Gap, seqs(r.Messages), want)
	}
}

// TestReplayBudgetHoldsMaxReplays: by default the budget holds an
// ordinary part for every replay that may read at once, so the budget
// does not throttle replays below Options.MaxReplays (it did when each
// part reserved the largest message: 7 at once with 8 MiB messages,
// and resumptions after an instance's death waited past their clients'
// patience).
func TestReplayBudgetHoldsMaxReplays(t *testing.T) {
	if n := DefaultReplayBytes / replayPartBytes; n < DefaultMaxReplays {
		t.Errorf("DefaultReplayBytes holds %d ordinary parts, fewer than DefaultMaxReplays %d", n, DefaultMaxReplays)
	}
}
