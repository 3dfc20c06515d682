package sse

import (
	"net"
	"sync"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// Failed replays. An engine that cannot read a replay (NATS unreachable,
// a consumer refused) must not end the stream: the client would
// reconnect with the same Last-Event-ID and fail again, forever, without
// a live event in between. The broker sends the gap event instead
// (protocol.GapUnavailable), then live events on the same stream: the app knows
// it may have missed events, and goes on.
//
// When Replay itself fails, the gap's ID is that of the newest event the
// engine delivered to this broker (Broker.newest), and live events after
// it follow: the client's next resumption starts there. Before the
// broker has seen any event, the gap has no ID, so the client keeps its
// own, and every live event follows. When a later part fails (More), the
// replay's Head is the gap's ID, as for any gap.

// replayFailed logs, at most once per replayWarnEvery, and counts a
// replay (or a part of one) the engine could not read, and returns the
// Replay the stream goes on with: the gap, from the newest event
// delivered.
func (b *Broker) replayFailed(c *client, err error) Replay {
	b.stats.replayFails.Add(1)
	if ok, suppressed := b.replayWarns.allow(time.Now()); ok {
		b.opts.Logger.Warn("sse: replay failed: the client gets the sse.gap event, then live events",
			"client", c.info.ID, "ip", c.info.IP, "topics", c.info.Topics, "lastEventId", c.info.LastEventID,
			"err", err, "suppressed", suppressed)
	}
	rep := Replay{Gap: protocol.GapUnavailable}
	if m := b.newest.Load(); m != nil {
		rep.Through, rep.Head = m.Seq, m.ID
	}
	return rep
}

// partFailed is replayFailed for a part after the first, which the
// stream had begun to write: it writes the gap, with the replay's Head.
func (b *Broker) partFailed(c *client, rep Replay, err error) error {
	b.replayFailed(c, err)
	b.stats.gaps.Add(1)
	return c.writeAll(net.Buffers{gapFrame(c.info.LastEventID, Replay{Head: rep.Head, Gap: protocol.GapUnavailable})})
}

// replayWarnEvery is how often a failed replay is logged at most: when
// an engine fails, every client resuming fails too (thousands at once
// after an instance died), and one line per client would flood the log.
const replayWarnEvery = 10 * time.Second

// warnLimiter lets a warning through once per replayWarnEvery, counting
// those it holds back. Its zero value is ready.
type warnLimiter struct {
	mu         sync.Mutex
	next       time.Time // when the next warning may go out
	suppressed int       // held back since the last one
	every      time.Duration
}

// allow reports whether a warning may be logged at now, and how many were
// held back since the last one.
func (l *warnLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	every := l.every
	if every == 0 {
		every = replayWarnEvery
	}
	l.next = now.Add(every)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
