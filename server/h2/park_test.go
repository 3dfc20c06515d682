package h2_test

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/ssewasm/ssewasm/server/h2"
	"github.com/ssewasm/ssewasm/server/internal/epoll"
)

// If the epoll set of the parked connections fails, each of them closes
// rather than wait for an event that will not come (its client
// reconnects), the failure is counted, and the next connection parks in
// a new set.
func TestParkedSetFails(t *testing.T) {
	if !h2.CanPark {
		t.Skip("connections park on Linux only")
	}
	settle(t)
	base := pollers()
	srv := new(h2.Server)
	addr := startH2(t, srv, &http.Server{Handler: http.NotFoundHandler()})
	c := dialRaw(t, addr)
	c.expect(t, 5*time.Second, "the server's SETTINGS", func(f rawFrame) bool { return f.typ == http2.FrameSettings })
	waitFor(t, 5*time.Second, "the connection parked", func() bool { return pollers() == base+1 })

	errs := epoll.Errors()
	h2.FailParked(srv, syscall.EBADF)
	c.expect(t, 5*time.Second, "the end of the connection", func(f rawFrame) bool { return f.err != nil })
	if n := epoll.Errors() - errs; n != 1 {
		t.Errorf("epoll.Errors counted %d failures, want 1", n)
	}

	d := dialRaw(t, addr)
	d.get(t, 1, "/")
	d.expect(t, 5*time.Second, "a 404", func(f rawFrame) bool { return f.typ == http2.FrameHeaders && f.status == "404" })
	waitFor(t, 5*time.Second, "a new set, for the new connection", func() bool { return pollers() == base+1 })
	d.get(t, 3, "/") // read by the new set's goroutine
	d.expect(t, 5*time.Second, "a second 404", func(f rawFrame) bool { return f.typ == http2.FrameHeaders && f.stream == 3 })
}
