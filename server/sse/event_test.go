package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// encodeTests are the encoder's table; the valid cases also seed
// FuzzRoundTrip and FuzzDecode.
var encodeTests = []struct {
	name    string
	in      Event
	want    string // wire form; "" when wantErr is set
	wantErr error
}{
	{name: "unnamed", in: Event{Data: "hello"}, want: "data: hello\n\n"},
	{name: "spec add event", in: Event{Name: "add", Data: "73857293"}, want: "event: add\ndata: 73857293\n\n"},
	{name: "id and name", in: Event{ID: "1", Name: "add", Data: "x"}, want: "id: 1\nevent: add\ndata: x\n\n"},
	{name: "node connecttime", in: Event{Name: "connecttime", Data: "Thu Jan 01 2026"}, want: "event: connecttime\ndata: Thu Jan 01 2026\n\n"},
	{name: "all line ends", in: Event{Data: "a\r\nb\rc\nd"}, want: "data: a\ndata: b\ndata: c\ndata: d\n\n"},
	{name: "empty data is dispatchable", in: Event{Name: "ping"}, want: "event: ping\ndata:\n\n"},
	{name: "zero event", in: Event{}, want: "data:\n\n"},
	{name: "trailing LF kept", in: Event{Data: "a\n"}, want: "data: a\ndata:\n\n"},
	{name: "blank line inside data", in: Event{Data: "a\n\nb"}, want: "data: a\ndata:\ndata: b\n\n"},
	{name: "lone CR", in: Event{Data: "\r"}, want: "data:\ndata:\n\n"},
	{name: "CR CRLF", in: Event{Data: "\r\r\n"}, want: "data:\ndata:\ndata:\n\n"},
	{name: "leading space kept", in: Event{Data: " x", ID: " 1", Name: " e"}, want: "id:  1\nevent:  e\ndata:  x\n\n"},
	{name: "colons in data", in: Event{Data: "data: x:y"}, want: "data: data: x:y\n\n"},
	{name: "NUL in data", in: Event{Data: "a\x00b"}, want: "data: a\x00b\n\n"},
	{name: "retry", in: Event{Retry: 10 * time.Second, Data: "x"}, want: "retry: 10000\ndata: x\n\n"},
	{name: "retry truncated", in: Event{Retry: 1999 * time.Microsecond, Data: "x"}, want: "retry: 1\ndata: x\n\n"},
	{name: "retry at least 1ms", in: Event{Retry: time.Nanosecond, Data: "x"}, want: "retry: 1\ndata: x\n\n"},
	{name: "all fields", in: Event{ID: "7", Name: "e", Data: "d", Retry: time.Second}, want: "retry: 1000\nid: 7\nevent: e\ndata: d\n\n"},
	{name: "non-UTF-8 data sent as is", in: Event{Data: "\xff"}, want: "data: \xff\n\n"},

	{name: "ID with LF", in: Event{ID: "a\nb"}, wantErr: ErrInvalidID},
	{name: "ID with CR", in: Event{ID: "a\rb"}, wantErr: ErrInvalidID},
	{name: "ID with NUL", in: Event{ID: "a\x00b"}, wantErr: ErrInvalidID},
	{name: "event with LF", in: Event{Name: "x\n"}, wantErr: ErrInvalidEvent},
	{name: "event with CR", in: Event{Name: "\rx"}, wantErr: ErrInvalidEvent},
	{name: "event with NUL", in: Event{Name: "\x00"}, wantErr: ErrInvalidEvent},
	{name: "negative retry", in: Event{Retry: -time.Millisecond, Data: "x"}, wantErr: ErrInvalidRetry},
}

