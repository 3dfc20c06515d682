package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// forwarder is a TCP forwarder between a client and a server that can
// drop every connection at once, as a network failure does, at once or
// after a given number of bytes more have gone to the client (so in the
// middle of an event), and hold new connections until released, so that
// what is published meanwhile can only reach the client by replay. It records the head of the first
// request on each connection (an SSE stream is one request per
// connection), which shows the Last-Event-ID a client resumes with.
type forwarder struct {
	URL      string // http://127.0.0.1:port/
	ln       net.Listener
	upstream string

	mu       sync.Mutex
	conns    map[net.Conn]struct{} // both sides of every open connection
	held     chan struct{}         // closed on release; nil when not holding
	cutAt    time.Time
	budget   int64         // bytes still to forward to clients before a cut; -1: no cut armed
	cutDone  chan struct{} // closed by the cut that cutAfter armed
	requests []forwardedRequest
	wg       sync.WaitGroup // the accept loop and every connection's goroutines
}

// forwardedRequest is the head of a request that came through.
type forwardedRequest struct {
	At          time.Time
	Path        string // with the query
	LastEventID string // the Last-Event-ID header
}

// newForwarder listens on a free loopback port and forwards to upstream
// (host:port) until the test ends.
func newForwarder(t *testing.T, upstream string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{URL: "http://" + ln.Addr().String() + "/", ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}, budget: -1}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		f.wg.Add(1)
		go f.serve(c)
	}
}

// serve reads the request head from c, waits while the forwarder holds,
// then copies both ways until either side ends or cut closes both.
func (f *forwarder) serve(c net.Conn) {
	defer f.wg.Done()
	if !f.track(c) {
		return
	}
	defer f.untrack(c)
	br := bufio.NewReader(c)
	var head bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil || head.Len() > 64<<10 {
			return
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	r := forwardedRequest{At: time.Now()}
	if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head.Bytes()))); err == nil {
		r.Path = req.URL.RequestURI()
		r.LastEventID = req.Header.Get("Last-Event-ID")
	}
	f.mu.Lock()
	f.requests = append(f.requests, r)
	held := f.held
	f.mu.Unlock()
	if held != nil {
		<-held
	}
	up, err := net.Dial("tcp", f.upstream)
	if err != nil {
		return
	}
	if !f.track(up) {
		up.Close()
		return
	}
	defer f.untrack(up)
	if _, err := up.Write(head.Bytes()); err != nil {
		return
	}
	done := make(chan struct{}, 2) // buffered: the second copier never waits
	go func() { io.Copy(up, br); done <- struct{}{} }()
	go func() { f.toClient(c, up); done <- struct{}{} }()
	<-done // one side ended: end the other, and wait for its copier
	c.Close()
	up.Close()
	<-done
}

// toClient copies from the server to the client until either ends, and
// cuts everything when an armed budget runs out.
func (f *forwarder) toClient(c, up net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			m, cut := f.take(n)
			if _, werr := c.Write(buf[:m]); werr != nil {
				return
			}
			if cut {
				f.cut()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// take returns how many of n bytes may go to the client, and whether the
// armed cut is due after them.
func (f *forwarder) take(n int) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.budget < 0 {
		return n, false
	}
	if int64(n) < f.budget {
		f.budget -= int64(n)
		return n, false
	}
	m := int(f.budget)
	f.budget = -1
	return m, true
}

// cutAfter arms a cut after n more bytes have gone to the clients; the
// channel is closed once it happened.
func (f *forwarder) cutAfter(n int64) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.budget = n
	f.cutDone = make(chan struct{})
	return f.cutDone
}

// track registers an open connection; false when the forwarder is closed.
func (f *forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		c.Close()
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *forwarder) untrack(c net.Conn) {
	c.Close()
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// cut closes every open connection and holds new ones until release.
func (f *forwarder) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = make(chan struct{})
	}
	f.cutAt = time.Now()
	for c := range f.conns {
		c.Close()
	}
	if f.cutDone != nil {
		close(f.cutDone)
		f.cutDone = nil
	}
}

// release lets held and new connections through.
func (f *forwarder) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held != nil {
		close(f.held)
		f.held = nil
	}
}

// reconnects returns the requests for path (a prefix) that arrived after
// the last cut, and when the cut was.
func (f *forwarder) reconnects(path string) ([]forwardedRequest, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []forwardedRequest
	for _, r := range f.requests {
		if !f.cutAt.IsZero() && r.At.After(f.cutAt) && strings.HasPrefix(r.Path, path) {
			out = append(out, r)
		}
	}
	return out, f.cutAt
}

// close stops listening, ends every connection and waits for the
// forwarder's goroutines.
func (f *forwarder) close() {
	f.ln.Close()
	f.release()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
