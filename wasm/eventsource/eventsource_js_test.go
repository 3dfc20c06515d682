//go:build js && wasm

// These tests run in a real browser against the SSE server of
// browser_test.go. Run them with `go test ./wasm/eventsource` (natively):
// TestBrowser starts the server and runs them through wasmbrowsertest with
// the server's URL in SSEWASM_TEST_SSE_URL. Run alone, they skip.

package eventsource_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/internal/ssetest"
	"github.com/ssewasm/ssewasm/wasm/internal/jstest"
)

// waitTimeout bounds every wait for the browser; the server sends ticks every
// 20 ms and asks for reconnection after 200 ms, so a passing wait takes
// milliseconds. It is long because a loaded 2-core CI machine once took over
// 5 s to open a stream; only a failing test waits it out.
const waitTimeout = 15 * time.Second

// quiet is how long a test watches for events that must not arrive: at least
// a dozen ticks would arrive in that time on a live stream.
const quiet = 400 * time.Millisecond

// streamURL returns the /stream URL for this test, with its stats key and
// the given query parameters.
func streamURL(t *testing.T, params ...string) (u, key string) {
	t.Helper()
	return ssetest.URL(t, "/stream", params...)
}

func open(t *testing.T, u string, opts eventsource.Options) *eventsource.Source {
	t.Helper()
	src, err := eventsource.Open(u, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", u, err)
	}
	t.Cleanup(src.Close)
	return src
}

// recorder collects what handlers receive. Its channel is buffered because
// handlers run on the browser's event loop and must never block; if it ever
// fills, the test fails rather than the page hanging.
type recorder[T any] struct {
	ch       chan T
	overflow chan struct{} // closed once, on the first dropped value
}

func newRecorder[T any]() *recorder[T] {
	return &recorder[T]{ch: make(chan T, 4096), overflow: make(chan struct{})}
}

func (r *recorder[T]) add(v T) {
	select {
	case r.ch <- v:
	default:
		select {
		case <-r.overflow:
		default:
			close(r.overflow)
		}
	}
}

// next waits for the next value.
func (r *recorder[T]) next(t *testing.T, what string) T {
	t.Helper()
	select {
	case v := <-r.ch:
		return v
	case <-r.overflow:
		t.Fatalf("recorder overflowed waiting for %s", what)
	case <-time.After(waitTimeout):
		t.Fatalf("no %s within %v", what, waitTimeout)
	}
	panic("unreachable")
}

// none fails if a value arrives within d.
func (r *recorder[T]) none(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-r.ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(d):
	}
}

// expectStates waits for the next state changes and fails t (going on)
// unless they are want, in order.
func expectStates(t *testing.T, states *recorder[eventsource.State], want ...eventsource.State) {
	t.Helper()
	var seq []eventsource.State
	for range want {
		seq = append(seq, states.next(t, "state change"))
	}
	if !slices.Equal(seq, want) {
		t.Errorf("state changes %v, want %v", seq, want)
	}
}

// drain discards the values already received.
func (r *recorder[T]) drain() {
	for {
		select {
		case <-r.ch:
		default:
			return
		}
	}
}

// recordStream records what the test server's stream sends: the open
// events (with the state in OnOpen), the greet events and the unnamed
// ones.
func recordStream(src *eventsource.Source) (opened *recorder[eventsource.State], greets, msgs *recorder[eventsource.Event]) {
	opened, greets, msgs = newRecorder[eventsource.State](), newRecorder[eventsource.Event](), newRecorder[eventsource.Event]()
	src.OnOpen(func() { opened.add(src.ReadyState()) })
	src.OnRaw("greet", greets.add)
	src.OnRaw("message", msgs.add)
	return opened, greets, msgs
}

