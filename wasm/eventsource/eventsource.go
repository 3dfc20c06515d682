// Package eventsource is a small Go wrapper over the browser's EventSource,
// for programs compiled with GOOS=js GOARCH=wasm.
//
// A [Source] is one EventSource: [Open] starts it, the browser connects,
// parses the text/event-stream and reconnects by itself after a dropped
// stream. Handlers are attached with [Source.OnOpen], [Source.OnError],
// [Source.OnMessage] (unnamed events) and [Source.On] (named events); each
// returns a [Subscription] whose Close removes exactly that listener and
// releases its js.Func. [Source.Close] closes the EventSource and removes
// every listener it added, so nothing leaks on the JavaScript side.
//
// Handlers run on the browser's event loop, inside a js.FuncOf callback.
// They must not block: no channel sends that may wait, no network calls, no
// locks held by code that waits for the event loop. Hand the work off
// instead; go-app components should call ctx.Dispatch (or ctx.Async) from the
// handler. After [Source.Close] returns, no handler of that Source is ever
// called again, not even for events the browser had already queued.
//
// The package builds on every platform so that code sharing it still builds
// and vets natively, but only the js/wasm build works: elsewhere [Open]
// returns an error that wraps [errors.ErrUnsupported].
//
// Usage, in a go-app component:
//
//	func (c *feed) OnMount(ctx app.Context) {
//		src, err := eventsource.Open("/events", eventsource.Options{})
//		if err != nil {
//			c.err = err
//			return
//		}
//		c.src = src
//		src.On("price", func(m eventsource.Message) {
//			ctx.Dispatch(func(ctx app.Context) { c.last = m.Data })
//		})
//		src.OnError(func(s eventsource.State) {
//			if s == eventsource.StateClosed { // the browser gave up
//				ctx.Dispatch(func(ctx app.Context) { c.down = true })
//			}
//		})
//	}
//
//	func (c *feed) OnDismount() {
//		c.src.Close() // go-app never cancels the component's context
//	}
package eventsource

import "strconv"

// Options configure [Open].
type Options struct {
	// WithCredentials sets the EventSource's withCredentials: cookies and
	// HTTP authentication go with a cross-origin request, and the server must
	// then answer with Access-Control-Allow-Credentials: true and an explicit
	// Access-Control-Allow-Origin. Default false: credentials are sent only
	// to the page's own origin.
	WithCredentials bool
}

// State is the connection state of a [Source]; its values mirror
// EventSource.readyState.
type State int

const (
	// StateConnecting means the browser is connecting or, after an error,
	// reconnecting (readyState 0).
	StateConnecting State = 0
	// StateOpen means the stream is open and events are delivered
	// (readyState 1).
	StateOpen State = 1
	// StateClosed means the source is closed for good, either by
	// [Source.Close] or because the browser gave up (readyState 2).
	StateClosed State = 2
)

// String returns "connecting", "open" or "closed".
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateClosed:
		return "closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Message is one event received from the stream: the fields of the
// browser's MessageEvent.
type Message struct {
	// Type is the event name: "message" for unnamed events, otherwise the
	// value of the event's "event:" field.
	Type string
	// Data is the event's data, its "data:" lines joined with "\n".
	Data string
	// LastEventID is the last "id:" the stream has set, which may come from
	// an earlier event; the browser sends it back as Last-Event-ID when it
	// reconnects.
	LastEventID string
	// Origin is the origin of the stream's final URL, such as
	// "https://example.com".
	Origin string
}
