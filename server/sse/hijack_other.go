//go:build !linux

package sse

import (
	"errors"
	"syscall"
)

// canHijack: elsewhere every stream keeps the ordinary path.
const canHijack = false

type rawWriter struct{ buf []byte }

func (*rawWriter) write(syscall.RawConn, []byte) (int, error) { return 0, nil }

type watcher struct{}

func newWatcher(*Broker) (*watcher, error) { return nil, errors.New("sse: no epoll here") }
func (*watcher) add(*client)               {}
func (*watcher) remove(*client)            {}
func (*watcher) run()                      {}
func (*watcher) close()                    {}
