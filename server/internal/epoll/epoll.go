// Package epoll watches sockets for readiness with one goroutine per
// set, so that an idle connection needs no goroutine of its own to
// notice its client: the broker's watcher of hijacked streams (a client
// that hung up) and the HTTP/2 server's parked read loops (a client that
// sent bytes) are sets of this package.
//
// A Set holds values of one type, each keyed by a number its owner
// chooses (not 0) and tied to one socket; its goroutine calls the
// function given to Open with the value of each socket that becomes
// ready:
//
//	set, err := epoll.Open(log, func(c *conn, err error) {
//		if err != nil {
//			go c.close(err) // the set failed: see below
//			return
//		}
//		go c.readReady()
//	})
//	...
//	err = set.Add(c.id, raw, epoll.Readable|epoll.PeerHangUp|epoll.OneShot, c) // and again, to re-arm, after each event
//	...
//	set.Remove(c.id, raw) // before the socket closes
//	set.Close()           // once no socket is left
//
// Errors are never silent. epoll_wait fails only for EINTR (a signal:
// the set waits again) or for a fault that waiting again would repeat
// (EBADF, EFAULT, EINVAL). On such a fault the set logs it, counts it
// (Errors, for a process's metrics), calls the function once with every
// value still in the set and the error, so that their owners close them
// rather than wait forever for an event that will not come, and closes:
// Add then returns ErrClosed, and the owner opens a new set or does
// without one.
//
// A set's goroutine waits through Go's netpoller (the set's descriptor
// is readable while events wait), not blocked in epoll_wait: a goroutine
// in a blocking system call holds its P, and with GOMAXPROCS=1 every
// other goroutine would wait until the runtime took it back.
//
// Only Linux has epoll: elsewhere Open fails, and an owner keeps a
// goroutine per connection instead.
package epoll

import (
	"errors"
	"sync/atomic"
)

// Events says what to wait for (the flags of epoll_ctl).
type Events uint32

// The events a socket is added with. They have Linux's values.
const (
	// Readable: bytes have arrived (EPOLLIN).
	Readable Events = 0x1
	// PeerHangUp: the peer closed the connection or shut down its
	// writing (EPOLLRDHUP). A hang-up or an error of the socket is
	// always reported, whatever the events.
	PeerHangUp Events = 0x2000
	// OneShot: report one event, then nothing until Add re-arms the
	// socket (EPOLLONESHOT).
	OneShot Events = 1 << 30
	// EdgeTriggered: report a change once, not for as long as the
	// socket is ready (EPOLLET).
	EdgeTriggered Events = 1 << 31
)

// ErrClosed is returned by Add on a set that is closed or has failed.
var ErrClosed = errors.New("epoll: the set is closed: open a new one")

// waitErrors counts the failures of epoll_wait in the process.
var waitErrors atomic.Uint64

// Errors returns how many times waiting for events failed, in every set
// of the process since it started (EINTR aside): each failure failed
// its set and every socket in it.
func Errors() uint64 { return waitErrors.Load() }