func TestEventsArrive(t *testing.T) {
	base := ssetest.BaseURL(t)
	for _, tc := range []struct {
		name string
		opts eventsource.Options
	}{
		{"default", eventsource.Options{}},
		{"withCredentials", eventsource.Options{WithCredentials: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := streamURL(t)
			src := open(t, u, tc.opts)
			if got := src.ReadyState(); got != eventsource.StateConnecting {
				t.Errorf("ReadyState() right after Open = %v, want %v", got, eventsource.StateConnecting)
			}
			if got := src.URL(); got != u {
				t.Errorf("URL() = %q, want %q", got, u)
			}
			opened, greets, msgs := recordStream(src)
			errs := newRecorder[eventsource.State]()
			src.OnError(errs.add)

			if got := opened.next(t, "open event"); got != eventsource.StateOpen {
				t.Errorf("ReadyState() in OnOpen = %v, want %v", got, eventsource.StateOpen)
			}
			if got := src.ReadyState(); got != eventsource.StateOpen {
				t.Errorf("ReadyState() after open = %v, want %v", got, eventsource.StateOpen)
			}
			for _, want := range []struct {
				rec *recorder[eventsource.Event]
				msg eventsource.Event
			}{
				{greets, eventsource.Event{Name: "greet", Data: "hello\nworld", ID: "1", Origin: base}},
				{msgs, eventsource.Event{Name: "message", Data: "plain", ID: "2", Origin: base}},
				// An event without id keeps the last one.
				{msgs, eventsource.Event{Name: "message", Data: "tick 0", ID: "2", Origin: base}},
				{msgs, eventsource.Event{Name: "message", Data: "tick 1", ID: "2", Origin: base}},
			} {
				if got := want.rec.next(t, "event "+want.msg.Data); got != want.msg {
					t.Errorf("got %+v, want %+v", got, want.msg)
				}
			}
			greets.none(t, 0, "second greet event")
			errs.none(t, 0, "error event")
		})
	}
}

func TestCloseStopsDelivery(t *testing.T) {
	u, key := streamURL(t)
	src := open(t, u, eventsource.Options{})
	msgs := newRecorder[eventsource.Event]()
	src.OnRaw("message", msgs.add)
	errs := newRecorder[eventsource.State]()
	src.OnError(errs.add)
	for _, want := range []string{"plain", "tick 0", "tick 1"} {
		if got := msgs.next(t, want).Data; got != want {
			t.Fatalf("got event %q, want %q", got, want)
		}
	}

	src.Close()
	if got := src.ReadyState(); got != eventsource.StateClosed {
		t.Errorf("ReadyState() after Close = %v, want %v", got, eventsource.StateClosed)
	}
	// The server sends a tick every 20 ms until it sees the hang-up.
	msgs.drain() // received before Close
	msgs.none(t, quiet, "event after Close")
	errs.none(t, 0, "error event after Close")

	// Close hung up the connection, and the browser did not reconnect.
	st := waitStats(t, key, func(st streamStats) bool { return st.Disconnects >= 1 })
	if st.Connects != 1 || st.Disconnects != 1 {
		t.Errorf("server saw %d connections and %d disconnections, want 1 and 1", st.Connects, st.Disconnects)
	}
}

func TestCloseRemovesListeners(t *testing.T) {
	tr := trackListeners(t)
	u, _ := streamURL(t)
	src := open(t, u, eventsource.Options{})

	opened := newRecorder[struct{}]()
	src.OnOpen(func() { opened.add(struct{}{}) })
	src.OnError(func(eventsource.State) {})
	a := newRecorder[eventsource.Event]()
	subA := src.OnRaw("message", a.add)
	b := newRecorder[eventsource.Event]()
	src.OnRaw("message", b.add)
	once := newRecorder[eventsource.Event]()
	var subOnce *eventsource.Subscription
	subOnce = src.OnRaw("message", func(m eventsource.Event) {
		once.add(m)
		subOnce.Close() // from inside its own handler
		subOnce.Close()
	})
	src.OnRaw("greet", func(eventsource.Event) {})
	es := tr.Call("last")
	if es.IsUndefined() {
		t.Fatal("no addEventListener call went through the patched EventSource.prototype")
	}
	if got, want := tr.Call("live", es).String(), "error,error,greet,message,message,message,open,open,sse.expired,sse.gap"; got != want {
		// Open adds its own open, error, sse.gap and sse.expired listeners.
		t.Fatalf("listeners on the EventSource after subscribing: %s, want %s", got, want)
	}

	opened.next(t, "open event")
	a.next(t, "first event on A")
	b.next(t, "first event on B")
	if got := once.next(t, "first event on the self-closing subscription").Data; got != "plain" {
		t.Errorf("self-closing subscription got %q, want \"plain\"", got)
	}

	// Closing one subscription removes exactly its listener.
	subA.Close()
	subA.Close()
	if got, want := tr.Call("live", es).String(), "error,error,greet,message,open,open,sse.expired,sse.gap"; got != want {
		t.Fatalf("listeners after closing two message subscriptions: %s, want %s", got, want)
	}
	a.drain() // received before subA.Close
	for range 3 {
		b.next(t, "event on B after A closed")
	}
	a.none(t, 0, "event on A after its Close")
	once.none(t, 0, "second event on the self-closed subscription")

	src.Close()
	if got := tr.Call("live", es).String(); got != "" {
		t.Fatalf("listeners left on the EventSource after Close: %s", got)
	}
	if got := src.ReadyState(); got != eventsource.StateClosed {
		t.Errorf("ReadyState() after Close = %v, want %v", got, eventsource.StateClosed)
	}
	// Subscribing to a closed source adds nothing.
	late := src.OnRaw("message", b.add)
	late.Close()
	if got := tr.Call("live", es).String(); got != "" {
		t.Fatalf("listeners after subscribing to a closed source: %s", got)
	}

	// Calling a listener after Close delivers nothing, and the Source's
	// only js.Func is released: calling it reaches a released function,
	// which syscall/js reports with console.error instead of running it.
	all := tr.Call("all", es)
	if n := all.Length(); n != 10 {
		t.Fatalf("%d listeners were ever added, want 10 (6 subscriptions, 4 of Open's own)", n)
	}
	ev := js.Global().Get("MessageEvent").New("message", map[string]any{"data": "late"})
	released := countReleasedCalls(t, func() {
		for i := range all.Length() {
			all.Index(i).Invoke(ev)
		}
		eventsource.DrainFunc(src).Invoke()
	})
	if released != 1 {
		t.Errorf("%d calls reached a released function, want 1 (the drain; listeners do nothing after Close)", released)
	}
	b.drain() // received before Close
	b.none(t, quiet, "event after Close")
}

