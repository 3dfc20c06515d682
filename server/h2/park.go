package h2

import (
	"errors"
	"net"
	"syscall"

	"github.com/ssewasm/ssewasm/server/internal/epoll"
)

// Parked read loops. A connection's read loop runs only while the client
// has sent bytes: between, the socket is in the Server's epoll set
// (one-shot, readable or hung up), and the connection holds no
// goroutine. A readable socket starts a goroutine that reads and answers
// what has arrived, then parks the connection again. The set's goroutine
// runs while some connection is parked, and ends with the last. If the
// set fails, its connections are closed (their clients reconnect), and
// the next to park opens another. Only Linux has epoll: elsewhere every
// connection keeps a goroutine that reads.

const canPark = epoll.Supported

// rawSocket returns the RawConn of the socket under nc (through the TLS
// layer and listener wrappers that expose NetConn), or nil.
func rawSocket(nc net.Conn) syscall.RawConn {
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

// park adds c to the set (first call) or re-arms it: c.readReady runs on
// a goroutine of its own once the socket is readable or hung up. It
// reports false if it could not: the caller then reads blocking.
func (s *Server) park(c *conn) bool {
	// All of it under pmu, as unpark: a connection that closed
	// meanwhile (its close unparks it) is not parked again, and no set
	// is opened for it.
	s.pmu.Lock()
	defer s.pmu.Unlock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return false
	}
	if c.pollID == 0 {
		s.pollIDs++
		c.pollID = s.pollIDs
	}
	for range 2 { // a set that failed is replaced, once
		if s.poll == nil {
			p, err := epoll.Open(nil, parkedReady)
			if err != nil {
				return false
			}
			s.poll = p
		}
		err := s.poll.Add(c.pollID, c.raw, epoll.Readable|epoll.PeerHangUp|epoll.OneShot, c)
		if !errors.Is(err, epoll.ErrClosed) {
			return err == nil
		}
		s.poll = nil // it failed, and said why: its connections are closing
	}
	return false
}

// parkedReady is the set's function: c's socket is readable or hung up,
// or the set failed, and then c closes rather than wait for an event
// that will not come.
func parkedReady(c *conn, err error) {
	if err != nil {
		go c.close(err)
		return
	}
	go c.readReady()
}

// unpark takes c, whose connection closes, out of the set; the last one
// closes the set.
func (s *Server) unpark(c *conn) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	p := s.poll
	if p == nil || c.pollID == 0 {
		return
	}
	p.Remove(c.pollID, c.raw)
	if p.Len() == 0 {
		p.Close()
		s.poll = nil
	}
}
