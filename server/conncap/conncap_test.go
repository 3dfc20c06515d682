package conncap

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestForFDLimit(t *testing.T) {
	for _, tt := range []struct{ limit, want int }{
		{256, 192},        // a headroom of at least 64
		{1024, 922},       // a tenth, 102
		{1 << 20, 943719}, // a tenth
		{65, 1},           // at least 1
		{0, 0},            // unknown: no cap
		{-1, 0},           // unknown: no cap
		{640, 576},        // a tenth is 64 exactly
		{1 << 30, 1<<30 - (1<<30)/10},
	} {
		if got := ForFDLimit(tt.limit); got != tt.want {
			t.Errorf("ForFDLimit(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

// serve accepts from l until it fails, sending each connection on conns.
func serve(l net.Listener) (conns chan net.Conn, done chan error) {
	conns, done = make(chan net.Conn, 16), make(chan error, 1) // buffered: the test reads them when it likes
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				done <- err
				return
			}
			conns <- c
		}
	}()
	return conns, done
}

// closedByPeer reports whether the server closed c without a word.
func closedByPeer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil
}

func TestListener(t *testing.T) {
	for _, tt := range []struct {
		name     string
		max      int
		dials    int
		accepted int
	}{
		{"under the cap", 3, 2, 2},
		{"at the cap", 2, 2, 2},
		{"over the cap: closed at once", 2, 5, 2},
		{"no cap", 0, 5, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tcp, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var refused atomic.Int32
			l := New(tcp, tt.max, func() { refused.Add(1) })
			conns, done := serve(l)
			defer func() {
				l.Close()
				<-done
			}()
			var clients []net.Conn
			for range tt.dials {
				c, err := net.Dial("tcp", tcp.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				clients = append(clients, c)
			}
			var served []net.Conn
			for range tt.accepted {
				select {
				case c := <-conns:
					defer c.Close()
					served = append(served, c)
				case <-time.After(5 * time.Second):
					t.Fatalf("%d connections accepted, want %d", len(served), tt.accepted)
				}
			}
			// The first clients are served (the server's byte reaches
			// them: accepted in the order they connected), the others
			// closed.
			for _, c := range served {
				c.Write([]byte{1})
			}
			for i, c := range clients {
				if got, want := closedByPeer(t, c), i >= tt.accepted; got != want {
					t.Errorf("client %d closed by the server: %v, want %v", i, got, want)
				}
			}
			if got, want := int(refused.Load()), tt.dials-tt.accepted; got != want {
				t.Errorf("refused %d, want %d", got, want)
			}
			if l.Open() != tt.accepted {
				t.Errorf("Open() = %d, want %d", l.Open(), tt.accepted)
			}
			// Each accepted connection unwraps to the socket, and frees
			// its place once, however often it is closed.
			for _, c := range served {
				if _, ok := c.(interface{ NetConn() net.Conn }).NetConn().(*net.TCPConn); !ok {
					t.Errorf("NetConn() of %T is not the TCP connection", c)
				}
				c.Close()
				c.Close()
			}
			if l.Open() != 0 {
				t.Errorf("after closing every connection Open() = %d, want 0", l.Open())
			}
			// The places are free again.
			dialAccepted(t, tcp.Addr().String(), conns).Close()
		})
	}
}

// TestAcceptError: the listener's error ends Accept.
func TestAcceptError(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(tcp, 1, nil)
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
	var _ io.Closer = l
}

// TestDetach: a connection whose socket was taken over keeps its place
// until the taker releases it, once; its own Close no longer frees it,
// and a closed connection has nothing to hand over.
func TestDetach(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(tcp, 2, nil)
	conns, done := serve(l)
	defer func() {
		l.Close()
		<-done
	}()
	var served []net.Conn
	for range 2 {
		s := dialAccepted(t, tcp.Addr().String(), conns)
		defer s.Close()
		served = append(served, s)
	}
	type detacher interface{ Detach() func() }
	release := served[0].(detacher).Detach()
	if release == nil {
		t.Fatal("Detach of an open connection returned no release")
	}
	served[0].Close()
	if l.Open() != 2 {
		t.Errorf("after Close of a detached connection Open() = %d, want 2: the taker holds its place", l.Open())
	}
	release()
	release()
	if l.Open() != 1 {
		t.Errorf("after release (twice) Open() = %d, want 1", l.Open())
	}
	served[1].Close()
	if r := served[1].(detacher).Detach(); r != nil {
		t.Error("Detach of a closed connection returned a release")
	}
	if l.Open() != 0 {
		t.Errorf("Open() = %d, want 0", l.Open())
	}
}

// dialAccepted connects to addr and returns the connection the server
// accepted, from conns; the client's end closes with the test.
func dialAccepted(t *testing.T, addr string, conns chan net.Conn) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case s := <-conns:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("a connection was not accepted")
		return nil
	}
}
