package sse

import (
	"bytes"
	"errors"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// Decoder reads events from an event stream, following the parsing rules
// of the WHATWG HTML standard, "Interpreting an event stream":
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
//
// It does what a browser's EventSource does with the bytes: one leading
// UTF-8 BOM is dropped, invalid UTF-8 becomes U+FFFD, lines end with CRLF,
// LF or CR, comments and unknown fields are ignored, an event is dispatched
// only at a blank line and only if it has data, and a stream that ends
// without a blank line loses its pending event.
//
// A Decoder buffers its input: it may read more from r than the events it
// has returned. It is not safe for concurrent use.
type Decoder struct {
	// OnComment, if not nil, is called from Next with the text of each
	// comment line, after the ':' and one optional space.
	OnComment func(text string)

	rd     io.Reader
	buf    []byte // buf[r:w] is read but not yet parsed
	r, w   int
	scan   int   // buf[r:r+scan] holds no line end
	err    error // sticky error from rd
	skipLF bool  // the last line ended with CR: drop a following LF
	bomOK  bool  // the first line has been seen (BOM handled)

	data    []byte // data buffer
	typ     []byte // event type buffer
	lastTyp string // the last dispatched type, reused to save allocations
	lastID  string // last event ID buffer
	retry   time.Duration
	fixed   []byte // scratch for lines with invalid UTF-8
}

// NewDecoder returns a Decoder that reads from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{rd: r}
}

// Next returns the next dispatched event. In it, ID is the last event ID
// at the time of dispatch (it persists across events, as in the browser,
// until an id field changes it), Event is the event type, "" for an
// unnamed event (which browsers deliver as type "message"), and Retry is
// the last valid retry value seen so far, or 0.
//
// At the end of the stream Next returns io.EOF, and any event not yet
// terminated by a blank line is discarded. Other read errors are returned
// as they are. Once Next has returned an error, it returns it again.
func (d *Decoder) Next() (Event, error) {
	for {
		line, err := d.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) > 0 {
			d.processLine(line)
			continue
		}
		// Blank line: dispatch.
		if len(d.data) == 0 {
			d.typ = d.typ[:0]
			continue
		}
		e := Event{
			ID:    d.lastID,
			Name:  d.eventType(),
			Data:  string(d.data[:len(d.data)-1]),
			Retry: d.retry,
		}
		d.data = d.data[:0]
		d.typ = d.typ[:0]
		return e, nil
	}
}

// eventType returns the event type buffer as a string, reusing the last
// one when it is the same: most streams repeat a few types.
func (d *Decoder) eventType() string {
	if string(d.typ) != d.lastTyp {
		d.lastTyp = string(d.typ)
	}
	return d.lastTyp
}

// Retry returns the reconnection time set by the last valid retry field,
// or 0 if there has been none.
func (d *Decoder) Retry() time.Duration { return d.retry }

// LastEventID returns the last event ID buffer: the value of the last id
// field read (even if its event has not been dispatched yet), "" at first.
func (d *Decoder) LastEventID() string { return d.lastID }

func (d *Decoder) processLine(line []byte) {
	if line[0] == ':' {
		if d.OnComment != nil {
			d.OnComment(string(trimSpace(line[1:])))
		}
		return
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], trimSpace(line[i+1:])
	}
	switch string(field) {
	case "event":
		d.typ = append(d.typ[:0], value...)
	case "data":
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != d.lastID {
			d.lastID = string(value)
		}
	case "retry":
		if ms, ok := parseRetry(value); ok {
			d.retry = time.Duration(ms) * time.Millisecond
		}
	}
}

// parseRetry parses a retry value: ASCII digits only, at least one. A
// value too large for a time.Duration is ignored, like any invalid one.
func parseRetry(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	const max = math.MaxInt64 / int64(time.Millisecond)
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > max {
			return 0, false
		}
	}
	return n, true
}

// trimSpace removes one leading U+0020 SPACE, as the spec does for
// field values.
func trimSpace(v []byte) []byte {
	if len(v) > 0 && v[0] == ' ' {
		return v[1:]
	}
	return v
}