func TestAppendEvent(t *testing.T) {
	for _, tt := range encodeTests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("prefix")
			got, err := AppendEvent(prefix, tt.in)
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr)
				if string(got) != "prefix" {
					t.Errorf("AppendEvent on error returned %q, want dst unchanged", got)
				}
				if verr := tt.in.Validate(); !errors.Is(verr, tt.wantErr) {
					t.Errorf("Validate() = %v, want %v", verr, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("AppendEvent: %v", err)
			}
			if want := "prefix" + tt.want; string(got) != want {
				t.Errorf("AppendEvent =\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestWriteEvent(t *testing.T) {
	for _, tt := range encodeTests {
		t.Run(tt.name, func(t *testing.T) {
			var w countingWriter
			err := WriteEvent(&w, tt.in)
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr)
				if w.calls != 0 {
					t.Errorf("WriteEvent of an invalid event called Write %d times, want 0", w.calls)
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteEvent: %v", err)
			}
			if w.calls != 1 || w.String() != tt.want {
				t.Errorf("WriteEvent wrote %q in %d calls, want %q in 1", w.String(), w.calls, tt.want)
			}
		})
	}
}

func TestWriteEventWriteError(t *testing.T) {
	boom := errors.New("boom")
	if err := WriteEvent(errWriter{boom}, Event{Data: "x"}); !errors.Is(err, boom) {
		t.Errorf("WriteEvent = %v, want the writer's error", err)
	}
}

// The classic Node demo writes "retry: 10000\n" alone, then its first
// event; our AppendRetry + AppendEvent must produce the same bytes, and
// a browser (our Decoder) must see the retry.
func TestNodeDemoWireCompat(t *testing.T) {
	b := AppendRetry(nil, 10*time.Second)
	b, err := AppendEvent(b, Event{Name: "connecttime", Data: "now"})
	if err != nil {
		t.Fatal(err)
	}
	const want = "retry: 10000\nevent: connecttime\ndata: now\n\n"
	if string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	d := NewDecoder(bytes.NewReader(b))
	e, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Event{Name: "connecttime", Data: "now", Retry: 10 * time.Second}); e != want {
		t.Errorf("decoded %+v, want %+v", e, want)
	}
}

func TestAppendComment(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  error
	}{
		{in: "", want: ":\n"},
		{in: "keepalive", want: ": keepalive\n"},
		{in: " padded ", want: ":  padded \n"},
		{in: "a\nb", wantErr: ErrInvalidComment},
		{in: "a\rb", wantErr: ErrInvalidComment},
		{in: "\r\n", wantErr: ErrInvalidComment},
	}
	for _, tt := range tests {
		got, err := AppendComment([]byte("p"), tt.in)
		if tt.wantErr != nil {
			checkErr(t, err, tt.wantErr)
			if string(got) != "p" {
				t.Errorf("AppendComment(%q) on error returned %q, want dst unchanged", tt.in, got)
			}
			continue
		}
		if err != nil || string(got) != "p"+tt.want {
			t.Errorf("AppendComment(%q) = %q, %v; want %q", tt.in, got, err, "p"+tt.want)
		}
		// A browser ignores the comment; our decoder reports its text.
		var seen []string
		d := NewDecoder(strings.NewReader(tt.want + "data: x\n\n"))
		d.OnComment = func(s string) { seen = append(seen, s) }
		if e, err := d.Next(); err != nil || e.Data != "x" {
			t.Errorf("decoding after comment %q: %+v, %v", tt.want, e, err)
		}
		if len(seen) != 1 || seen[0] != tt.in {
			t.Errorf("OnComment saw %q, want [%q]", seen, tt.in)
		}
	}
}

func TestAppendRetry(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{10 * time.Second, "retry: 10000\n"},
		{0, "retry: 0\n"},
		{-time.Second, "retry: 0\n"},
		{time.Nanosecond, "retry: 1\n"},
		{1999 * time.Microsecond, "retry: 1\n"},
		{1<<63 - 1, "retry: 9223372036854\n"},
	}
	for _, tt := range tests {
		if got := AppendRetry([]byte("p"), tt.in); string(got) != "p"+tt.want {
			t.Errorf("AppendRetry(%v) = %q, want %q", tt.in, got, "p"+tt.want)
		}
	}
}

func TestAppendEventAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	e := Event{ID: "42", Name: "update", Data: "line one\nline two\r\nline three", Retry: time.Second}
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = AppendEvent(buf[:0], e)
	})
	if allocs != 0 {
		t.Errorf("AppendEvent with capacity: %v allocs, want 0", allocs)
	}
}

