package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// decodeTests are the decoder's table; they also seed FuzzDecode. The
// spec examples are from
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
var decodeTests = []struct {
	name     string
	in       string
	want     []Event
	lastID   string        // LastEventID at the end
	retry    time.Duration // Retry at the end
	comments []string
}{
	{
		name: "spec: three messages",
		in:   "data: This is the first message.\n\ndata: This is the second message, it\ndata: has two lines.\n\ndata: This is the third message.\n\n",
		want: []Event{
			{Data: "This is the first message."},
			{Data: "This is the second message, it\nhas two lines."},
			{Data: "This is the third message."},
		},
	},
	{
		name: "spec: add and remove",
		in:   "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
		want: []Event{{Name: "add", Data: "73857293"}, {Name: "remove", Data: "2153"}, {Name: "add", Data: "113411"}},
	},
	{
		name: "spec: first, second, third event",
		in:   ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
		want: []Event{
			{ID: "1", Data: "first event"},
			{ID: "", Data: "second event"},
			{ID: "", Data: " third event"},
		},
		comments: []string{"test stream"},
	},
	{
		name:     "spec: last block needs a blank line",
		in:       ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
		want:     []Event{{ID: "1", Data: "first event"}, {Data: "second event"}},
		comments: []string{"test stream"},
	},
	{
		name: "spec: data with no colon",
		in:   "data\n\ndata\ndata\n\ndata:",
		want: []Event{{Data: ""}, {Data: "\n"}},
	},
	{
		name: "spec: data:test and data: test are identical",
		in:   "data:test\n\ndata: test\n\n",
		want: []Event{{Data: "test"}, {Data: "test"}},
	},
	{name: "CRLF", in: "event: a\r\ndata: 1\r\ndata: 2\r\n\r\n", want: []Event{{Name: "a", Data: "1\n2"}}},
	{name: "CR", in: "event: a\rdata: 1\rdata: 2\r\r", want: []Event{{Name: "a", Data: "1\n2"}}},
	{name: "mixed line ends", in: "data: a\r\ndata: b\rdata: c\ndata: d\r\n\n", want: []Event{{Data: "a\nb\nc\nd"}}},
	{name: "CR CR is a blank line", in: "data: a\r\rdata: b\r\n\r\n", want: []Event{{Data: "a"}, {Data: "b"}}},
	{name: "LF CRLF", in: "data: a\n\r\n", want: []Event{{Data: "a"}}},
	{name: "CRLF counted once", in: "data: a\r\ndata: b\r\n\r\n", want: []Event{{Data: "a\nb"}}},
	{name: "BOM stripped", in: "\xEF\xBB\xBFdata: a\n\n", want: []Event{{Data: "a"}}},
	{name: "BOM stripped once", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n", want: []Event{{Data: "b"}}},
	{name: "BOM alone on first line", in: "\xEF\xBB\xBF\ndata: a\n\n", want: []Event{{Data: "a"}}},
	{name: "BOM later is data", in: "data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: \xEF\xBB\xBFc\n\n", want: []Event{{Data: "a"}, {Data: "\uFEFFc"}}},
	{name: "one space removed", in: "data:  two\n\ndata:none\n\ndata: \n\n", want: []Event{{Data: " two"}, {Data: "none"}, {Data: ""}}},
	{name: "tab kept", in: "data:\tx\n\n", want: []Event{{Data: "\tx"}}},
	{name: "colon in value", in: "data: a:b\n\nevent: x:y\ndata\n\n", want: []Event{{Data: "a:b"}, {Name: "x:y"}}},
	{name: "type reset after dispatch", in: "event: a\ndata: 1\n\ndata: 2\n\n", want: []Event{{Name: "a", Data: "1"}, {Data: "2"}}},
	{name: "type reset without dispatch", in: "event: a\n\ndata: 2\n\n", want: []Event{{Data: "2"}}},
	{name: "last event type wins", in: "event: a\nevent: b\ndata\n\n", want: []Event{{Name: "b"}}},
	{name: "empty event name", in: "event: a\nevent\ndata\n\n", want: []Event{{}}},
	{name: "explicit message type", in: "event: message\ndata: x\n\n", want: []Event{{Name: "message", Data: "x"}}},
	{name: "id persists", in: "id: 7\ndata: a\n\ndata: b\n\n", want: []Event{{ID: "7", Data: "a"}, {ID: "7", Data: "b"}}, lastID: "7"},
	{name: "id without data persists", in: "id: 5\n\ndata: x\n\n", want: []Event{{ID: "5", Data: "x"}}, lastID: "5"},
	{name: "id with NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", want: []Event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}, lastID: "1"},
	{name: "empty id resets", in: "id: 1\ndata: a\n\nid:\ndata: b\n\n", want: []Event{{ID: "1", Data: "a"}, {Data: "b"}}},
	{name: "id set after data", in: "data: a\nid: 9\n\n", want: []Event{{ID: "9", Data: "a"}}, lastID: "9"},
	{name: "id of discarded event kept", in: "data: a\n\nid: 3\ndata: b", want: []Event{{Data: "a"}}, lastID: "3"},
	{name: "retry", in: "retry: 1000\ndata: a\n\n", want: []Event{{Data: "a", Retry: time.Second}}, retry: time.Second},
	{name: "retry alone", in: "retry: 10000\n", retry: 10 * time.Second},
	{name: "retry zero", in: "retry: 5\nretry: 0\ndata\n\n", want: []Event{{}}},
	{name: "retry leading zeros", in: "retry: 007\ndata\n\n", want: []Event{{Retry: 7 * time.Millisecond}}, retry: 7 * time.Millisecond},
	{
		name:  "invalid retry ignored",
		in:    "retry: 5\nretry: 10a\nretry: -1\nretry:  10\nretry:\nretry\nretry: 1.5\nretry: 99999999999999999999\ndata\n\n",
		want:  []Event{{Retry: 5 * time.Millisecond}},
		retry: 5 * time.Millisecond,
	},
	{name: "retry persists", in: "retry: 5\ndata: a\n\ndata: b\n\n", want: []Event{{Data: "a", Retry: 5 * time.Millisecond}, {Data: "b", Retry: 5 * time.Millisecond}}, retry: 5 * time.Millisecond},
	{name: "unknown field ignored", in: "foo: bar\ndata: a\nfoo\n\n", want: []Event{{Data: "a"}}},
	{name: "field names are case sensitive", in: "Data: a\nDATA: b\n\n"},
	{name: "space before colon", in: "data : a\n\n"},
	{name: "comments", in: ": hi\n:no space\n:\n:  two\ndata: a\n\n", want: []Event{{Data: "a"}}, comments: []string{"hi", "no space", "", " two"}},
	{name: "comment does not end a block", in: "data: a\n: c\ndata: b\n\n", want: []Event{{Data: "a\nb"}}, comments: []string{"c"}},
	{name: "empty"},
	{name: "only blank lines", in: "\n\r\n\r\n\n"},
	{name: "EOF mid line", in: "data: a"},
	{name: "EOF before blank line", in: "data: a\n"},
	{name: "EOF after CR", in: "data: a\r\r", want: []Event{{Data: "a"}}},
	{name: "NUL in data", in: "data: a\x00b\n\n", want: []Event{{Data: "a\x00b"}}},
	{name: "invalid byte", in: "data: \xff\n\n", want: []Event{{Data: "\uFFFD"}}},
	{name: "truncated sequence is one U+FFFD", in: "data: \xe2\x82\n\n", want: []Event{{Data: "\uFFFD"}}},
	{name: "truncated then ASCII", in: "data: \xe2\x82x\n\n", want: []Event{{Data: "\uFFFDx"}}},
	{name: "truncated 4-byte", in: "data: \xf0\x9f\x98\n\n", want: []Event{{Data: "\uFFFD"}}},
	{name: "surrogate", in: "data: \xed\xa0\x80\n\n", want: []Event{{Data: "\uFFFD\uFFFD\uFFFD"}}},
	{name: "overlong", in: "data: \xc0\x80\n\n", want: []Event{{Data: "\uFFFD\uFFFD"}}},
	{name: "invalid in field name", in: "dat\xe1: a\n\n"},
	{name: "invalid in event and id", in: "id: \xff\nevent: \xfe\ndata\n\n", want: []Event{{ID: "\uFFFD", Name: "\uFFFD"}}, lastID: "\uFFFD"},
	{name: "valid multibyte", in: "data: héllo 🌍\n\n", want: []Event{{Data: "héllo 🌍"}}},
}

