//go:build js && wasm

package eventsource

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// How events reach Go. The browser dispatches every event of a network
// read in one task: with a Go callback per event, a flood of 20,000 events
// froze the page for seconds. Instead, each listener is a small JavaScript
// function (made by jsQueue) that appends the event to the Source's queue
// and, once per burst, posts a message to itself; the Source's one js.Func,
// drain, then takes the whole queue as one string and runs the handlers in
// order, in slices of sliceBudget, each in its own task, so the page stays
// responsive. The queue also counts events, keeps the last event ID and the
// time of the last sign of life, all at arrival.

// sliceBudget is how long one drain runs handlers before it yields the
// event loop to the browser.
const sliceBudget = 8 * time.Millisecond

// takeMax is the most events drain takes from the queue at once: moving
// them into Go is one string copy, which should not itself be a long task.
const takeMax = 512

// sep separates the fields of queued events: a CR can never occur in an
// event's data, type or ID, since the stream's parser splits lines on it.
const sep = "\r"

// Listener kinds of jsQueue's listener(id, kind).
const (
	kindOpen    = "open"    // queue an open event
	kindError   = "error"   // queue an error event with the readyState at that moment
	kindMessage = "message" // count, track its ID, queue it
	kindTrack   = "track"   // count and track its ID only
	kindBeat    = "beat"    // a sign of life only
	kindExpire  = "expire"  // close the EventSource at once, then as kindMessage
)

// readyState values of the browser's EventSource.
const jsClosed = 2

// probeID is the queue ID under which a probe's answer reaches the drain;
// subscriptions count from 0.
const probeID = -1

// probeTimeout bounds a probe that gets no headers: it then tells nothing,
// and the Source reopens as after a network error.
const probeTimeout = 10 * time.Second

// jsQueue makes a Source's queue. Compiled once.
var jsQueue = sync.OnceValue(func() js.Value {
	return js.Global().Get("Function").New("drain", `
const ch = new MessageChannel();
const q = { buf: [], head: 0, posted: false, closed: false, received: 0, lastEventId: "", lastAt: performance.now(), origin: "", lastEv: null };
ch.port1.onmessage = () => { q.posted = false; if (!q.closed) drain(); };
q.post = () => { if (!q.posted && !q.closed) { q.posted = true; ch.port2.postMessage(0); } };
// take moves a read index instead of cutting the array: cutting copied
// the whole backlog on every take, quadratic in a flood.
q.take = max => {
	const end = Math.min(q.buf.length, q.head + 4 * max);
	const s = q.buf.slice(q.head, end).join("\r");
	if (end === q.buf.length) { q.buf = []; q.head = 0; } else { q.head = end; }
	return s;
};
q.idle = () => q.buf.length > q.head ? 0 : performance.now() - q.lastAt;
// The reason phrases of the statuses that fail a Source, for HTTP/2
// answers, which have none.
const phrases = { 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 406: "Not Acceptable", 410: "Gone", 414: "URI Too Long", 501: "Not Implemented" };
// probe asks url once with fetch, as the EventSource would, and queues
// the answer for the drain under id: "seq\nstatus\nRetry-After\nstatusText",
// status 0 when no answer came (network error, CORS, ms without headers).
// The body is aborted as soon as the headers arrive, so the probe never
// holds a stream; its callbacks are JavaScript, so no js.Func is made.
q.ctl = null;
q.abortProbe = () => { if (q.ctl) { q.ctl.abort(); q.ctl = null; } };
q.probe = (id, seq, url, credentials, ms) => {
	q.abortProbe();
	const ctl = new AbortController();
	q.ctl = ctl;
	const timer = setTimeout(() => ctl.abort(), ms);
	const done = (status, retryAfter, text) => {
		clearTimeout(timer);
		ctl.abort();
		if (q.ctl === ctl) q.ctl = null;
		if (q.closed) return;
		q.buf.push(id, "", "", seq + "\n" + status + "\n" + retryAfter + "\n" + text);
		q.post();
	};
	try {
		fetch(url, { credentials, cache: "no-store", headers: { Accept: "text/event-stream" }, signal: ctl.signal })
			.then(r => done(r.status, r.headers.get("Retry-After") ?? "", r.statusText || phrases[r.status] || ""), () => done(0, "", ""));
	} catch (e) { done(0, "", ""); }
};
q.close = () => {
	q.abortProbe();
	q.closed = true; q.buf = []; q.head = 0; q.lastEv = null;
	ch.port1.onmessage = null; ch.port1.close(); ch.port2.close();
};
const track = ev => {
	q.lastAt = performance.now();
	if (ev !== q.lastEv) { q.lastEv = ev; q.received++; q.lastEventId = ev.lastEventId ?? ""; }
};
q.listener = (id, kind) => {
	switch (kind) {
	case "open": return function (ev) { if (q.closed) return; q.lastAt = performance.now(); q.buf.push(id, "", "", ""); q.post(); };
	case "error": return function (ev) { if (q.closed) return; q.buf.push(id, "", "", String(this.readyState)); q.post(); };
	case "track": return function (ev) { if (!q.closed) track(ev); };
	case "beat": return function (ev) { if (!q.closed) q.lastAt = performance.now(); };
	// The server ends an expired stream: close it in the event's own task,
	// before the browser can reconnect with the expired cookie.
	case "expire": return function (ev) { if (q.closed) return; this.close(); track(ev); q.buf.push(id, ev.lastEventId ?? "", "", ev.data ?? ""); q.post(); };
	}
	return function (ev) {
		if (q.closed) return;
		track(ev);
		let o = ev.origin ?? "";
		if (o === q.origin) o = ""; else q.origin = o;
		q.buf.push(id, ev.lastEventId ?? "", o, ev.data ?? "");
		q.post();
	};
};
return q;`)
})

