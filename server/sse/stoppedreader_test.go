package sse

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadProgress(t *testing.T) {
	const limit = 10 * time.Second
	type look struct {
		at     time.Duration // since the start
		queued bool
		acked  uint64
		want   bool
	}
	for _, tt := range []struct {
		name  string
		looks []look
	}{
		{"an empty queue is never a stopped reader", []look{{0, false, 5, false}, {20 * time.Second, false, 5, false}, {40 * time.Second, false, 5, false}}},
		{"queued, nothing acknowledged, from the first look that saw it", []look{
			{0, true, 5, false}, {5 * time.Second, true, 5, false}, // stuck since 0
			{9 * time.Second, true, 5, false}, {10 * time.Second, true, 5, true},
		}},
		{"progress restarts the count", []look{
			{0, true, 5, false}, {8 * time.Second, true, 6, false}, // moved
			{16 * time.Second, true, 6, false}, {17 * time.Second, true, 6, false}, // stuck since 8 s
			{18 * time.Second, true, 6, true},
		}},
		{"an empty queue between looks restarts it", []look{
			{0, true, 5, false}, {8 * time.Second, false, 9, false}, {16 * time.Second, true, 9, false},
			{24 * time.Second, true, 9, false}, // stuck since 16 s only
			{26 * time.Second, true, 9, true},
		}},
		{"one look alone proves nothing", []look{{0, false, 5, false}, {30 * time.Second, true, 5, false}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s readProgress
			t0 := time.Unix(1e9, 0).UnixNano()
			for i, l := range tt.looks {
				if got := s.observe(t0+int64(l.at), l.queued, l.acked, limit); got != l.want {
					t.Errorf("look %d at %v: stopped %v, want %v", i, l.at, got, l.want)
				}
			}
		})
	}
}

// A client that stops reading while its socket still takes the writes
// (a quiet topic: heartbeats only) is ended with ErrNotReading about
// WriteTimeout after it stopped, plus a heartbeat, long before the
// socket's buffer would fill; it counts as evicted, and a healthy
// client on the same topic goes on.
func TestStoppedReaderEvicted(t *testing.T) {
	run(t, func(t *testing.T, mode testMode) {
		const writeTimeout, heartbeat = 300 * time.Millisecond, 100 * time.Millisecond
		reasons := make(chan error, 10) // buffered: the hook must not block
		b, err := New(Options{
			WriteTimeout: writeTimeout,
			Heartbeat:    heartbeat,
			MaxLag:       1 << 30,
			Hooks:        Hooks{OnDisconnect: func(_ ClientInfo, err error) { reasons <- err }},
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := startServer(mode, b, func(l net.Listener) net.Listener { return bigBufListener{l} })
		t.Cleanup(srv.Close)
		defer b.Shutdown(t.Context())
		stopped, _ := stoppedConn(t, srv, topicsQuery("quiet"))
		healthy := connect(t, srv, topicsQuery("quiet"), nil)
		waitFor(t, "both clients", func() bool { return b.Stats().Clients == 2 })
		// 64 KB fill the stopped client's small receive buffer; the
		// rest waits in the server's send buffer, which takes it all:
		// no write blocks, so WriteTimeout alone would never end it.
		for range 16 {
			publish(t, b, "quiet", strings.Repeat("x", 4<<10))
		}
		healthy.events(16)
		start := time.Now()
		select {
		case err := <-reasons:
			if !errors.Is(err, ErrNotReading) || !errors.Is(err, ErrEvicted) {
				t.Fatalf("stopped client ended with %v, want ErrNotReading", err)
			}
		case <-time.After(wait):
			t.Fatalf("stopped client still connected after %v (write timeout %v, heartbeat %v)", wait, writeTimeout, heartbeat)
		}
		t.Logf("stopped reader ended %v after the last event (write timeout %v, heartbeat %v)", time.Since(start).Round(time.Millisecond), writeTimeout, heartbeat)
		if s := b.Stats(); s.Evicted != 1 || s.Clients != 1 {
			t.Errorf("stats %+v, want 1 evicted and the healthy client open", s)
		}
		// Its connection is closed (on the ordinary path too, where
		// net/http would keep it for a next request): reading what
		// reached it ends.
		stopped.SetReadDeadline(time.Now().Add(wait))
		if n, err := io.Copy(io.Discard, stopped); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the stopped client's connection is still open after %d bytes", n)
		}
		// The healthy client got heartbeats all along and gets events.
		publish(t, b, "quiet", "after")
		if e := healthy.nextEvent(); e.Data != "after" {
			t.Errorf("healthy client got %+v", e)
		}
		select {
		case err := <-reasons:
			t.Errorf("another stream ended: %v", err)
		case <-time.After(3 * writeTimeout):
		}
	}, http1Modes...)
}

// A Stream looks at its socket too, with ConnContext: a client that
// stops reading ends the send loop with ErrNotReading, though every write
// still succeeds; a reading client's loop goes on.
func TestStreamStoppedReader(t *testing.T) {
	done := make(chan error, 2) // buffered: the handlers never block on it
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := NewStream(w, r)
		if err != nil {
			done <- err
			return
		}
		s.SetWriteTimeout(300 * time.Millisecond)
		// As above: fill a stopped client's receive buffer, then ping.
		if err := s.Send(Event{Data: strings.Repeat("x", 64<<10)}); err != nil {
			done <- err
			return
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				done <- r.Context().Err()
				return
			case <-tick.C:
			}
			if err := s.Send(Event{Data: "ping"}); err != nil {
				done <- err
				return
			}
		}
	}))
	srv.Config.ConnContext = ConnContext
	srv.Listener = bigBufListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close) // after the clients' cleanups: their handlers end first

	stoppedConn(t, srv, "")
	healthy := connect(t, srv, "", nil)
	if e := healthy.nextEvent(); len(e.Data) != 64<<10 {
		t.Fatalf("healthy client got %.20q", e.Data)
	}
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotReading) || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("send loop ended with %v, want ErrNotReading", err)
		}
	case <-time.After(wait):
		t.Fatal("send loop still writing to a client that reads nothing")
	}
	t.Logf("stopped reader found %v after the first event", time.Since(start).Round(time.Millisecond))
	for range 20 {
		if e := healthy.nextEvent(); e.Data != "ping" {
			t.Fatalf("healthy client got %+v", e)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the healthy client's loop ended: %v", err)
	default:
	}
}

// bigBufListener gives each accepted connection a send buffer of 1 MB
// (2 MB as the kernel counts), so that the writes to a client that
// stopped reading go on succeeding, as they do for hours on a quiet
// stream whose buffer autotuning has grown.
type bigBufListener struct{ net.Listener }

func (l bigBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(1 << 20)
	}
	return c, err
}

// BenchmarkSockProbe measures one look at a socket's send queue: what
// the heartbeat goroutine pays per stream per tick.
func BenchmarkSockProbe(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	raw := rawConnOf(c)
	var p sockProbe
	b.ReportAllocs()
	for b.Loop() {
		p.look(raw)
	}
}
