//go:build !linux

package sse

import "syscall"

// sockProbe: only Linux tells a socket's send queue here; elsewhere no
// stream is found stalled before WriteTimeout (see stall.go).
type sockProbe struct{}

func (*sockProbe) look(syscall.RawConn) (queued bool, acked uint64, ok bool) { return false, 0, false }
