package h2_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/ssewasm/ssewasm/internal/testcert"
	"github.com/ssewasm/ssewasm/internal/testlog"
	"github.com/ssewasm/ssewasm/server/h2"
	"github.com/ssewasm/ssewasm/server/sse"
)

// Behaviour tests: what a client sees of the server, and what the
// server holds, measured from outside.

// newServerWith is newServer with configure applied to the http.Server
// before it starts (ReadTimeout, MaxHeaderBytes, ErrorLog...).
func newServerWith(t testing.TB, h http.Handler, srv *h2.Server, configure func(*http.Server)) *httptest.Server {
	t.Helper()
	if srv == nil {
		srv = new(h2.Server)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	if configure != nil {
		configure(ts.Config)
	}
	srv.ConfigureServer(ts.Config)
	ts.TLS = ts.Config.TLSConfig
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Client().CloseIdleConnections()
		ts.Close()
	})
	return ts
}

// startH2 serves hs's handler on a listener of its own, handing each
// handshaken connection to srv.Start, as the server binary does
// (serveListener): no goroutine waits for the connection. It returns the
// listener's address; cleanup closes srv and waits for it.
func startH2(t testing.TB, srv *h2.Server, hs *http.Server) string {
	t.Helper()
	base := pollers()
	addr, stop := serveListener(t, srv, &tls.Config{Certificates: []tls.Certificate{testcert.Certificate(t)}}, hs)
	t.Cleanup(func() {
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Wait(ctx); err != nil {
			t.Errorf("h2.Server.Wait after Close: %v", err)
		}
		// Its last connection closed, the server's epoll goroutine ends.
		for deadline := time.Now().Add(2 * time.Second); !t.Failed() && pollers() > base; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("an epoll goroutine of the server is left after Close and Wait (%d, was %d)", pollers(), base)
				break
			}
		}
	})
	return addr
}

// modes are the two ways to serve a connection: ServeConn, from
// http.Server's TLSNextProto (ConfigureServer), whose read loop waits;
// and Start, as the ssewasm server does, whose read loop parks. Each
// serves h with srv under an http.Server that configure (if not nil)
// sets up, and returns the address and an HTTP/2 client for it.
type serveFunc func(t testing.TB, h http.Handler, srv *h2.Server, configure func(*http.Server)) (addr string, client *http.Client)

var modes = []struct {
	name  string
	serve serveFunc
}{
	{"ServeConn", func(t testing.TB, h http.Handler, srv *h2.Server, configure func(*http.Server)) (string, *http.Client) {
		ts := newServerWith(t, h, srv, configure)
		return ts.Listener.Addr().String(), ts.Client()
	}},
	{"Start", func(t testing.TB, h http.Handler, srv *h2.Server, configure func(*http.Server)) (string, *http.Client) {
		if srv == nil {
			srv = new(h2.Server)
		}
		hs := &http.Server{Handler: h}
		if configure != nil {
			configure(hs)
		}
		addr := startH2(t, srv, hs)
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		t.Cleanup(tr.CloseIdleConnections)
		return addr, &http.Client{Transport: tr}
	}},
}

// forModes runs f as a subtest in each mode.
func forModes(t *testing.T, f func(t *testing.T, serve serveFunc)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, m.serve) })
	}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: still not %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until runtime.NumGoroutine has not changed for 200 ms
// (at most 5 s).
func settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	n, since := runtime.NumGoroutine(), time.Now()
	for time.Since(since) < 200*time.Millisecond {
		if time.Now().After(deadline) {
			t.Logf("goroutines still changing after 5 s (%d)", n)
			return
		}
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		}
	}
}

// serverGoroutines counts the goroutines that serve HTTP/2: those with
// a frame of package h2 (read loops, flushes, the epoll goroutine,
// ServeConn's waits) or net/http's connection goroutines; and, of
// them, those in a connection's own code (h2.(*conn) methods: a read
// loop, a flush). The client's goroutines (net/http's transport, this
// package's h2_test frames) match neither.
func serverGoroutines() (all, inConn int, dump string) {
	buf := make([]byte, 16<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var kept []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "ssewasm/server/h2.") || strings.Contains(g, "net/http.(*conn).serve") {
			all++
			if strings.Contains(g, "ssewasm/server/h2.(*conn)") {
				inConn++
				kept = append(kept, g)
			}
		}
	}
	return all, inConn, strings.Join(kept, "\n\n")
}

// TestIdleConnectionsHoldNoGoroutine opens 50 connections, each with an
// idle event stream of a broker. Served through Start (as the server
// does), they hold no goroutine: their read loops are parked, and the
// streams are detached. Through ServeConn (http.Server's TLSNextProto)
// each holds its read loop and ServeConn's wait, and nothing per stream.
// Every stream still gets the next event.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const n = 50
	tests := []struct {
		name     string
		perConn  int // server goroutines an idle connection may hold
		loopsPer int // of them, in the connection's own code (a read loop)
		serve    func(t *testing.T, h http.Handler) (url string)
	}{
		{"Start", 0, 0, func(t *testing.T, h http.Handler) string {
			return "https://" + startH2(t, new(h2.Server), &http.Server{Handler: h})
		}},
		{"ServeConn", 2, 1, func(t *testing.T, h http.Handler) string {
			return newServerWith(t, h, nil, nil).URL
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settle(t)
			before, _, _ := serverGoroutines()

			b, err := sse.New(sse.Options{Heartbeat: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			defer func() {
				if err := b.Shutdown(ctx); err != nil {
					t.Errorf("broker shutdown: %v", err)
				}
			}()
			url := tt.serve(t, b)

			bodies := make([]*bufio.Reader, n)
			for i := range n {
				tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
				t.Cleanup(tr.CloseIdleConnections)
				req, _ := http.NewRequestWithContext(ctx, "GET", url+"/?topic=t", nil)
				resp, err := (&http.Client{Transport: tr}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
					t.Fatalf("stream %d: %s %s", i, resp.Proto, resp.Status)
				}
				bodies[i] = bufio.NewReader(resp.Body)
			}
			waitFor(t, 10*time.Second, fmt.Sprintf("%d clients", n), func() bool { return b.Stats().Clients == n })

			settle(t)
			after, inConn, dump := serverGoroutines()
			t.Logf("server goroutines: %d before, %d with %d idle connections (%d in connection code)", before, after, n, inConn)
			if limit := tt.perConn*n + 3; after-before > limit {
				t.Errorf("%d idle connections hold %d server goroutines, want at most %d", n, after-before, limit)
			}
			if limit := tt.loopsPer*n + 3; inConn > limit {
				t.Errorf("%d goroutines in connection code while every connection is idle, want at most %d:\n%s", inConn, limit, dump)
			}

			if _, err := b.Publish(ctx, "t", sse.Event{Data: "hello"}); err != nil {
				t.Fatal(err)
			}
			errs := make(chan error, n)
			for i, r := range bodies {
				go func() {
					for {
						line, err := r.ReadString('\n')
						if err != nil {
							errs <- fmt.Errorf("stream %d: %w", i, err)
							return
						}
						if strings.HasPrefix(line, "data:") && strings.Contains(line, "hello") {
							errs <- nil
							return
						}
					}
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestRequestBodyReadTimeout stalls a request body after its first byte:
// the handler's read fails with os.ErrDeadlineExceeded once the
// http.Server's ReadTimeout, or the deadline the handler set through
// http.ResponseController, has passed, and its answer reaches the client
// while the body is still open.
func TestRequestBodyReadTimeout(t *testing.T) {
	forModes(t, func(t *testing.T, serve serveFunc) {
		tests := []struct {
			name        string
			readTimeout time.Duration // http.Server's
			deadline    time.Duration // the handler's SetReadDeadline, from now
		}{
			{"http.Server.ReadTimeout", 200 * time.Millisecond, 0},
			{"ResponseController.SetReadDeadline", 0, 200 * time.Millisecond},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tt.deadline > 0 {
						if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(tt.deadline)); err != nil {
							http.Error(w, err.Error(), 500)
							return
						}
					}
					b, err := io.ReadAll(r.Body)
					w.Header().Set("X-Read", fmt.Sprint(len(b)))
					switch {
					case errors.Is(err, os.ErrDeadlineExceeded):
						w.WriteHeader(http.StatusRequestTimeout)
					case err != nil:
						http.Error(w, err.Error(), 400)
					}
				})
				addr, client := serve(t, h, nil, func(hs *http.Server) { hs.ReadTimeout = tt.readTimeout })
				pr, pw := io.Pipe()
				defer pw.Close()
				go pw.Write([]byte("x")) //nolint:errcheck // the pipe closes at the end
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "POST", "https://"+addr+"/", pr)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				took := time.Since(start)
				if resp.StatusCode != http.StatusRequestTimeout {
					t.Fatalf("status %d, want 408", resp.StatusCode)
				}
				if got := resp.Header.Get("X-Read"); got != "1" {
					t.Errorf("the handler read %s bytes, want 1", got)
				}
				// The deadline passed before the answer; the request's
				// context bounds the wait.
				if d := tt.readTimeout + tt.deadline; took < d {
					t.Errorf("answered after %v, before the read deadline of %v", took, d)
				}
			})
		}
	})
}

// rawClient speaks HTTP/2 frame by frame, to do what Go's transport
// would not (reset at once, ignore the server's limits) and to see every
// frame the server sends.
type rawClient struct {
	tc     *tls.Conn
	addr   string
	bw     *bufio.Writer
	wfr    *http2.Framer
	henc   *hpack.Encoder
	hbuf   bytes.Buffer
	frames chan rawFrame // closed after the frame with err
	done   chan struct{}
	read   sync.WaitGroup
	once   sync.Once
}

// rawFrame is what rawClient read: a frame, or (err set) the end of the
// connection.
type rawFrame struct {
	typ    http2.FrameType
	flags  http2.Flags
	stream uint32
	code   http2.ErrCode // RST_STREAM's, GOAWAY's
	last   uint32        // GOAWAY's last stream
	status string        // HEADERS'
	data   []byte        // DATA's
	err    error
	at     time.Time
}

func (f rawFrame) String() string {
	switch {
	case f.err != nil:
		return "end of connection: " + f.err.Error()
	case f.typ == http2.FrameHeaders:
		return fmt.Sprintf("HEADERS stream %d :status %s flags %v", f.stream, f.status, f.flags)
	case f.typ == http2.FrameData:
		return fmt.Sprintf("DATA stream %d %q flags %v", f.stream, f.data, f.flags)
	case f.typ == http2.FrameRSTStream:
		return fmt.Sprintf("RST_STREAM stream %d %v", f.stream, f.code)
	case f.typ == http2.FrameGoAway:
		return fmt.Sprintf("GOAWAY last %d %v", f.last, f.code)
	}
	return fmt.Sprintf("%v stream %d flags %v", f.typ, f.stream, f.flags)
}

func (f rawFrame) ended() bool {
	return f.err == nil && (f.typ == http2.FrameData || f.typ == http2.FrameHeaders) && f.flags.Has(http2.FlagDataEndStream)
}

// dialRaw connects to addr, sends the preface and an empty SETTINGS,
// and reads frames in a goroutine. Every read and write ends within
// 15 s; cleanup closes the connection.
func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		tc.Close()
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	tc.SetDeadline(time.Now().Add(15 * time.Second)) //nolint:errcheck // a bound, for a test
	c := &rawClient{
		tc: tc, addr: addr,
		bw:     bufio.NewWriterSize(tc, 64<<10),
		frames: make(chan rawFrame, 256),
		done:   make(chan struct{}),
	}
	c.wfr = http2.NewFramer(c.bw, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	rfr := http2.NewFramer(nil, tc)
	rfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.read.Go(func() {
		defer close(c.frames)
		for {
			f, err := rfr.ReadFrame()
			rf := rawFrame{err: err, at: time.Now()}
			if err == nil {
				h := f.Header()
				rf.typ, rf.flags, rf.stream = h.Type, h.Flags, h.StreamID
				switch f := f.(type) {
				case *http2.MetaHeadersFrame:
					rf.status = f.PseudoValue("status")
				case *http2.DataFrame:
					rf.data = bytes.Clone(f.Data())
				case *http2.RSTStreamFrame:
					rf.code = f.ErrCode
				case *http2.GoAwayFrame:
					rf.code, rf.last = f.ErrCode, f.LastStreamID
				}
			}
			select {
			case c.frames <- rf:
			case <-c.done:
				return
			}
			if err != nil {
				return
			}
		}
	})
	t.Cleanup(c.close)
	if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.wfr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := c.bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *rawClient) close() {
	c.once.Do(func() {
		close(c.done)
		c.tc.Close()
		c.read.Wait()
	})
}

// headers queues a request's HEADERS on stream id, with extra fields;
// end ends the stream (no body). flush sends what is queued.
func (c *rawClient) headers(id uint32, path string, end bool, extra ...hpack.HeaderField) error {
	c.hbuf.Reset()
	for _, f := range append([]hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: c.addr}, {Name: ":path", Value: path},
	}, extra...) {
		c.henc.WriteField(f) //nolint:errcheck // writes to memory
	}
	return c.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndStream: end, EndHeaders: true})
}

func (c *rawClient) flush() error { return c.bw.Flush() }

// get sends a GET of path on stream id.
func (c *rawClient) get(t testing.TB, id uint32, path string, extra ...hpack.HeaderField) {
	t.Helper()
	if err := c.headers(id, path, true, extra...); err != nil {
		t.Fatal(err)
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
}

// expect reads frames until one satisfies want, within d, and returns
// it; it fails the test if the connection ends first or d passes.
func (c *rawClient) expect(t testing.TB, d time.Duration, what string, want func(rawFrame) bool) rawFrame {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	var seen []string
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatalf("waiting for %s: the connection had ended; saw %v", what, seen)
			}
			if want(f) {
				return f
			}
			if f.err != nil {
				t.Fatalf("waiting for %s: %v; saw %v", what, f, seen)
			}
			seen = append(seen, f.String())
		case <-timer.C:
			t.Fatalf("no %s within %v; saw %v", what, d, seen)
		}
	}
}

// quiet reads frames for d and fails the test on a GOAWAY or the end of
// the connection.
func (c *rawClient) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok || f.err != nil || f.typ == http2.FrameGoAway {
				t.Fatalf("within %v: %v, want an open connection", d, f)
			}
		case <-timer.C:
			return
		}
	}
}

func isGoAway(code http2.ErrCode) func(rawFrame) bool {
	return func(f rawFrame) bool { return f.err == nil && f.typ == http2.FrameGoAway && f.code == code }
}