// Source is one logical stream over successive browser EventSources.
// Create it with [Open]; its methods may be called from any goroutine, and
// from inside its own handlers.
type Source struct {
	opts   Options
	q      js.Value // the queue jsQueue made
	drain  js.Func  // the only js.Func of the Source
	closed atomic.Bool

	// The drain's own state: only drain touches it, and drain never runs
	// twice at once (the browser calls it from its event loop).
	backlog string // queued events taken from q and not yet handled
	origin  string

	mu       sync.Mutex
	es       js.Value // the current EventSource
	url      string   // its absolute URL, as the browser resolved it
	state    State
	subs     map[int]*Subscription // every live listener, Open's own included
	nextID   int
	opened   bool        // some EventSource of this Source has opened
	attempt  int         // consecutive reopens without an open
	stats    SourceStats // Reconnects and Reopens; the queue has the rest
	reopen   *time.Timer // pending reopen after the browser gave up; nil if none
	watchdog *time.Timer // nil without Options.Watchdog
	probing  bool        // a probe is out; its answer decides the next step
	probeSeq int         // the current probe's number: older answers are ignored
	probeURL string      // the URL the current probe asked
	err      error       // the *StatusError or *RenewError of StateFailed; nil in other states

	// The renewal after an expiry (Options.Renew), which runs on a
	// goroutine of its own: the Source owns it and ends it through cancel.
	renewal     *renewal  // the renewal under way; nil if none
	renewSeq    int       // the current renewal's number: older ones are ignored
	renewedAt   time.Time // when the last renewal succeeded
	renewStreak int       // consecutive expiries within minRenewGap of a renewal
}

// renewal is the context Options.Renew runs with: it ends when the Source
// closes or reopens. A context.Context of its own, with the few lines it
// needs: context.WithCancel would add 25 KB of code to app.wasm, which
// links no other cancellable context.
type renewal struct {
	done chan struct{} // closed by stop
}

func (r *renewal) Deadline() (time.Time, bool) { return time.Time{}, false }
func (r *renewal) Done() <-chan struct{}       { return r.done }
func (r *renewal) Value(key any) any           { return nil }

func (r *renewal) Err() error {
	select {
	case <-r.done:
		return context.Canceled
	default:
		return nil
	}
}

// stop ends the renewal's context; it is called once, with the Source's
// mu held.
func (r *renewal) stop() { close(r.done) }

// Subscription is one listener added to a [Source]. Its Close removes the
// listener; [Source.Close] closes every subscription of the source.
type Subscription struct {
	src    *Source
	id     int
	event  string
	fn     js.Value       // the JavaScript listener, moved along on reopen
	handle func(*message) // nil for Open's listeners that only track
	closed bool           // guarded by src.mu; once true, handle is never called
}

// message is one queued event as drain reads it.
type message struct {
	lastEventID, data string
}

