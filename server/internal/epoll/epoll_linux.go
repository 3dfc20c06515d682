package epoll

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// Supported: epoll exists here.
const Supported = true

// Set is an epoll set and the goroutine that waits on it (see the
// package documentation). Its methods may be called from any goroutine,
// but for Close and Fail, which must not be called from the set's
// function.
type Set[T any] struct {
	on   func(v T, err error)
	log  *slog.Logger
	wait func(epfd int, events []syscall.EpollEvent, msec int) (int, error) // syscall.EpollWait; tests inject failures
	done chan struct{}                                                      // closed when run has returned
	// failed carries Fail's error to run: buffered, so that Fail does
	// not wait for run to take it; one is enough, the set fails once.
	failed chan error

	// mu guards what follows. run holds it while it calls on, so that
	// a value removed is never reported after Remove returns, and what
	// an owner did before it re-armed a socket with Add happens before
	// the call for the socket's next event.
	mu      sync.Mutex
	epfd    int      // -1 once run has closed it
	file    *os.File // epfd, non-blocking, for run to wait on through Go's netpoller
	wake    [2]int   // a pipe whose read end is in the set: Close closes the write end, and run wakes
	members map[uint64]T
	closed  bool // Close was called, or waiting failed: Add fails
}

// Open makes an empty set and starts its goroutine, which calls on(v,
// nil) for the value v of each socket that becomes ready, and on(v, err)
// for every value in the set if waiting fails for good (see the package
// documentation). on runs on the set's goroutine, with the set locked:
// it must not block, nor call the set's methods. log gets the failures;
// nil means slog.Default().
func Open[T any](log *slog.Logger, on func(v T, err error)) (*Set[T], error) {
	return open(log, on, syscall.EpollWait)
}

func open[T any](log *slog.Logger, on func(v T, err error), wait func(int, []syscall.EpollEvent, int) (int, error)) (*Set[T], error) {
	if log == nil {
		log = slog.Default()
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: create a set: %w", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("epoll: create a set: %w", err)
	}
	s := &Set[T]{on: on, log: log, wait: wait, done: make(chan struct{}), failed: make(chan error, 1), epfd: epfd, members: make(map[uint64]T)}
	s.file = os.NewFile(uintptr(epfd), "epoll") // closes epfd when closed
	if err := syscall.Pipe2(s.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		s.file.Close()
		return nil, fmt.Errorf("epoll: create a set's pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: uint32(Readable)}
	setKey(&ev, 0) // the owners' keys are not 0
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, s.wake[0], &ev); err != nil {
		s.file.Close()
		syscall.Close(s.wake[0])
		syscall.Close(s.wake[1])
		return nil, fmt.Errorf("epoll: add a set's pipe: %w", err)
	}
	go s.run(epfd)
	return s, nil
}

// The key of a socket travels in the 64 bits of the event's data.
func setKey(ev *syscall.EpollEvent, key uint64) {
	ev.Fd = int32(uint32(key))
	ev.Pad = int32(uint32(key >> 32))
}

func keyOf(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// Add puts raw's socket in the set under key (not 0), with v, waiting
// for events; if key is in the set already, it re-arms the socket with
// events and v instead (as a OneShot socket needs after each event).
func (s *Set[T]) Add(key uint64, raw syscall.RawConn, events Events, v T) error {
	if key == 0 {
		return fmt.Errorf("epoll: key 0 is the set's own")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	op := syscall.EPOLL_CTL_ADD
	if _, ok := s.members[key]; ok {
		op = syscall.EPOLL_CTL_MOD
	}
	var err error
	if cerr := raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: uint32(events)}
		setKey(&ev, key)
		err = syscall.EpollCtl(s.epfd, op, int(fd), &ev)
	}); cerr != nil {
		return fmt.Errorf("epoll: add a socket: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("epoll: add a socket: %w", err)
	}
	s.members[key] = v
	return nil
}

// Remove takes key's socket, raw, out of the set, before it closes: its
// value is not reported after Remove returns. It reports whether key was
// in the set.
func (s *Set[T]) Remove(key uint64, raw syscall.RawConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.members[key]; !ok {
		return false
	}
	delete(s.members, key)
	if s.epfd >= 0 {
		raw.Control(func(fd uintptr) { //nolint:errcheck // closing the socket removes it anyway
			syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) //nolint:errcheck // as above
		})
	}
	return true
}

