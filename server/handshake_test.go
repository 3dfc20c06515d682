package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// newTestHandshakeListener listens on a free port and handshakes with
// a self-signed certificate, at most max at once, each within timeout.
func newTestHandshakeListener(t *testing.T, max int, timeout time.Duration, ref *refusals) *handshakeListener {
	t.Helper()
	cert, key := selfSigned(t, t.TempDir())
	tlsCfg, err := serverTLSConfig(config{tlsCert: cert, tlsKey: key, tlsHTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newHandshakeListener(tcp, tlsCfg, max, timeout, ref, quiet)
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

// TestHandshakeListener: Accept returns connections already handshaken,
// with the protocol ALPN chose; silent clients neither block Accept nor
// stay past the timeout; over the bound a connection is closed at once;
// both are counted; plain HTTP gets a 400 that says why.
func TestHandshakeListener(t *testing.T) {
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
		run  func(t *testing.T, l *handshakeListener, ref *refusals)
	}{
		{"alpn", func(t *testing.T, l *handshakeListener, _ *refusals) {
			conns := accepted(l)
			for _, proto := range []string{"h2", "http/1.1"} {
				dialTLS(t, l.Addr().String(), proto)
				if got := next(t, conns).ConnectionState().NegotiatedProtocol; got != proto {
					t.Errorf("negotiated %q, want %q", got, proto)
				}
			}
		}},
		{"silent clients do not hold up others, and are cut", func(t *testing.T, l *handshakeListener, ref *refusals) {
			conns := accepted(l)
			silent := dialSilent(t, l.Addr().String())
			dialTLS(t, l.Addr().String(), "h2")
			next(t, conns)
			closedWithin(t, silent, 5*time.Second)
			if n := ref.count(refusedTLSTimeout); n != 1 {
				t.Errorf("%s counted %d, want 1", refusedTLSTimeout, n)
			}
		}},
		{"over the bound", func(t *testing.T, l *handshakeListener, ref *refusals) {
			conns := accepted(l)
			var silent []net.Conn
			for range 2 { // the bound: both wait in their handshakes
				silent = append(silent, dialSilent(t, l.Addr().String()))
			}
			over := dialSilent(t, l.Addr().String())
			closedWithin(t, over, time.Second) // long before the timeout
			if n := ref.count(refusedTLSBusy); n != 1 {
				t.Errorf("%s counted %d, want 1", refusedTLSBusy, n)
			}
			for _, c := range silent { // their slots free up: a client gets through again
				c.Close()
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(l.slots) > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			dialTLS(t, l.Addr().String(), "h2")
			next(t, conns)
		}},
		{"plain HTTP", func(t *testing.T, l *handshakeListener, _ *refusals) {
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
			ref := newRefusals()
			l := newTestHandshakeListener(t, 2, time.Second, ref)
			tc.run(t, l, ref)
		})
	}
}

// Close ends the handshakes in progress and returns only when their
// goroutines have (goleak checks the package's goroutines at the end).
func TestHandshakeListenerClose(t *testing.T) {
	l := newTestHandshakeListener(t, 4, time.Hour, newRefusals())
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(l.slots) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(l.slots) != 1 {
		t.Fatalf("%d handshakes in progress, want 1", len(l.slots))
	}
	l.Close()
	if len(l.slots) != 0 {
		t.Errorf("%d handshakes in progress after Close, want 0", len(l.slots))
	}
	if _, err := l.Accept(); err == nil {
		t.Error("Accept after Close succeeded")
	}
}

// The real server over TLS: clients that connect and never handshake do
// not hold up others, and the handshake refusals are in /metrics.
func TestTLSSilentClients(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	url, stop := startRun(t, "-tls-cert", cert, "-tls-key", key)
	defer stop()
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/")
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := client.Get(url + "metrics")
	if err != nil {
		t.Fatalf("with 50 silent connections open: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("served over %s, want HTTP/2", resp.Proto)
	}
	for _, reason := range []string{refusedTLSBusy, refusedTLSTimeout} {
		if line := `ssewasm_refused_total{reason="` + reason + `"} 0`; !strings.Contains(string(body), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// -max-conns over TLS: connections still handshaking count under the
// cap (it sits under the handshake listener), a connection over it is
// closed at once and counted, and the slots free up when clients leave.
func TestTLSConnCap(t *testing.T) {
	const max = 3
	cert, key := selfSigned(t, t.TempDir())
	cfg := defaults(t, "-tls-cert", cert, "-tls-key", key, "-max-conns", fmt.Sprint(max))
	svc, addr := serveService(t, cfg)

	var silent []net.Conn
	for range max { // handshakes that never start: they fill the cap
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	over, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		over.Close()
		t.Fatal("a handshake over -max-conns succeeded")
	}
	if n := svc.refused.count(refusedConnCap); n != 1 {
		t.Errorf("%s counted %d, want 1", refusedConnCap, n)
	}
	for _, c := range silent {
		c.Close()
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Errorf("served over %s, want HTTP/2", resp.Proto)
			}
			break
		}
		if time.Now().After(deadline) { // the silent ones' slots are freed once their handshakes see EOF
			t.Fatalf("no request got through within 5s of the silent clients leaving: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