func isEnd(f rawFrame) bool { return f.err != nil }

func isHeaders(id uint32) func(rawFrame) bool {
	return func(f rawFrame) bool { return f.err == nil && f.typ == http2.FrameHeaders && f.stream == id }
}

// TestRapidReset opens thousands of streams and resets each at once
// (CVE-2023-44487), to a handler that outlives its reset: the handlers
// running at once never exceed MaxConcurrentStreams, the streams past it
// are refused, and the client is told to go away (ENHANCE_YOUR_CALM).
func TestRapidReset(t *testing.T) {
	forModes(t, func(t *testing.T, serve serveFunc) {
		tests := []struct {
			name       string
			maxStreams uint32
		}{
			{"10 streams", 10},
			{"100 streams", 100},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var running, peak, started atomic.Int64
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n := running.Add(1)
					defer running.Add(-1)
					started.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					<-r.Context().Done()
					time.Sleep(50 * time.Millisecond) // lingers after the reset
				})
				addr, _ := serve(t, h, &h2.Server{MaxConcurrentStreams: tt.maxStreams}, nil)
				c := dialRaw(t, addr)

				var refused atomic.Int64
				type end struct {
					goAway *rawFrame
					err    error
				}
				ended := make(chan end, 1)
				go func() {
					for f := range c.frames {
						switch {
						case f.err != nil:
							ended <- end{err: f.err}
							return
						case f.typ == http2.FrameRSTStream && f.code == http2.ErrCodeRefusedStream:
							refused.Add(1)
						case f.typ == http2.FrameGoAway:
							ended <- end{goAway: &f}
							for range c.frames {
							}
							return
						}
					}
					ended <- end{err: io.EOF}
				}()

				sent := 0
				start := time.Now()
				for i := range 5000 {
					id := uint32(2*i + 1)
					if c.headers(id, "/slow", true) != nil || c.wfr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
						break
					}
					if i%20 == 19 && c.flush() != nil {
						break
					}
					sent = i + 1
				}
				c.flush() //nolint:errcheck // the server may have closed
				var e end
				select {
				case e = <-ended:
				case <-time.After(5 * time.Second):
					t.Fatalf("no GOAWAY nor end of connection within 5 s of %d streams opened and reset", sent)
				}
				c.close()
				waitFor(t, 3*time.Second, "every handler returned", func() bool { return running.Load() == 0 })

				t.Logf("%d streams sent in %v; %d handlers started, at most %d at once; %d refused; end: goaway %v, err %v",
					sent, time.Since(start).Round(time.Millisecond), started.Load(), peak.Load(), refused.Load(), e.goAway, e.err)
				if p := peak.Load(); p > int64(tt.maxStreams) {
					t.Errorf("%d handlers ran at once, want at most MaxConcurrentStreams %d", p, tt.maxStreams)
				}
				if refused.Load() == 0 {
					t.Errorf("no stream refused (RST_STREAM REFUSED_STREAM)")
				}
				if e.goAway == nil || e.goAway.code != http2.ErrCodeEnhanceYourCalm {
					t.Errorf("the connection ended with %v, want GOAWAY ENHANCE_YOUR_CALM", e)
				}
				// Each slot is held for 50 ms at least: in the time the
				// flood took, only so many handlers can have started.
				if s, bound := started.Load(), int64(tt.maxStreams)*(1+int64(time.Since(start)/(50*time.Millisecond))); s > bound {
					t.Errorf("%d handlers started, want at most %d", s, bound)
				}
			})
		}
	})
}

// TestShutdownDrains shuts the server down with an event stream and a
// slow request open on a connection: the client gets GOAWAY (no error,
// last stream 3) at once, a stream it opens after is not served, both
// streams are still served to their end, and Wait returns once the
// broker has ended the event stream and the connection has closed.
func TestShutdownDrains(t *testing.T) {
	forModes(t, func(t *testing.T, serve serveFunc) {
		b, err := sse.New(sse.Options{Heartbeat: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		defer b.Shutdown(ctx) //nolint:errcheck // ended in the test; once more if it failed
		var slowRuns atomic.Int64
		slowStarted := make(chan struct{}, 10)
		release := make(chan struct{})
		mux := http.NewServeMux()
		mux.Handle("/events", b)
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			slowRuns.Add(1)
			slowStarted <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "done")
		})
		srv := new(h2.Server)
		addr, _ := serve(t, mux, srv, nil)
		c := dialRaw(t, addr)

		c.get(t, 1, "/events?topic=t")
		if f := c.expect(t, 5*time.Second, "the event stream's head", isHeaders(1)); f.status != "200" {
			t.Fatalf("event stream: %v", f)
		}
		waitFor(t, 5*time.Second, "the event stream registered", func() bool { return b.Stats().Clients == 1 })
		c.get(t, 3, "/slow")
		select {
		case <-slowStarted:
		case <-time.After(5 * time.Second):
			t.Fatal("the slow handler did not start")
		}

		srv.Shutdown()
		if f := c.expect(t, 2*time.Second, "GOAWAY", isGoAway(http2.ErrCodeNo)); f.last != 3 {
			t.Errorf("GOAWAY's last stream %d, want 3", f.last)
		}
		c.get(t, 5, "/slow") // after GOAWAY: not served

		wctx, wcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer wcancel()
		if err := srv.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait with streams open: %v, want it to wait", err)
		}

		if _, err := b.Publish(ctx, "t", sse.Event{Data: "after"}); err != nil {
			t.Fatal(err)
		}
		c.expect(t, 5*time.Second, "the event published after Shutdown", func(f rawFrame) bool {
			return f.typ == http2.FrameData && f.stream == 1 && bytes.Contains(f.data, []byte("after"))
		})

		close(release)
		if f := c.expect(t, 5*time.Second, "the slow response's head", isHeaders(3)); f.status != "200" {
			t.Fatalf("slow response: %v", f)
		}
		var body []byte
		for {
			f := c.expect(t, 5*time.Second, "the slow response's body", func(f rawFrame) bool {
				return f.typ == http2.FrameData && f.stream == 3
			})
			body = append(body, f.data...)
			if f.ended() {
				break
			}
		}
		if string(body) != "done" {
			t.Errorf("slow response %q, want done", body)
		}

		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		c.expect(t, 5*time.Second, "the event stream's end", func(f rawFrame) bool { return f.stream == 1 && f.ended() })
		wctx2, wcancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer wcancel2()
		if err := srv.Wait(wctx2); err != nil {
			t.Errorf("Wait after the last stream ended: %v", err)
		}
		c.expect(t, 500*time.Millisecond, "the connection's end", isEnd)
		if n := slowRuns.Load(); n != 1 {
			t.Errorf("the slow handler ran %d times, want once (stream 5 came after GOAWAY)", n)
		}
	})
}

// TestIdleTimeout: a connection without streams goes away after
// IdleTimeout (GOAWAY, then it closes); one with an open event stream
// stays, and goes away once the stream has ended.
func TestIdleTimeout(t *testing.T) {
	forModes(t, func(t *testing.T, serve serveFunc) {
		const idle = 200 * time.Millisecond
		setup := func(t *testing.T) (*rawClient, *sse.Broker) {
			b, err := sse.New(sse.Options{Heartbeat: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				b.Shutdown(ctx) //nolint:errcheck // ended in the test
			})
			mux := http.NewServeMux()
			mux.Handle("/events", b)
			mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "small") })
			addr, _ := serve(t, mux, &h2.Server{IdleTimeout: idle}, nil)
			return dialRaw(t, addr), b
		}
		// goesAway expects GOAWAY once IdleTimeout has passed since the
		// last stream's end (seen by the client at since, a little after
		// the server ended it: half the timeout is the margin), then the
		// connection's end. The waits only bound a hang.
		goesAway := func(t *testing.T, c *rawClient, since time.Time, last uint32) {
			t.Helper()
			g := c.expect(t, 5*time.Second, "GOAWAY", isGoAway(http2.ErrCodeNo))
			c.expect(t, 5*time.Second, "the connection's end", isEnd)
			if g.last != last {
				t.Errorf("GOAWAY's last stream %d, want %d", g.last, last)
			}
			if d := g.at.Sub(since); d < idle/2 {
				t.Errorf("GOAWAY %v after the last stream ended, before IdleTimeout %v", d, idle)
			}
		}

		t.Run("no stream", func(t *testing.T) {
			c, _ := setup(t)
			c.get(t, 1, "/small")
			if f := c.expect(t, 5*time.Second, "the response's head", isHeaders(1)); f.status != "200" {
				t.Fatalf("response: %v", f)
			}
			f := c.expect(t, 5*time.Second, "the response's end", func(f rawFrame) bool { return f.stream == 1 && f.ended() })
			goesAway(t, c, f.at, 1)
		})

		t.Run("open event stream", func(t *testing.T) {
			c, b := setup(t)
			c.get(t, 1, "/events?topic=t")
			if f := c.expect(t, 5*time.Second, "the event stream's head", isHeaders(1)); f.status != "200" {
				t.Fatalf("event stream: %v", f)
			}
			c.quiet(t, 3*idle+100*time.Millisecond)
			// Still served: a PING is answered.
			if err := c.wfr.WritePing(false, [8]byte{1, 2, 3}); err != nil || c.flush() != nil {
				t.Fatal("PING not sent")
			}
			c.expect(t, 2*time.Second, "PING ACK", func(f rawFrame) bool {
				return f.typ == http2.FramePing && f.flags.Has(http2.FlagPingAck)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := b.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			f := c.expect(t, 5*time.Second, "the event stream's end", func(f rawFrame) bool { return f.stream == 1 && f.ended() })
			goesAway(t, c, f.at, 1)
		})
	})
}

