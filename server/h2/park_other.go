//go:build !linux

package h2

import (
	"net"
	"syscall"
)

// Elsewhere than Linux every connection keeps a goroutine that reads.
const canPark = false

type poller struct{}

func socketOf(net.Conn) syscall.RawConn { return nil }
func (s *Server) park(*conn) bool       { return false }
func (s *Server) unpark(*conn)          {}
