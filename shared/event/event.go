// Package event holds the event definitions that the server and the
// browser client share: for each event, its SSE event name and its payload
// type, in one place. A change here breaks the build of both binaries, not
// production.
//
// Every payload type implements [Named], which gives the SSE `event:` field.
// The payload travels in the `data:` field: as plain text when the type
// implements [encoding.TextMarshaler] (the classic demo's events are plain
// text, wire-compatible with the Node demo), otherwise as JSON.
//
// Server side:
//
//	name, data, err := event.Encode(event.Ping{Time: time.Now()})
//	// write "data: " + data (and "event: " + name when name != "")
//
// Browser side:
//
//	p, err := event.Decode[event.Ping](data)
//
// This package uses only the standard library, so both binaries can import
// it without pulling anything else into the wasm build.
package event

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Unnamed is the name the browser gives an event sent without an `event:`
// field. A payload whose EventName returns "" travels as an unnamed event and
// is delivered to the browser's "message" listeners.
const Unnamed = "message"

// Named is implemented by every shared payload type: EventName is the SSE
// `event:` field it travels under ("" for an unnamed event).
type Named interface {
	EventName() string
}

// Encode returns the SSE event name and data of v. The data is v's text form
// when v implements encoding.TextMarshaler, otherwise its JSON form.
func Encode(v Named) (name, data string, err error) {
	var b []byte
	if tm, ok := v.(encoding.TextMarshaler); ok {
		b, err = tm.MarshalText()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return "", "", fmt.Errorf("event: encoding %T: %w", v, err)
	}
	return v.EventName(), string(b), nil
}

// ErrDecode is wrapped by every error Decode returns.
var ErrDecode = errors.New("event: payload does not decode")

// Decode parses data, as received in an SSE `data:` field, into a T. It uses
// T's UnmarshalText when *T implements encoding.TextUnmarshaler, otherwise
// JSON. The error wraps ErrDecode and quotes the start of the raw data.
func Decode[T any, PT interface {
	*T
	Named
}](data string) (T, error) {
	var v T
	err := DecodeInto(PT(&v), data)
	return v, err
}

// DecodeInto is Decode for a value the caller allocated: p points to the
// payload to fill in. Generic callers should keep their own bodies thin and
// call it, since each instantiation of a generic function adds its own
// copy of the code to app.wasm.
func DecodeInto(p Named, data string) error {
	var err error
	if tu, ok := p.(encoding.TextUnmarshaler); ok {
		err = tu.UnmarshalText([]byte(data))
	} else {
		err = json.Unmarshal([]byte(data), p)
	}
	if err != nil {
		return fmt.Errorf("%w: %s from %q: %v", ErrDecode, strings.TrimPrefix(fmt.Sprintf("%T", p), "*"), clip(data, 64), err)
	}
	return nil
}

// NameOf returns the SSE event name of T, and the name a browser listener
// must use for it ("message" for unnamed events).
func NameOf[T any, PT interface {
	*T
	Named
}]() (wire, listener string) {
	var v T
	wire = PT(&v).EventName()
	if wire == "" {
		return "", Unnamed
	}
	return wire, wire
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
