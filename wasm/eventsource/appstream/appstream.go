// Package appstream connects an [eventsource.Source] to a go-app component:
// open the stream in OnMount, close it in OnDismount, and receive its
// events on the UI goroutine, where the component may change its fields.
//
// Events are not dispatched one by one. Each decoded event is queued, and
// at the next animation frame the whole queue goes to the component as one
// ctx.Dispatch: a flood of events causes at most one UI update per frame,
// and the stream never has more than one dispatch waiting in go-app's
// queue, which holds 4096 and blocks the page when full. Handlers run in
// the order the events arrived, whatever their type. When animation frames
// do not come (a hidden tab), a timer flushes the queue instead.
//
// A component:
//
//	type feed struct {
//		app.Compo
//		stream *appstream.Stream
//		last   time.Time
//		state  eventsource.State
//		err    error
//	}
//
//	func (c *feed) OnMount(ctx app.Context) {
//		c.stream, c.err = appstream.Open(ctx, "/stream", eventsource.Options{},
//			appstream.Event(func(ctx app.Context, p event.Ping) { c.last = p.Time }),
//			appstream.State(func(ctx app.Context, s eventsource.State) { c.state = s }),
//			appstream.DecodeError(func(ctx app.Context, raw string, err error) { c.err = err }),
//		)
//	}
//
//	func (c *feed) OnDismount() { c.stream.Close() } // go-app never cancels ctx
package appstream

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// Stream is an [eventsource.Source] whose events reach a go-app component
// in batches, one per animation frame. Create it with [Open] in OnMount and
// close it in OnDismount.
type Stream struct {
	src *eventsource.Source
	q   *coalescer

	// Set by Open before the source opens, read-only after.
	states     []func(app.Context, eventsource.State)
	decodeErrs []func(app.Context, string, error)
}

// Handler is what a Stream does with one kind of event; make one with
// [Event], [Message], [State], [Gap] or [DecodeError]. Every handler runs
// on the UI goroutine, inside the frame's ctx.Dispatch, so it may change the
// component's fields; the component is updated once after the batch.
type Handler struct {
	state     func(app.Context, eventsource.State)
	decodeErr func(app.Context, string, error)
	subscribe func(st *Stream)
}

// Event handles each event of type T, decoded with
// [eventsource.Subscribe]. Events that do not decode go to the
// [DecodeError] handlers.
func Event[T any, PT interface {
	*T
	event.Named
}](fn func(app.Context, T)) Handler {
	mustHandler(fn == nil)
	return Handler{subscribe: func(st *Stream) {
		eventsource.Subscribe[T, PT](st.src, func(v T) {
			st.q.push(func(ctx app.Context) { fn(ctx, v) })
		}, st.decodeError)
	}}
}

// Message handles each raw event named name ("message" for unnamed
// events), undecoded.
func Message(name string, fn func(app.Context, eventsource.Message)) Handler {
	mustHandler(fn == nil)
	return Handler{subscribe: func(st *Stream) {
		st.src.On(name, func(m eventsource.Message) {
			st.q.push(func(ctx app.Context) { fn(ctx, m) })
		})
	}}
}

// Gap handles the server's sse.gap event: the app should reload its state.
func Gap(fn func(app.Context, eventsource.Gap)) Handler {
	mustHandler(fn == nil)
	return Handler{subscribe: func(st *Stream) {
		st.src.OnGap(func(g eventsource.Gap) {
			st.q.push(func(ctx app.Context) { fn(ctx, g) })
		})
	}}
}

// State handles the stream's state: once with the state at Open
// (connecting), then at each change.
func State(fn func(app.Context, eventsource.State)) Handler {
	mustHandler(fn == nil)
	return Handler{state: fn}
}

// DecodeError handles the events an [Event] handler could not decode: the
// raw data and an *eventsource.DecodeError. Without a DecodeError handler
// such events are dropped.
func DecodeError(fn func(ctx app.Context, raw string, err error)) Handler {
	mustHandler(fn == nil)
	return Handler{decodeErr: fn}
}

// Open opens the stream at url for the component whose context is ctx:
// call it from OnMount, and [Stream.Close] from OnDismount. The handlers
// start receiving events at the next animation frame. opts.OnStateChange,
// if set, is still called, on the browser's event loop. Open fails outside
// the browser (see [eventsource.Open]).
func Open(ctx app.Context, url string, opts eventsource.Options, handlers ...Handler) (*Stream, error) {
	st := &Stream{q: newCoalescer(func(run func(app.Context)) { ctx.Dispatch(run) })}
	for _, h := range handlers {
		if h.state != nil {
			st.states = append(st.states, h.state)
		}
		if h.decodeErr != nil {
			st.decodeErrs = append(st.decodeErrs, h.decodeErr)
		}
	}
	user := opts.OnStateChange
	opts.OnStateChange = func(s eventsource.State) {
		if user != nil {
			user(s)
		}
		st.pushState(s)
	}
	src, err := eventsource.Open(url, opts)
	if err != nil {
		st.q.close()
		return nil, err
	}
	st.src = src
	st.pushState(eventsource.StateConnecting)
	for _, h := range handlers {
		if h.subscribe != nil {
			h.subscribe(st)
		}
	}
	return st, nil
}

func (st *Stream) pushState(s eventsource.State) {
	if len(st.states) == 0 {
		return
	}
	st.q.push(func(ctx app.Context) {
		for _, fn := range st.states {
			fn(ctx, s)
		}
	})
}

func (st *Stream) decodeError(raw string, err error) {
	if len(st.decodeErrs) == 0 {
		return
	}
	st.q.push(func(ctx app.Context) {
		for _, fn := range st.decodeErrs {
			fn(ctx, raw, err)
		}
	})
}

// Source returns the underlying source, for its state and counters.
func (st *Stream) Source() *eventsource.Source {
	if st == nil {
		return nil
	}
	return st.src
}

// Stats returns the counters of the delivery to the component.
func (st *Stream) Stats() Stats {
	if st == nil {
		return Stats{}
	}
	return st.q.statsNow()
}

// Close closes the source and drops the events not yet delivered; no
// handler runs after it returns, unless Close is called from a handler, in
// which case the rest of the batch is dropped. It is idempotent and does
// nothing on a nil *Stream, so OnDismount may call it even if Open failed.
func (st *Stream) Close() {
	if st == nil {
		return
	}
	st.src.Close()
	st.q.close()
}

func mustHandler(isNil bool) {
	if isNil {
		panic("appstream: nil handler")
	}
}