// TestHandlerPanic: a handler's panic resets its stream (the client's
// request fails with INTERNAL_ERROR), the connection serves the next
// request, and the panic is logged to the http.Server's ErrorLog, but
// for http.ErrAbortHandler.
func TestHandlerPanic(t *testing.T) {
	forModes(t, func(t *testing.T, serve serveFunc) {
		tests := []struct {
			name   string
			value  any
			logged bool
		}{
			{"panic", "boom", true},
			{"ErrAbortHandler", http.ErrAbortHandler, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var logBuf testlog.Buffer
				mux := http.NewServeMux()
				mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic(tt.value) })
				mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
				addr, client := serve(t, mux, nil, func(hs *http.Server) { hs.ErrorLog = log.New(&logBuf, "", 0) })

				var mu sync.Mutex
				var addrs []string
				do := func(path string) (*http.Response, error) {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
						mu.Lock()
						addrs = append(addrs, i.Conn.LocalAddr().String())
						mu.Unlock()
					}})
					req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+path, nil)
					resp, err := client.Do(req)
					if err == nil {
						b, rerr := io.ReadAll(resp.Body)
						resp.Body.Close()
						if rerr != nil {
							return nil, rerr
						}
						resp.Body = io.NopCloser(bytes.NewReader(b))
					}
					return resp, err
				}

				if resp, err := do("/panic"); err == nil {
					t.Fatalf("the request whose handler panicked: %s, want an error", resp.Status)
				} else if !strings.Contains(err.Error(), "INTERNAL_ERROR") {
					t.Errorf("error %v, want a stream reset with INTERNAL_ERROR", err)
				}
				resp, err := do("/ok")
				if err != nil {
					t.Fatalf("the next request: %v", err)
				}
				if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "ok" {
					t.Errorf("the next request: %s %q", resp.Status, b)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(addrs) != 2 || addrs[0] != addrs[1] {
					t.Errorf("connections used %v, want the same one twice", addrs)
				}

				logged := logBuf.String()
				if tt.logged && (!strings.Contains(logged, "panic") || !strings.Contains(logged, "boom")) {
					t.Errorf("ErrorLog has %q, want the panic", logged)
				}
				if !tt.logged && strings.Contains(logged, "panic") {
					t.Errorf("ErrorLog has %q, want nothing for http.ErrAbortHandler", logged)
				}
			})
		}
	})
}

// TestHeadersTooLarge sends a header list over http.Server's
// MaxHeaderBytes (4096), as one large value or as many small fields: the
// stream gets 431, and the connection serves the next request.
func TestHeadersTooLarge(t *testing.T) {
	forModes(t, func(t *testing.T, serve serveFunc) {
		many := make([]hpack.HeaderField, 100)
		for i := range many {
			many[i] = hpack.HeaderField{Name: fmt.Sprintf("x-f-%d", i), Value: strings.Repeat("v", 100)}
		}
		tests := []struct {
			name   string
			fields []hpack.HeaderField
		}{
			{"one 10 KB value", []hpack.HeaderField{{Name: "x-big", Value: strings.Repeat("b", 10<<10)}}},
			{"100 fields of 100 bytes", many},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				mux := http.NewServeMux()
				mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "small") })
				addr, _ := serve(t, mux, nil, func(hs *http.Server) { hs.MaxHeaderBytes = 4096 })
				c := dialRaw(t, addr)
				c.get(t, 1, "/small", tt.fields...)
				f := c.expect(t, 5*time.Second, "an answer on stream 1", func(f rawFrame) bool {
					return f.err != nil || f.typ == http2.FrameGoAway || f.stream == 1 && (f.typ == http2.FrameHeaders || f.typ == http2.FrameRSTStream)
				})
				if f.typ != http2.FrameHeaders || f.status != "431" {
					t.Fatalf("got %v, want HEADERS with :status 431", f)
				}
				c.get(t, 3, "/small")
				if f := c.expect(t, 5*time.Second, "the next response", isHeaders(3)); f.status != "200" {
					t.Errorf("the next request: %v", f)
				}
			})
		}
	})
}

