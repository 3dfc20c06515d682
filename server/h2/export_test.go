package h2

import "time"

// HandshakesInProgress is how many handshakes l is doing now.
func HandshakesInProgress(l *Listener) int { return len(l.slots) }

// CanPark: connections park their read loops here.
const CanPark = canPark

// FailParked fails s's epoll set of parked connections with err, as a
// failure of epoll_wait does.
func FailParked(s *Server, err error) {
	s.pmu.Lock()
	p := s.poll
	s.pmu.Unlock()
	if p != nil {
		p.Fail(err)
	}
}

// Queued is how many bytes s's connections hold for their sockets:
// queued, and being written.
func Queued(s *Server) int {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	n := 0
	for _, c := range conns {
		c.mu.Lock()
		n += len(c.out) + c.writing
		c.mu.Unlock()
	}
	return n
}

// Conns is how many connections s serves.
func Conns(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// SetEncoderIdle sets how long a connection with only event streams
// keeps its HPACK encoder, until restore.
func SetEncoderIdle(d time.Duration) (restore func()) {
	old := encoderIdle
	encoderIdle = d
	return func() { encoderIdle = old }
}
