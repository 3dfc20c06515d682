package sse

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSendBufferBounded: a hijacked stream's socket has the send buffer
// Options.SendBuffer asks for, so a reader that reads, slowly, falls
// behind in the broker's queue, where MaxLag evicts it, and not in an
// autotuned kernel buffer of megabytes.
func TestSendBufferBounded(t *testing.T) { run(t, testSendBufferBounded, hijackMode, tlsMode) }

func testSendBufferBounded(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{MaxLag: 64 << 10, SendBuffer: 32 << 10})
	conn, _ := stoppedConn(t, srv, topicsQuery("t"))
	var c *client
	waitFor(t, "the stream to be hijacked", func() bool {
		b.mu.RLock()
		defer b.mu.RUnlock()
		for cl := range b.clients {
			c = cl
		}
		return c != nil && c.hijacked.Load()
	})
	var sndbuf int
	var serr error
	c.t.socket().Control(func(fd uintptr) { sndbuf, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF) })
	if serr != nil || sndbuf != 2*(32<<10) { // Linux doubles what is asked
		t.Errorf("the stream's SO_SNDBUF is %d (%v), want %d", sndbuf, serr, 2*(32<<10))
	}
	// Read 512 bytes every 10 ms (50 KB/s) while events come faster.
	done := make(chan struct{})
	defer close(done)
	go func() {
		buf := make([]byte, 512)
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	data := strings.Repeat("s", 1024)
	published := 0
	for b.Stats().Evicted == 0 && published < 4<<20 {
		publish(t, b, "t", data)
		published += len(data)
	}
	if b.Stats().Evicted != 1 {
		t.Fatalf("a reader of 50 KB/s not evicted after %d KB published", published>>10)
	}
	// MaxLag twice over, the send and receive buffers, and what the
	// reader took meanwhile: well under a megabyte.
	if published > 1<<20 {
		t.Errorf("evicted only after %d KB published, over a reader taking 50 KB/s", published>>10)
	}
	t.Logf("evicted after %d KB published", published>>10)
}
