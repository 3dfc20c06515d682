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
// The handlers have the names of their [eventsource] counterparts:
// [OnEvent] (typed events of shared/event, with their ID), [OnTopic] (the
// events of a topic declared with shared/topic, in its payload type),
// [OnRaw], [OnGap], [OnRevoked], [OnExpired], [OnStateChange] and
// [OnDecodeError]. [OpenTopics] opens the stream of the topics its OnTopic
// handlers name, so that the stream's URL and its handlers cannot
// disagree:
//
//	inbox, _ := demo.Inbox.For(me)
//	st, err := appstream.OpenTopics(ctx, "/events", eventsource.Options{Renew: renew},
//		appstream.OnTopic(demo.Room, func(ctx app.Context, m demo.ChatMessage, id string) { ... }),
//		appstream.OnTopic(inbox, func(ctx app.Context, m demo.PrivateMessage, id string) { ... }),
//		appstream.OnRevoked(func(ctx app.Context, r protocol.Revoked) { ... }),
//	) // GET /events?topic=room&topic=user/<me>
//
// A complete component, which opens its stream in OnMount, shows typed
// events and closes the stream in OnDismount:
//
//	type clock struct {
//		app.Compo
//		stream *appstream.Stream
//		state  eventsource.State
//		last   string // the last ping's time
//		id     string // and its event ID
//		note   string
//	}
//
//	func (c *clock) OnMount(ctx app.Context) {
//		var err error
//		c.stream, err = appstream.Open(ctx, "/stream", eventsource.Options{},
//			appstream.OnEvent(func(ctx app.Context, p demo.Ping, id string) {
//				c.last, c.id = p.Time.Format(time.TimeOnly), id
//			}),
//			appstream.OnStateChange(func(ctx app.Context, s eventsource.State) { c.state = s }),
//			appstream.OnDecodeError(func(ctx app.Context, err *eventsource.DecodeError) { c.note = err.Error() }),
//		)
//		if err != nil {
//			c.note = err.Error()
//		}
//	}
//
//	// OnDismount closes the stream: go-app never cancels a component's
//	// context, so without it the stream outlives the page.
//	func (c *clock) OnDismount() { c.stream.Close() }
//
//	func (c *clock) Render() app.UI {
//		return app.Div().Body(
//			app.P().Text("Stream: "+c.state.String()),
//			app.P().Text("Ping: "+c.last+" (event "+c.id+")"),
//			app.P().Text(c.note),
//		)
//	}
package appstream

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/shared/topic"
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
	decodeErrs []func(app.Context, *eventsource.DecodeError)
}

// Handler is what a Stream does with one kind of event; make one with
// [OnEvent], [OnTopic], [OnRaw], [OnGap], [OnRevoked], [OnExpired],
// [OnStateChange] or [OnDecodeError], the names of the matching
// [eventsource] functions and options. Every handler runs on the UI
// goroutine, inside the frame's ctx.Dispatch, so it may change the
// component's fields; the component is updated once after the batch.
type Handler struct {
	state     func(app.Context, eventsource.State)
	decodeErr func(app.Context, *eventsource.DecodeError)
	subscribe func(st *Stream)
	topic     topic.Ref // OnTopic's, for OpenTopics; nil for the others
}

// OnEvent handles each event of type T, decoded as
// [eventsource.OnEvent] does, with the event's ID. Events that do not
// decode go to the [OnDecodeError] handlers.
func OnEvent[T any, PT interface {
	*T
	event.Named
}](fn func(ctx app.Context, v T, id string)) Handler {
	mustHandler(fn == nil)
	return Handler{subscribe: func(st *Stream) {
		eventsource.OnEvent[T, PT](st.src, func(v T, id string) {
			st.q.push(func(ctx app.Context) { fn(ctx, v, id) })
		}, st.decodeError)
	}}
}

// OnTopic handles each event of the topic t, declared with shared/topic,
// decoded into its payload type T, as [eventsource.OnTopic] does: a
// handler of another type does not build. [OpenTopics] opens the stream on
// t. Events that do not decode go to the [OnDecodeError] handlers.
func OnTopic[T event.Named](t topic.Topic[T], fn func(ctx app.Context, v T, id string)) Handler {
	mustHandler(fn == nil)
	return Handler{topic: t, subscribe: func(st *Stream) {
		eventsource.OnTopic(st.src, t, func(v T, id string) {
			st.q.push(func(ctx app.Context) { fn(ctx, v, id) })
		}, st.decodeError)
	}}
}

