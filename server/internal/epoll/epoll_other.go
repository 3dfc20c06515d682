//go:build !linux

package epoll

import (
	"errors"
	"log/slog"
	"syscall"
)

// Supported: no epoll here.
const Supported = false

// Set is an epoll set; elsewhere than Linux none can be opened.
type Set[T any] struct{}

// Open fails: only Linux has epoll.
func Open[T any](*slog.Logger, func(v T, err error)) (*Set[T], error) {
	return nil, errors.New("epoll: only Linux has epoll: keep a goroutine per connection")
}

// No Set is ever opened here: its methods exist for the code that
// compiles everywhere.

func (*Set[T]) Add(uint64, syscall.RawConn, Events, T) error { return ErrClosed }
func (*Set[T]) Remove(uint64, syscall.RawConn) bool          { return false }
func (*Set[T]) Len() int                                     { return 0 }
func (*Set[T]) Close()                                       {}
func (*Set[T]) Fail(error)                                   {}