// readLine returns the next line, without its line end, with the BOM
// removed from the first line and invalid UTF-8 replaced. The line is
// valid until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	for {
		if d.skipLF && d.r < d.w {
			if d.buf[d.r] == '\n' {
				d.r++
			}
			d.skipLF = false
		}
		if !d.skipLF {
			seg := d.buf[d.r+d.scan : d.w]
			// Find the first CR or LF with two vectorised searches; the
			// CR search stops at the LF, so each byte is seen at most twice.
			i := bytes.IndexByte(seg, '\n')
			if i < 0 {
				i = bytes.IndexByte(seg, '\r')
			} else if j := bytes.IndexByte(seg[:i], '\r'); j >= 0 {
				i = j
			}
			if i >= 0 {
				end := d.r + d.scan + i
				line := d.buf[d.r:end]
				d.skipLF = d.buf[end] == '\r'
				d.r = end + 1
				d.scan = 0
				return d.clean(line), nil
			}
			d.scan = d.w - d.r
		}
		if d.err != nil {
			return nil, d.err
		}
		d.fill()
	}
}

// fill reads more input into buf, making room first.
func (d *Decoder) fill() {
	if d.r > 0 {
		n := copy(d.buf, d.buf[d.r:d.w])
		d.r, d.w = 0, n
	}
	if d.w == len(d.buf) {
		size := 2 * len(d.buf)
		if size == 0 {
			size = 4096
		}
		nb := make([]byte, size)
		copy(nb, d.buf[:d.w])
		d.buf = nb
	}
	for range 100 {
		n, err := d.rd.Read(d.buf[d.w:])
		if n < 0 || n > len(d.buf)-d.w {
			d.err = errNegativeRead
			return
		}
		d.w += n
		if err != nil {
			d.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	d.err = io.ErrNoProgress
}

var errNegativeRead = errors.New("sse: the io.Reader returned an invalid count from Read; fix the reader")

// clean applies the stream's UTF-8 decoding to one line: the first line
// loses a leading BOM, and invalid sequences become U+FFFD. Line ends are
// ASCII, so decoding line by line gives the same result as decoding the
// whole stream.
func (d *Decoder) clean(line []byte) []byte {
	if !d.bomOK {
		d.bomOK = true
		line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	}
	if utf8.Valid(line) {
		return line
	}
	d.fixed = appendUTF8Decode(d.fixed[:0], line)
	return d.fixed
}

// appendUTF8Decode appends s to dst with each maximal invalid subpart
// replaced by one U+FFFD, as the WHATWG Encoding standard's UTF-8 decoder
// does (https://encoding.spec.whatwg.org/#utf-8-decoder). This differs
// from Go's range loop, which writes one U+FFFD per invalid byte.
func appendUTF8Decode(dst, s []byte) []byte {
	const repl = "\uFFFD"
	needed, seen := 0, 0
	lower, upper := byte(0x80), byte(0xBF)
	start := 0 // start of the current sequence
	for i := 0; i < len(s); i++ {
		b := s[i]
		if needed == 0 {
			start = i
			switch {
			case b <= 0x7F:
				dst = append(dst, b)
			case b >= 0xC2 && b <= 0xDF:
				needed = 1
			case b >= 0xE0 && b <= 0xEF:
				if b == 0xE0 {
					lower = 0xA0
				} else if b == 0xED {
					upper = 0x9F
				}
				needed = 2
			case b >= 0xF0 && b <= 0xF4:
				if b == 0xF0 {
					lower = 0x90
				} else if b == 0xF4 {
					upper = 0x8F
				}
				needed = 3
			default:
				dst = append(dst, repl...)
			}
			continue
		}
		if b < lower || b > upper {
			needed, seen = 0, 0
			lower, upper = 0x80, 0xBF
			dst = append(dst, repl...)
			i-- // process b again as the start of a sequence
			continue
		}
		lower, upper = 0x80, 0xBF
		seen++
		if seen == needed {
			dst = append(dst, s[start:i+1]...)
			needed, seen = 0, 0
		}
	}
	if needed != 0 {
		dst = append(dst, repl...)
	}
	return dst
}
