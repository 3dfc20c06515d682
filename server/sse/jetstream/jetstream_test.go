package jetstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/shared/topic"
)

func TestSubjectMapping(t *testing.T) {
	for _, tp := range []string{"news", "a.b", ".a.", "a..b", "x-y_z:1/2@3~4", strings.Repeat("z", topic.MaxLen)} {
		s := subject("p", tp)
		if strings.Count(s, ".") != 1 || strings.ContainsAny(s, "*> \t") {
			t.Errorf("subject(%q) = %q: want exactly one token after the prefix", tp, s)
		}
		back, ok := topicOf("p", s)
		if !ok || back != tp {
			t.Errorf("topicOf(%q) = %q, %v; want %q", s, back, ok, tp)
		}
	}
	for _, s := range []string{"q.news", "p.a*b", "p."} {
		if _, ok := topicOf("p", s); ok {
			t.Errorf("topicOf(%q) accepted a subject that names no topic", s)
		}
	}
}

// TestIDs: Seq is the stream sequence, one more per publish across
// topics, and the ID is FormatID(epoch, Seq) with a valid epoch.
func TestIDs(t *testing.T) { jstest.Run(t, testIDs) }

func testIDs(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	if !protocol.ValidEpoch(e.Epoch()) {
		t.Fatalf("epoch %q is not valid", e.Epoch())
	}
	for i, topic := range []string{"a", "b", "a.b", "a"} {
		m := publish(t, e, topic, fmt.Sprint(i))
		if m.Seq != uint64(i+1) || m.ID != protocol.FormatID(e.Epoch(), m.Seq) || m.Topic != topic {
			t.Errorf("publish %d on %s: seq %d id %q topic %q", i, topic, m.Seq, m.ID, m.Topic)
		}
		want := fmt.Sprintf("id: %s\nevent: e\ndata: %d\n\n", m.ID, i)
		if string(m.Frame) != want {
			t.Errorf("frame %q, want %q", m.Frame, want)
		}
	}
}

// TestDeliveryExactlyOnceInOrder: two engines on one stream (two servers)
// publish concurrently; each one's subscription gets every message
// published after Subscribe, once, in Seq order, with the same bytes.
func TestDeliveryExactlyOnceInOrder(t *testing.T) { jstest.Run(t, testDeliveryExactlyOnceInOrder) }