func TestCloseInsideHandler(t *testing.T) {
	// burst=50 puts 50 more events in the same chunk as the first message,
	// so the browser has them queued when the handler closes the source.
	u, _ := streamURL(t, "burst", "50")
	src := open(t, u, eventsource.Options{})
	first := newRecorder[eventsource.Event]()
	subFirst := src.OnRaw("message", func(m eventsource.Event) {
		first.add(m)
		src.Close()
		src.Close()
	})
	// Added second, so the browser dispatches to it after the first handler
	// has closed the source, for the same event.
	second := newRecorder[eventsource.Event]()
	subSecond := src.OnRaw("message", second.add)

	if got := first.next(t, "first event").Data; got != "plain" {
		t.Errorf("first event = %q, want \"plain\"", got)
	}
	first.none(t, quiet, "event after Close in a handler")
	second.none(t, 0, "event on the second listener")
	if got := src.ReadyState(); got != eventsource.StateClosed {
		t.Errorf("ReadyState() = %v, want %v", got, eventsource.StateClosed)
	}
	src.Close()
	subFirst.Close()
	subSecond.Close()
}

func TestErrorWhileReconnecting(t *testing.T) {
	// end=1: the server ends every response after the first events; the
	// browser reconnects after the stream's retry of 200 ms.
	u, key := streamURL(t, "end", "1")
	src := open(t, u, eventsource.Options{})
	opened := newRecorder[struct{}]()
	src.OnOpen(func() { opened.add(struct{}{}) })
	errs := newRecorder[eventsource.State]()
	src.OnError(errs.add)

	opened.next(t, "open event")
	if got := errs.next(t, "error event when the stream ends"); got != eventsource.StateConnecting {
		t.Errorf("OnError state when the server ends the stream = %v, want %v", got, eventsource.StateConnecting)
	}
	opened.next(t, "open event after reconnecting")
	src.Close()

	st := fetchStats(t, key)
	if len(st.LastEventIDs) < 2 || st.LastEventIDs[0] != "" || st.LastEventIDs[1] != "2" {
		t.Errorf("Last-Event-ID of each connection = %q, want \"\", \"2\", ...", st.LastEventIDs)
	}
}

