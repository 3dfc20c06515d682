// Package latency records durations in a fixed-size log-linear
// histogram and reads percentiles from it, within 1.6 %, whatever the
// number of samples. The load tools (server/cmd/ssebench, server/cmd/soak)
// use it for publish-to-receive latency:
//
//	var h latency.Histogram
//	h.Record(time.Since(sent))
//	p99 := h.Quantile(0.99)
package latency

import (
	"math/bits"
	"time"
)

// Histogram counts durations in log-linear buckets, like an HDR histogram
// with 6 bits of precision: a bucket is at most 1/64 (1.6%) of its value
// wide, so a percentile read from it is within 1.6% of the exact one. It
// needs a fixed 30 KB whatever the number of samples. The zero value is
// ready to use. It is not safe for concurrent use: give each goroutine its own and
// Merge them, or guard one with a mutex.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    int64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits // linear sub-buckets per power of two
	histBuckets = histSub + (64-histSubBits-1)*histSub + histSub
)

// histIndex returns the bucket of v (nanoseconds, >= 0).
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [histSub, 2*histSub)
	return histSub + shift*histSub + int(v>>shift) - histSub
}

// histLow returns the smallest value in bucket i.
func histLow(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i - histSub) / histSub
	return uint64(histSub+(i-histSub)%histSub) << shift
}

// histHigh returns the largest value in bucket i.
func histHigh(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i - histSub) / histSub
	return histLow(i) + (1 << shift) - 1
}

// Record adds one duration; negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(uint64(v))]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Quantile returns the value at quantile q (0 < q <= 1): the midpoint of
// the bucket holding the ceil(q*n)-th smallest sample, capped at the
// largest sample seen. It returns 0 when there are no samples.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999999)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			mid := (histLow(i) + histHigh(i)) / 2
			return time.Duration(min(int64(mid), h.max))
		}
	}
	return time.Duration(h.max)
}

// Max returns the largest sample, exact.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }
