//go:build pprof

package sse

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// DebugDump writes the state of every client whose IP or remote address
// contains filter (all if empty): the profiling build's view of a stream
// that seems stuck.
func (b *Broker) DebugDump(w io.Writer, filter string) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	fmt.Fprintf(w, "clients %d lagging %d\n", len(b.clients), b.nLagging.Load())
	for c := range b.clients {
		remote := ""
		switch t := c.t.(type) {
		case *hijackedConn:
			remote = t.conn.RemoteAddr().String()
		case *hijackedTLS:
			remote = t.tls.RemoteAddr().String()
		case interface{ remoteAddr() string }: // sockFD
			remote = t.remoteAddr()
		}
		if filter != "" && !strings.Contains(remote, filter) && !strings.Contains(c.info.IP, filter) {
			continue
		}
		c.mu.Lock()
		fmt.Fprintf(w, "id %d ip %s remote %s topics %v last %q age %v hijacked %v sched %v killed %v wrote %v hbDue %v pending %d lag %d over %v reason %v through %d raw %v\n",
			c.info.ID, c.info.IP, remote, c.info.Topics, c.info.LastEventID, time.Since(c.info.Connected).Round(time.Millisecond),
			c.hijacked.Load(), c.sched.Load(), c.killed.Load(), c.wrote.Load(), c.hbDue.Load(), len(c.pending), c.lag, c.over, c.reason, c.through, c.t.socket() != nil)
		c.mu.Unlock()
	}
	b.pool.mu.Lock()
	fmt.Fprintf(w, "pool queue %d (head %d) closed %v\n", len(b.pool.q)-b.pool.head, b.pool.head, b.pool.closed)
	b.pool.mu.Unlock()
}