func TestErrorMessages(t *testing.T) {
	long := strings.Repeat("x", 100) + "\n"
	err := Event{ID: long}.Validate()
	msg := err.Error()
	if !strings.HasPrefix(msg, "sse: invalid event ID") || !strings.Contains(msg, "LF at byte 100") {
		t.Errorf("message %q lacks prefix or position", msg)
	}
	if len(msg) > 250 {
		t.Errorf("message is %d bytes long; the value should be clipped: %q", len(msg), msg)
	}
}

// FuzzRoundTrip checks that every valid Event comes back from the
// Decoder as sent (line ends normalised to LF, invalid UTF-8 replaced as
// a browser would), and that every invalid one is rejected.
func FuzzRoundTrip(f *testing.F) {
	for _, tt := range encodeTests {
		f.Add(tt.in.ID, tt.in.Name, tt.in.Data, int64(tt.in.Retry))
	}
	f.Fuzz(func(t *testing.T, id, name, data string, retry int64) {
		e := Event{ID: id, Name: name, Data: data, Retry: time.Duration(retry)}
		b, err := AppendEvent(nil, e)
		switch {
		case strings.ContainsAny(id, "\r\n\x00"):
			checkErr(t, err, ErrInvalidID)
		case strings.ContainsAny(name, "\r\n\x00"):
			checkErr(t, err, ErrInvalidEvent)
		case retry < 0:
			checkErr(t, err, ErrInvalidRetry)
		default:
			if err != nil {
				t.Fatalf("AppendEvent(%+v): %v", e, err)
			}
		}
		if err != nil {
			if len(b) != 0 {
				t.Fatalf("AppendEvent returned %q with error %v", b, err)
			}
			return
		}

		want := Event{
			ID:   wantUTF8(id),
			Name: wantUTF8(name),
			Data: wantUTF8(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(data)),
		}
		if retry > 0 {
			want.Retry = max(time.Duration(retry).Truncate(time.Millisecond), time.Millisecond)
		}
		// Send the event twice with a comment between: both must decode.
		b, _ = AppendComment(b, "between")
		b, _ = AppendEvent(b, e)
		d := NewDecoder(bytes.NewReader(b))
		for i := range 2 {
			got, err := d.Next()
			if err != nil {
				t.Fatalf("event %d: Next: %v\nwire %q", i, err, b)
			}
			if got != want {
				t.Fatalf("event %d: decoded\n%+v\nwant\n%+v\nwire %q", i, got, want, b)
			}
		}
		if got, err := d.Next(); err != io.EOF {
			t.Fatalf("after two events: Next = %+v, %v; want io.EOF", got, err)
		}
	})
}

// wantUTF8 is what a browser makes of s: s itself when it is valid UTF-8.
func wantUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(appendUTF8Decode(nil, []byte(s)))
}

func BenchmarkAppendEvent(b *testing.B) {
	bench := []struct {
		name string
		e    Event
	}{
		{"small", Event{Name: "connecttime", Data: "2026-01-01T00:00:00Z"}},
		{"full", Event{ID: "1234", Name: "update", Data: "line one\nline two\r\nline three", Retry: 10 * time.Second}},
		{"4KiB", Event{Name: "blob", Data: strings.Repeat(strings.Repeat("x", 63)+"\n", 64)}},
	}
	for _, bb := range bench {
		b.Run(bb.name, func(b *testing.B) {
			buf := make([]byte, 0, 8192)
			b.SetBytes(int64(len(bb.e.Data)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = AppendEvent(buf[:0], bb.e)
			}
		})
	}
}

func BenchmarkWriteEvent(b *testing.B) {
	e := Event{ID: "1234", Name: "update", Data: "line one\nline two"}
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteEvent(io.Discard, e); err != nil {
			b.Fatal(err)
		}
	}
}

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one wrapping %v", err, want)
	}
	if !strings.HasPrefix(err.Error(), "sse: ") {
		t.Errorf("error %q lacks the \"sse: \" prefix", err)
	}
}

type countingWriter struct {
	bytes.Buffer
	calls int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }
