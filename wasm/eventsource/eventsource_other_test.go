//go:build !(js && wasm)

package eventsource_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

func TestOpenUnsupported(t *testing.T) {
	src, err := eventsource.Open("http://127.0.0.1/events", eventsource.Options{WithCredentials: true})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Open outside the browser: err = %v, want one wrapping errors.ErrUnsupported", err)
	}
	if want := "eventsource: EventSource needs a browser (GOOS=js GOARCH=wasm)"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want it to start with %q", err, want)
	}
	if src != nil {
		t.Errorf("Open returned a non-nil *Source with an error")
	}

	// The nil *Source's methods are harmless, so shared code needs no build tags.
	noop := func(eventsource.Event) {}
	for _, sub := range []*eventsource.Subscription{
		src.OnOpen(func() {}),
		src.OnError(func(eventsource.State) {}),
		src.OnRaw("message", noop),
		src.OnRaw("named", noop),
	} {
		sub.Close()
		sub.Close()
	}
	if got := src.ReadyState(); got != eventsource.StateClosed {
		t.Errorf("ReadyState() = %v, want %v", got, eventsource.StateClosed)
	}
	if got := src.URL(); got != "" {
		t.Errorf("URL() = %q, want \"\"", got)
	}
	src.Close()
	src.Close()
}