// Len returns how many sockets are in the set.
func (s *Set[T]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.members)
}

// Close ends the set's goroutine and waits for it; the values still in
// the set are not reported. It must not be called from the set's
// function.
func (s *Set[T]) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		syscall.Close(s.wake[1]) // the read end hangs up: run wakes
		s.wake[1] = -1
	}
	s.mu.Unlock()
	<-s.done
}

// Fail fails the set with err as a failure of epoll_wait does (see the
// package documentation), on the set's goroutine, and waits for it to
// end: for the tests of a set's owner, which cannot make the kernel
// fail. It must not be called from the set's function.
func (s *Set[T]) Fail(err error) {
	s.mu.Lock()
	if !s.closed {
		select {
		case s.failed <- err:
			syscall.Write(s.wake[1], []byte{0}) //nolint:errcheck // a full pipe wakes run as well
		default: // failing already
		}
	}
	s.mu.Unlock()
	<-s.done
}

// run reports the events of the set until Close, or until waiting fails.
//
// It waits through Go's netpoller (a set's descriptor is readable while
// events are ready), taking them with epoll_wait without a timeout: a
// goroutine blocked in epoll_wait holds its P (the runtime's right to
// run Go code) until the runtime's monitor takes it back, and with
// GOMAXPROCS=1 (one CPU) every other goroutine waited meanwhile, up to
// milliseconds at each wait. If the netpoller cannot poll the set, it
// blocks in epoll_wait.
func (s *Set[T]) run(epfd int) {
	defer close(s.done)
	events := make([]syscall.EpollEvent, 128)
	rc, _ := s.file.SyscallConn()
	var n int
	var err error
	take := func(uintptr) bool { // true once events or an error came
		for {
			if n, err = s.wait(epfd, events, 0); err != syscall.EINTR {
				return n != 0 || err != nil
			}
		}
	}
	polled := rc != nil
	for {
		if !polled || rc.Read(take) != nil {
			polled = false // not pollable here: wait in epoll_wait
			n, err = s.wait(epfd, events, -1)
		}
		if err == syscall.EINTR {
			continue // a signal came: nothing is wrong
		}
		if err != nil {
			s.fail(err)
			return
		}
		s.mu.Lock()
		for i := range events[:n] {
			key := keyOf(&events[i])
			if key == 0 { // Close, or Fail
				select {
				case err := <-s.failed:
					s.mu.Unlock()
					s.fail(err)
				default:
					s.closeLocked()
					s.mu.Unlock()
				}
				return
			}
			if v, ok := s.members[key]; ok {
				s.on(v, nil)
			}
		}
		s.mu.Unlock()
	}
}

// fail logs and counts err, a failure of epoll_wait that waiting again
// would repeat, and fails every value of the set with it: no socket
// waits for an event that will not come.
func (s *Set[T]) fail(err error) {
	waitErrors.Add(1)
	err = fmt.Errorf("epoll: waiting for events failed: %w", err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Error("epoll: a set failed: each of its sockets is failed, for its owner to close, and the set is closed", "err", err, "sockets", len(s.members))
	s.closed = true
	for _, v := range s.members {
		s.on(v, err)
	}
	clear(s.members)
	s.closeLocked()
}

// closeLocked closes the set's descriptors, once run is done with them.
func (s *Set[T]) closeLocked() {
	s.file.Close()
	s.epfd = -1
	syscall.Close(s.wake[0])
	if s.wake[1] >= 0 {
		syscall.Close(s.wake[1])
		s.wake[1] = -1
	}
}
