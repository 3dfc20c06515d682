package main

import (
	"math"
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

// memSlope is the memory trend of one instance after warm-up.
type memSlope struct {
	KBPerMin    float64
	From, To    time.Duration // the stretch fitted
	Points      int
	OK          bool
	FirstMB     float64 // the fit's value at From and at To
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
	slope, icpt, ok := linearFit(x, y)
	if !ok {
		return out
	}
	out.KBPerMin, out.OK, out.Points = slope, true, len(x)
	out.FirstStreams, out.LastStreams = streams[0], streams[len(streams)-1]
	out.From = time.Duration(x[0] * float64(time.Minute))
	out.To = time.Duration(x[len(x)-1] * float64(time.Minute))
	out.FirstMB = (icpt + slope*x[0]) / 1000
	out.LastMB = (icpt + slope*x[len(x)-1]) / 1000
	return out
}
