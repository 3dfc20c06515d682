package bidi

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotSerializable is returned when a remote value (a DOM node, a
// function, NaN...) has no JSON form to decode into Go.
var ErrNotSerializable = errors.New("bidi: value has no JSON form")

// RemoteValue is a JavaScript value as the remote end serializes it
// (https://w3c.github.io/webdriver-bidi/#type-script-RemoteValue).
type RemoteValue struct {
	Type     string          `json:"type"`
	Value    json.RawMessage `json:"value,omitempty"`
	SharedID string          `json:"sharedId,omitempty"` // set for DOM nodes
}

// Decode stores the value in out as encoding/json would store its JSON
// form: numbers, strings, booleans, null and undefined (as null), arrays,
// sets, plain objects and maps with string keys, dates (as their ISO
// string). Anything else returns an error wrapping ErrNotSerializable.
func (v RemoteValue) Decode(out any) error {
	plain, err := v.plain()
	if err != nil {
		return err
	}
	b, err := json.Marshal(plain)
	if err != nil {
		return fmt.Errorf("bidi: %w", err)
	}
	return json.Unmarshal(b, out)
}

// Truthy reports whether JavaScript would treat the value as true.
func (v RemoteValue) Truthy() bool {
	switch v.Type {
	case "undefined", "null":
		return false
	case "boolean":
		return string(v.Value) == "true"
	case "number":
		switch string(v.Value) {
		case "0", `"-0"`, `"NaN"`:
			return false
		}
		var f float64
		return json.Unmarshal(v.Value, &f) != nil || f != 0
	case "string":
		return string(v.Value) != `""`
	case "bigint":
		return string(v.Value) != `"0"`
	}
	return true
}

// plain turns the value into what encoding/json can marshal.
func (v RemoteValue) plain() (any, error) {
	switch v.Type {
	case "undefined", "null":
		return nil, nil
	case "string", "boolean", "date":
		return v.Value, nil
	case "bigint":
		var s string
		if err := json.Unmarshal(v.Value, &s); err != nil {
			return nil, fmt.Errorf("bidi: bigint %s: %w", v.Value, err)
		}
		return json.Number(s), nil
	case "number":
		switch string(v.Value) {
		case `"-0"`:
			return 0, nil
		case `"NaN"`, `"Infinity"`, `"-Infinity"`:
			return nil, fmt.Errorf("%w: %s", ErrNotSerializable, v.Value)
		}
		return v.Value, nil
	case "array", "set":
		var items []RemoteValue
		if err := json.Unmarshal(v.Value, &items); err != nil {
			return nil, fmt.Errorf("bidi: %s: %w", v.Type, err)
		}
		list := make([]any, len(items))
		for i, it := range items {
			p, err := it.plain()
			if err != nil {
				return nil, err
			}
			list[i] = p
		}
		return list, nil
	case "object", "map":
		var pairs [][2]json.RawMessage
		if err := json.Unmarshal(v.Value, &pairs); err != nil {
			return nil, fmt.Errorf("bidi: %s: %w", v.Type, err)
		}
		obj := make(map[string]any, len(pairs))
		for _, kv := range pairs {
			var key string
			if json.Unmarshal(kv[0], &key) != nil {
				// A map key that is not a string comes as a RemoteValue.
				var k RemoteValue
				if err := json.Unmarshal(kv[0], &k); err != nil || k.Type != "string" {
					return nil, fmt.Errorf("%w: a %s key that is not a string", ErrNotSerializable, v.Type)
				}
				json.Unmarshal(k.Value, &key) //nolint:errcheck // a string RemoteValue holds a JSON string
			}
			var val RemoteValue
			if err := json.Unmarshal(kv[1], &val); err != nil {
				return nil, fmt.Errorf("bidi: %s value: %w", v.Type, err)
			}
			p, err := val.plain()
			if err != nil {
				return nil, err
			}
			obj[key] = p
		}
		return obj, nil
	}
	return nil, fmt.Errorf("%w: a %s", ErrNotSerializable, v.Type)
}
