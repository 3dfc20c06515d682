package main

import (
	"math"
	"testing"
	"time"
)

func TestLinearFit(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4}
	y := []float64{1, 3, 5, 7, 9}
	if m, b, ok := linearFit(x, y); !ok || math.Abs(m-2) > 1e-9 || math.Abs(b-1) > 1e-9 {
		t.Errorf("fit = %v, %v, %v; want 2, 1, true", m, b, ok)
	}
	y[2] = math.NaN() // skipped
	if m, _, ok := linearFit(x, y); !ok || math.Abs(m-2) > 1e-9 {
		t.Errorf("fit with a NaN = %v, %v; want 2", m, ok)
	}
	if _, _, ok := linearFit([]float64{1, 2}, []float64{1, 2}); ok {
		t.Error("two points: want not ok")
	}
	if _, _, ok := linearFit([]float64{1, 1, 1}, []float64{1, 2, 3}); ok {
		t.Error("no spread in x: want not ok")
	}
}

func TestMemorySlope(t *testing.T) {
	// One sample a minute for 30 minutes. Instance 0 grows 100 KB/min
	// throughout; instance 1 is restarted at minute 20 and then grows
	// 50 KB/min from a lower base: the fit must take the stretch after
	// the restart only.
	var samples []sample
	for m := 0; m <= 30; m++ {
		restarts := 0
		rss1 := 100 + 0.1*float64(m)
		if m >= 20 {
			restarts = 1
			rss1 = 40 + 0.05*float64(m-20)
		}
		samples = append(samples, sample{
			T:        time.Duration(m) * time.Minute,
			RSS:      []float64{50 + 0.1*float64(m), rss1},
			Restarts: []int{0, restarts},
		})
	}
	s0 := memorySlope(samples, 0, 10*time.Minute, 30*time.Second)
	if !s0.OK || math.Abs(s0.KBPerMin-100) > 1e-6 || s0.From != 10*time.Minute || s0.Interrupted {
		t.Errorf("instance 0: %+v; want 100 KB/min from 10m", s0)
	}
	s1 := memorySlope(samples, 1, 10*time.Minute, 30*time.Second)
	if !s1.OK || math.Abs(s1.KBPerMin-50) > 1e-6 || s1.From != 21*time.Minute || !s1.Interrupted {
		t.Errorf("instance 1: %+v; want 50 KB/min from 21m, interrupted", s1)
	}
}

func TestTheilSenIgnoresSpikes(t *testing.T) {
	// Flat at 70 MB with two short spikes to 150 MB, the second near the
	// end: least squares reads a trend, Theil–Sen does not.
	var x, y []float64
	for i := range 240 {
		v := 70.0
		if (i >= 30 && i < 36) || (i >= 220 && i < 228) {
			v = 150
		}
		x, y = append(x, float64(i)/12), append(y, v*1000)
	}
	robust, ok := theilSen(x, y)
	lsq, _, _ := linearFit(x, y)
	if !ok || math.Abs(robust) > 1e-9 {
		t.Errorf("Theil–Sen slope %v (ok %v), want 0", robust, ok)
	}
	if lsq < 100 {
		t.Errorf("least squares %v KB/min: the spikes should move it (else this test shows nothing)", lsq)
	}
	if s, ok := theilSen([]float64{0, 1, 2, 3}, []float64{1, 3, 5, math.NaN()}); !ok || s != 2 {
		t.Errorf("theilSen with a NaN = %v, %v; want 2", s, ok)
	}
	if _, ok := theilSen([]float64{1, 2}, []float64{1, 2}); ok {
		t.Error("two points: want not ok")
	}
}
