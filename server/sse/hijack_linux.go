package sse

import (
	"net"
	"syscall"
	"unsafe"
)

// canHijack: the writers of hijack.go and the epoll watcher run on Linux.
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

// setSendBuffer bounds the socket's send buffer to n bytes (the kernel
// doubles it), which turns its autotuning off: see Options.SendBuffer.
func setSendBuffer(rc syscall.RawConn, n int) {
	rc.Control(func(fd uintptr) { //nolint:errcheck // a closed socket fails its writes anyway
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, n) //nolint:errcheck // best effort: the stream works unbounded
	})
}
