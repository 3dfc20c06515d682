package sse

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// wait bounds how long a test waits for something that should happen at
// once.
const wait = 5 * time.Second

func TestStreamHeadersAndBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := NewStream(w, r)
		if err != nil {
			t.Errorf("NewStream: %v", err)
			return
		}
		steps := []error{
			s.Retry(10 * time.Second),
			s.Send(Event{Name: "connecttime", Data: "now"}),
			s.Comment("keepalive"),
			s.Send(Event{ID: "2", Data: "line one\nline two"}),
			s.Send(Event{Data: "after id"}),
		}
		for i, err := range steps {
			if err != nil {
				t.Errorf("step %d: %v", i, err)
			}
		}
	}))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream; charset=utf-8",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	const wantBody = "retry: 10000\nevent: connecttime\ndata: now\n\n: keepalive\nid: 2\ndata: line one\ndata: line two\n\ndata: after id\n\n"
	if string(body) != wantBody {
		t.Errorf("body\n%q\nwant\n%q", body, wantBody)
	}
	d, got, comments, err := decodeAll(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Name: "connecttime", Data: "now", Retry: 10 * time.Second},
		{ID: "2", Data: "line one\nline two", Retry: 10 * time.Second},
		{ID: "2", Data: "after id", Retry: 10 * time.Second},
	}
	if !slices.Equal(got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
	if !slices.Equal(comments, []string{"keepalive"}) || d.LastEventID() != "2" {
		t.Errorf("comments %q, last ID %q", comments, d.LastEventID())
	}
}

// NewStream must flush the headers at once, so that the client sees the
// stream open before the first event.
func TestNewStreamFlushesHeaders(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := NewStream(w, r); err != nil {
			t.Errorf("NewStream: %v", err)
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("headers did not arrive before the first event: %v", err)
	}
	resp.Body.Close()
}

// unwrapper is a middleware's ResponseWriter that hides Flush but
// implements Unwrap, as http.ResponseController expects.
type unwrapper struct{ http.ResponseWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// hider is a middleware's ResponseWriter that hides Flush and has no
// Unwrap: streaming through it cannot work.
type hider struct{ http.ResponseWriter }

func TestNewStreamThroughMiddleware(t *testing.T) {
	tests := []struct {
		name       string
		wrap       func(http.ResponseWriter) http.ResponseWriter
		wantStatus int
	}{
		{"none", func(w http.ResponseWriter) http.ResponseWriter { return w }, http.StatusOK},
		{"Unwrap", func(w http.ResponseWriter) http.ResponseWriter { return unwrapper{w} }, http.StatusOK},
		{"Unwrap twice", func(w http.ResponseWriter) http.ResponseWriter { return unwrapper{unwrapper{w}} }, http.StatusOK},
		{"no Unwrap", func(w http.ResponseWriter) http.ResponseWriter { return hider{w} }, http.StatusInternalServerError},
		{"Unwrap to no Unwrap", func(w http.ResponseWriter) http.ResponseWriter { return unwrapper{hider{w}} }, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, err := NewStream(tt.wrap(w), r)
				if err != nil {
					if !errors.Is(err, ErrFlushUnsupported) {
						t.Errorf("NewStream error %v does not wrap ErrFlushUnsupported", err)
					}
					// Nothing was written, so we can still answer 500.
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				if err := s.Send(Event{Data: "hi"}); err != nil {
					t.Errorf("Send: %v", err)
				}
			}))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == http.StatusOK && string(body) != "data: hi\n\n" {
				t.Errorf("body %q", body)
			}
			if tt.wantStatus != http.StatusOK && !strings.Contains(string(body), "Unwrap") {
				t.Errorf("error body %q does not say how to fix it", body)
			}
		})
	}
}

// recordingWriter records what reaches the wire, and can fail.
type recordingWriter struct {
	header      http.Header
	status      int
	body        strings.Builder
	flushes     int
	writeErr    error
	deadlineErr error
	deadlines   []time.Time
}