// Open creates a browser EventSource for url (resolved against the page's
// URL), like new EventSource(url, {withCredentials}). The browser starts
// connecting at once, so the source is in [StateConnecting] until the
// stream opens; add handlers right after Open, before returning to the
// event loop, to see every event. With a watchdog, Open adds
// heartbeat=event to url.
//
// Open fails if the JavaScript environment has no EventSource (the error
// wraps [errors.ErrUnsupported]) or if the browser rejects url.
func Open(url string, opts Options) (*Source, error) {
	if ctor := js.Global().Get("EventSource"); ctor.Type() != js.TypeFunction {
		return nil, fmt.Errorf("eventsource: this JavaScript environment has no EventSource; run in a browser or load a polyfill: %w", errors.ErrUnsupported)
	}
	if opts.Watchdog > 0 {
		url = withParam(url, protocol.HeartbeatParam, protocol.HeartbeatEventValue)
	}
	es, replay := adoptEarly(url, opts.WithCredentials)
	if es.IsNull() {
		var err error
		if es, err = newEventSource(url, opts.WithCredentials); err != nil {
			return nil, err
		}
	}
	s := &Source{
		opts:  opts,
		es:    es,
		url:   es.Get("url").String(),
		state: StateConnecting,
		subs:  make(map[int]*Subscription),
	}
	s.drain = js.FuncOf(func(js.Value, []js.Value) any { s.drainSlice(); return nil })
	s.q = jsQueue().Invoke(s.drain)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add("open", kindOpen, func(*message) { s.onOpen() })
	s.add("error", kindError, func(m *message) { s.onError(m.data) })
	// Always tracked, so that a reopen resumes from the gap's ID even when
	// nobody subscribed to gaps.
	s.add(protocol.GapEvent, kindTrack, nil)
	s.add(protocol.ExpiredEvent, kindExpire, func(*message) { s.onExpired() })
	if opts.Watchdog > 0 {
		s.add(protocol.HeartbeatEvent, kindBeat, nil)
		s.watchdog = time.AfterFunc(opts.Watchdog, s.checkWatchdog)
		s.watchdog.Stop() // armed when the stream opens
	}
	if !replay.IsNull() {
		replay.Invoke()
	}
	return s, nil
}

// jsAdopt takes the EventSource that EarlyScript opened for url, if any,
// with the same credentials mode and not closed. It returns it and a
// function that, called once the Source listens, dispatches what the
// EventSource received before to the Source's listeners, in a microtask:
// before any later event, which the browser dispatches in a task of its
// own, and after the handlers the caller adds right after Open. Compiled
// once.
var jsAdopt = sync.OnceValue(func() js.Value {
	return js.Global().Get("Function").New("url", "credentials", `
const reg = globalThis.`+earlyGlobal+`;
if (!reg) return null;
let abs;
try { abs = new URL(url, location.href).href; } catch (e) { return null; }
const early = reg[abs];
if (!early) return null;
const kept = early.take();
if (early.es.readyState === 2 || early.es.withCredentials !== credentials) { early.es.close(); return null; }
return { es: early.es, replay: () => queueMicrotask(() => { for (const ev of kept) early.es.dispatchEvent(ev); }) };
`)
})

// adoptEarly returns EarlyScript's EventSource for url and the function
// that replays what it received, or two nulls.
func adoptEarly(url string, withCredentials bool) (es, replay js.Value) {
	a := jsAdopt().Invoke(url, withCredentials)
	if a.IsNull() {
		return js.Null(), js.Null()
	}
	return a.Get("es"), a.Get("replay")
}

// newEventSource runs new EventSource(url, {withCredentials}).
func newEventSource(url string, withCredentials bool) (es js.Value, err error) {
	defer func() {
		// new EventSource throws a SyntaxError for a URL it cannot parse;
		// syscall/js turns that into a panic with a js.Error.
		if r := recover(); r != nil {
			jsErr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("eventsource: open %q: pass an absolute URL or a path: %w", url, jsErr)
		}
	}()
	return js.Global().Get("EventSource").New(url, map[string]any{"withCredentials": withCredentials}), nil
}

// OnOpen calls fn each time the stream opens: after every reconnection and
// reopen too. fn must not block.
func (s *Source) OnOpen(fn func()) *Subscription {
	mustHandler(fn == nil)
	return s.listen("open", kindOpen, func(*message) { fn() })
}

// OnError calls fn on each error event of the underlying EventSource with
// the Source's state at that moment: [StateConnecting] means the stream
// failed or ended and the browser is reconnecting, or that the browser gave
// up and the Source probes the status and then reopens or, if the status
// will not change, goes to [StateFailed] ([Options.OnStateChange] reports
// it); [StateClosed] means the browser gave up and reopening is disabled
// ([ReopenPolicy.Disabled]), so the caller must call [Source.Reopen] (or
// Close this source and Open a new one) to try again. fn must not block.
func (s *Source) OnError(fn func(State)) *Subscription {
	mustHandler(fn == nil)
	return s.listen("error", kindError, func(*message) { fn(s.ReadyState()) })
}

