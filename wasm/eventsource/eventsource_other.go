//go:build !(js && wasm)

package eventsource

import (
	"errors"
	"fmt"
)

// errNoBrowser is what Open returns outside the browser.
var errNoBrowser = fmt.Errorf("eventsource: EventSource needs a browser (GOOS=js GOARCH=wasm): %w", errors.ErrUnsupported)

// Source is one logical stream over successive browser EventSources.
// Outside js/wasm no Source can be opened: [Open] always fails, and the
// methods of the nil *Source it returns do nothing.
type Source struct{}

// Subscription is one listener added to a [Source]. Outside js/wasm its
// Close does nothing.
type Subscription struct{}

// Open creates a browser EventSource. Outside js/wasm it always returns a
// nil *Source and an error that wraps [errors.ErrUnsupported].
func Open(url string, opts Options) (*Source, error) {
	return nil, errNoBrowser
}

// OnOpen adds no listener outside js/wasm.
func (s *Source) OnOpen(fn func()) *Subscription { return nil }

// OnError adds no listener outside js/wasm.
func (s *Source) OnError(fn func(State)) *Subscription { return nil }

func (s *Source) subscribe(name string, fn func(Event)) *Subscription { return nil }

// ReadyState reports [StateClosed] outside js/wasm.
func (s *Source) ReadyState() State { return StateClosed }

// Err returns nil outside js/wasm.
func (s *Source) Err() error { return nil }

// Reopen does nothing outside js/wasm.
func (s *Source) Reopen() {}

// URL returns "" outside js/wasm.
func (s *Source) URL() string { return "" }

// LastEventID returns "" outside js/wasm.
func (s *Source) LastEventID() string { return "" }

// Stats returns zero counters outside js/wasm.
func (s *Source) Stats() SourceStats { return SourceStats{} }

// Close does nothing outside js/wasm.
func (s *Source) Close() {}

// Close does nothing outside js/wasm.
func (sub *Subscription) Close() {}
