package sse

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"

	"github.com/ssewasm/ssewasm/server/internal/epoll"
)

// watcher finds hijacked clients that closed their connection: an epoll
// set of their sockets, edge-triggered on hang-up only (not on readable
// data, so a client that sends bytes costs nothing), keyed by client ID.
// If the set fails, its streams are ended (their clients reconnect and
// replay what they missed), and the next stream opens another set.
type watcher struct {
	log *slog.Logger
	mu  sync.Mutex
	set *epoll.Set[*client] // guarded by mu; nil once closed
}

func newWatcher(log *slog.Logger) (*watcher, error) {
	set, err := openWatchSet(log)
	if err != nil {
		return nil, err
	}
	return &watcher{log: log, set: set}, nil
}

func openWatchSet(log *slog.Logger) (*epoll.Set[*client], error) {
	return epoll.Open(log, hungUp)
}

// hungUp is the set's function: c's client closed the connection, or the
// set failed (err), and then c ends rather than go unwatched. A client
// in the set is live: finish removes it before its connection closes.
func hungUp(c *client, err error) {
	if err != nil {
		c.end(fmt.Errorf("sse: the watcher of hijacked streams failed, so the stream ends (its client reconnects): %w", err), 0)
		return
	}
	c.end(errClientGone, 0)
}

// add watches c's socket, raw.
func (w *watcher) add(c *client, raw syscall.RawConn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.set == nil {
		return
	}
	err := w.set.Add(c.info.ID, raw, epoll.PeerHangUp|epoll.EdgeTriggered, c)
	if !errors.Is(err, epoll.ErrClosed) {
		return // a socket that cannot be added has closed: its writes fail
	}
	set, err := openWatchSet(w.log) // the set failed, and said why
	if err != nil {
		w.log.Warn("sse: no epoll watcher: dead clients are found by heartbeats only", "err", err)
		return
	}
	w.set = set
	w.set.Add(c.info.ID, raw, epoll.PeerHangUp|epoll.EdgeTriggered, c) //nolint:errcheck // as above
}

// remove stops watching c's socket, raw, before it closes.
func (w *watcher) remove(c *client, raw syscall.RawConn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.set != nil {
		w.set.Remove(c.info.ID, raw)
	}
}

// close ends the set's goroutine and waits for it.
func (w *watcher) close() {
	w.mu.Lock()
	set := w.set
	w.set = nil
	w.mu.Unlock()
	if set != nil {
		set.Close()
	}
}
