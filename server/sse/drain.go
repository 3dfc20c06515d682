package sse

import (
	"context"
	"math/rand/v2"
	"time"
)

// Drain closes the open streams one at a time, spread evenly over
// window, so that their clients reconnect (to other instances, behind a
// load balancer that has stopped sending new ones here) without arriving
// together: the server's lame-duck mode, as NATS has. Stream i of n ends
// at (i+1)/(n+1) of the window. Streams opened meanwhile are not closed:
// refuse them first (a 503 that sends them elsewhere), then call
// Shutdown after Drain. Drain returns when it has closed the last one,
// or early when ctx is done.
func (b *Broker) Drain(ctx context.Context, window time.Duration) {
	b.mu.RLock()
	open := make([]*client, 0, len(b.clients))
	for c := range b.clients {
		open = append(open, c)
	}
	b.mu.RUnlock()
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i, c := range open {
		timer.Reset(time.Until(start.Add(window * time.Duration(i+1) / time.Duration(len(open)+1))))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		c.end(ErrClosed, shutdownGrace)
	}
}

// retryFrame returns the retry line a new stream gets: Options.Retry,
// spread by Options.RetryJitter so that clients dropped together come
// back spread out; nil when Options.Retry is negative (none).
func (b *Broker) retryFrame() []byte {
	if b.opts.Retry <= 0 {
		return nil
	}
	j := b.opts.RetryJitter
	if j <= 0 {
		return b.retryLine
	}
	f := 1 - j + 2*j*b.opts.Rand() // in [1-j, 1+j)
	return AppendRetry(nil, max(time.Millisecond, time.Duration(float64(b.opts.Retry)*f)))
}

// defaultRand is Options.Rand's default.
func defaultRand() float64 { return rand.Float64() }
