//go:build !linux

package sse

import "syscall"

// sockProbe: only Linux tells a socket's send queue here; elsewhere no
// reader is found stopped before WriteTimeout (see stoppedreader.go).
type sockProbe struct{}

func (*sockProbe) look(syscall.RawConn) (queued bool, acked uint64, ok bool) { return false, 0, false }
