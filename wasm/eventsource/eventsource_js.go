//go:build js && wasm

package eventsource

import (
	"errors"
	"fmt"
	"sync"
	"syscall/js"
)

// Source is an open browser EventSource. Create it with [Open]; its methods
// may be called from any goroutine, and from inside its own handlers.
type Source struct {
	v   js.Value // the EventSource object
	url string

	mu     sync.Mutex
	closed bool                       // Close has run; no handler runs again
	subs   map[*Subscription]struct{} // live listeners, removed by Close
}

// Subscription is one listener added to a [Source]. Its Close removes the
// listener; [Source.Close] closes every subscription of the source.
type Subscription struct {
	src    *Source
	event  string
	fn     js.Func
	closed bool // guarded by src.mu; once true, fn is never called through
}

// Open creates a browser EventSource for url (resolved against the page's
// URL), like new EventSource(url, {withCredentials}). The browser starts
// connecting at once, so the source is in [StateConnecting] until the
// stream opens; add handlers right after Open, before returning to the
// event loop, to see every event.
//
// Open fails if the JavaScript environment has no EventSource (the error
// wraps [errors.ErrUnsupported]) or if the browser rejects url.
func Open(url string, opts Options) (src *Source, err error) {
	ctor := js.Global().Get("EventSource")
	if ctor.Type() != js.TypeFunction {
		return nil, fmt.Errorf("eventsource: this JavaScript environment has no EventSource: %w", errors.ErrUnsupported)
	}
	defer func() {
		// new EventSource throws a SyntaxError for a URL it cannot parse;
		// syscall/js turns that into a panic with a js.Error.
		if r := recover(); r != nil {
			jsErr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			src, err = nil, fmt.Errorf("eventsource: open %q: %w", url, jsErr)
		}
	}()
	v := ctor.New(url, map[string]any{"withCredentials": opts.WithCredentials})
	return &Source{
		v:    v,
		url:  v.Get("url").String(),
		subs: make(map[*Subscription]struct{}),
	}, nil
}

// OnOpen calls fn each time the stream opens, after every reconnection too.
// fn must not block.
func (s *Source) OnOpen(fn func()) *Subscription {
	mustHandler(fn == nil)
	return s.listen("open", func(js.Value) { fn() })
}

// OnError calls fn on each error event with the state at that moment:
// [StateConnecting] means the stream failed or ended and the browser is
// reconnecting; [StateClosed] means the browser gave up (an HTTP status
// other than 200, a wrong Content-Type) and will not reconnect, so the
// caller must Close this source and Open a new one to try again.
// fn must not block.
func (s *Source) OnError(fn func(State)) *Subscription {
	mustHandler(fn == nil)
	return s.listen("error", func(js.Value) { fn(s.ReadyState()) })
}

// OnMessage calls fn for each unnamed event: one without an "event:"
// field, or with "event: message". fn must not block.
func (s *Source) OnMessage(fn func(Message)) *Subscription {
	return s.On("message", fn)
}

// On calls fn for each event named event (its "event:" field).
// fn must not block.
func (s *Source) On(event string, fn func(Message)) *Subscription {
	mustHandler(fn == nil)
	return s.listen(event, func(ev js.Value) { fn(messageOf(ev)) })
}

// ReadyState reports the EventSource's current state.
func (s *Source) ReadyState() State {
	return State(s.v.Get("readyState").Int())
}

// URL returns the absolute URL of the stream, as the browser resolved it.
func (s *Source) URL() string {
	return s.url
}

// Close closes the EventSource, removes every listener the source added and
// releases their js.Funcs. No handler is called after Close, even for events
// already queued. Close is idempotent, may be called from a handler, and does
// nothing on a nil *Source.
func (s *Source) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	subs := s.subs
	s.subs = nil
	for sub := range subs {
		sub.closed = true
	}
	s.mu.Unlock()

	// The JavaScript calls run without s.mu held, so that nothing the
	// browser might call back synchronously can deadlock on it. The closed
	// flags set above make each subscription ours alone to detach.
	s.v.Call("close")
	for sub := range subs {
		sub.detach()
	}
}

// Close removes the listener from its source and releases its js.Func.
// It is idempotent, may be called from inside the handler, and is a no-op on
// a subscription whose source is closed.
func (sub *Subscription) Close() {
	if sub == nil || sub.src == nil {
		return
	}
	s := sub.src
	s.mu.Lock()
	if sub.closed {
		s.mu.Unlock()
		return
	}
	sub.closed = true
	delete(s.subs, sub)
	s.mu.Unlock()
	sub.detach()
}

// detach removes the listener, then releases its function: in that order,
// so the browser never calls a released js.Func. Releasing while the
// function runs (Close from inside the handler) is allowed by syscall/js.
// Only the goroutine that set sub.closed calls detach.
func (sub *Subscription) detach() {
	sub.src.v.Call("removeEventListener", sub.event, sub.fn)
	sub.fn.Release()
}

// listen adds a listener for event that calls handle, unless the source is
// closed, in which case it returns an already closed subscription.
func (s *Source) listen(event string, handle func(ev js.Value)) *Subscription {
	sub := &Subscription{src: s, event: event}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		sub.closed = true
		return sub
	}
	sub.fn = js.FuncOf(func(_ js.Value, args []js.Value) any {
		// Drop events dispatched after Close: the browser may already have
		// queued them, or be dispatching the same event to this listener
		// right after another handler closed the source.
		s.mu.Lock()
		live := !sub.closed
		s.mu.Unlock()
		if live && len(args) > 0 {
			handle(args[0])
		}
		return nil
	})
	s.subs[sub] = struct{}{}
	// addEventListener never dispatches synchronously, so holding s.mu
	// across it cannot deadlock, and Close cannot run between the add and
	// the bookkeeping.
	s.v.Call("addEventListener", event, sub.fn)
	return sub
}

// messageOf copies the fields of a MessageEvent. Fields missing on the event
// (an Event dispatched by script rather than by the browser) stay empty.
func messageOf(ev js.Value) Message {
	return Message{
		Type:        stringField(ev, "type"),
		Data:        stringField(ev, "data"),
		LastEventID: stringField(ev, "lastEventId"),
		Origin:      stringField(ev, "origin"),
	}
}

func stringField(v js.Value, name string) string {
	if f := v.Get(name); f.Type() == js.TypeString {
		return f.String()
	}
	return ""
}

func mustHandler(isNil bool) {
	if isNil {
		panic("eventsource: nil handler")
	}
}