func (s *Source) subscribe(name string, fn func(Event)) *Subscription {
	return s.listen(name, kindMessage, func(m *message) {
		fn(Event{Name: name, Data: m.data, ID: m.lastEventID, Origin: s.origin})
	})
}

// ReadyState reports the Source's state. It is [StateConnecting], not
// [StateClosed], while the Source probes the status and waits to reopen
// after the browser gave up, and [StateFailed] once a probe got a status
// that will not change.
func (s *Source) ReadyState() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Err returns the [*StatusError] or [*RenewError] that put the Source in
// [StateFailed], or nil in any other state.
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateFailed {
		return nil
	}
	return s.err
}

// Reopen opens a new EventSource at once, resuming after the last event
// ID, and starts the backoff afresh: call it after fixing what put the
// Source in [StateFailed] (signing in, say), or in [StateClosed] when the
// browser gave up with reopening disabled. It cancels a pending reopen,
// probe or renewal. On an open stream it replaces the connection, as the
// watchdog does. It does nothing after [Source.Close].
func (s *Source) Reopen() {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	if s.reopen != nil {
		s.reopen.Stop()
		s.reopen = nil
	}
	if s.probing {
		s.probing = false
		s.q.Call("abortProbe")
	}
	s.stopRenewal()
	s.attempt = 0
	s.mu.Unlock()
	s.reopenNow()
}

// URL returns the absolute URL of the current EventSource, as the browser
// resolved it. After a reopen it carries the lastEventId query parameter.
func (s *Source) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// LastEventID returns the last event ID the stream has received: the one a
// reopen resumes after.
func (s *Source) LastEventID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastEventID()
}

// lastEventID reads the queue's last event ID. s.mu is held.
func (s *Source) lastEventID() string {
	return s.q.Get(protocol.LastEventIDParam).String()
}

// Stats returns the Source's counters.
func (s *Source) Stats() SourceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Received = uint64(s.q.Get("received").Int())
	st.LastEventID = s.lastEventID()
	return st
}

// Close closes the EventSource, cancels a pending reopen or renewal,
// removes every listener the source added and releases its js.Func. No
// handler is called after Close, even for events already received. Close
// is idempotent, may be called from a handler, and does nothing on a nil
// *Source. It does not wait for a cancelled [Options.Renew] to return.
func (s *Source) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return
	}
	if s.reopen != nil {
		s.reopen.Stop()
		s.reopen = nil
	}
	if s.watchdog != nil {
		s.watchdog.Stop()
	}
	s.stopRenewal()
	// No JavaScript call below dispatches synchronously, so holding s.mu
	// cannot deadlock with a handler.
	s.es.Call("close")
	for _, sub := range s.subs {
		sub.closed = true
		s.es.Call("removeEventListener", sub.event, sub.fn)
	}
	s.subs = nil
	s.q.Call("close")
	// Releasing drain while it runs (Close from a handler) is allowed by
	// syscall/js; the queue no longer calls it.
	s.drain.Release()
	changed := s.setState(StateClosed)
	s.mu.Unlock()
	s.notify(changed, StateClosed)
}

// Close removes the listener from its source. It is idempotent, may be
// called from inside the handler, and is a no-op on a subscription whose
// source is closed. Events already received for it are dropped.
func (sub *Subscription) Close() {
	if sub == nil || sub.src == nil {
		return
	}
	s := sub.src
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub.closed {
		return
	}
	sub.closed = true
	delete(s.subs, sub.id)
	s.es.Call("removeEventListener", sub.event, sub.fn)
}

// listen adds a listener for event, unless the source is closed, in which
// case it returns an already closed subscription.
func (s *Source) listen(event, kind string, handle func(*message)) *Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return &Subscription{src: s, event: event, closed: true}
	}
	return s.add(event, kind, handle)
}

// add adds a listener to the current EventSource. s.mu is held; no event
// can be dispatched meanwhile, since addEventListener never dispatches
// synchronously.
func (s *Source) add(event, kind string, handle func(*message)) *Subscription {
	sub := &Subscription{src: s, id: s.nextID, event: event, handle: handle}
	s.nextID++
	sub.fn = s.q.Call("listener", sub.id, kind)
	s.subs[sub.id] = sub
	s.es.Call("addEventListener", event, sub.fn)
	return sub
}

