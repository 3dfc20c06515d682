package h2

import (
	"net"
	"sync"
	"syscall"
)

// Parked read loops (Linux). A connection's read loop runs only while
// the client has sent bytes: between, the socket is in one epoll set per
// Server (one-shot, readable or hung up), and the connection holds no
// goroutine. A readable socket starts a goroutine that reads and answers
// what has arrived, then parks the connection again. The set's goroutine
// runs while some connection is parked, and ends with the last.

const canPark = true

type poller struct {
	mu     sync.Mutex // guards conns and nextID; taken under Server.pmu
	epfd   int
	wake   [2]int
	conns  map[uint64]*conn
	nextID uint64
	done   chan struct{} // closed when run has returned
}

// socketOf returns the raw socket under nc (through the TLS layer and
// listener wrappers that expose NetConn), or nil.
func socketOf(nc net.Conn) syscall.RawConn {
	for {
		if sc, ok := nc.(syscall.Conn); ok {
			raw, err := sc.SyscallConn()
			if err != nil {
				return nil
			}
			return raw
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = u.NetConn()
	}
}

// park registers c (first call) or re-arms it: c.readReady runs on a
// goroutine of its own once the socket is readable or hung up. It
// reports false if it could not: the caller then reads blocking.
func (s *Server) park(c *conn) bool {
	// All of it under pmu, as unpark: a connection that closed
	// meanwhile (its close unparks it) is not parked again, and no
	// poller is made for it.
	s.pmu.Lock()
	defer s.pmu.Unlock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return false
	}
	p := s.poll
	if p == nil {
		var err error
		if p, err = newPoller(); err != nil {
			return false
		}
		s.poll = p
		go p.run()
	}
	if c.pollID == 0 {
		p.mu.Lock()
		p.nextID++
		c.pollID = p.nextID
		p.conns[c.pollID] = c
		p.mu.Unlock()
	}
	op := syscall.EPOLL_CTL_MOD
	if !c.polled {
		op, c.polled = syscall.EPOLL_CTL_ADD, true
	}
	// Armed under p.mu, which run holds when it starts readReady: what
	// this read loop did happens before the next one (the kernel's
	// event orders them too, but the race detector cannot see it).
	var err error
	p.mu.Lock()
	cerr := c.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
		setKey(&ev, c.pollID)
		err = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	p.mu.Unlock()
	return cerr == nil && err == nil
}

// unpark forgets c, whose connection closes; the last one ends the
// poller's goroutine.
func (s *Server) unpark(c *conn) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	p := s.poll
	if p == nil || c.pollID == 0 {
		return
	}
	p.mu.Lock()
	if p.conns[c.pollID] == c {
		delete(p.conns, c.pollID)
		c.raw.Control(func(fd uintptr) { //nolint:errcheck // the close removes it anyway
			syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
	}
	last := len(p.conns) == 0
	p.mu.Unlock()
	if last {
		syscall.Write(p.wake[1], []byte{0}) //nolint:errcheck // a full pipe wakes it as well
		s.poll = nil
	}
}

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: epfd, conns: make(map[uint64]*conn), done: make(chan struct{})}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	setKey(&ev, 0) // connection IDs start at 1
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(p.wake[0])
		syscall.Close(p.wake[1])
		return nil, err
	}
	return p, nil
}

func setKey(ev *syscall.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func key(ev *syscall.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }

// run starts the read loops of the connections that became readable,
// until woken through the pipe (no connection left).
func (p *poller) run() {
	defer func() {
		syscall.Close(p.epfd)
		syscall.Close(p.wake[0])
		syscall.Close(p.wake[1])
		close(p.done)
	}()
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		p.mu.Lock()
		for i := range events[:n] {
			id := key(&events[i])
			if id == 0 {
				p.mu.Unlock()
				return
			}
			if c := p.conns[id]; c != nil {
				go c.readReady()
			}
		}
		p.mu.Unlock()
	}
}
