package sse

import (
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// canHijack: the writers and the epoll watcher of hijack.go run on Linux.
const canHijack = true

// rawWriter does non-blocking writes for one writer goroutine. Its
// function value is made once, so a write does not allocate.
type rawWriter struct {
	bufs  net.Buffers // the batch being built, reused
	chunk []byte      // a TLS stream's batch, copied (tlsconn.go)
	one   net.Buffers // writeOne's

	rest net.Buffers // what fn has still to write
	iov  []syscall.Iovec
	err  error
	fn   func(fd uintptr) bool
}

// iovMax is the most buffers one writev takes (IOV_MAX on Linux).
const iovMax = 1024

// write writes as much of bufs as the socket takes now, with writev and
// without waiting, and returns what it could not write (nil when all
// went); an error means the connection is dead. The frames of bufs are
// not modified; the slice is.
func (w *rawWriter) write(rc syscall.RawConn, bufs net.Buffers) (net.Buffers, error) {
	if w.fn == nil {
		w.fn = func(fd uintptr) bool {
			for len(w.rest) > 0 {
				w.iov = w.iov[:0]
				for _, p := range w.rest[:min(len(w.rest), iovMax)] {
					if len(p) > 0 {
						v := syscall.Iovec{Base: &p[0]}
						v.SetLen(len(p))
						w.iov = append(w.iov, v)
					}
				}
				if len(w.iov) == 0 {
					w.rest = nil
					break
				}
				n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
				switch {
				case errno == syscall.EINTR:
					continue
				case errno == syscall.EAGAIN:
					return true // full: the caller finishes in a blocking write
				case errno != 0:
					w.err = errno
					return true
				}
				w.rest = consume(w.rest, int(n))
			}
			return true
		}
	}
	w.rest, w.err = bufs, nil
	err := rc.Write(w.fn)
	rest := w.rest
	if err == nil {
		err = w.err
	}
	clear(w.iov) // do not keep the frames alive
	w.rest, w.err = nil, nil
	return rest, err
}

// writeOne is write for one buffer: it returns the part of p the socket
// did not take.
func (w *rawWriter) writeOne(rc syscall.RawConn, p []byte) ([]byte, error) {
	w.one = append(w.one[:0], p)
	rest, err := w.write(rc, w.one)
	var r []byte
	if len(rest) > 0 {
		r = rest[0]
	}
	clear(w.one)
	return r, err
}

// consume drops the first n bytes of bufs.
func consume(bufs net.Buffers, n int) net.Buffers {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}

// watcher finds clients that closed their connection: one epoll set,
// edge-triggered on hang-up only (not on readable data, so a client
// that sends bytes costs nothing), read by one goroutine.
type watcher struct {
	b    *Broker
	epfd int
	wake [2]int // a pipe in the set: close wakes run

	mu     sync.Mutex
	byID   map[uint64]*client // guarded by mu
	closed bool               // guarded by mu
}

func newWatcher(b *Broker) (*watcher, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &watcher{b: b, epfd: epfd, byID: make(map[uint64]*client)}
	if err := syscall.Pipe2(w.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	setKey(&ev, 0) // client IDs start at 1
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, w.wake[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(w.wake[0])
		syscall.Close(w.wake[1])
		return nil, err
	}
	return w, nil
}

func setKey(ev *syscall.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func key(ev *syscall.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }

// add watches c's connection.
func (w *watcher) add(c *client) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	var err error
	cerr := c.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | epollET}
		setKey(&ev, c.info.ID)
		err = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if cerr == nil && err == nil {
		w.byID[c.info.ID] = c
	}
}

// remove stops watching c, before its connection closes.
func (w *watcher) remove(c *client) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.byID[c.info.ID]; !ok {
		return
	}
	delete(w.byID, c.info.ID)
	c.raw.Control(func(fd uintptr) { //nolint:errcheck // closing the fd removes it anyway
		syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// run reads hang-ups until close.
func (w *watcher) run() {
	defer func() {
		syscall.Close(w.epfd)
		syscall.Close(w.wake[0])
	}()
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(w.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			w.b.opts.Logger.Warn("sse: epoll watcher stopped: dead clients are found by writes only", "err", err)
			return
		}
		w.mu.Lock()
		for i := range events[:n] {
			id := key(&events[i])
			if id == 0 {
				w.mu.Unlock()
				return // closed
			}
			if c := w.byID[id]; c != nil {
				delete(w.byID, id)
				c.end(errClientGone, 0)
			}
		}
		w.mu.Unlock()
	}
}

// close ends run.
func (w *watcher) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	syscall.Close(w.wake[1]) // the read end hangs up: run wakes
}

// epollET is EPOLLET as the uint32 of EpollEvent.Events (the constant is
// negative in package syscall).
const epollET = 1 << 31

// setSendBuffer bounds the socket's send buffer to n bytes (the kernel
// doubles it), which turns its autotuning off: see Options.SendBuffer.
func setSendBuffer(rc syscall.RawConn, n int) {
	rc.Control(func(fd uintptr) { //nolint:errcheck // a closed socket fails its writes anyway
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, n) //nolint:errcheck // best effort: the stream works unbounded
	})
}
