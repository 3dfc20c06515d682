//go:build js && wasm

package eventsource_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"syscall/js"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// noJitter is a fast backoff without randomness, so delays can be checked.
var noJitter = eventsource.ReopenPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: -1}

// TestReopenAfterServerError: the stream drops, the server answers 500
// six times (the browser gives up at the first), then recovers. Each time
// the browser gives up, the Source probes the status once (a 500 may pass),
// then reopens with growing delays, resumes from the last event ID, and
// every event arrives exactly once, in order.
func TestReopenAfterServerError(t *testing.T) {
	tr := trackListeners(t)
	var params []string
	for i := 1; i <= 10; i++ {
		params = append(params, "e", fmt.Sprintf(":d%d", i))
	}
	// Connection 1 sends 4 events and ends; 2 (the browser's reconnection)
	// to 7 (our probes and reopens, one after the other) answer 500; 8
	// sends 4 more and ends; 9 (the browser's reconnection) sends the last 2.
	u, key := eventsURL(t, append(params, "drop", "4", "fail", "2-7")...)
	backoffs := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	order := watchOrder(t, backoffs)
	states := newRecorder[eventsource.State]()
	src := open(t, u, eventsource.Options{Reopen: noJitter, OnStateChange: states.add})
	msgs := newRecorder[eventsource.Event]()
	src.OnRaw("message", msgs.add)

	for i := 1; i <= 10; i++ {
		m := msgs.next(t, fmt.Sprintf("event d%d", i))
		if want := fmt.Sprintf("d%d", i); m.Data != want || m.ID != fmt.Sprintf("ep-%d", i) {
			t.Fatalf("event %d = %q id %q, want %q id ep-%d (lost, duplicated or reordered)", i, m.Data, m.ID, want, i)
		}
	}
	msgs.none(t, quiet, "event after the last")

	st := fetchStats(t, key)
	var status []int
	for _, c := range st.Conns {
		status = append(status, c.Status)
	}
	if want := []int{200, 500, 500, 500, 500, 500, 500, 200, 200}; !slices.Equal(status, want) {
		t.Fatalf("statuses %v, want %v", status, want)
	}
	c := st.Conns
	for i, want := range []struct{ header, query string }{
		{"", ""},
		{"ep-4", ""},     // the browser's reconnection sends the header
		{"", "ep-4"},     // our probe asks what the reopen will: the query parameter
		{"", "ep-4"},     // our reopens cannot send the header either
		{"", "ep-4"},     // probe
		{"", "ep-4"},     // reopen
		{"", "ep-4"},     // probe
		{"", "ep-4"},     // reopen
		{"ep-8", "ep-4"}, // the browser's reconnection of the reopened source: the header wins
	} {
		if c[i].Header != want.header || c[i].Query != want.query {
			t.Errorf("connection %d: Last-Event-ID %q, lastEventId %q; want %q, %q", i+1, c[i].Header, c[i].Query, want.header, want.query)
		}
	}
	// Each time the browser gives up, the probe goes out before the
	// backoff could have passed, and the reopen comes at least the backoff
	// after the probe's answer: an order, and a lower bound that a timer
	// cannot break (it never fires early), so a loaded machine passes too.
	log := order.entries(t)
	find := func(what string, from int) int {
		for i := max(from, 0); i < len(log); i++ {
			if log[i].What == what {
				return i
			}
		}
		return -1
	}
	from := 0
	for i, backoff := range backoffs {
		gaveUp := find("gave up", from)
		probe := find("probe", gaveUp+1)
		over := find("backoff over", gaveUp+1)
		answer := find("answer", probe+1)
		reopen := find("open", answer+1)
		if gaveUp < 0 || probe < 0 || answer < 0 || reopen < 0 {
			t.Fatalf("give-up %d: want the browser to give up, then a probe, its answer and a new EventSource, in that order: %+v", i+1, log)
		}
		if over >= 0 && over < probe {
			t.Errorf("give-up %d: the probe went out after its backoff (%v) was over, want at once: %+v", i+1, backoff, log)
		}
		if gap := time.Duration((log[reopen].At - log[answer].At) * float64(time.Millisecond)); gap < backoff {
			t.Errorf("reopen %d came %v after the probe's answer, before its backoff of %v", i+1, gap, backoff)
		}
		from = reopen + 1
	}
	for i := range backoffs {
		if probe := c[2+2*i]; probe.Accept != "text/event-stream" {
			t.Errorf("probe %d sent Accept %q, want text/event-stream", i+1, probe.Accept)
		}
	}
	got := src.Stats()
	if want := (eventsource.SourceStats{Received: 10, Reconnects: 2, Reopens: 3, LastEventID: "ep-10"}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	o, c2 := eventsource.StateOpen, eventsource.StateConnecting
	expectStates(t, states, o, c2, o, c2, o)
	states.none(t, 0, "another state change")

	// Only the current EventSource has listeners.
	n := tr.Call("count").Int()
	if n != 4 {
		t.Errorf("%d EventSources, want 4", n)
	}
	for i := range n - 1 {
		if got := tr.Call("live", tr.Call("at", i)).String(); got != "" {
			t.Errorf("EventSource %d, replaced, still has listeners: %s", i, got)
		}
	}
	src.Close()
	if got := tr.Call("totalLive").Int(); got != 0 {
		t.Errorf("%d listeners left after Close", got)
	}
}

// orderEntry is one entry of watchOrder's log.
type orderEntry struct {
	What string
	At   float64 // performance.now(), ms
}

// orderLog is watchOrder's log.
type orderLog struct{ v js.Value }

// watchOrder logs, in the order they happen and with the time, every
// EventSource made ("open") and every time one gives up ("gave up", from
// a listener that runs before the Source's own), every status probe sent
// ("probe") and answered ("answer"); and, backoffs[i] after the i-th
// give-up, "backoff over".
func watchOrder(t *testing.T, backoffs []time.Duration) orderLog {
	t.Helper()
	ms := make([]any, len(backoffs))
	for i, d := range backoffs {
		ms[i] = d.Milliseconds()
	}
	w := jsFunc(`
const OrigES = window.EventSource, origFetch = window.fetch, log = [];
const add = what => log.push({what, at: performance.now()});
// Not EventSource.prototype.addEventListener, which trackListeners wraps.
const listen = EventTarget.prototype.addEventListener;
window.EventSource = class extends OrigES {
	constructor(...args) {
		super(...args);
		add("open");
		listen.call(this, "error", () => {
			if (this.readyState !== OrigES.CLOSED) return;
			add("gave up");
			const d = backoffs.shift();
			if (d !== undefined) setTimeout(() => add("backoff over"), d);
		});
	}
};
window.fetch = function (url, init) {
	const p = origFetch.apply(this, arguments);
	if (init?.headers?.Accept === "text/event-stream") {
		add("probe");
		p.then(() => add("answer"), () => add("answer"));
	}
	return p;
};
return {
	restore() { window.EventSource = OrigES; window.fetch = origFetch; },
	entries() { return JSON.stringify(log); },
};`, "backoffs").Invoke(js.ValueOf(ms))
	t.Cleanup(func() { w.Call("restore") })
	return orderLog{w}
}

// entries returns the log so far.
func (o orderLog) entries(t *testing.T) []orderEntry {
	t.Helper()
	var log []orderEntry
	if err := json.Unmarshal([]byte(o.v.Call("entries").String()), &log); err != nil {
		t.Fatal(err)
	}
	return log
}

func TestReopenDelay(t *testing.T) {
	// Already covered natively; here too, since it drives real timers.
	p := eventsource.ReopenPolicy{Initial: 10 * time.Millisecond, Max: 35 * time.Millisecond, Jitter: -1}
	var got []time.Duration
	for i := range 4 {
		got = append(got, p.Delay(i, 0.9))
	}
	if want := []time.Duration{10e6, 20e6, 35e6, 35e6}; !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
}

// TestCloseDuringReopen: a Source closed while it waits to reopen, or while
// the browser reconnects, stays closed.
func TestCloseDuringReopen(t *testing.T) {
	t.Run("backoffPending", func(t *testing.T) {
		u, key := eventsURL(t, "fail", "1-100")
		states := newRecorder[eventsource.State]()
		src := open(t, u, eventsource.Options{
			Reopen:        eventsource.ReopenPolicy{Initial: 300 * time.Millisecond, Jitter: -1},
			OnStateChange: states.add,
		})
		errs := newRecorder[eventsource.State]()
		src.OnError(errs.add)
		if got := errs.next(t, "error event"); got != eventsource.StateConnecting {
			t.Errorf("OnError state = %v, want %v: the Source will reopen", got, eventsource.StateConnecting)
		}
		waitStats(t, key, func(st streamStats) bool { return st.Connects >= 2 }) // the probe's 500
		src.Close()                                                              // the reopen is pending
		if got := states.next(t, "state change"); got != eventsource.StateClosed {
			t.Errorf("state = %v, want closed", got)
		}
		time.Sleep(600 * time.Millisecond)
		if st := fetchStats(t, key); st.Connects != 2 {
			t.Errorf("%d connections, want 2 (the stream and its probe): the source reopened after Close", st.Connects)
		}
		if st := src.Stats(); st.Reopens != 0 || src.ReadyState() != eventsource.StateClosed {
			t.Errorf("after Close: %+v, %v; want no reopen, closed", st, src.ReadyState())
		}
		states.none(t, 0, "state change after Close")
	})
	t.Run("betweenReopens", func(t *testing.T) {
		u, key := eventsURL(t, "fail", "1-100")
		src := open(t, u, eventsource.Options{Reopen: eventsource.ReopenPolicy{Initial: 50 * time.Millisecond, Jitter: -1}})
		waitStats(t, key, func(st streamStats) bool { return st.Connects >= 3 })
		src.Close()
		time.Sleep(100 * time.Millisecond) // a request already sent may still land
		before := fetchStats(t, key).Connects
		time.Sleep(500 * time.Millisecond) // 3 more reopens if it were not closed
		if after := fetchStats(t, key).Connects; after != before {
			t.Errorf("%d connections after Close, want none", after-before)
		}
	})
	t.Run("fromStateChange", func(t *testing.T) {
		u, key := eventsURL(t, "fail", "1-100")
		var src *eventsource.Source
		changes := 0
		src = open(t, u, eventsource.Options{
			Reopen: eventsource.ReopenPolicy{Initial: 50 * time.Millisecond, Jitter: -1},
			// Never open: the state goes from connecting to closed, by Close.
			OnStateChange: func(eventsource.State) { changes++ },
		})
		errs := newRecorder[eventsource.State]()
		src.OnError(func(s eventsource.State) {
			errs.add(s)
			if src.Stats().Reopens == 1 {
				src.Close() // from a handler, after the first reopen failed
			}
		})
		errs.next(t, "first error")
		errs.next(t, "error after the reopen")
		time.Sleep(300 * time.Millisecond)
		// The stream, its probe, the reopen, and maybe the reopen's probe,
		// which starts just before the handler closes the source; open, it
		// would have reopened twice more in 300 ms.
		if st := fetchStats(t, key); st.Connects < 3 || st.Connects > 4 {
			t.Errorf("%d connections, want 3 or 4", st.Connects)
		}
		if changes != 1 {
			t.Errorf("%d state changes, want 1 (closed)", changes)
		}
	})
	t.Run("browserReconnecting", func(t *testing.T) {
		// The stream ends; the browser waits retry=300ms to reconnect.
		u, key := eventsURL(t, "e", ":a", "end", "1", "retry", "300")
		src := open(t, u, eventsource.Options{})
		errs := newRecorder[eventsource.State]()
		src.OnError(errs.add)
		if got := errs.next(t, "error when the stream ends"); got != eventsource.StateConnecting {
			t.Errorf("OnError state = %v, want connecting", got)
		}
		src.Close()
		time.Sleep(600 * time.Millisecond)
		if st := fetchStats(t, key); st.Connects != 1 {
			t.Errorf("%d connections, want 1: the browser reconnected after Close", st.Connects)
		}
	})
}

// TestWatchdog: a stream that stays silent past the watchdog is reopened;
// heartbeats keep it open.
func TestWatchdog(t *testing.T) {
	const watchdog = 300 * time.Millisecond
	t.Run("reopensSilentStream", func(t *testing.T) {
		u, key := eventsURL(t, "e", ":a", "e", ":b")
		states := newRecorder[eventsource.State]()
		src := open(t, u, eventsource.Options{Watchdog: watchdog, OnStateChange: states.add})
		msgs := newRecorder[eventsource.Event]()
		src.OnRaw("message", msgs.add)
		st := waitStats(t, key, func(st streamStats) bool { return st.Connects >= 2 })
		c := st.Conns
		if c[0].Heartbeat != "event" || c[1].Heartbeat != "event" {
			t.Errorf("heartbeat parameters %q, %q; want \"event\"", c[0].Heartbeat, c[1].Heartbeat)
		}
		if c[1].Query != "ep-2" {
			t.Errorf("the reopen sent lastEventId=%q, want ep-2", c[1].Query)
		}
		if gap := time.Duration((c[1].AtMS - c[0].AtMS) * float64(time.Millisecond)); gap < watchdog {
			t.Errorf("reopened after %v, before the watchdog's %v", gap, watchdog)
		}
		for _, want := range []string{"a", "b"} {
			if got := msgs.next(t, want).Data; got != want {
				t.Errorf("event %q, want %q", got, want)
			}
		}
		msgs.none(t, 0, "event replayed twice")
		expectStates(t, states, eventsource.StateOpen, eventsource.StateConnecting, eventsource.StateOpen)
		if got := src.Stats().Reopens; got < 1 {
			t.Errorf("Stats().Reopens = %d, want at least 1", got)
		}
	})
	t.Run("heartbeatsKeepItOpen", func(t *testing.T) {
		u, key := eventsURL(t, "e", ":a", "hb", "100")
		src := open(t, u, eventsource.Options{Watchdog: watchdog})
		msgs := newRecorder[eventsource.Event]()
		src.OnRaw("message", msgs.add)
		msgs.next(t, "event a")
		time.Sleep(4 * watchdog)
		if st := fetchStats(t, key); st.Connects != 1 {
			t.Errorf("%d connections, want 1: the watchdog ignored the heartbeats", st.Connects)
		}
		// Heartbeats are not events and carry no ID.
		if got, want := src.Stats(), (eventsource.SourceStats{Received: 1, LastEventID: "ep-1"}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
	t.Run("eventsKeepItOpen", func(t *testing.T) {
		u, key := streamURL(t) // a tick every 20 ms
		src := open(t, u, eventsource.Options{Watchdog: watchdog})
		src.OnRaw("message", func(eventsource.Event) {})
		time.Sleep(4 * watchdog)
		if st := fetchStats(t, key); st.Connects != 1 {
			t.Errorf("%d connections, want 1: the watchdog ignored the events", st.Connects)
		}
	})
}

// gotGap is what an OnGap handler received.
type gotGap struct {
	g  protocol.Gap
	id string
}

// TestGap: the server's sse.gap reaches OnGap with the reason and the ID
// the client sent, and the stream resumes from the gap's ID.
func TestGap(t *testing.T) {
	for _, tc := range []struct {
		sent   string
		reason protocol.GapReason
	}{
		{"zz-9", "unknown"},  // another epoch
		{"ep-99", "unknown"}, // past the history
		{"garbage", "malformed"},
	} {
		t.Run(string(tc.reason)+"/"+tc.sent, func(t *testing.T) {
			u, key := eventsURL(t, "e", ":a", "e", ":b", "e", ":c", "lastEventId", tc.sent)
			src := open(t, u, eventsource.Options{Watchdog: 300 * time.Millisecond})
			gaps := newRecorder[gotGap]()
			src.OnGap(func(g protocol.Gap, id string) { gaps.add(gotGap{g, id}) })
			msgs := newRecorder[eventsource.Event]()
			src.OnRaw("message", msgs.add)
			if got, want := gaps.next(t, "gap"), (gotGap{protocol.Gap{LastEventID: tc.sent, Reason: tc.reason}, "ep-3"}); got != want {
				t.Errorf("gap = %+v, want %+v", got, want)
			}
			if got := src.LastEventID(); got != "ep-3" {
				t.Errorf("LastEventID() = %q, want the gap's ep-3", got)
			}
			// The watchdog reopens the silent stream: it resumes from the gap's
			// ID, so there is no second gap.
			st := waitStats(t, key, func(st streamStats) bool { return st.Connects >= 2 })
			if st.Conns[1].Query != "ep-3" {
				t.Errorf("reopen sent lastEventId=%q, want ep-3", st.Conns[1].Query)
			}
			gaps.none(t, quiet, "second gap")
			msgs.none(t, 0, "event: a gap replays nothing")
		})
	}
	t.Run("withoutOnGap", func(t *testing.T) {
		u, _ := eventsURL(t, "e", ":a", "lastEventId", "zz-1")
		src := open(t, u, eventsource.Options{})
		opened := newRecorder[struct{}]()
		src.OnOpen(func() { opened.add(struct{}{}) })
		opened.next(t, "open")
		deadline := time.Now().Add(waitTimeout)
		for src.LastEventID() != "ep-1" {
			if time.Now().After(deadline) {
				t.Fatalf("LastEventID() = %q, want the gap's ep-1 even with no OnGap", src.LastEventID())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestOpenCloseLeak opens 1,000 sources with every kind of listener, then
// closes them: no listener stays on any EventSource, every js.Func is
// released, and no goroutine is left.
func TestOpenCloseLeak(t *testing.T) {
	tr := trackListeners(t)
	goroutines := runtime.NumGoroutine()
	u, _ := eventsURL(t, "e", ":a")
	opts := eventsource.Options{Watchdog: time.Minute, OnStateChange: func(eventsource.State) {}}
	const n = 1000
	srcs := make([]*eventsource.Source, 0, n)
	for range n {
		src, err := eventsource.Open(u, opts)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
		subscribe[pingLike](src)
		src.OnRaw("message", func(eventsource.Event) {})
		src.OnGap(func(protocol.Gap, string) {})
		src.OnOpen(func() {})
		src.OnError(func(eventsource.State) {}).Close() // closed early: one less
	}
	// Open's 5 (open, error, sse.gap, sse.expired, sse.heartbeat) and 4 of
	// the test's.
	if got := tr.Call("totalLive").Int(); got != 9*n {
		t.Fatalf("%d live listeners on %d sources, want %d", got, n, 9*n)
	}
	time.Sleep(50 * time.Millisecond) // let a few connect
	for _, src := range srcs {
		src.Close()
	}
	if got := tr.Call("totalLive").Int(); got != 0 {
		t.Errorf("%d listeners left after closing every source", got)
	}
	// Listeners called after Close do nothing; each Source's only js.Func
	// is released.
	fns := tr.Call("allFns")
	ev := js.Global().Get("MessageEvent").New("message", map[string]any{"data": "x"})
	released := countReleasedCalls(t, func() {
		for i := range fns.Length() {
			fns.Index(i).Invoke(ev)
		}
		for _, src := range srcs {
			eventsource.DrainFunc(src).Invoke()
		}
	})
	if fns.Length() != 10*n || released != n {
		t.Errorf("%d listeners ever added, %d released js.Funcs; want %d, %d", fns.Length(), released, 10*n, n)
	}
	time.Sleep(10 * time.Millisecond)
	if got := runtime.NumGoroutine(); got > goroutines {
		t.Errorf("%d goroutines after closing, %d before", got, goroutines)
	}
}

// pingLike is a test-only unnamed event type.
type pingLike struct{ Text string }

func (pingLike) EventName() string { return "" }
