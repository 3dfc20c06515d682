package main

import (
	"math"
	"slices"
	"time"
)

// linearFit returns the least-squares slope and intercept of y over x,
// skipping NaN values; ok is false with fewer than three points or no
// spread in x.
func linearFit(x, y []float64) (slope, intercept float64, ok bool) {
	var n, sx, sy, sxx, sxy float64
	for i := range x {
		if i >= len(y) || math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			continue
		}
		n++
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	if n < 3 {
		return 0, 0, false
	}
	den := n*sxx - sx*sx
	if den == 0 || math.Abs(den) < 1e-12*n*sxx {
		return 0, 0, false
	}
	slope = (n*sxy - sx*sy) / den
	return slope, (sy - slope*sx) / n, true
}

// theilSen returns the median of the slopes between every two points
// (NaNs skipped): a trend that a few spikes (a flood's burst of memory,
// returned to the OS only gradually) do not move, as they move a
// least-squares fit. ok is false with fewer than three points.
func theilSen(x, y []float64) (slope float64, ok bool) {
	var px, py []float64
	for i := range x {
		if i < len(y) && !math.IsNaN(x[i]) && !math.IsNaN(y[i]) {
			px, py = append(px, x[i]), append(py, y[i])
		}
	}
	if len(px) < 3 {
		return 0, false
	}
	var slopes []float64
	for i := range px {
		for j := i + 1; j < len(px); j++ {
			if dx := px[j] - px[i]; dx != 0 {
				slopes = append(slopes, (py[j]-py[i])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return 0, false
	}
	return median(slopes), true
}

// median returns the median of v (reordered), or NaN if empty.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// memSlope is the memory trend of one instance after warm-up.
type memSlope struct {
	KBPerMin    float64       // Theil–Sen: the figure to read
	LSQPerMin   float64       // least squares, which spikes move
	From, To    time.Duration // the stretch fitted
	Points      int
	OK          bool
	FirstMB     float64 // median RSS of the first and of the last tenth of the samples fitted
	LastMB      float64
	Interrupted bool // a restart fell in the window; the stretch after it is fitted
	// Streams open on the instance at the first and last sample fitted:
	// memory follows them, so a slope means something only if they stay.
	FirstStreams, LastStreams float64
}

// memorySlope fits instance i's RSS over the samples from warm on, in
// KB per minute. If the instance restarted within that window, the fit
// takes the samples after its last restart (and a settling time), so
// that a restart's drop is not read as a trend.
func memorySlope(samples []sample, i int, warm, settle time.Duration) memSlope {
	var out memSlope
	from := warm
	if len(samples) == 0 {
		return out
	}
	lastRestarts := samples[len(samples)-1].Restarts[i]
	if lastRestarts > 0 {
		// Fit from the last restart on (after it has settled).
		for _, smp := range samples {
			if smp.Restarts[i] == lastRestarts {
				from = max(from, smp.T+settle)
				out.Interrupted = smp.T > warm
				break
			}
		}
	}
	var x, y, streams []float64
	for _, smp := range samples {
		if smp.T < from || smp.Restarts[i] != lastRestarts || math.IsNaN(smp.RSS[i]) {
			continue
		}
		x = append(x, smp.T.Minutes())
		y = append(y, smp.RSS[i]*1000) // KB
		st := math.NaN()
		if i < len(smp.Streams) {
			st = smp.Streams[i]
		}
		streams = append(streams, st)
	}
	lsq, _, ok := linearFit(x, y)
	if !ok {
		return out
	}
	robust, ok := theilSen(x, y)
	if !ok {
		return out
	}
	out.KBPerMin, out.LSQPerMin, out.OK, out.Points = robust, lsq, true, len(x)
	out.FirstStreams, out.LastStreams = streams[0], streams[len(streams)-1]
	out.From = time.Duration(x[0] * float64(time.Minute))
	out.To = time.Duration(x[len(x)-1] * float64(time.Minute))
	tenth := max(3, len(y)/10)
	out.FirstMB = median(slices.Clone(y[:min(tenth, len(y))])) / 1000
	out.LastMB = median(slices.Clone(y[max(0, len(y)-tenth):])) / 1000
	return out
}