// drainSlice handles queued events, in order, for up to sliceBudget, then
// posts itself again if some may be left. The browser calls it from its
// event loop, never twice at once.
func (s *Source) drainSlice() {
	start := time.Now()
	var m message
	for n := 1; ; n++ {
		if s.closed.Load() { // a handler closed the source
			s.backlog = ""
			return
		}
		if s.backlog == "" {
			if s.backlog = s.q.Call("take", takeMax).String(); s.backlog == "" {
				return
			}
		}
		var id, origin string
		id, s.backlog, _ = strings.Cut(s.backlog, sep)
		m.lastEventID, s.backlog, _ = strings.Cut(s.backlog, sep)
		origin, s.backlog, _ = strings.Cut(s.backlog, sep)
		m.data, s.backlog, _ = strings.Cut(s.backlog, sep)
		if origin != "" {
			s.origin = origin
		}
		i, _ := strconv.Atoi(id)
		if i == probeID {
			s.onProbe(m.data)
		} else {
			s.mu.Lock()
			sub := s.subs[i]
			s.mu.Unlock()
			if sub != nil && sub.handle != nil {
				sub.handle(&m)
			}
		}
		if n%4 == 0 && time.Since(start) >= sliceBudget {
			s.q.Call("post") // the rest in a later task
			return
		}
	}
}

func (s *Source) onOpen() {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	if s.opened {
		s.stats.Reconnects++
	}
	s.opened = true
	s.attempt = 0
	if s.watchdog != nil {
		s.watchdog.Reset(s.opts.Watchdog)
	}
	changed := s.setState(StateOpen)
	s.mu.Unlock()
	s.notify(changed, StateOpen)
}

// onError handles an error event; readyState is the EventSource's at that
// moment.
func (s *Source) onError(readyState string) {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	if s.watchdog != nil {
		// The browser reconnects after the stream's retry delay, which the
		// watchdog must not cut short; it is armed again on open.
		s.watchdog.Stop()
	}
	next := StateConnecting
	if readyState == strconv.Itoa(jsClosed) && s.reopen == nil && !s.probing && s.renewal == nil && s.es.Get("readyState").Int() == jsClosed {
		// The browser gave up, and does not say why. The listeners stay on
		// the dead EventSource until the reopen moves them.
		if s.opts.Reopen.Disabled {
			next = StateClosed
		} else {
			s.probe()
		}
	}
	changed := s.setState(next)
	s.mu.Unlock()
	s.notify(changed, next)
}

// onExpired handles the expired event, whose listener has already closed
// the EventSource: the Source renews the session and reopens, or, without
// Options.Renew, goes on as when the browser gives up.
func (s *Source) onExpired() {
	s.mu.Lock()
	if s.closed.Load() || s.renewal != nil {
		s.mu.Unlock()
		return
	}
	if s.watchdog != nil {
		s.watchdog.Stop()
	}
	next := StateConnecting
	switch {
	case s.opts.Renew != nil:
		s.renewal = &renewal{done: make(chan struct{})}
		s.renewSeq++
		go s.renew(s.renewal, s.renewSeq, s.renewDelay())
	case s.opts.Reopen.Disabled:
		next = StateClosed
	default:
		s.probe()
	}
	changed := s.setState(next)
	s.mu.Unlock()
	s.notify(changed, next)
}

// renewDelay is the wait before a renewal: none, unless the stream expired
// within minRenewGap of the last renewal, and then the reopen backoff,
// which grows with each such expiry in a row. s.mu is held.
func (s *Source) renewDelay() time.Duration {
	if s.renewedAt.IsZero() || time.Since(s.renewedAt) >= minRenewGap {
		s.renewStreak = 0
		return 0
	}
	d := s.opts.Reopen.Delay(s.renewStreak, rand.Float64())
	s.renewStreak++
	return d
}

// renew runs Options.Renew after delay, on its own goroutine, then
// reopens, or puts the Source in StateFailed if Renew failed. seq is its
// number: a renewal that Close or Reopen cancelled does nothing more.
func (s *Source) renew(ctx *renewal, seq int, delay time.Duration) {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	err := s.opts.Renew(ctx)
	s.mu.Lock()
	if s.closed.Load() || seq != s.renewSeq || s.renewal == nil {
		s.mu.Unlock()
		return
	}
	s.stopRenewal()
	if err != nil {
		s.err = &RenewError{Err: err}
		changed := s.setState(StateFailed)
		s.mu.Unlock()
		s.notify(changed, StateFailed)
		return
	}
	s.stats.Renewals++
	s.renewedAt = time.Now()
	// As a pending reopen, so that Close and Reopen cancel it.
	s.reopen = time.AfterFunc(0, s.reopenNow)
	s.mu.Unlock()
}

