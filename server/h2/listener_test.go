package h2_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testcert"
	"github.com/ssewasm/ssewasm/server/h2"
)

// refusals counts a Listener's refusals by reason.
type refusals [3]atomic.Uint64

func (r *refusals) add(reason h2.Refusal)          { r[reason].Add(1) }
func (r *refusals) count(reason h2.Refusal) uint64 { return r[reason].Load() }

// newTestListener listens on a free port and handshakes with a
// self-signed certificate, offering h2 and HTTP/1.1, at most max at
// once, each within timeout; it serves no HTTP/2 itself (no Server).
func newTestListener(t *testing.T, max int, timeout time.Duration, ref *refusals) *h2.Listener {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := h2.NewListener(tcp, h2.ListenerConfig{
		TLSConfig:        &tls.Config{Certificates: []tls.Certificate{testcert.Certificate(t)}, NextProtos: []string{"h2", "http/1.1"}},
		MaxHandshakes:    max,
		HandshakeTimeout: timeout,
		OnRefuse:         ref.add,
	})
	t.Cleanup(func() { l.Close() })
	return l
}

// accepted returns the connections l's Accept returns, until it fails.
func accepted(l net.Listener) <-chan net.Conn {
	out := make(chan net.Conn, 16)
	go func() {
		defer close(out)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			out <- c
		}
	}()
	return out
}

// TestListener: Accept returns connections already handshaken, with the
// protocol ALPN chose; silent clients neither block Accept nor stay past
// the timeout; over the bound a connection is closed at once; both are
// reported; plain HTTP gets a 400 that says why.
func TestListener(t *testing.T) {
	dialTLS := func(t *testing.T, addr string, protos ...string) *tls.Conn {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: protos})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dialSilent := func(t *testing.T, addr string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedWithin fails unless the server closes c within d.
	closedWithin := func(t *testing.T, c net.Conn, d time.Duration) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(d))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("the server did not close the connection within %v: %v", d, err)
		}
	}
	next := func(t *testing.T, conns <-chan net.Conn) *tls.Conn {
		t.Helper()
		select {
		case c := <-conns:
			tc, ok := c.(*tls.Conn)
			if !ok {
				t.Fatalf("Accept returned a %T, want a *tls.Conn (http.Server speaks HTTP/2 only on those)", c)
			}
			if !tc.ConnectionState().HandshakeComplete {
				t.Fatal("Accept returned a connection whose handshake is not done")
			}
			return tc
		case <-time.After(5 * time.Second):
			t.Fatal("Accept returned no connection within 5s")
			return nil
		}
	}

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, l *h2.Listener, ref *refusals)
	}{
		{"alpn", func(t *testing.T, l *h2.Listener, _ *refusals) {
			conns := accepted(l)
			for _, proto := range []string{"h2", "http/1.1"} {
				dialTLS(t, l.Addr().String(), proto)
				if got := next(t, conns).ConnectionState().NegotiatedProtocol; got != proto {
					t.Errorf("negotiated %q, want %q", got, proto)
				}
			}
		}},
		{"silent clients do not hold up others, and are cut", func(t *testing.T, l *h2.Listener, ref *refusals) {
			conns := accepted(l)
			silent := dialSilent(t, l.Addr().String())
			dialTLS(t, l.Addr().String(), "h2")
			next(t, conns)
			closedWithin(t, silent, 5*time.Second)
			if n := ref.count(h2.RefusedTimeout); n != 1 {
				t.Errorf("%v counted %d, want 1", h2.RefusedTimeout, n)
			}
		}},
		{"over the bound", func(t *testing.T, l *h2.Listener, ref *refusals) {
			conns := accepted(l)
			var silent []net.Conn
			for range 2 { // the bound: both wait in their handshakes
				silent = append(silent, dialSilent(t, l.Addr().String()))
			}
			over := dialSilent(t, l.Addr().String())
			closedWithin(t, over, time.Second) // long before the timeout
			if n := ref.count(h2.RefusedBusy); n != 1 {
				t.Errorf("%v counted %d, want 1", h2.RefusedBusy, n)
			}
			for _, c := range silent { // their slots free up: a client gets through again
				c.Close()
			}
			deadline := time.Now().Add(5 * time.Second)
			for h2.HandshakesInProgress(l) > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			dialTLS(t, l.Addr().String(), "h2")
			next(t, conns)
		}},
		{"plain HTTP", func(t *testing.T, l *h2.Listener, _ *refusals) {
			c := dialSilent(t, l.Addr().String())
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
				t.Errorf("got %s %q, want 400 saying the server speaks HTTPS", resp.Status, body)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := new(refusals)
			l := newTestListener(t, 2, time.Second, ref)
			tc.run(t, l, ref)
		})
	}
}

// Close ends the handshakes in progress and returns only when their
// goroutines have (goleak checks the package's goroutines at the end).
func TestListenerClose(t *testing.T) {
	l := newTestListener(t, 4, time.Hour, new(refusals))
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for h2.HandshakesInProgress(l) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h2.HandshakesInProgress(l); n != 1 {
		t.Fatalf("%d handshakes in progress, want 1", n)
	}
	l.Close()
	if n := h2.HandshakesInProgress(l); n != 0 {
		t.Errorf("%d handshakes in progress after Close, want 0", n)
	}
	if _, err := l.Accept(); err == nil {
		t.Error("Accept after Close succeeded")
	}
}
