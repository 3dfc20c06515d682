package sse

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockProbe reads the send queue of sockets (TCP_INFO) for one
// goroutine; its buffer and function are made once, so a look does not
// allocate.
type sockProbe struct {
	info unix.TCPInfo
	err  syscall.Errno
	fn   func(fd uintptr)
}

// look returns whether bytes wait in raw's send queue (sent and not
// acknowledged, or not sent yet) and how many bytes the peer has
// acknowledged in all; ok is false if raw cannot tell (closed, not TCP).
func (p *sockProbe) look(raw syscall.RawConn) (queued bool, acked uint64, ok bool) {
	if p.fn == nil {
		p.fn = func(fd uintptr) {
			n := uint32(unsafe.Sizeof(p.info))
			_, _, p.err = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
				uintptr(unsafe.Pointer(&p.info)), uintptr(unsafe.Pointer(&n)), 0)
		}
	}
	p.info = unix.TCPInfo{}
	if err := raw.Control(p.fn); err != nil || p.err != 0 {
		return false, 0, false
	}
	return p.info.Unacked > 0 || p.info.Notsent_bytes > 0, p.info.Bytes_acked, true
}
