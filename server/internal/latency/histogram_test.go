package latency

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lies within its bucket, and buckets are at most 1/64 of
	// their value wide.
	check := func(v uint64) {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, out of range", v, i)
		}
		lo, hi := histLow(i), histHigh(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if v >= histSub && float64(hi-lo+1) > float64(lo)/histSub+1 {
			t.Fatalf("bucket %d = [%d, %d] wider than 1/%d of its value", i, lo, hi, histSub)
		}
	}
	for v := range uint64(5000) {
		check(v)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		check(r.Uint64() >> r.UintN(64))
	}
	check(1<<64 - 1)
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 {
		t.Fatal("empty Histogram: want zero quantiles")
	}
	// 1..10000 µs, shuffled: p50 is 5 ms, p99 9.9 ms, max 10 ms exactly.
	vals := make([]time.Duration, 10_000)
	for i := range vals {
		vals[i] = time.Duration(i+1) * time.Microsecond
	}
	rand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	// Split over two histograms to test merge.
	var a, b Histogram
	for i, v := range vals {
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	h.Merge(&a)
	h.Merge(&b)
	h.Merge(nil)
	if h.Count() != 10_000 {
		t.Fatalf("count = %d, want 10000", h.Count())
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if diff := float64(got-exact) / float64(exact); diff > 0.016 || diff < -0.016 {
			t.Errorf("quantile(%g) = %v, exact %v: off by %.2f%%", q, got, exact, 100*diff)
		}
	}
	if h.Max() != 10*time.Millisecond {
		t.Errorf("max = %v, want 10ms", h.Max())
	}
	// A negative duration (clock oddity) counts as 0.
	var n Histogram
	n.Record(-time.Second)
	if n.Quantile(1) != 0 {
		t.Errorf("negative sample: quantile = %v, want 0", n.Quantile(1))
	}
}