// TestCurl has curl (nghttp2) fetch a page and post 300 KB over HTTP/2.
func TestCurl(t *testing.T) {
	forModes(t, func(t *testing.T, serve serveFunc) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Fatal("curl is missing: apt-get install curl")
		}
		if out, err := exec.Command(curl, "-V").Output(); err != nil || !bytes.Contains(out, []byte("HTTP2")) {
			t.Fatalf("curl lacks HTTP/2 (%v): %s; apt-get install curl (built with nghttp2)", err, out)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<p>hello</p>") })
		mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			w.Write(b)
		})
		addr, _ := serve(t, mux, nil, nil)
		url := "https://" + addr

		big := make([]byte, 300<<10)
		for i := range big {
			big[i] = byte('a' + i%26)
		}
		file := filepath.Join(t.TempDir(), "body")
		if err := os.WriteFile(file, big, 0o600); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			args []string
			want []byte
		}{
			{"GET", []string{url + "/small"}, []byte("<p>hello</p>")},
			{"POST 300 KB", []string{"--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream", url + "/echo"}, big},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				args := append([]string{"-sSk", "--http2", "--max-time", "8", "-w", "\n%{http_code} %{http_version}"}, tt.args...)
				var stderr bytes.Buffer
				cmd := exec.CommandContext(ctx, curl, args...)
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("curl: %v: %s", err, stderr.Bytes())
				}
				i := bytes.LastIndexByte(out, '\n')
				if i < 0 {
					t.Fatalf("curl wrote %q", out)
				}
				body, tail := out[:i], string(out[i+1:])
				if tail != "200 2" {
					t.Errorf("status and HTTP version %q, want \"200 2\"", tail)
				}
				if !bytes.Equal(body, tt.want) {
					t.Errorf("body of %d bytes, want %d bytes (%q...)", len(body), len(tt.want), body[:min(len(body), 40)])
				}
			})
		}
	})
}

// pollers counts the goroutines of h2's epoll sets.
func pollers() int {
	buf := make([]byte, 16<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "ssewasm/server/internal/epoll.(*Set[...]).run(") // only h2 opens sets in these tests
}

// TestNoGoroutineLeftAfterClose closes servers (Close) while the
// clients of their parked connections keep sending: once Wait has
// returned, the server's epoll goroutine must end. (A read loop that
// parks its connection again after a close from elsewhere must not
// start an epoll set for it, nor stay registered in one.)
func TestNoGoroutineLeftAfterClose(t *testing.T) {
	settle(t)
	base := pollers()
	for round := range 40 {
		srv := new(h2.Server)
		addr := startH2(t, srv, &http.Server{Handler: http.NotFoundHandler()})
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 8 {
			c := dialRaw(t, addr)
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Microsecond):
					}
					if c.wfr.WritePing(false, [8]byte{byte(i)}) != nil || c.flush() != nil {
						return
					}
				}
			})
			wg.Go(func() {
				for range c.frames {
				}
			})
		}
		time.Sleep(time.Duration(1+round%7) * time.Millisecond)
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := srv.Wait(ctx)
		cancel()
		close(stop)
		wg.Wait() // the server closed the connections: their readers end
		if err != nil {
			t.Fatalf("round %d: Wait after Close: %v", round, err)
		}
		deadline := time.Now().Add(time.Second)
		for pollers() > base && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := pollers(); n > base {
			t.Fatalf("round %d: %d epoll goroutines left after Close and Wait, want %d", round, n, base)
		}
	}
}
