// Package event is how a Go type travels as a server-sent event, the
// same way on the server and in the browser: the type names its SSE event
// ([Named]), and its value travels in the `data:` field as plain text when
// it implements [encoding.TextMarshaler], otherwise as JSON.
//
//	type Score struct {
//		Team   string `json:"team"`
//		Points int    `json:"points"`
//	}
//
//	func (Score) EventName() string { return "score" }
//
// Server side, [Encode] gives the event's name and data:
//
//	name, data, err := event.Encode(Score{Team: "blue", Points: 3}) // "score", {"team":"blue","points":3}
//
// Browser side, [Decode] parses the data back into the type:
//
//	s, err := event.Decode[Score](data)
//
// An app declares its types once, in a package both binaries compile
// (the demo's are in shared/demo), and rarely calls Encode and Decode
// itself: sse.PublishTo (on a topic declared with shared/topic) encodes
// on the server, and eventsource.OnEvent decodes in the browser. This package uses only the
// standard library, so the wasm binary links nothing else through it.
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