// decodeAll reads every event from r, and the comments.
func decodeAll(r io.Reader) (*Decoder, []Event, []string, error) {
	d := NewDecoder(r)
	var comments []string
	d.OnComment = func(s string) { comments = append(comments, s) }
	var events []Event
	for {
		e, err := d.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return d, events, comments, err
		}
		events = append(events, e)
	}
}

func TestDecoder(t *testing.T) {
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data and EOF", iotest.DataErrReader},
	}
	for _, tt := range decodeTests {
		for _, rr := range readers {
			t.Run(tt.name+"/"+rr.name, func(t *testing.T) {
				d, got, comments, err := decodeAll(rr.wrap(strings.NewReader(tt.in)))
				if err != nil {
					t.Fatalf("decoding %q: %v", tt.in, err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("decoding %q:\n got %+v\nwant %+v", tt.in, got, tt.want)
				}
				if !slices.Equal(comments, tt.comments) {
					t.Errorf("comments %q, want %q", comments, tt.comments)
				}
				if d.LastEventID() != tt.lastID {
					t.Errorf("LastEventID() = %q, want %q", d.LastEventID(), tt.lastID)
				}
				if d.Retry() != tt.retry {
					t.Errorf("Retry() = %v, want %v", d.Retry(), tt.retry)
				}
			})
		}
	}
}

