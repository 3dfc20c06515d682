//go:build !(js && wasm)

package appstream

import "time"

// timerScheduler stands in for animation frames outside the browser, where
// no stream opens; it keeps the package building and vetting natively.
type timerScheduler struct {
	frame func(fallback bool)
	t     *time.Timer
}

func newScheduler(frame func(fallback bool)) scheduler {
	return &timerScheduler{frame: frame}
}

func (s *timerScheduler) schedule() {
	s.t = time.AfterFunc(16*time.Millisecond, func() { s.frame(true) })
}

func (s *timerScheduler) cancel() {
	if s.t != nil {
		s.t.Stop()
		s.t = nil
	}
}

func (s *timerScheduler) release() { s.cancel() }
