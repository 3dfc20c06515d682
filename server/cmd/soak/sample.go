package main

import (
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssewasm/ssewasm/server/internal/latency"
	"github.com/ssewasm/ssewasm/server/internal/proc"
)

// sample is the state of the cluster at one moment. Per-instance figures
// are NaN while the instance is down.
type sample struct {
	T          time.Duration
	RSS        []float64 // MB, from /proc/PID/status
	Goroutines []float64 // go_goroutines from /metrics
	FDs        []float64 // entries of /proc/PID/fd
	Streams    []float64 // ssewasm_clients from /metrics
	Restarts   []int     // restarts of each instance so far
	Delivered  float64   // events/s received by the clients over the interval
	P99        float64   // ms, publish to receive, normal clients, over the interval
	Connected  int64     // streams the soak's clients hold open
	SoakRSS    float64   // MB, the soak process itself
	Load1      float64   // the machine's 1-minute load average
}

// latShards is the publish-to-receive latency of the interval, sharded
// by client so that thousands of readers do not queue on one lock.
type latShards struct {
	sh [16]struct {
		mu sync.Mutex
		h  latency.Histogram
	}
	allMu sync.Mutex
	all   latency.Histogram // every interval, merged at each take
}

func (l *latShards) record(id int, d time.Duration) {
	s := &l.sh[id%len(l.sh)]
	s.mu.Lock()
	s.h.Record(d)
	s.mu.Unlock()
}

// take returns the interval's histogram and starts a new interval.
func (l *latShards) take() *latency.Histogram {
	h := new(latency.Histogram)
	for i := range l.sh {
		s := &l.sh[i]
		s.mu.Lock()
		h.Merge(&s.h)
		s.h = latency.Histogram{}
		s.mu.Unlock()
	}
	l.allMu.Lock()
	l.all.Merge(h)
	l.allMu.Unlock()
	return h
}

// evictionCounter sums a counter over restarts of the instances: a
// value lower than the last one means the instance started again.
type evictionCounter struct {
	last, base []float64
}

func (e *evictionCounter) update(i int, v float64) {
	if v < e.last[i] {
		e.base[i] += e.last[i]
	}
	e.last[i] = v
}

func (e *evictionCounter) total() float64 {
	var t float64
	for i := range e.last {
		t += e.last[i] + e.base[i]
	}
	return t
}

// runSampler samples every cfg.sampleEvery until ctx ends.
func (s *soak) runSampler(ctx context.Context) {
	tick := time.NewTicker(s.cfg.sampleEvery)
	defer tick.Stop()
	lastDelivered, lastAt := s.delivered.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		d := s.delivered.Load()
		smp := s.takeSample(ctx)
		smp.Delivered = float64(d-lastDelivered) / now.Sub(lastAt).Seconds()
		lastDelivered, lastAt = d, now
		s.sampleMu.Lock()
		s.samples = append(s.samples, smp)
		s.sampleMu.Unlock()
		if n := len(s.samples); n%max(1, int(30*time.Second/s.cfg.sampleEvery)) == 0 {
			s.logf("t=%s streams %d, delivered %.0f/s, p99 %.1f ms, RSS %s MB, load %.1f",
				smp.T.Round(time.Second), smp.Connected, smp.Delivered, smp.P99, fmtList(smp.RSS), smp.Load1)
		}
	}
}

// takeSample reads every instance's figures.
func (s *soak) takeSample(ctx context.Context) sample {
	n := len(s.cluster.instances)
	smp := sample{
		T:   time.Since(s.start),
		RSS: nanSlice(n), Goroutines: nanSlice(n), FDs: nanSlice(n), Streams: nanSlice(n),
		Restarts:  make([]int, n),
		Connected: s.pop.connected.Load(),
	}
	for i, in := range s.cluster.instances {
		in.mu.Lock()
		smp.Restarts[i] = in.restarts
		in.mu.Unlock()
		pid := in.pid()
		if pid == 0 {
			continue
		}
		if rss, err := proc.RSS(pid); err == nil {
			smp.RSS[i] = float64(rss) / 1e6
		}
		if fds, err := proc.FDs(pid); err == nil {
			smp.FDs[i] = float64(fds)
		}
		m, err := scrape(ctx, in.url, "go_goroutines", "ssewasm_clients", "ssewasm_clients_evicted_total")
		if err == nil {
			smp.Goroutines[i] = m["go_goroutines"]
			smp.Streams[i] = m["ssewasm_clients"]
			s.evictions.update(i, m["ssewasm_clients_evicted_total"])
		}
	}
	smp.P99 = math.NaN() // no live event in the interval: no point
	if h := s.lat.take(); h.Count() > 0 {
		smp.P99 = float64(h.Quantile(0.99)) / 1e6
	}
	if rss, err := proc.RSS(os.Getpid()); err == nil {
		smp.SoakRSS = float64(rss) / 1e6
	}
	smp.Load1 = loadAverage()
	return smp
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

// loadAverage returns the 1-minute load average, or NaN.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func fmtList(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		if math.IsNaN(x) {
			parts[i] = "-"
		} else {
			parts[i] = strconv.FormatFloat(x, 'f', 0, 64)
		}
	}
	return strings.Join(parts, "/")
}