func (w *recordingWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}
func (w *recordingWriter) WriteHeader(code int) { w.status = code }
func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.writeErr != nil {
		return 0, w.writeErr
	}
	return w.body.Write(p)
}
func (w *recordingWriter) Flush() { w.flushes++ }

// deadlineWriter adds SetWriteDeadline, which ResponseController finds.
type deadlineWriter struct{ *recordingWriter }

func (w deadlineWriter) SetWriteDeadline(t time.Time) error {
	if w.deadlineErr != nil {
		return w.deadlineErr
	}
	w.deadlines = append(w.deadlines, t)
	return nil
}

func TestNewStreamWritesNothingWithoutFlush(t *testing.T) {
	rec := &recordingWriter{}
	_, err := NewStream(hider{rec}, httptest.NewRequest("GET", "/", nil))
	if !errors.Is(err, ErrFlushUnsupported) {
		t.Fatalf("NewStream = %v, want ErrFlushUnsupported", err)
	}
	if rec.status != 0 || rec.body.Len() != 0 || len(rec.header) != 0 {
		t.Errorf("NewStream wrote status %d, headers %v, body %q; want nothing", rec.status, rec.header, rec.body.String())
	}
}

func TestStreamInvalidWritesNothing(t *testing.T) {
	rec := &recordingWriter{}
	s, err := NewStream(rec, httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if rec.status != http.StatusOK || rec.flushes != 1 {
		t.Fatalf("after NewStream: status %d, %d flushes; want 200 and 1", rec.status, rec.flushes)
	}
	checkErr(t, s.Send(Event{ID: "a\nb", Data: "x"}), ErrInvalidID)
	checkErr(t, s.Send(Event{Name: "a\x00", Data: "x"}), ErrInvalidEvent)
	checkErr(t, s.Comment("a\nb"), ErrInvalidComment)
	checkErr(t, s.Retry(-time.Second), ErrInvalidRetry)
	if rec.body.Len() != 0 || rec.flushes != 1 {
		t.Errorf("invalid input wrote %q and flushed %d times", rec.body.String(), rec.flushes-1)
	}
	// The stream still works afterwards, and each call flushes.
	if err := s.Send(Event{Data: "ok"}); err != nil {
		t.Fatal(err)
	}
	if rec.body.String() != "data: ok\n\n" || rec.flushes != 2 {
		t.Errorf("after a valid Send: body %q, %d flushes", rec.body.String(), rec.flushes)
	}
}

func TestStreamWriteError(t *testing.T) {
	boom := errors.New("broken pipe")
	rec := &recordingWriter{}
	s, err := NewStream(rec, httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	rec.writeErr = boom
	for name, err := range map[string]error{
		"Send":    s.Send(Event{Data: "x"}),
		"Comment": s.Comment("x"),
		"Retry":   s.Retry(time.Second),
	} {
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sse: ") {
			t.Errorf("%s = %v, want a prefixed error wrapping the write error", name, err)
		}
	}
}

func TestStreamAfterContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recordingWriter{}
	s, err := NewStream(rec, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Context() != ctx {
		t.Error("Context() is not the request's context")
	}
	cancel()
	if err := s.Send(Event{Data: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Send after the client left = %v, want context.Canceled", err)
	}
	if rec.body.Len() != 0 {
		t.Errorf("Send after the client left wrote %q", rec.body.String())
	}
}

func TestStreamSetWriteTimeout(t *testing.T) {
	rec := &recordingWriter{}
	s, err := NewStream(deadlineWriter{rec}, httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(Event{Data: "x"}); err != nil || len(rec.deadlines) != 0 {
		t.Fatalf("without a timeout: %v, deadlines %v; want none", err, rec.deadlines)
	}
	s.SetWriteTimeout(time.Minute)
	before := time.Now()
	if err := s.Send(Event{Data: "y"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.deadlines) != 2 {
		t.Fatalf("deadlines %v, want one set and one cleared", rec.deadlines)
	}
	if set := rec.deadlines[0]; set.Before(before.Add(time.Minute)) || set.After(time.Now().Add(time.Minute)) {
		t.Errorf("deadline %v is not a minute from the write", set)
	}
	if !rec.deadlines[1].IsZero() {
		t.Errorf("deadline not cleared after the write: %v", rec.deadlines[1])
	}

	// A writer without deadlines is written to without one.
	plain := &recordingWriter{}
	s, _ = NewStream(plain, httptest.NewRequest("GET", "/", nil))
	s.SetWriteTimeout(time.Minute)
	if err := s.Send(Event{Data: "z"}); err != nil || plain.body.String() != "data: z\n\n" {
		t.Errorf("without deadline support: %v, body %q", err, plain.body.String())
	}

	// Any other deadline error stops the write.
	rec = &recordingWriter{}
	s, _ = NewStream(deadlineWriter{rec}, httptest.NewRequest("GET", "/", nil))
	s.SetWriteTimeout(time.Minute)
	rec.deadlineErr = errors.New("conn closed")
	if err := s.Send(Event{Data: "x"}); !errors.Is(err, rec.deadlineErr) || rec.body.Len() != 0 {
		t.Errorf("deadline error: Send = %v, wrote %q", err, rec.body.String())
	}
}

// A client that stops reading must not hold the handler forever: the
// write deadline ends the loop.
func TestStreamWriteTimeoutStoppedClient(t *testing.T) {
	done := make(chan error, 1) // buffered: the handler never blocks on it
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := NewStream(w, r)
		if err != nil {
			done <- err
			return
		}
		s.SetWriteTimeout(100 * time.Millisecond)
		big := Event{Data: strings.Repeat("x", 1<<20)}
		for range 1000 { // 1 GiB: far beyond any socket buffer
			if err := s.Send(big); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() // never read: the client stops reading
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("1 GiB reached a client that reads nothing")
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("send ended with %v, want the write deadline's error", err)
		}
	case <-time.After(3 * wait):
		t.Fatal("handler still writing to a stopped client")
	}
}

// A handler looping on Send must return soon after the client leaves,
// whether it watches the context or only Send's error. goleak in TestMain
// then checks that nothing is left running.
func TestStreamEndsWhenClientLeaves(t *testing.T) {
	loops := map[string]func(s *Stream) error{
		"select on context": func(s *Stream) error {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-s.Context().Done():
					return s.Context().Err()
				case <-t.C:
					if err := s.Send(Event{Name: "tick", Data: "x"}); err != nil {
						return err
					}
				}
			}
		},
		"Send error only": func(s *Stream) error {
			for {
				if err := s.Send(Event{Name: "tick", Data: "x"}); err != nil {
					return err
				}
				time.Sleep(10 * time.Millisecond)
			}
		},
	}
	for name, loop := range loops {
		t.Run(name, func(t *testing.T) {
			returned := make(chan error, 1) // buffered: the handler never blocks on it
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, err := NewStream(w, r)
				if err != nil {
					returned <- err
					return
				}
				returned <- loop(s)
			}))
			defer srv.Close()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecoder(bufio.NewReader(resp.Body))
			for range 3 {
				if e, err := d.Next(); err != nil || e.Name != "tick" {
					t.Fatalf("Next = %+v, %v", e, err)
				}
			}
			cancel() // the client leaves
			resp.Body.Close()
			select {
			case err := <-returned:
				if err == nil {
					t.Error("handler loop returned nil, want the reason it stopped")
				}
			case <-time.After(wait):
				t.Fatal("handler still sending after the client left")
			}
		})
	}
}

func BenchmarkStreamSend(b *testing.B) {
	s, err := NewStream(discardWriter{}, httptest.NewRequest("GET", "/", nil))
	if err != nil {
		b.Fatal(err)
	}
	e := Event{ID: "1", Name: "update", Data: "payload"}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(e); err != nil {
			b.Fatal(err)
		}
	}
}

// discardWriter is a flushing ResponseWriter that keeps nothing.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) WriteHeader(int)             {}
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) Flush()                      {}