// OnRaw handles each event named name (event.Unnamed, "message", for
// unnamed events), undecoded, as [eventsource.Source.OnRaw] does. Prefer
// OnEvent with a type of shared/event.
func OnRaw(name string, fn func(app.Context, eventsource.Event)) Handler {
	mustHandler(fn == nil)
	return Handler{subscribe: func(st *Stream) {
		st.src.OnRaw(name, func(e eventsource.Event) {
			st.q.push(func(ctx app.Context) { fn(ctx, e) })
		})
	}}
}

// OnGap handles the server's gap event, as [eventsource.Source.OnGap]
// does: the app should reload its state; id is the gap event's ID.
func OnGap(fn func(ctx app.Context, g protocol.Gap, id string)) Handler {
	mustHandler(fn == nil)
	return Handler{subscribe: func(st *Stream) {
		st.src.OnGap(func(g protocol.Gap, id string) {
			st.q.push(func(ctx app.Context) { fn(ctx, g, id) })
		})
	}}
}

// OnRevoked handles the server's revoked event, as
// [eventsource.Source.OnRevoked] does: the stream no longer receives
// r.Topics (the user signed out, say); the other topics keep flowing.
func OnRevoked(fn func(ctx app.Context, r protocol.Revoked)) Handler {
	mustHandler(fn == nil)
	return Handler{subscribe: func(st *Stream) {
		st.src.OnRevoked(func(r protocol.Revoked) {
			st.q.push(func(ctx app.Context) { fn(ctx, r) })
		})
	}}
}

// OnExpired handles the server's expired event, as
// [eventsource.Source.OnExpired] does: the session's grants expired on
// x.Topics and the stream ended; with [eventsource.Options.Renew] the
// stream renews the session and resumes by itself.
func OnExpired(fn func(ctx app.Context, x protocol.Expired)) Handler {
	mustHandler(fn == nil)
	return Handler{subscribe: func(st *Stream) {
		st.src.OnExpired(func(x protocol.Expired) {
			st.q.push(func(ctx app.Context) { fn(ctx, x) })
		})
	}}
}

// OnStateChange handles the stream's state, as
// [eventsource.Options.OnStateChange] does: once with the state at Open
// (connecting), then at each change. In [eventsource.StateFailed] the
// server answered a status that will not change, or the session could
// not be renewed, and st.Source().Err() says which (an
// [*eventsource.StatusError] or an [*eventsource.RenewError]); the stream
// stays failed until st.Source().Reopen() or a new Open.
func OnStateChange(fn func(app.Context, eventsource.State)) Handler {
	mustHandler(fn == nil)
	return Handler{state: fn}
}

// OnDecodeError handles the events an [OnEvent] handler could not
// decode. Without an OnDecodeError handler such events are dropped.
func OnDecodeError(fn func(app.Context, *eventsource.DecodeError)) Handler {
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

func (st *Stream) decodeError(err *eventsource.DecodeError) {
	if len(st.decodeErrs) == 0 {
		return
	}
	st.q.push(func(ctx app.Context) {
		for _, fn := range st.decodeErrs {
			fn(ctx, err)
		}
	})
}

// OpenTopics opens the stream of the topics that the handlers' [OnTopic]
// name, each once, at path (such as "/events"): the URL is
// [eventsource.TopicsURL] of them. It is [Open] otherwise.
func OpenTopics(ctx app.Context, path string, opts eventsource.Options, handlers ...Handler) (*Stream, error) {
	var topics []topic.Ref
	seen := make(map[string]bool)
	for _, h := range handlers {
		if h.topic != nil && !seen[h.topic.Name()] {
			seen[h.topic.Name()] = true
			topics = append(topics, h.topic)
		}
	}
	return Open(ctx, eventsource.TopicsURL(path, topics...), opts, handlers...)
}

// Source returns the underlying source, for its state and counters.
func (st *Stream) Source() *eventsource.Source {
	if st == nil {
		return nil
	}
	return st.src
}

// Stats returns the counters of the delivery to the component.
func (st *Stream) Stats() StreamStats {
	if st == nil {
		return StreamStats{}
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
