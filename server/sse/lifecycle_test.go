package sse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
	"go.uber.org/goleak"
)

// openedWriter is a nullWriter that reports the first flush: the stream
// has opened.
type openedWriter struct {
	nullWriter
	once   sync.Once
	opened chan struct{}
}

func (w *openedWriter) Flush() { w.once.Do(func() { close(w.opened) }) }

// 10,000 connects and disconnects, with events flowing, leave no client,
// no registry entry and no goroutine behind.
func TestConnectDisconnectCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 10,000 connect cycles")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// A lag bound never reached: a client evicted before its stream
	// opened would end without the flush the test waits for.
	b, err := New(Options{Heartbeat: time.Millisecond, MaxClientsPerIP: -1, MaxLag: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var pub sync.WaitGroup
	pub.Go(func() { // events flow to the clients as they come and go
		for {
			select {
			case <-stop:
				return
			default:
				b.Publish(context.Background(), "t", Event{Data: "x"})
				time.Sleep(10 * time.Microsecond)
			}
		}
	})
	const workers, cycles = 50, 200
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for j := range cycles {
				ctx, cancel := context.WithCancel(context.Background())
				w := &openedWriter{opened: make(chan struct{})}
				q := topicsQuery("t", fmt.Sprint("w", i))
				if j%3 == 0 {
					q += "&" + protocol.LastEventIDParam + "=x-1" // a gap, too
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					b.ServeHTTP(w, newRequest(ctx, q))
				}()
				select {
				case <-w.opened:
				case <-done:
					t.Errorf("stream did not open; stats %+v", b.Stats())
				}
				cancel()
				<-done
			}
		})
	}
	wg.Wait()
	close(stop)
	pub.Wait()

	if s := b.Stats(); s.Clients != 0 {
		t.Errorf("BrokerStats.Clients = %d after all left", s.Clients)
	}
	b.mu.RLock()
	if len(b.clients)+len(b.topics)+len(b.perIP) != 0 {
		t.Errorf("registry not empty: %d clients, %d topics, %d IPs", len(b.clients), len(b.topics), len(b.perIP))
	}
	b.mu.RUnlock()
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The same over real connections, fewer times.
func TestConnectDisconnectHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: connect cycles over real connections in every mode")
	}
	run(t, testConnectDisconnectHTTP)
}

func testConnectDisconnectHTTP(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{MaxClientsPerIP: -1})
	if mode != http2Mode && mode != h2detMode { // one connection per stream; on HTTP/2 the streams share one, as browsers do
		srv.Client().Transport.(*http.Transport).DisableKeepAlives = true
	}
	for range 300 {
		c := connect(t, srv, topicsQuery("t"), nil)
		c.Close()
	}
	waitFor(t, "all clients gone", func() bool { return b.Stats().Clients == 0 })
}

