// Package memrelease hands the memory a burst of new connections left
// behind back to the operating system once the burst is over.
//
// A Go heap grows to twice its live size between collections (GOGC=100),
// and the runtime gives free pages back slowly (its scavenger keeps about
// 10 % over that goal). After thousands of streams open at once (a
// restart, a network blip: every client reconnects), the process keeps
// the peak: the handshakes' garbage and the collector's headroom, about
// twice what the open streams hold, for minutes. Run watches a count (the
// open streams) and, when it grew by a burst since the last release (at
// least Config.Burst, and at least an eighth of the count) and then
// stopped growing, calls Config.Release (debug.FreeOSMemory: one full
// collection, then every free page back to the OS), at most once per
// Config.MinInterval:
//
//	go memrelease.Run(ctx, memrelease.Config{Count: func() int { return broker.Stats().Clients }})
//
// What it costs: one collection (the work of a GC cycle, some
// milliseconds of CPU for tens of megabytes, with the usual short
// pauses) and the page faults of a heap that grows again; spent only
// after a burst. A collection's work grows with the live memory, that is
// with the count; a burst must be an eighth of the count, so the work
// comes to at most about eight times a connection's live memory for each
// new connection, less than the garbage its handshake makes anyway.
// A server that keeps allocating grows back to its heap goal; an idle
// one stays near its live memory.
package memrelease

import (
	"context"
	"runtime/debug"
	"time"
)

// Config says what Run watches and when it releases. Zero fields take
// their defaults.
type Config struct {
	// Count returns how many connections (or streams) are open now.
	// Required.
	Count func() int
	// Every is how often Run looks at Count: a burst is over when Count
	// did not grow between two looks. Default 1s.
	Every time.Duration
	// Burst is how many more connections than at the last release (or
	// the lowest count since) make a burst worth a release, at least;
	// a burst must also be an eighth of the count (see the package
	// doc). Default 1000.
	Burst int
	// MinInterval is the least time between two releases: a storm of
	// bursts costs at most one collection a MinInterval. Default 5s.
	MinInterval time.Duration
	// Release gives memory back. Default debug.FreeOSMemory.
	Release func()
}

func (c Config) withDefaults() Config {
	if c.Every <= 0 {
		c.Every = time.Second
	}
	if c.Burst <= 0 {
		c.Burst = 1000
	}
	if c.MinInterval <= 0 {
		c.MinInterval = 5 * time.Second
	}
	if c.Release == nil {
		c.Release = debug.FreeOSMemory
	}
	return c
}

// Run looks at c.Count every c.Every and releases after each burst, until
// ctx is done.
func Run(ctx context.Context, c Config) {
	c = c.withDefaults()
	t := time.NewTicker(c.Every)
	defer t.Stop()
	w := watch{base: c.Count()}
	w.prev = w.base
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if w.look(c.Count(), now, c.Burst, c.MinInterval) {
				c.Release()
			}
		}
	}
}

// watch is Run's state between looks.
type watch struct {
	base int       // the count at the last release, or the lowest since
	prev int       // the count at the last look
	last time.Time // the last release; zero: none yet
}

// look takes a look at n, the count now, and reports whether to release:
// n is at least burst, and an eighth of n, over base; it did not grow
// since the last look (the burst is over); and the last release is
// minInterval old. (A stall in the middle of a burst, clients whose SYN
// the full accept queue dropped retrying a second later, releases early;
// the rest of the burst, if it is an eighth of the count, releases
// again.)
func (w *watch) look(n int, now time.Time, burst int, minInterval time.Duration) bool {
	grew := n > w.prev
	w.prev = n
	if n < w.base {
		w.base = n // connections left: a burst counts from here
	}
	if grew || n-w.base < max(burst, n/8) || !w.last.IsZero() && now.Sub(w.last) < minInterval {
		return false
	}
	w.base, w.last = n, now
	return true
}
