package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/ssewasm/ssewasm/shared/protocol"
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
func TestReplayParts(t *testing.T) { jstest.Run(t, testReplayParts) }

func testReplayParts(t *testing.T, n *jstest.Server) {
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
	r, err := e.Replay(ctx, []string{"a"}, protocol.FormatID(e.Epoch(), 0))
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
func TestReplayBytesBound(t *testing.T) { jstest.Run(t, testReplayBytesBound) }

func testReplayBytesBound(t *testing.T, n *jstest.Server) {
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
			r, err := e.Replay(ctx, []string{"a"}, protocol.FormatID(e.Epoch(), 0))
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
func TestReplayExpiresMidway(t *testing.T) { jstest.Run(t, testReplayExpiresMidway) }

func testReplayExpiresMidway(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	e.partBytes = 16 << 10
	data := strings.Repeat("z", 2048)
	for range 100 {
		publish(t, e, "a", data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := e.Replay(ctx, []string{"a"}, protocol.FormatID(e.Epoch(), 0))
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
	if again := replay(t, e, []string{"a"}, lastGot.ID); again.Gap != protocol.GapExpired {
		t.Errorf("resuming after %s: gap %q, want %q", lastGot.ID, again.Gap, protocol.GapExpired)
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
			e := benchEngine(b, jstest.Start(b))
			ctx := context.Background()
			ev := sse.Event{Data: strings.Repeat("x", bc.size)}
			for range bc.events {
				for _, topic := range []string{"a", "b"} {
					if _, err := e.Publish(ctx, topic, ev); err != nil {
						b.Fatal(err)
					}
				}
			}
			from := protocol.FormatID(e.Epoch(), 0)
			for b.Loop() {
				if got := replayCount(b, e, []string{"a"}, from); got != bc.events {
					b.Fatalf("replayed %d events, want %d", got, bc.events)
				}
			}
		})
	}
}

// TestReplayLargestEvents: events too large for an ordinary part are
// fetched alone in a part of the largest size, between small ones.
func TestReplayLargestEvents(t *testing.T) { jstest.Run(t, testReplayLargestEvents) }

func testReplayLargestEvents(t *testing.T, n *jstest.Server) {
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
	r := replay(t, e, []string{"a"}, protocol.FormatID(e.Epoch(), 0))
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

// eachWay runs f once for each way e may read a replay of several
// topics on n: with one consumer filtered on all their subjects, if NATS
// allows it (2.10 and later), and with a consumer per topic, merged (the
// only way on NATS 2.9).
func eachWay(t *testing.T, e *Engine, f func(t *testing.T)) {
	t.Helper()
	several := e.severalFilters.Load()
	if several {
		t.Run("one-consumer", f)
	}
	e.severalFilters.Store(false)
	t.Run("consumer-per-topic", f)
	e.severalFilters.Store(several)
}

// readParts reads a whole replay as the broker does, checking that each
// part is in its bytes and held while written, and returns its parts.
func readParts(t *testing.T, e *Engine, topics []string, last string) (sse.Replay, [][]*sse.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := e.Replay(ctx, topics, last)
	if err != nil {
		t.Fatalf("replay of %v after %s: %v", topics, last, err)
	}
	var parts [][]*sse.Message
	for part := r.Messages; len(part) > 0; {
		parts = append(parts, part)
		// Within its bytes, give or take the frames' excess over what
		// NATS counts (the id and event lines); a part of one event may
		// hold the largest.
		if size := partSize(part); size > int64(e.partBytes)*9/8 && len(part) > 1 {
			t.Errorf("part %d holds %d bytes in %d events, over the part's %d", len(parts), size, len(part), e.partBytes)
		}
		if held := e.held.inUse(); held != partSize(part) {
			t.Errorf("part %d: %d bytes held, want the part's %d", len(parts), held, partSize(part))
		}
		if r.More == nil {
			break
		}
		if part, err = r.More(ctx); err != nil {
			t.Fatalf("replay of %v after %s: part %d: %v", topics, last, len(parts)+1, err)
		}
	}
	if r.Release != nil {
		r.Release()
	}
	if held := e.held.inUse(); held != 0 {
		t.Errorf("%d bytes held after Release", held)
	}
	return r, parts
}

// TestReplayMerge: a replay of several topics, among busier ones, in
// parts, has every event of its topics once, in order, each way NATS
// allows; from the start, from the middle, and with a topic that has no
// event or only old ones.
func TestReplayMerge(t *testing.T) { jstest.Run(t, testReplayMerge) }

func testReplayMerge(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	e.partBytes = 16 << 10
	// A mix of topics and sizes: "quiet" has two events at the start,
	// "none" none at all, the others come in runs and alone.
	topics := []string{"quiet", "a", "b", "c", "other"}
	var all []*sse.Message
	for i := range 400 {
		topic := topics[1+(i/3+i*i)%4]
		if i == 0 || i == 5 {
			topic = "quiet"
		}
		size := 100 + (i*997)%5000
		all = append(all, publish(t, e, topic, strings.Repeat(string(rune('a'+i%26)), size)))
	}
	on := func(ts []string, after uint64) (out []uint64) {
		for _, m := range all {
			if m.Seq > after && slices.Contains(ts, m.Topic) {
				out = append(out, m.Seq)
			}
		}
		return out
	}
	eachWay(t, e, func(t *testing.T) {
		for _, c := range []struct {
			topics []string
			after  uint64
		}{
			{[]string{"a", "b"}, 0},
			{[]string{"quiet", "a", "c", "none"}, 0},
			{[]string{"b", "quiet", "c"}, all[200].Seq},
			{[]string{"none", "quiet"}, 0},
			{[]string{"c", "a", "b", "other"}, all[57].Seq},
		} {
			r, parts := readParts(t, e, c.topics, protocol.FormatID(e.Epoch(), c.after))
			var got []*sse.Message
			for _, p := range parts {
				got = append(got, p...)
			}
			if want := on(c.topics, c.after); r.Gap != "" || !slices.Equal(seqs(got), want) {
				t.Errorf("%v after %d: gap %q, %d events in %d parts, want %d in order", c.topics, c.after, r.Gap, len(got), len(parts), len(want))
			}
			for _, m := range got {
				if string(m.Frame) != string(all[m.Seq-1].Frame) {
					t.Fatalf("%v: event %d differs from the one published", c.topics, m.Seq)
				}
			}
			t.Logf("%v after %d: %d events in %d parts", c.topics, c.after, len(got), len(parts))
		}
	})
}

// TestReplayMergeLargest: events too large for an ordinary part, on
// several topics, are read each way, in parts of the largest size.
func TestReplayMergeLargest(t *testing.T) { jstest.Run(t, testReplayMergeLargest) }

func testReplayMergeLargest(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	big := strings.Repeat("L", int(e.nc.MaxPayload())-400)
	var want []uint64
	for i := range 8 {
		data := "small"
		if i%3 != 0 {
			data = big
		}
		want = append(want, publish(t, e, []string{"a", "b"}[i%2], data).Seq)
	}
	eachWay(t, e, func(t *testing.T) {
		r, parts := readParts(t, e, []string{"a", "b"}, protocol.FormatID(e.Epoch(), 0))
		got := slices.Concat(parts...)
		if r.Gap != "" || !slices.Equal(seqs(got), want) {
			t.Errorf("gap %q, replayed %v, want %v", r.Gap, seqs(got), want)
		}
	})
}

// TestReplayFiltersOnServer: the engine reads a replay of several topics
// with one consumer on NATS 2.10 and later, and with a consumer per topic
// on older ones (Debian's 2.9), where one consumer cannot filter on
// several subjects.
func TestReplayFiltersOnServer(t *testing.T) { jstest.Run(t, testReplayFiltersOnServer) }

func testReplayFiltersOnServer(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	v, err := parseVersion(n.Version())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.severalFilters.Load(), v.atLeast(severalFilters); got != want {
		t.Errorf("NATS %s: one consumer for several topics is %v, want %v", n.Version(), got, want)
	}
	t.Logf("NATS %s: one consumer for several topics: %v", n.Version(), e.severalFilters.Load())
}

// TestReplayFallsBackToOneFilter: an engine that took NATS for 2.10 or
// later (a cluster with older servers, say) and meets one that refuses a
// consumer with several filter subjects reads the replay with a consumer
// per topic, from then on, and leaves no consumer behind.
func TestReplayFallsBackToOneFilter(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the test against the nats-server program")
	}
	n := jstest.StartBinary(t)
	if v, err := parseVersion(n.Version()); err != nil || v.atLeast(severalFilters) {
		t.Skipf("the installed nats-server is %s (%v): it filters a consumer on several subjects, so there is nothing to fall back from", n.Version(), err)
	}
	e := newEngine(t, n, Options{})
	var want []uint64
	for i := range 9 {
		m := publish(t, e, []string{"a", "b", "c"}[i%3], fmt.Sprint(i))
		if i%3 != 2 {
			want = append(want, m.Seq)
		}
	}
	e.severalFilters.Store(true)
	r := replay(t, e, []string{"a", "b"}, protocol.FormatID(e.Epoch(), 0))
	if r.Gap != "" || !slices.Equal(seqs(r.Messages), want) {
		t.Errorf("gap %q, replayed %v, want %v", r.Gap, seqs(r.Messages), want)
	}
	if e.severalFilters.Load() {
		t.Error("the engine still takes NATS for one that filters on several subjects")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := e.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Errorf("%d consumers left on the stream after the replay, want 0", info.State.Consumers)
	}
}

// TestReplayMergeBatches: a topic with more events than one fetch takes
// ends the part where its fetch ended, although a quieter topic read
// before it had an event further on: that event comes once, in its place.
func TestReplayMergeBatches(t *testing.T) { jstest.Run(t, testReplayMergeBatches) }

func testReplayMergeBatches(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	var want []uint64
	for i := range replayBatch + 400 {
		topic := "busy"
		if i == 0 || i == replayBatch+200 {
			topic = "quiet"
		}
		want = append(want, publish(t, e, topic, fmt.Sprint(i)).Seq)
	}
	eachWay(t, e, func(t *testing.T) {
		r, parts := readParts(t, e, []string{"quiet", "busy"}, protocol.FormatID(e.Epoch(), 0))
		got := slices.Concat(parts...)
		if r.Gap != "" || !slices.Equal(seqs(got), want) {
			t.Errorf("gap %q, %d events in %d parts, want %d in order", r.Gap, len(got), len(parts), len(want))
		}
	})
}

// TestReplaySkipsForeignParts: messages on a topic's subject that this
// engine did not write are skipped, even a whole part of them: the
// replay goes on to the events after them (an empty part would end it).
func TestReplaySkipsForeignParts(t *testing.T) { jstest.Run(t, testReplaySkipsForeignParts) }

func testReplaySkipsForeignParts(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	first := publish(t, e, "a", "first")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2*replayBatch + 100 { // the second part holds none of ours
		m := nats.NewMsg(subject(DefaultSubject, "a"))
		m.Header.Set(retryHeader, "not a number")
		if _, err := e.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	last := publish(t, e, "a", "last")
	r, parts := readParts(t, e, []string{"a"}, protocol.FormatID(e.Epoch(), 0))
	got := slices.Concat(parts...)
	if want := []uint64{first.Seq, last.Seq}; r.Gap != "" || !slices.Equal(seqs(got), want) {
		t.Errorf("gap %q, replayed %v, want %v", r.Gap, seqs(got), want)
	}
}

// TestRetrying: a failing replay is tried again, with growing waits,
// until it succeeds, for at most retryFor from its first failure; not
// once continuity is lost or its context is done.
func TestRetrying(t *testing.T) {
	e := &Engine{retryFor: 400 * time.Millisecond, log: slog.New(slog.DiscardHandler)}
	failing := errors.New("NATS restarting")
	calls := 0
	failTwice := func() error {
		if calls++; calls <= 2 {
			return failing
		}
		return nil
	}
	if err := e.retrying(context.Background(), failTwice); err != nil || calls != 3 {
		t.Errorf("failing twice: %v after %d calls, want success after 3", err, calls)
	}
	calls = 0
	start := time.Now()
	always := func() error { calls++; return failing }
	if err := e.retrying(context.Background(), always); !errors.Is(err, failing) || calls < 2 {
		t.Errorf("always failing: %v after %d calls, want the error after a few", err, calls)
	}
	if d := time.Since(start); d > 2*e.retryFor+time.Second {
		t.Errorf("always failing: gave up after %v, want about %v", d, e.retryFor)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = 0
	if err := e.retrying(ctx, always); !errors.Is(err, failing) || calls != 1 {
		t.Errorf("context done: %v after %d calls, want the error after 1", err, calls)
	}
	lost := ErrHistoryLost
	e.lost.Store(&lost)
	calls = 0
	if err := e.retrying(context.Background(), always); !errors.Is(err, failing) || calls != 1 {
		t.Errorf("continuity lost: %v after %d calls, want the error after 1", err, calls)
	}
}

// TestReplayAcrossNATSRestart: a replay asked for while NATS restarts
// waits for it, and replays every event: a blip costs the client a
// delay, not a gap.
func TestReplayAcrossNATSRestart(t *testing.T) { jstest.Run(t, testReplayAcrossNATSRestart) }

func testReplayAcrossNATSRestart(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	var want []uint64
	for i := range 5 {
		want = append(want, publish(t, e, []string{"a", "b"}[i%2], fmt.Sprint(i)).Seq)
	}
	n.Stop()
	type result struct {
		r   sse.Replay
		err error
	}
	done := make(chan result, 1)
	// A context without a deadline, like a client's: each request to
	// NATS then times out after NATS's default 5 s (a deadline would
	// bound the first request instead, lost in flight if the client had
	// not yet seen the connection go).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		r, err := e.Replay(ctx, []string{"a", "b"}, protocol.FormatID(e.Epoch(), 0))
		if r.Release != nil {
			r.Release()
		}
		done <- result{r, err}
	}()
	time.Sleep(time.Second)
	n.Start()
	select {
	case res := <-done:
		if res.err != nil || !slices.Equal(seqs(res.r.Messages), want) {
			t.Errorf("replay across the restart: %v, %v; want %v", res.err, seqs(res.r.Messages), want)
		}
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Error("the replay did not end within 30 s of the restart")
	}
}

// BenchmarkReplayMerge: one replay of two topics out of four from the
// start (2,500 events of 300 bytes on each), each way the server allows:
// one consumer (NATS 2.10 and later) or a consumer per topic, merged (2.9).
//
//	go test -run NONE -bench ReplayMerge -benchmem ./server/sse/jetstream
func BenchmarkReplayMerge(b *testing.B) {
	for _, kind := range []string{"embedded", "binary"} {
		b.Run(kind, func(b *testing.B) {
			start := jstest.Start
			if kind == "binary" {
				start = jstest.StartBinary
			}
			e := benchEngine(b, start(b))
			ctx := context.Background()
			ev := sse.Event{Data: strings.Repeat("x", 300)}
			for i := range 10000 {
				if _, err := e.Publish(ctx, []string{"a", "b", "c", "d"}[i%4], ev); err != nil {
					b.Fatal(err)
				}
			}
			from := protocol.FormatID(e.Epoch(), 0)
			ways := []bool{false}
			if e.severalFilters.Load() {
				ways = []bool{true, false}
			}
			for _, several := range ways {
				name := "consumer-per-topic"
				if several {
					name = "one-consumer"
				}
				b.Run(name, func(b *testing.B) {
					e.severalFilters.Store(several)
					for b.Loop() {
						if got := replayCount(b, e, []string{"a", "c"}, from); got != 5000 {
							b.Fatalf("replayed %d events, want 5000", got)
						}
					}
				})
			}
		})
	}
}

// replayCount reads a whole replay, every part read and released, and
// returns how many events it held.
func replayCount(b *testing.B, e *Engine, topics []string, from string) int {
	ctx := context.Background()
	r, err := e.Replay(ctx, topics, from)
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
	return got
}

// benchEngine returns an engine on n whose history holds a benchmark's
// events; b's cleanup closes it and its connection.
func benchEngine(b *testing.B, n *jstest.Server) *Engine {
	b.Helper()
	nc, err := nats.Connect(n.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	e, err := New(context.Background(), nc, Options{HistoryBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}
