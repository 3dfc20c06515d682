package sse

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors returned by the encoder, wrapped in an error that names the
// offending value. Test for them with errors.Is.
var (
	// ErrInvalidEvent: the event name contains CR, LF or NUL.
	ErrInvalidEvent = errors.New("sse: invalid event name")
	// ErrInvalidID: the event ID contains CR, LF or NUL.
	ErrInvalidID = errors.New("sse: invalid event ID")
	// ErrInvalidRetry: the retry duration is negative.
	ErrInvalidRetry = errors.New("sse: invalid retry")
	// ErrInvalidComment: the comment text contains CR or LF.
	ErrInvalidComment = errors.New("sse: invalid comment")
)

// Event is one server-sent event.
//
// The zero value of every field means "leave this field out", with one
// exception: Data is always written, so that every encoded Event is
// dispatched by the browser (see [AppendEvent]).
type Event struct {
	// ID is the `id:` field, which the browser remembers and sends back
	// in the Last-Event-ID header when it reconnects. "" writes no id
	// field, so the browser keeps the last ID it saw: an Event cannot
	// reset the last event ID. ID must not contain CR, LF or NUL
	// (a browser ignores an id with NUL).
	ID string
	// Name is the `event:` field, the event type. "" writes no event
	// field: browsers then deliver the event to "message" listeners. Name
	// must not contain CR, LF or NUL.
	Name string
	// Data is the payload. It is split on CRLF, CR and LF into one
	// `data:` line per line; the browser joins the lines back with LF.
	// Data is sent as is: bytes that are not valid UTF-8 reach the browser
	// (and [Decoder]) as U+FFFD.
	Data string
	// Retry, when positive, writes a `retry:` field that sets the
	// browser's reconnection delay, in whole milliseconds (truncated,
	// but at least 1). 0 writes no retry field; negative is invalid.
	Retry time.Duration
}

// Validate reports whether e can be encoded. The error wraps
// ErrInvalidID, ErrInvalidEvent or ErrInvalidRetry.
func (e Event) Validate() error {
	if i := strings.IndexAny(e.ID, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("%w %s: %s at byte %d; an ID must be a single line without NUL, so encode it (for example as hex or base64) before sending",
			ErrInvalidID, clip(e.ID), charName(e.ID[i]), i)
	}
	if i := strings.IndexAny(e.Name, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("%w %s: %s at byte %d; an event name must be a single line without NUL, so pick another name",
			ErrInvalidEvent, clip(e.Name), charName(e.Name[i]), i)
	}
	if e.Retry < 0 {
		return fmt.Errorf("%w %v: must not be negative; use 0 to send no retry field", ErrInvalidRetry, e.Retry)
	}
	return nil
}

// AppendEvent appends the wire form of e to dst and returns the extended
// buffer. If e is invalid (see [Event.Validate]) it returns dst unchanged
// and the error. It does not allocate when dst has enough capacity.
//
// The frame holds, in order, the retry, id and event fields when set,
// then the data lines, then a blank line:
//
//	retry: 10000
//	id: 42
//	event: update
//	data: first line
//	data: second line
//
// Empty Data is written as one "data:" line, because the browser does not
// dispatch an event whose data is empty: this way every Event you send
// reaches the browser's listeners, with data "". A trailing line break in
// Data yields a trailing empty data line, so "a\n" arrives as "a\n".
func AppendEvent(dst []byte, e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	if e.Retry > 0 {
		dst = AppendRetry(dst, e.Retry)
	}
	if e.ID != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, e.ID...)
		dst = append(dst, '\n')
	}
	if e.Name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, e.Name...)
		dst = append(dst, '\n')
	}
	data := e.Data
	for {
		i := strings.IndexAny(data, "\r\n")
		line := data
		if i >= 0 {
			line = data[:i]
		}
		if line == "" {
			dst = append(dst, "data:\n"...)
		} else {
			dst = append(dst, "data: "...)
			dst = append(dst, line...)
			dst = append(dst, '\n')
		}
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(dst, '\n'), nil
}

// bufPool holds buffers for WriteEvent, so that writing does not allocate
// in the common case.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// WriteEvent writes the wire form of e to w in a single Write call. If e
// is invalid it writes nothing and returns the validation error. It does
// not flush: over HTTP, use [Stream.Send].
func WriteEvent(w io.Writer, e Event) error {
	bp := bufPool.Get().(*[]byte)
	b, err := AppendEvent((*bp)[:0], e)
	if err == nil {
		_, err = w.Write(b)
	}
	if cap(b) <= 64<<10 { // do not keep huge buffers alive
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return err
}

// AppendComment appends the comment line ": text\n" (":\n" for empty
// text) to dst. Browsers ignore comments; servers send them to keep idle
// connections open through proxies. Text containing CR or LF is rejected
// with an error wrapping ErrInvalidComment, and dst is returned unchanged:
// to send several lines, call AppendComment once per line.
//
// A comment is a complete line, not an event, so no blank line follows it.
func AppendComment(dst []byte, text string) ([]byte, error) {
	if i := strings.IndexAny(text, "\r\n"); i >= 0 {
		return dst, fmt.Errorf("%w %s: %s at byte %d; send one comment per line",
			ErrInvalidComment, clip(text), charName(text[i]), i)
	}
	if text == "" {
		return append(dst, ":\n"...), nil
	}
	dst = append(dst, ": "...)
	dst = append(dst, text...)
	return append(dst, '\n'), nil
}

// AppendRetry appends the single line "retry: N\n", where N is d in whole
// milliseconds (truncated; a positive d under 1ms counts as 1ms, and a
// negative d as 0). The browser applies it as soon as it reads the line.
//
// No blank line follows, for wire compatibility with the classic Node
// demo, which writes "retry: 10000\n" alone before its first event. The
// line then becomes part of the next event's block, which is harmless:
// retry takes effect when it is parsed, whatever follows.
func AppendRetry(dst []byte, d time.Duration) []byte {
	ms := d.Milliseconds()
	switch {
	case d < 0:
		ms = 0
	case d > 0 && ms == 0:
		ms = 1
	}
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, '\n')
}

// clip quotes s for an error message, cut to a readable length.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

func charName(c byte) string {
	switch c {
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	default:
		return "NUL"
	}
}