// chunkReader returns its chunks one Read at a time.
type chunkReader struct{ chunks []string }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// A CR that ends one read and an LF that starts the next are one line
// end: counted as two, the LF would be a blank line that dispatches "a"
// on its own.
func TestDecoderCRLFAcrossReads(t *testing.T) {
	r := &chunkReader{chunks: []string{"data: a\r", "\ndata: b\r", "\n\r", "\n"}}
	_, got, _, err := decodeAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Event{{Data: "a\nb"}}; !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// A BOM split over reads is still stripped.
func TestDecoderBOMAcrossReads(t *testing.T) {
	r := &chunkReader{chunks: []string{"\xEF", "\xBB", "\xBFdata: a\n\n"}}
	_, got, _, err := decodeAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Event{{Data: "a"}}; !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// Lines longer than the read buffer are reassembled.
func TestDecoderLongLine(t *testing.T) {
	long := strings.Repeat("0123456789", 5000)
	_, got, _, err := decodeAll(strings.NewReader("event: big\ndata: " + long + "\ndata: " + long + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "big" || got[0].Data != long+"\n"+long {
		t.Errorf("long event lost: %d events", len(got))
	}
}

func TestDecoderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: pending\n"), iotest.ErrReader(boom))
	d := NewDecoder(r)
	if e, err := d.Next(); err != nil || e.Data != "a" {
		t.Fatalf("Next = %+v, %v; want event a", e, err)
	}
	for i := range 2 { // sticky
		if e, err := d.Next(); !errors.Is(err, boom) {
			t.Fatalf("call %d: Next = %+v, %v; want the reader's error", i, e, err)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestDecoderNoProgress(t *testing.T) {
	if _, err := NewDecoder(zeroReader{}).Next(); err != io.ErrNoProgress {
		t.Errorf("Next on a reader that never progresses = %v, want io.ErrNoProgress", err)
	}
}

func TestAppendUTF8Decode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"é🌍", "é🌍"},
		{"\xff", "\uFFFD"},
		{"\x80\x80", "\uFFFD\uFFFD"},
		{"\xe2\x82", "\uFFFD"}, // maximal subpart: one U+FFFD
		{"\xe2\x82\xac", "€"},  // complete
		{"\xe2\x82\xe2\x82\xac", "\uFFFD€"},
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"}, // overlong: E0 needs A0..BF next
		{"\xed\x9f\xbf", "\ud7ff"},             // last before surrogates
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // surrogate
		{"\xf4\x8f\xbf\xbf", "\U0010FFFF"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"}, // above U+10FFFF
		{"\xf5", "\uFFFD"},
		{"\xf0\x9f\x8c", "\uFFFD"},
		{"a\xf0\x9f\x8cb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		if got := string(appendUTF8Decode(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("appendUTF8Decode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzDecode checks that the decoder never panics or hangs, that the
// way the input is split into reads does not change the result, and that
// what it returns is what a browser could see.
func FuzzDecode(f *testing.F) {
	for _, tt := range decodeTests {
		f.Add([]byte(tt.in), uint8(1))
	}
	for _, tt := range encodeTests {
		if tt.wantErr == nil {
			f.Add([]byte(tt.want), uint8(3))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		dWhole, whole, wholeComments, err := decodeAll(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("whole: %v", err)
		}
		size := int(chunk)%16 + 1
		var chunks []string
		for s := string(in); s != ""; {
			n := min(size, len(s))
			chunks = append(chunks, s[:n])
			s = s[n:]
		}
		dChunked, chunked, chunkedComments, err := decodeAll(&chunkReader{chunks: chunks})
		if err != nil {
			t.Fatalf("chunked: %v", err)
		}
		if !slices.Equal(whole, chunked) || !slices.Equal(wholeComments, chunkedComments) ||
			dWhole.LastEventID() != dChunked.LastEventID() || dWhole.Retry() != dChunked.Retry() {
			t.Fatalf("reads of %d bytes change the result:\nwhole   %+v %q\nchunked %+v %q", size, whole, wholeComments, chunked, chunkedComments)
		}
		// Each event needs at least "data\n" and a blank line.
		if len(whole)*6 > len(in) {
			t.Fatalf("%d events from %d bytes", len(whole), len(in))
		}
		for _, e := range whole {
			if strings.ContainsAny(e.ID, "\r\n\x00") || strings.ContainsAny(e.Name, "\r\n") || strings.Contains(e.Data, "\r") {
				t.Fatalf("event with a line break the parser should have consumed: %+v", e)
			}
			if !utf8.ValidString(e.ID) || !utf8.ValidString(e.Name) || !utf8.ValidString(e.Data) {
				t.Fatalf("event is not valid UTF-8: %+v", e)
			}
			if e.Retry < 0 || e.Retry%time.Millisecond != 0 {
				t.Fatalf("retry %v is not whole non-negative milliseconds", e.Retry)
			}
			// What we decode without NUL in the type, we can send again.
			if !strings.Contains(e.Name, "\x00") {
				if _, err := AppendEvent(nil, e); err != nil {
					t.Fatalf("decoded event does not encode: %+v: %v", e, err)
				}
			}
		}
	})
}

func BenchmarkDecoder(b *testing.B) {
	var stream []byte
	for i := range 1000 {
		stream, _ = AppendEvent(stream, Event{
			ID:   fmt.Sprint(i),
			Name: "update",
			Data: `{"time":"2026-01-01T00:00:00Z","value":12345}` + "\n" + `{"second":"line"}`,
		})
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(stream))
		n := 0
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 1000 {
			b.Fatalf("decoded %d events, want 1000", n)
		}
	}
}
