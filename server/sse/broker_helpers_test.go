package sse

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/h2"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// testMode is how a test reaches the broker: every broker test runs in
// each mode (see run), as net/http runs its tests under HTTP/1 and
// HTTP/2, so that each path is exercised over real sockets.
type testMode string

const (
	hijackMode testMode = "hijack" // HTTP/1.1, the connection taken over (Linux; elsewhere as http1Mode)
	http1Mode  testMode = "http1"  // HTTP/1.1 through the ResponseWriter
	http2Mode  testMode = "h2"     // HTTP/2 over TLS, through the ResponseWriter
	tlsMode    testMode = "tls"    // HTTP/1.1 over TLS (TLSListener), the connection taken over (Linux)
	h2detMode  testMode = "h2det"  // HTTP/2 over TLS served by package h2, the stream detached from its handler
)

var (
	allModes   = []testMode{hijackMode, http1Mode, http2Mode, tlsMode, h2detMode}
	http1Modes = []testMode{hijackMode, http1Mode, tlsMode} // for tests that speak HTTP/1.1 on raw connections (stoppedConn)
)

// run runs f as a subtest in each of modes, all of them if none given.
func run(t *testing.T, f func(*testing.T, testMode), modes ...testMode) {
	t.Helper()
	if len(modes) == 0 {
		modes = allModes
	}
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) { f(t, m) })
	}
}

// newTestBroker returns a broker serving on a real httptest server in
// mode; both stop when the test ends (broker first, as a server binary
// must).
func newTestBroker(t testing.TB, mode testMode, opts Options) (*Broker, *httptest.Server) {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(mode, b, nil)
	t.Cleanup(func() { stopBoth(t, b, srv) })
	return b, srv
}

// stopBoth shuts b down, then srv, as a server binary must: srv's Close
// waits for the streams that b's Shutdown ends.
func stopBoth(t testing.TB, b *Broker, srv *httptest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	srv.Close()
}

// startServer serves b in mode; wrap, if not nil, wraps the listener.
// srv.Client() speaks the mode's protocol.
func startServer(mode testMode, b *Broker, wrap func(net.Listener) net.Listener) *httptest.Server {
	b.ordinary = mode != hijackMode && mode != tlsMode && mode != h2detMode
	srv := httptest.NewUnstartedServer(b)
	srv.Config.ConnContext = ConnContext // streams on the ordinary path look at their sockets (stoppedreader.go)
	if wrap != nil {
		srv.Listener = wrap(srv.Listener)
	}
	switch mode {
	case http2Mode:
		srv.EnableHTTP2 = true
		srv.StartTLS()
	case h2detMode:
		srv.EnableHTTP2 = true
		also := new(func())
		srv.Listener = closeAlso{srv.Listener, also} // set before the server starts: its goroutine reads the field
		srv.StartTLS()                               // for its certificate and client; startH2 serves
		*also = startH2(srv, b, wrap)
	case tlsMode:
		srv.Listener = TLSListener(srv.Listener) // under the TLS layer StartTLS adds
		srv.StartTLS()
	default:
		srv.Start()
	}
	return srv
}

// startH2 serves h with package h2 as the server binary does: an
// h2.Listener (wrap, if not nil, wraps its TCP listener) does the
// handshakes, offering h2 only, and hands each connection to
// h2.Server.Start. srv keeps its certificate and client, and its URL and
// Close move to the new listener: it returns what srv's Close must also
// do.
func startH2(srv *httptest.Server, h http.Handler, wrap func(net.Listener) net.Listener) func() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	cfg := srv.TLS.Clone()
	cfg.NextProtos = []string{"h2"}
	hs := &http.Server{Handler: h, ConnContext: ConnContext}
	h2s := new(h2.Server)
	l := h2.NewListener(ln, h2.ListenerConfig{TLSConfig: cfg, Server: h2s, HTTPServer: hs})
	served := make(chan struct{})
	go func() {
		defer close(served)
		hs.Serve(l)
	}()
	srv.URL = "https://" + ln.Addr().String()
	return func() {
		hs.Close()
		<-served
		h2s.Close()
	}
}

// closeAlso is a listener whose Close runs *also, if set.
type closeAlso struct {
	net.Listener
	also *func()
}

func (l closeAlso) Close() error {
	if f := *l.also; f != nil {
		f()
	}
	return l.Listener.Close()
}

// item is what a test client reads: an event, or a comment (Comment set).
type item struct {
	Event
	Comment string
	IsComm  bool
}

// testClient reads one stream in a goroutine that ends with the body.
type testClient struct {
	t      testing.TB
	resp   *http.Response
	items  chan item // buffered: the reader runs ahead of the test
	done   chan struct{}
	err    error // after done: why the stream ended
	cancel context.CancelFunc
}