// openStreams opens n streams to srv that read until the end, and
// stopped streams that never read; wait for readers with the WaitGroup.
func openStreams(t *testing.T, b *Broker, srv *httptest.Server, n, stopped int) *sync.WaitGroup {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	var readers sync.WaitGroup
	for range n - stopped {
		resp, err := client.Get(srv.URL + "/events")
		if err != nil {
			t.Fatal(err)
		}
		readers.Go(func() {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	for range stopped {
		stoppedConn(t, srv, topicsQuery("stopped"))
	}
	waitFor(t, "all streams", func() bool { return b.Stats().Clients == n })
	publish(t, b, "default", "to the readers")
	big := strings.Repeat("x", 64<<10)
	for range 20 { // fills the stopped clients' buffers: their writes block
		publish(t, b, "stopped", big)
	}
	return &readers
}

// Shutdown with 1,000 open streams, some of them not reading, returns
// without waiting for their write timeout; then http.Server.Shutdown
// finds no stream left.
func TestShutdown1000Streams(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 1,000 streams per mode")
	}
	run(t, testShutdown1000Streams, http1Modes...)
}

func testShutdown1000Streams(t *testing.T, mode testMode) {
	const streams, stopped = 1000, 10
	var disconnects, closedReasons atomic.Int64
	b, err := New(Options{
		MaxClientsPerIP: -1,
		WriteTimeout:    time.Minute,
		MaxLag:          1 << 30,
		Hooks: Hooks{OnDisconnect: func(_ ClientInfo, err error) {
			disconnects.Add(1)
			if errors.Is(err, ErrClosed) {
				closedReasons.Add(1)
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := smallBufServer(t, mode, b)
	readers := openStreams(t, b, srv, streams, stopped)

	// The readers that stopped hold writes that only WriteTimeout (a
	// minute) would end: Shutdown cuts them after its grace instead, so
	// it returns well within half of that, however busy the machine.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil { // returns once every handler has
		t.Fatalf("Broker.Shutdown after %v: %v", time.Since(start), err)
	}
	if disconnects.Load() != streams || closedReasons.Load() != streams {
		t.Errorf("OnDisconnect: %d calls, %d with ErrClosed; want %d", disconnects.Load(), closedReasons.Load(), streams)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), wait)
	defer cancel2()
	if err := srv.Config.Shutdown(ctx2); err != nil {
		t.Fatalf("http.Server.Shutdown after the broker's: %v", err)
	}
	readers.Wait()

	// New streams are refused.
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, newRequest(context.Background(), ""))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("after Shutdown: %d, Retry-After %q; want 503 and 5", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// http.Server.Shutdown, which waits for open streams, returns promptly
// when the broker is stopped from RegisterOnShutdown.
func TestShutdownFromHTTPServer(t *testing.T) {
	b, err := New(Options{MaxClientsPerIP: -1, WriteTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(b)
	srv.Listener = smallBufListener{srv.Listener}
	srv.Config.RegisterOnShutdown(func() { b.Shutdown(context.Background()) })
	srv.Start()
	defer srv.Close()
	readers := openStreams(t, b, srv, 100, 5)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("http.Server.Shutdown after %v: %v", time.Since(start), err)
	}
	readers.Wait()
	if _, err := net.Dial("tcp", srv.Listener.Addr().String()); err == nil {
		t.Error("server still accepts connections")
	}
}

func TestHooks(t *testing.T) { run(t, testHooks) }

func testHooks(t *testing.T, mode testMode) {
	var mu sync.Mutex
	var log []string
	add := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	b, srv := newTestBroker(t, mode, Options{Hooks: Hooks{
		OnConnect: func(c ClientInfo) {
			add(fmt.Sprintf("connect %d %v %s %s", c.ID, c.Topics, c.LastEventID, c.Heartbeat))
		},
		OnDisconnect: func(c ClientInfo, err error) {
			add(fmt.Sprintf("disconnect %d %v", c.ID, errors.Is(err, context.Canceled)))
		},
		OnEvict:  func(c ClientInfo) { add("evict") },
		OnReject: func(r *http.Request, err error) { add("reject " + r.URL.RawQuery) },
	}})
	c := connect(t, srv, topicsQuery("a", "b")+"&heartbeat=event", http.Header{"Last-Event-ID": {"x-1"}})
	c.nextEvent()
	c.Close()
	waitFor(t, "disconnect", func() bool { return b.Stats().Clients == 0 })
	tryConnect(t, srv, "topic=%20", nil)
	waitFor(t, "hooks", func() bool { mu.Lock(); defer mu.Unlock(); return len(log) == 3 })
	want := []string{"connect 1 [a b] x-1 event", "disconnect 1 true", "reject topic=%20"}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Errorf("hooks called:\n%q\nwant\n%q", log, want)
	}
}

// Clients that reconnect while events are published see every event
// exactly once, in order: the replay-to-live handoff loses and doubles
// nothing.
func TestReconnectUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: clients reconnecting under a publishing load, in every mode")
	}
	run(t, testReconnectUnderLoad)
}

func testReconnectUnderLoad(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{MaxClientsPerIP: -1, MaxLag: 1 << 30})
	stop := make(chan struct{})
	var pub sync.WaitGroup
	pub.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				publish(t, b, "h", fmt.Sprint(i))
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	const clients, reconnects, perConn = 10, 15, 20
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			last := ""
			for range reconnects {
				h := http.Header{}
				if last != "" {
					h.Set("Last-Event-ID", last)
				}
				c := connect(t, srv, topicsQuery("h"), h)
				for _, e := range c.events(perConn) {
					if last != "" && seqOf(t, e.ID) != seqOf(t, last)+1 {
						t.Errorf("after %s got %s", last, e.ID)
						return
					}
					last = e.ID
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	close(stop)
	pub.Wait()
}

// TestStreamKeepsNoRequestFields: a hijacked stream keeps copies of
// what it needs, never the request's big header or query: 20 streams
// each sent with 256 KiB of Last-Event-ID and of query hold far less
// than the 10 MiB they were sent, after GC.
func TestStreamKeepsNoRequestFields(t *testing.T) {
	b, srv := newTestBroker(t, hijackMode, Options{})
	long := strings.Repeat("x", 256<<10)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const streams = 20
	before := heap()
	var conns []net.Conn
	for range streams {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "GET /events?topic=a&pad=%s HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %s\r\n\r\n", long, long)
		br := bufio.NewReader(conn)
		for { // up to the gap event: the stream is open and replayed
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "event: "+protocol.GapEvent) {
				break
			}
		}
	}
	waitFor(t, "the streams to open", func() bool { return b.Stats().Clients == streams })
	grown := int64(heap()) - int64(before)
	t.Logf("%d streams sent with %d KiB each: heap +%d KiB", streams, 2*len(long)>>10, grown>>10)
	if sent := int64(streams * 2 * len(long)); grown > sent/10 {
		t.Errorf("heap grew by %d bytes for %d streams: they keep their requests (%d bytes sent)", grown, streams, sent)
	}
	for _, c := range conns {
		c.Close()
	}
}
