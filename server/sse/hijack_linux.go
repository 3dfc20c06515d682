package sse

import (
	"sync"
	"syscall"
)

// canHijack: the writers and the epoll watcher of hijack.go run on Linux.
const canHijack = true

// rawWriter does non-blocking writes for one writer goroutine. Its
// function value is made once, so a write does not allocate.
type rawWriter struct {
	buf []byte // the batch being built, reused

	p   []byte // what fn writes
	n   int
	err error
	fn  func(fd uintptr) bool
}

// write writes as much of p as the socket takes now, without waiting,
// and returns how much it wrote; an error means the connection is dead.
func (w *rawWriter) write(rc syscall.RawConn, p []byte) (int, error) {
	if w.fn == nil {
		w.fn = func(fd uintptr) bool {
			for len(w.p) > 0 {
				n, err := syscall.Write(int(fd), w.p)
				switch {
				case err == syscall.EINTR:
					continue
				case err == syscall.EAGAIN:
					return true // full: the caller finishes in a blocking write
				case err != nil:
					w.err = err
					return true
				}
				w.n += n
				w.p = w.p[n:]
			}
			return true
		}
	}
	w.p, w.n, w.err = p, 0, nil
	err := rc.Write(w.fn)
	n := w.n
	if err == nil {
		err = w.err
	}
	w.p, w.err = nil, nil
	return n, err
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