func TestErrorWhenRefused(t *testing.T) {
	// With reopening off, the browser's verdict is final.
	noReopen := eventsource.Options{Reopen: eventsource.ReopenPolicy{Disabled: true}}
	for _, tc := range []struct {
		name   string
		params []string
		opts   eventsource.Options
	}{
		{"500", []string{"status", "500"}, noReopen},
		{"204", []string{"status", "204"}, noReopen},
		{"404", []string{"status", "404"}, noReopen},
		// A credentialed request needs Access-Control-Allow-Credentials: this
		// case fails only if Open passed withCredentials to the browser.
		{"credentialsNotAllowed", []string{"creds", "0"}, eventsource.Options{WithCredentials: true, Reopen: eventsource.ReopenPolicy{Disabled: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, key := streamURL(t, tc.params...)
			src := open(t, u, tc.opts)
			opened := newRecorder[struct{}]()
			src.OnOpen(func() { opened.add(struct{}{}) })
			errs := newRecorder[eventsource.State]()
			src.OnError(errs.add)

			if got := errs.next(t, "error event"); got != eventsource.StateClosed {
				t.Errorf("OnError state = %v, want %v (the browser gives up)", got, eventsource.StateClosed)
			}
			if got := src.ReadyState(); got != eventsource.StateClosed {
				t.Errorf("ReadyState() = %v, want %v", got, eventsource.StateClosed)
			}
			opened.none(t, quiet, "open event")
			errs.none(t, 0, "second error event")
			if st := fetchStats(t, key); st.Connects != 1 {
				t.Errorf("server saw %d connections, want 1 (no reconnection)", st.Connects)
			}
		})
	}
}

func TestOpenBadURL(t *testing.T) {
	src, err := eventsource.Open("http://[::1", eventsource.Options{})
	if err == nil {
		src.Close()
		t.Fatal("Open of an invalid URL succeeded")
	}
	if src != nil {
		t.Errorf("Open returned a non-nil *Source with an error")
	}
	var jsErr js.Error
	if !errors.As(err, &jsErr) || !strings.HasPrefix(err.Error(), "eventsource: open ") {
		t.Errorf("err = %v, want an eventsource error wrapping the browser's js.Error", err)
	}
}

func TestNilHandlerPanics(t *testing.T) {
	u, _ := streamURL(t)
	src := open(t, u, eventsource.Options{})
	defer func() {
		if r := recover(); r != "eventsource: nil handler" {
			t.Errorf("recover() = %v, want the nil handler panic", r)
		}
	}()
	src.OnRaw("message", nil)
}

// trackListeners patches EventSource.prototype.addEventListener and
// removeEventListener, for the rest of the test, to keep each instance's
// live listeners the way the browser does (by type and function) and every
// function ever added. The returned object has last() (the instance that
// most recently got its first listener), count() and at(i) (the instances,
// in that order), live(es) (the sorted types of its live listeners, comma
// separated), totalLive() (live listeners on all instances), all(es) (every
// function added to es) and allFns() (every function added to any).
func trackListeners(t *testing.T) js.Value {
	tr := jsFunc(`
const P = EventSource.prototype;
const add = P.addEventListener, remove = P.removeEventListener;
const live = new Map(), all = new Map(), instances = [];
P.addEventListener = function (type, fn, opts) {
	if (!live.has(this)) { live.set(this, []); all.set(this, []); instances.push(this); }
	const l = live.get(this);
	if (!l.some(e => e.type === type && e.fn === fn)) l.push({type, fn});
	all.get(this).push(fn);
	return add.call(this, type, fn, opts);
};
P.removeEventListener = function (type, fn, opts) {
	const l = live.get(this) || [];
	const i = l.findIndex(e => e.type === type && e.fn === fn);
	if (i >= 0) l.splice(i, 1);
	return remove.call(this, type, fn, opts);
};
return {
	restore() { P.addEventListener = add; P.removeEventListener = remove; },
	last() { return instances[instances.length - 1]; },
	count() { return instances.length; },
	at(i) { return instances[i]; },
	totalLive() { let n = 0; for (const l of live.values()) n += l.length; return n; },
	allFns() { return [].concat(...all.values()); },
	live(es) { return (live.get(es) || []).map(e => e.type).sort().join(","); },
	all(es) { return all.get(es) || []; },
};`).Invoke()
	t.Cleanup(func() { tr.Call("restore") })
	return tr
}

// countReleasedCalls runs fn and counts the calls to released js.Funcs it
// made (see jstest.ReleasedCalls).
func countReleasedCalls(t *testing.T, fn func()) int {
	t.Helper()
	return jstest.ReleasedCalls(fn)
}

// jsFunc compiles a JavaScript function body.
func jsFunc(body string, params ...string) js.Value { return jstest.Func(body, params...) }

// streamStats is the JSON of the server's /stats.
type streamStats = ssetest.KeyStats

func fetchStats(t *testing.T, key string) streamStats {
	t.Helper()
	text := await(t, jsFunc(`return fetch(url).then(r => r.ok ? r.text() : Promise.reject(new Error("HTTP " + r.status)));`, "url").
		Invoke(ssetest.BaseURL(t)+"/stats?key="+url.QueryEscape(key)), "GET /stats")
	var st streamStats
	if err := json.Unmarshal([]byte(text.String()), &st); err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	return st
}

// waitStats polls /stats until ok holds.
func waitStats(t *testing.T, key string, ok func(streamStats) bool) streamStats {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		st := fetchStats(t, key)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("server stats still %+v after %v", st, waitTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// await waits for a JavaScript promise.
func await(t *testing.T, promise js.Value, what string) js.Value {
	t.Helper()
	return jstest.Await(t, promise, what, waitTimeout)
}