func testDeliveryExactlyOnceInOrder(t *testing.T, n *jstest.Server) {
	a := newEngine(t, n, Options{})
	b := newEngine(t, n, Options{})
	if a.Epoch() != b.Epoch() {
		t.Fatalf("epochs differ on one stream: %s, %s", a.Epoch(), b.Epoch())
	}
	publish(t, a, "t", "before") // published before Subscribe: not delivered

	ra, rb := newRecorder(), newRecorder()
	for _, x := range []struct {
		e *Engine
		r *recorder
	}{{a, ra}, {b, rb}} {
		cancel, err := x.e.Subscribe(x.r.deliver)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
	}
	const perEngine = 300
	var wg sync.WaitGroup
	for _, e := range []*Engine{a, b} {
		wg.Go(func() {
			for i := range perEngine {
				if _, err := e.Publish(context.Background(), []string{"t", "u.v"}[i%2], sse.Event{Data: fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	gotA := ra.wait(t, 2*perEngine, 10*time.Second)
	gotB := rb.wait(t, 2*perEngine, 10*time.Second)
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show up
	gotA, gotB = ra.got(), rb.got()
	want := make([]uint64, 2*perEngine)
	for i := range want {
		want[i] = uint64(i + 2)
	}
	for name, got := range map[string][]*sse.Message{"a": gotA, "b": gotB} {
		if !slices.Equal(seqs(got), want) {
			t.Errorf("engine %s delivered seqs %v..., want 2..%d once each in order", name, seqs(got)[:min(10, len(got))], 2*perEngine+1)
		}
	}
	for i := range min(len(gotA), len(gotB)) {
		if string(gotA[i].Frame) != string(gotB[i].Frame) || gotA[i].Topic != gotB[i].Topic {
			t.Fatalf("message %d differs between engines: %q on %s, %q on %s", i, gotA[i].Frame, gotA[i].Topic, gotB[i].Frame, gotB[i].Topic)
		}
	}
}

// TestReplay covers the exact replay on a subset of topics, and the
// three gaps.
func TestReplay(t *testing.T) { jstest.Run(t, testReplay) }

func testReplay(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{HistorySize: 5})
	ep := e.Epoch()

	r := replay(t, e, []string{"a"}, protocol.FormatID(ep, 0))
	if r.Gap != "" || r.Through != 0 || r.Head != "" || len(r.Messages) != 0 {
		t.Errorf("empty stream: %+v", r)
	}
	var ms []*sse.Message
	for i := range 4 {
		ms = append(ms, publish(t, e, []string{"a", "b"}[i%2], fmt.Sprint(i)))
	}
	r = replay(t, e, []string{"a", "c"}, ms[0].ID)
	if r.Gap != "" || r.Through != 4 || r.Head != ms[3].ID {
		t.Errorf("exact: gap %q through %d head %q", r.Gap, r.Through, r.Head)
	}
	if !slices.Equal(seqs(r.Messages), []uint64{3}) || string(r.Messages[0].Frame) != string(ms[2].Frame) {
		t.Errorf("exact: got seqs %v, want [3] with the published frame", seqs(r.Messages))
	}
	r = replay(t, e, []string{"a", "b"}, protocol.FormatID(ep, 0))
	if r.Gap != "" || !slices.Equal(seqs(r.Messages), []uint64{1, 2, 3, 4}) {
		t.Errorf("from the start: gap %q seqs %v", r.Gap, seqs(r.Messages))
	}
	r = replay(t, e, []string{"a"}, ms[3].ID)
	if r.Gap != "" || len(r.Messages) != 0 || r.Through != 4 {
		t.Errorf("up to date: %+v", r)
	}

	for i := range 4 { // 8 published, the stream keeps 4..8
		publish(t, e, "a", fmt.Sprint(4+i))
	}
	for _, c := range []struct {
		last string
		gap  protocol.GapReason
		n    int
	}{
		{protocol.FormatID(ep, 2), protocol.GapExpired, 0},
		{protocol.FormatID(ep, 3), "", 5},                  // 4..8: the oldest kept is next
		{protocol.FormatID(ep, 9), protocol.GapUnknown, 0}, // ahead
		{protocol.FormatID(ep+"x", 5), protocol.GapUnknown, 0},
		{"js1-5", protocol.GapUnknown, 0},
		{"nonsense", protocol.GapMalformed, 0},
		{ep + "-05", protocol.GapMalformed, 0},
	} {
		r := replay(t, e, []string{"a", "b"}, c.last)
		if r.Gap != c.gap || len(r.Messages) != c.n || r.Through != 8 || r.Head != protocol.FormatID(ep, 8) {
			t.Errorf("after %s: gap %q, %d messages, through %d, head %q; want gap %q, %d messages, through 8", c.last, r.Gap, len(r.Messages), r.Through, r.Head, c.gap, c.n)
		}
	}
}

// TestReplayInteriorDelete: a message deleted from the middle of the
// stream is not taken for an expired history.
func TestReplayInteriorDelete(t *testing.T) { jstest.Run(t, testReplayInteriorDelete) }

func testReplayInteriorDelete(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	for i := range 5 {
		publish(t, e, "a", fmt.Sprint(i))
	}
	if err := e.stream.DeleteMsg(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	r := replay(t, e, []string{"a"}, protocol.FormatID(e.Epoch(), 1))
	if r.Gap != "" || !slices.Equal(seqs(r.Messages), []uint64{2, 4, 5}) {
		t.Errorf("gap %q seqs %v, want [2 4 5]", r.Gap, seqs(r.Messages))
	}
}

// TestHandoff checks the rule the broker relies on: a message delivered
// before Replay is called has Seq <= Through, and Replay returns every
// message up to Through.
func TestHandoff(t *testing.T) { jstest.Run(t, testHandoff) }

func testHandoff(t *testing.T, n *jstest.Server) {
	pub := newEngine(t, n, Options{})
	e := newEngine(t, n, Options{})
	first := publish(t, pub, "a", "first")
	var mu sync.Mutex
	var delivered uint64
	cancel, err := e.Subscribe(func(m *sse.Message) {
		mu.Lock()
		delivered = m.Seq
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := pub.Publish(context.Background(), "a", sse.Event{Data: fmt.Sprint(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer wg.Wait()
	defer close(stop)
	for range 50 {
		mu.Lock()
		before := delivered
		mu.Unlock()
		from := first.ID
		if before > 0 {
			from = protocol.FormatID(e.Epoch(), before)
		}
		r := replay(t, e, []string{"a"}, from)
		if r.Gap != "" || r.Through < before {
			t.Fatalf("after %s: gap %q, Through %d < %d, delivered before Replay was called", from, r.Gap, r.Through, before)
		}
		start := max(before, 1)
		if len(r.Messages) != int(r.Through-start) || (len(r.Messages) > 0 && r.Messages[len(r.Messages)-1].Seq != r.Through) {
			t.Fatalf("replay from %d through %d returned %d messages ending at %v", start, r.Through, len(r.Messages), seqs(r.Messages)[max(0, len(r.Messages)-1):])
		}
	}
}

// TestEpoch: the epoch survives a restart of NATS (file storage), so old
// IDs still replay; a deleted and recreated stream gets a new epoch, and
// old IDs are unknown.
func TestEpoch(t *testing.T) { jstest.Run(t, testEpoch) }

func testEpoch(t *testing.T, n *jstest.Server) {
	nc := connect(t, n)
	e, err := New(context.Background(), nc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := publish(t, e, "a", "kept")
	publish(t, e, "a", "after")
	e.Close()
	nc.Close()

	n.Stop()
	n.Start()
	e2 := newEngine(t, n, Options{})
	if e2.Epoch() != e.Epoch() {
		t.Fatalf("epoch changed across a NATS restart: %s, then %s", e.Epoch(), e2.Epoch())
	}
	if r := replay(t, e2, []string{"a"}, m.ID); r.Gap != "" || len(r.Messages) != 1 || r.Through != 2 {
		t.Errorf("after a restart: %+v", r)
	}
	if err := e2.js.DeleteStream(context.Background(), DefaultStream); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a new creation time
	e3 := newEngine(t, n, Options{})
	if e3.Epoch() == e.Epoch() {
		t.Fatal("a recreated stream kept the old epoch")
	}
	publish(t, e3, "a", "new")
	if r := replay(t, e3, []string{"a"}, m.ID); r.Gap != protocol.GapUnknown || r.Head != protocol.FormatID(e3.Epoch(), 1) {
		t.Errorf("old ID on a recreated stream: %+v", r)
	}
}

// TestOutage: while NATS is down Publish fails at once with
// ErrUnavailable; when it comes back the subscription resumes after the
// last message it delivered, without loss or repeat.
func TestOutage(t *testing.T) { jstest.Run(t, testOutage) }

func testOutage(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	rec := newRecorder()
	cancel, err := e.Subscribe(rec.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	publish(t, e, "a", "1")
	rec.wait(t, 1, 5*time.Second)

	n.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for e.nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// At once, not when the caller's deadline passes: the error is
	// ErrUnavailable, not the context's.
	ctx, cancelPub := context.WithTimeout(context.Background(), time.Minute)
	_, err = e.Publish(ctx, "a", sse.Event{Data: "lost"})
	cancelPub()
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish while NATS is down: %v, want ErrUnavailable at once", err)
	}

	n.Start()
	// Another server, which can reach NATS, publishes while ours is
	// still reconnecting.
	other := newEngine(t, n, Options{})
	publish(t, other, "a", "2")
	publish(t, other, "a", "3")
	deadline = time.Now().Add(10 * time.Second)
	for !e.nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	publish(t, e, "a", "4")
	got := rec.wait(t, 4, 15*time.Second)
	time.Sleep(100 * time.Millisecond)
	if got = rec.got(); !slices.Equal(seqs(got), []uint64{1, 2, 3, 4}) {
		t.Errorf("delivered %v across the outage, want [1 2 3 4]", seqs(got))
	}
	if e.lost.Load() != nil {
		t.Errorf("engine lost continuity: %v", *e.lost.Load())
	}
}

// TestLost: a stream deleted under a running engine fails it and calls
// OnLost once; Publish then says so.
func TestLost(t *testing.T) { jstest.Run(t, testLost) }

func testLost(t *testing.T, n *jstest.Server) {
	lost := make(chan error, 2) // buffered: OnLost must not block
	e := newEngine(t, n, Options{OnLost: func(err error) { lost <- err }})
	cancel, err := e.Subscribe(func(*sse.Message) {})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := e.js.DeleteStream(context.Background(), DefaultStream); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, ErrHistoryLost) {
			t.Errorf("OnLost got %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("OnLost was not called within 15s of the stream's deletion")
	}
	if _, err := e.Publish(context.Background(), "a", sse.Event{Data: "x"}); !errors.Is(err, ErrHistoryLost) {
		t.Errorf("publish after the loss: %v, want ErrHistoryLost", err)
	}
	select {
	case err := <-lost:
		t.Errorf("OnLost called twice, again with %v", err)
	default:
	}
}

// TestCancel: no delivery after cancel returns; Close ends everything
// and later calls fail with sse.ErrClosed.
func TestCancel(t *testing.T) { jstest.Run(t, testCancel) }

func testCancel(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	rec := newRecorder()
	cancel, err := e.Subscribe(rec.deliver)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, e, "a", "1")
	rec.wait(t, 1, 5*time.Second)
	cancel()
	cancel() // idempotent
	publish(t, e, "a", "2")
	time.Sleep(200 * time.Millisecond)
	if got := rec.got(); len(got) != 1 {
		t.Errorf("delivered %d messages, want 1: none after cancel", len(got))
	}
	if _, err := e.Subscribe(rec.deliver); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e.Close()
	if _, err := e.Publish(context.Background(), "a", sse.Event{Data: "x"}); !errors.Is(err, sse.ErrClosed) {
		t.Errorf("publish after Close: %v", err)
	}
	if _, err := e.Subscribe(rec.deliver); !errors.Is(err, sse.ErrClosed) {
		t.Errorf("subscribe after Close: %v", err)
	}
}

// TestTooLarge: an event over NATS's max_payload is refused as
// sse.ErrEventTooLarge (413), not as an outage.
func TestTooLarge(t *testing.T) { jstest.Run(t, testTooLarge) }

func testTooLarge(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	_, err := e.Publish(context.Background(), "a", sse.Event{Data: strings.Repeat("x", int(e.nc.MaxPayload()))})
	if !errors.Is(err, sse.ErrEventTooLarge) {
		t.Errorf("got %v, want ErrEventTooLarge", err)
	}
	// Just under the limit in data, over it with the headers a named
	// event with a retry needs.
	_, err = e.Publish(context.Background(), "a", sse.Event{Name: "named", Retry: time.Second, Data: strings.Repeat("x", int(e.nc.MaxPayload())-70)})
	if !errors.Is(err, sse.ErrEventTooLarge) {
		t.Errorf("data 70 bytes under the limit, with headers: got %v, want ErrEventTooLarge", err)
	}
}

// TestNoJetStream: a NATS server without JetStream gives an error that
// says how to fix it.
func TestNoJetStream(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, err = New(context.Background(), nc, Options{})
	if err == nil || !strings.Contains(err.Error(), "-js") {
		t.Errorf("got %v, want an error that says to start NATS with -js", err)
	}
}

// TestBroker runs the broker on the engine: what is published through
// one broker reaches a client of another, with the engine's IDs.
func TestBroker(t *testing.T) { jstest.Run(t, testBroker) }

func testBroker(t *testing.T, n *jstest.Server) {
	a, err := sse.New(sse.Options{Engine: newEngine(t, n, Options{}), Heartbeat: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	e := newEngine(t, n, Options{})
	b, err := sse.New(sse.Options{Engine: e, Heartbeat: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	id, err := a.Publish(context.Background(), "news", sse.Event{Data: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if id != protocol.FormatID(e.Epoch(), 1) {
		t.Errorf("id %q", id)
	}
}

// TestHistoryBytes: the stream's MaxBytes is Options.HistoryBytes, so a
// flood of large events keeps the stored bytes under it, the newest
// replayable.
func TestHistoryBytes(t *testing.T) { jstest.Run(t, testHistoryBytes) }

func testHistoryBytes(t *testing.T, n *jstest.Server) {
	const limit = 64 << 10
	e := newEngine(t, n, Options{HistoryBytes: limit})
	ctx := context.Background()
	var last *sse.Message
	for range 100 {
		last = publish(t, e, "a", strings.Repeat("x", 4<<10))
	}
	info, err := e.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxBytes != limit || info.State.Bytes > limit || info.State.Msgs == 0 {
		t.Errorf("MaxBytes %d, %d bytes in %d messages stored; want at most %d", info.Config.MaxBytes, info.State.Bytes, info.State.Msgs, limit)
	}
	if r := replay(t, e, []string{"a"}, last.ID); r.Gap != "" {
		t.Errorf("the newest event: gap %q", r.Gap)
	}
	t.Logf("100 events of 4 KiB: %d bytes in %d messages stored", info.State.Bytes, info.State.Msgs)
}

// TestReplayStorm: 1,200 streams resume at once, as when an instance
// dies and its clients come back on another. NATS allows 1,000
// consumers per stream by default, and each replay reads through a
// consumer of its own: unbounded, some replays failed with "maximum
// consumers limit reached". With Options.MaxReplays they wait their
// turn, and every one gets its events; a server that starts meanwhile
// can still subscribe.
func TestReplayStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 1,200 replays at once through NATS")
	}
	jstest.Run(t, testReplayStorm)
}

func testReplayStorm(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	var ms []*sse.Message
	for i := range 20 {
		ms = append(ms, publish(t, e, "a", fmt.Sprint(i)))
	}
	const streams = 1200
	errs := make(chan error, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := e.Replay(ctx, []string{"a"}, ms[i%10].ID)
			if r.Release != nil {
				defer r.Release()
			}
			switch {
			case err != nil:
				errs <- err
			case r.Gap != "" || len(r.Messages) != 19-i%10:
				errs <- fmt.Errorf("replay after %s: gap %q, %d messages, want %d", ms[i%10].ID, r.Gap, len(r.Messages), 19-i%10)
			}
		}()
	}
	other := newEngine(t, n, Options{}) // a server starting during the storm
	if _, err := other.Subscribe(func(*sse.Message) {}); err != nil {
		t.Errorf("a server starting during the storm: %v", err)
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 3 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d replays failed", failed, streams)
	}
}

// TestReplayBatches: a replay longer than one fetch, with another
// topic's messages between, comes back whole and in order (the
// consumer's delivery numbers run on across fetches).
func TestReplayBatches(t *testing.T) { jstest.Run(t, testReplayBatches) }

func testReplayBatches(t *testing.T, n *jstest.Server) {
	e := newEngine(t, n, Options{})
	var want []uint64
	for i := range 2*replayBatch + 500 {
		m := publish(t, e, []string{"a", "b", "a"}[i%3], fmt.Sprint(i))
		if i%3 != 1 {
			want = append(want, m.Seq)
		}
	}
	r := replay(t, e, []string{"a"}, protocol.FormatID(e.Epoch(), 0))
	if r.Gap != "" || !slices.Equal(seqs(r.Messages), want) {
		t.Errorf("gap %q, %d messages, want %d in order", r.Gap, len(r.Messages), len(want))
	}
}

// TestOldServer: a NATS older than MinServerVersion is refused at once,
// with a message that names its version, the one needed, and why.
func TestOldServer(t *testing.T) {
	nc, err := nats.Connect(jstest.StartFake(t, "2.8.4"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = New(ctx, nc, Options{})
	for _, want := range []string{"is nats-server 2.8.4", "needs nats-server " + MinServerVersion + " or later", "named ephemeral consumers", "upgrade"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New on NATS 2.8.4: %v; want an error saying %q", err, want)
		}
	}
}

// TestNewOptions: New refuses a negative option where none is meaningful,
// before it touches the connection, and the error names the option.
func TestNewOptions(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{HistorySize: -1}, "HistorySize"},
		{Options{HistoryBytes: -1}, "HistoryBytes"},
		{Options{HistoryAge: -1}, "HistoryAge"},
		{Options{DuplicateWindow: -1}, "DuplicateWindow"},
		{Options{Replicas: -1}, "Replicas"},
		{Options{MaxReplays: -1}, "MaxReplays"},
		{Options{ReplayBytes: -1}, "ReplayBytes"},
	} {
		_, err := New(context.Background(), nil, tt.opts)
		if err == nil || !strings.Contains(err.Error(), "Options."+tt.want+" is") {
			t.Errorf("New(%+v) = %v, want an error naming %s", tt.opts, err, tt.want)
		}
	}
}
