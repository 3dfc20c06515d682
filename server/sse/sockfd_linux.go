package sse

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// A plain hijacked stream holds its socket as a file descriptor of its
// own (sockFD), not as Go's net.Conn: a *net.TCPConn costs an idle stream
// about 0.9 KB (its netFD, two addresses and, outside the heap, the
// poller's descriptor and the netFD's finalizer), all for a socket the
// broker only writes without waiting and watches in its own epoll set.
// docs/design.md, "What an idle stream costs", has the figures.

// detachSocket takes conn's socket over as a descriptor of its own, if
// conn is a *net.TCPConn or wrappers around one that all implement
// Detacher: it duplicates the descriptor, settles the wrappers' account
// with release (once the descriptor closes) and closes the net.Conn,
// whose resources go back to Go. It returns nil when conn cannot be
// detached, and then conn is untouched.
func detachSocket(conn net.Conn) transport {
	var layers []Detacher
	c := conn
	for {
		if _, ok := c.(*net.TCPConn); ok {
			break
		}
		d, ok := c.(Detacher)
		if !ok {
			return nil
		}
		layers = append(layers, d)
		c = d.NetConn()
	}
	tc := c.(*net.TCPConn)
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	fd := -1
	// F_DUPFD_CLOEXEC: the copy is not inherited by child processes. It
	// shares the socket's file status, so it is non-blocking, as Go set it.
	if raw.Control(func(s uintptr) { fd, err = dupCloexec(int(s)) }) != nil || err != nil {
		return nil
	}
	s := &sockFD{fd: int32(fd)}
	var releases []func()
	for _, d := range layers {
		if r := d.Detach(); r != nil {
			releases = append(releases, r)
		}
	}
	switch len(releases) {
	case 0:
	case 1:
		s.release = releases[0]
	default:
		s.release = func() {
			for _, r := range releases {
				r()
			}
		}
	}
	tc.Close() //nolint:errcheck // the copy keeps the socket open
	return s
}

func dupCloexec(fd int) (int, error) {
	for {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	}
}

// errSocketClosed is the error of a write to a stream whose socket the
// broker closed.
var errSocketClosed = errors.New("sse: the stream's socket is closed")

// errNotWritable is what Write returns for a function that asked to wait
// for the socket: sockFD never waits (its users write what the socket
// takes and finish elsewhere).
var errNotWritable = errors.New("sse: the socket is not writable now")

// sockFD is a plain hijacked HTTP/1.x stream's transport: its socket as
// a file descriptor the broker owns (see detachSocket). It is its own
// syscall.RawConn for the epoll watcher, the stopped-reader probe and
// the pool's writev. Its descriptor is used under mu, so that close
// cannot free the number while a system call uses it (a number reused by
// another connection would get this stream's bytes).
//
// Writes that must wait (the rest of a batch the socket did not take,
// under WriteTimeout) go through slow: a copy of the descriptor made a
// net.Conn for Go's poller, for that write only, so that an idle stream
// does not keep it.
type sockFD struct {
	mu sync.Mutex
	fd int32 // -1 once closed
	// deadline is the write deadline, Unix nanoseconds (0: none): writes
	// fail once it has passed, as a net.Conn's do.
	deadline int64
	slow     net.Conn // a blocking write's, while it runs
	release  func()   // settles the account of the listener's wrappers; nil: none
}

// Control calls f with the descriptor, unless it is closed.
func (s *sockFD) Control(f func(fd uintptr)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return errSocketClosed
	}
	f(uintptr(s.fd))
	return nil
}

// Read calls f once with the descriptor; it never waits.
func (s *sockFD) Read(f func(fd uintptr) bool) error { return s.Write(f) }

// Write calls f once with the descriptor, unless it is closed or the
// write deadline has passed; it never waits.
func (s *sockFD) Write(f func(fd uintptr) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return err
	}
	if !f(uintptr(s.fd)) {
		return errNotWritable
	}
	return nil
}

func (s *sockFD) usableLocked() error {
	if s.fd < 0 {
		return errSocketClosed
	}
	if s.deadline != 0 && time.Now().UnixNano() >= s.deadline {
		return os.ErrDeadlineExceeded
	}
	return nil
}

func (s *sockFD) setWriteDeadline(d time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = 0
	if !d.IsZero() {
		s.deadline = d.UnixNano()
	}
	if s.slow != nil {
		s.slow.SetWriteDeadline(d) //nolint:errcheck // a closed conn fails the write anyway
	}
	return nil
}

// write writes bufs, waiting under the deadline: what the socket takes
// now without waiting (all of it, nearly always: a stream's head, its
// replay and heartbeats are small), then the rest through slow.
func (s *sockFD) write(bufs net.Buffers) error {
	var w rawWriter
	rest, err := w.write(s, bufs)
	if err != nil || len(rest) == 0 {
		return err
	}
	slow, err := s.openSlow()
	if err != nil {
		return err
	}
	_, err = rest.WriteTo(slow)
	s.mu.Lock()
	if s.slow == slow {
		s.slow = nil
	}
	s.mu.Unlock()
	slow.Close() //nolint:errcheck // a copy of the descriptor
	return err
}

// openSlow makes a copy of the descriptor a net.Conn for a blocking
// write, with the deadline in force.
func (s *sockFD) openSlow() (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return nil, err
	}
	fd, err := dupCloexec(int(s.fd))
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "sse-stream")
	c, err := net.FileConn(f) // its own copy
	f.Close()                 //nolint:errcheck // ours
	if err != nil {
		return nil, err
	}
	if s.deadline != 0 {
		c.SetWriteDeadline(time.Unix(0, s.deadline)) //nolint:errcheck // a fresh conn
	}
	s.slow = c
	return c, nil
}

func (s *sockFD) tryWrite(w *rawWriter, bufs net.Buffers) (net.Buffers, bool, error) {
	rest, err := w.write(s, bufs)
	return rest, len(rest) == 0, err
}

func (s *sockFD) socket() syscall.RawConn { return s }

// close closes the socket (a blocking write in progress fails), then
// settles the wrappers' account.
func (s *sockFD) close() {
	s.mu.Lock()
	fd := s.fd
	s.fd = -1
	slow := s.slow
	s.slow = nil
	release := s.release
	s.release = nil
	s.mu.Unlock()
	if slow != nil {
		slow.Close() //nolint:errcheck // a copy of the descriptor
	}
	if fd >= 0 {
		syscall.Close(int(fd)) //nolint:errcheck // nothing to do about it
	}
	if release != nil {
		release()
	}
}

// remoteAddr returns the peer's address, for the profiling build's dump;
// "" once closed.
func (s *sockFD) remoteAddr() string {
	var a net.TCPAddr
	s.Control(func(fd uintptr) { //nolint:errcheck // closed: no address
		switch sa, _ := syscall.Getpeername(int(fd)); sa := sa.(type) {
		case *syscall.SockaddrInet4:
			a = net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		case *syscall.SockaddrInet6:
			a = net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		}
	})
	if a.IP == nil {
		return ""
	}
	return a.String()
}