// connect opens a stream; query is added to the URL, header to the
// request. It fails the test unless the answer is 200.
func connect(t testing.TB, srv *httptest.Server, query string, header http.Header) *testClient {
	t.Helper()
	c, status := tryConnect(t, srv, query, header)
	if status != http.StatusOK {
		t.Fatalf("GET ?%s: status %d", query, status)
	}
	return c
}

func tryConnect(t testing.TB, srv *httptest.Server, query string, header http.Header) (*testClient, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	c := &testClient{t: t, resp: resp, items: make(chan item, 100000), done: make(chan struct{}), cancel: cancel}
	d := NewDecoder(bufio.NewReader(resp.Body))
	d.OnComment = func(text string) { c.items <- item{Comment: text, IsComm: true} }
	go func() {
		defer close(c.done)
		for {
			e, err := d.Next()
			if err != nil {
				c.err = err
				return
			}
			c.items <- item{Event: e}
		}
	}()
	t.Cleanup(c.Close)
	return c, resp.StatusCode
}

// Close ends the stream and waits for the reader.
func (c *testClient) Close() {
	c.cancel()
	c.resp.Body.Close()
	<-c.done
}

// next returns the next item, failing the test after wait.
func (c *testClient) next() item {
	c.t.Helper()
	select {
	case it := <-c.items:
		return it
	case <-time.After(wait):
		c.t.Fatal("no event within", wait)
		return item{}
	}
}

// nextEvent skips comments and heartbeat events.
func (c *testClient) nextEvent() Event {
	c.t.Helper()
	for {
		it := c.next()
		if !it.IsComm && it.Event.Name != protocol.HeartbeatEvent {
			return it.Event
		}
	}
}

// events reads n events, skipping heartbeats.
func (c *testClient) events(n int) []Event {
	c.t.Helper()
	out := make([]Event, n)
	for i := range out {
		out[i] = c.nextEvent()
	}
	return out
}

// expectNothing checks that no event arrives within d.
func (c *testClient) expectNothing(d time.Duration) {
	c.t.Helper()
	select {
	case it := <-c.items:
		if !it.IsComm && it.Event.Name != protocol.HeartbeatEvent {
			c.t.Fatalf("unexpected event %+v", it)
		}
	case <-time.After(d):
	}
}

// waitEnd waits until the server ends the stream.
func (c *testClient) waitEnd() {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(wait):
		c.t.Fatal("stream still open")
	}
}

func topicsQuery(topics ...string) string {
	v := url.Values{}
	for _, t := range topics {
		v.Add(protocol.TopicParam, t)
	}
	return v.Encode()
}

func publish(t testing.TB, b *Broker, topic, data string) string {
	t.Helper()
	id, err := b.Publish(context.Background(), topic, Event{Name: "msg", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitFor polls cond until it holds, failing the test after wait.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// seqOf returns the seq of an ID, failing the test if it is malformed.
func seqOf(t testing.TB, id string) uint64 {
	t.Helper()
	_, seq, err := protocol.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func datas(es []Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Data
	}
	return out
}

// fakeClock is a settable clock for MemoryOptions.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Each mode reaches the path it names: the protocol, and whether the
// connection was taken over (a hijacked stream's body ends with the
// connection; the others are chunked on HTTP/1.1, framed on HTTP/2).
func TestModes(t *testing.T) {
	run(t, func(t *testing.T, mode testMode) {
		b, srv := newTestBroker(t, mode, Options{})
		c := connect(t, srv, "", nil)
		wantMajor, wantHijacked := 1, (mode == hijackMode || mode == tlsMode) && canHijack
		if mode == http2Mode || mode == h2detMode {
			wantMajor = 2
		}
		wantTLS := mode == http2Mode || mode == tlsMode || mode == h2detMode
		if c.resp.ProtoMajor != wantMajor || (c.resp.TLS != nil) != wantTLS {
			t.Errorf("%s over TLS %v, want HTTP/%d", c.resp.Proto, c.resp.TLS != nil, wantMajor)
		}
		if hijacked := c.resp.Close && c.resp.ContentLength == -1 && len(c.resp.TransferEncoding) == 0 && c.resp.ProtoMajor == 1; hijacked != wantHijacked {
			t.Errorf("hijacked %v, want %v", hijacked, wantHijacked)
		}
		publish(t, b, "", "x")
		if e := c.nextEvent(); e.Data != "x" {
			t.Errorf("got %+v", e)
		}
		b.mu.RLock()
		for cl := range b.clients {
			_, det := cl.t.(*detachedStream)
			if detached := det && cl.hijacked.Load(); detached != (mode == h2detMode) {
				t.Errorf("detached %v, want %v", detached, mode == h2detMode)
			}
		}
		b.mu.RUnlock()
	})
}