// stopRenewal cancels the renewal under way, if any. s.mu is held.
func (s *Source) stopRenewal() {
	if s.renewal != nil {
		s.renewal.stop()
		s.renewal = nil
	}
}

// probe asks the URL the next reopen would open, once, with fetch, with the
// EventSource's credentials mode; onProbe gets the answer. s.mu is held.
func (s *Source) probe() {
	s.probing = true
	s.probeSeq++
	s.probeURL = s.nextURL()
	credentials := "same-origin" // an EventSource's mode without withCredentials
	if s.opts.WithCredentials {
		credentials = "include"
	}
	s.q.Call("probe", probeID, s.probeSeq, s.probeURL, credentials, probeTimeout.Milliseconds())
}

// onProbe handles a probe's answer, data as the queue's probe pushed it:
// a status that will not change puts the Source in StateFailed; any other
// answer, or none, schedules a reopen after the backoff (and Retry-After).
func (s *Source) onProbe(data string) {
	seq, rest, _ := strings.Cut(data, "\n")
	code, rest, _ := strings.Cut(rest, "\n")
	retryAfter, text, _ := strings.Cut(rest, "\n")
	n, _ := strconv.Atoi(seq)
	status, _ := strconv.Atoi(code)
	s.mu.Lock()
	if s.closed.Load() || !s.probing || n != s.probeSeq {
		s.mu.Unlock()
		return // closed, reopened by hand, or an older probe
	}
	s.probing = false
	if e := statusError(status, text, s.probeURL); e != nil {
		s.err = e
		changed := s.setState(StateFailed)
		s.mu.Unlock()
		s.notify(changed, StateFailed)
		return
	}
	d := s.opts.Reopen.delayAfter(s.attempt, rand.Float64(), parseRetryAfter(retryAfter))
	s.attempt++
	s.reopen = time.AfterFunc(d, s.reopenNow)
	s.mu.Unlock()
}

// nextURL is the URL a reopen opens: the current one, resuming after the
// last event ID. s.mu is held.
func (s *Source) nextURL() string {
	if id := s.lastEventID(); id != "" {
		return withParam(s.url, protocol.LastEventIDParam, id)
	}
	return s.url
}

// checkWatchdog runs when the watchdog timer fires: it reopens the stream
// if nothing arrived for Options.Watchdog, or re-arms for the rest.
func (s *Source) checkWatchdog() {
	s.mu.Lock()
	if s.closed.Load() || s.reopen != nil || s.state != StateOpen {
		s.mu.Unlock()
		return
	}
	// Queued events count as life: the queue may lag behind the stream.
	idle := time.Duration(s.q.Call("idle").Float() * float64(time.Millisecond))
	if idle < s.opts.Watchdog {
		s.watchdog.Reset(s.opts.Watchdog - idle)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.reopenNow()
}

// reopenNow replaces the EventSource with a new one that resumes after the
// last event ID, and moves every listener to it.
func (s *Source) reopenNow() {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	s.reopen = nil
	s.err = nil
	if s.watchdog != nil {
		s.watchdog.Stop()
	}
	url := s.nextURL()
	es, err := newEventSource(url, s.opts.WithCredentials)
	if err != nil {
		// The URL opened before; only an odd browser fails now. Stay closed
		// rather than loop.
		s.mu.Unlock()
		s.Close()
		return
	}
	old := s.es
	old.Call("close") // a watchdog reopen closes a live stream
	for _, sub := range s.subs {
		old.Call("removeEventListener", sub.event, sub.fn)
		es.Call("addEventListener", sub.event, sub.fn)
	}
	s.es = es
	s.url = es.Get("url").String()
	s.stats.Reopens++
	changed := s.setState(StateConnecting)
	s.mu.Unlock()
	s.notify(changed, StateConnecting)
}

// setState records st and reports whether it changed. s.mu is held.
func (s *Source) setState(st State) bool {
	if s.state == st {
		return false
	}
	s.state = st
	return true
}

// notify calls OnStateChange, without s.mu held so that it may call Close.
func (s *Source) notify(changed bool, st State) {
	if changed && s.opts.OnStateChange != nil {
		s.opts.OnStateChange(st)
	}
}
