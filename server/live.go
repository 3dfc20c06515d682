package main

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/demo"
)

// publishStats sends the server's figures on demo.StatsTopic every
// interval, for the /live page's chart, until ctx is done. They go to this
// instance's clients only (PublishLocal): never stored nor replayed, and
// never mixed with other instances' figures when instances share an
// engine.
func publishStats(ctx context.Context, b *sse.Broker, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	prev, prevAt := b.Stats().Delivered, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			st := b.Stats()
			metrics.Read(samples)
			s := demo.ServerStats{
				At:              now.UnixMilli(),
				Clients:         st.Clients,
				EventsPerSecond: float64(st.Delivered-prev) / now.Sub(prevAt).Seconds(),
				MemoryBytes:     samples[0].Value.Uint64() - samples[1].Value.Uint64(),
				Goroutines:      runtime.NumGoroutine(),
			}
			prev, prevAt = st.Delivered, now
			err := sse.PublishLocalTo(b, demo.StatsTopic, s)
			if err != nil && ctx.Err() == nil {
				log.Warn("publishing stats", "err", err)
			}
		}
	}
}
