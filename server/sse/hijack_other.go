//go:build !linux

package sse

import (
	"net"
	"syscall"
)

// canHijack: elsewhere every stream keeps the ordinary path.
const canHijack = false

type rawWriter struct {
	bufs  net.Buffers
	chunk []byte
}

func (*rawWriter) write(_ syscall.RawConn, bufs net.Buffers) (net.Buffers, error) { return bufs, nil }
func (*rawWriter) writeOne(_ syscall.RawConn, p []byte) ([]byte, error)           { return p, nil }

func setSendBuffer(syscall.RawConn, int) {}

// detachSocket keeps every connection as it is: sockFD is Linux's.
func detachSocket(net.Conn) transport { return nil }
