package h2

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
