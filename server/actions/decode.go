package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decode parses body, exactly one JSON value, into v, a pointer to the
// request. Byte positions in its messages count from 1. It refuses what encoding/json would let through silently:
// invalid UTF-8 (it would become U+FFFD), a repeated field (the last
// would win, where another parser may take the first), an unknown field,
// and data after the value. Field names still match case-insensitively,
// as encoding/json does. The error says what is wrong, for the 400
// answer.
func decode(body []byte, v any) error {
	if !utf8.Valid(body) {
		return errors.New("the body is not valid UTF-8")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("the body is empty: send the request as JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(body[end:], " \t\r\n"); len(rest) > 0 {
		return errors.New("data after the JSON value at byte " + strconv.Itoa(len(body)-len(rest)+1) + ": send one value")
	}
	return checkRepeated(body[:end])
}

// checkRepeated walks the tokens of value, one valid JSON value, and
// refuses an object with a repeated name.
func checkRepeated(value []byte) error {
	dec := json.NewDecoder(bytes.NewReader(value))
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return decodeError(err) // decode checked it: not reached
		}
		var top *frame
		if n := len(stack); n > 0 {
			top = &stack[n-1]
		}
		if top != nil && top.object && top.wantKey {
			if tok == json.Delim('}') {
				stack = valueDone(stack[:len(stack)-1])
				continue
			}
			key := tok.(string) // the decoder allows nothing else here
			if top.keys[key] {
				return errors.New("field " + strconv.Quote(top.prefix+key) + " is repeated: send each field once")
			}
			top.keys[key] = true
			top.cur = key
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			p := top.child()
			if p != "" {
				p += "."
			}
			stack = append(stack, frame{object: true, wantKey: true, keys: map[string]bool{}, prefix: p})
		case json.Delim('['):
			stack = append(stack, frame{prefix: top.child() + "[]"})
		case json.Delim(']'):
			stack = valueDone(stack[:len(stack)-1])
		default:
			stack = valueDone(stack)
		}
	}
}

// frame is an object or array that checkStructure is in.
type frame struct {
	object  bool
	wantKey bool            // an object's next token is a key
	keys    map[string]bool // an object's keys so far
	cur     string          // an object's current key
	prefix  string          // the path of its elements: "a.", "a[]"
}

// child returns the path of a value in f: "" at the top.
func (f *frame) child() string {
	switch {
	case f == nil:
		return ""
	case f.object:
		return f.prefix + f.cur
	}
	return f.prefix
}

// valueDone notes that a value ended in the innermost frame.
func valueDone(stack []frame) []frame {
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].wantKey = true
	}
	return stack
}

// decodeError turns an encoding/json error into a message for a client.
func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errors.New("malformed JSON at byte " + strconv.FormatInt(syn.Offset, 10) + ": " + syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: it ends early")
	case errors.As(err, &typ):
		got := "JSON " + typ.Value
		if typ.Field == "" {
			return errors.New("the request must be " + typeName(typ.Type.String()) + ", not " + got)
		}
		return errors.New("field " + strconv.Quote(typ.Field) + " must be " + typeName(typ.Type.String()) + ", not " + got)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errors.New("unknown field " + f + ": the request has no such field")
	}
	return errors.New("the request does not decode: " + strings.TrimPrefix(err.Error(), "json: "))
}

// typeName names a Go type for a client: "a string", "a number (int)".
func typeName(t string) string {
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number (" + t + ")"
	case strings.HasPrefix(t, "[]"), strings.HasPrefix(t, "["):
		return "an array"
	case strings.HasPrefix(t, "map["):
		return "an object"
	}
	return "an object (" + t + ")"
}
