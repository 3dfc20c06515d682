package memrelease

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestLook(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		n       int
		at      time.Duration // after t0
		release bool
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"a burst, then quiet: one release", []step{{500, 1 * time.Second, false}, {1500, 2 * time.Second, false}, {1500, 3 * time.Second, true}, {1500, 4 * time.Second, false}}},
		{"still growing: none", []step{{1000, 1 * time.Second, false}, {2000, 2 * time.Second, false}, {3000, 3 * time.Second, false}}},
		{"too small a burst: none", []step{{999, 1 * time.Second, false}, {999, 2 * time.Second, false}}},
		{"a second burst within MinInterval waits for it", []step{
			{1000, 1 * time.Second, false}, {1000, 2 * time.Second, true},
			{2000, 3 * time.Second, false}, {2000, 4 * time.Second, false}, // 2 s after the last
			{2000, 7 * time.Second, true},
		}},
		{"streams that left lower the base", []step{
			{1000, 1 * time.Second, false}, {1000, 2 * time.Second, true},
			{0, 3 * time.Second, false}, {1000, 70 * time.Second, false}, {1000, 71 * time.Second, true},
		}},
		{"a burst must be an eighth of the count", []step{
			{20000, 1 * time.Second, false}, {20000, 2 * time.Second, true},
			{22000, 70 * time.Second, false}, {22000, 71 * time.Second, false}, // 2000 < 22000/8
			{23000, 72 * time.Second, false}, {23000, 73 * time.Second, true}, // 3000 ≥ 23000/8
		}},
		{"a stall mid-burst releases early, and the rest again", []step{
			{8449, 5 * time.Second, false}, {8449, 6 * time.Second, true},
			{9500, 10 * time.Second, false}, {10000, 13 * time.Second, false}, {10000, 14 * time.Second, true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := watch{}
			for i, s := range tt.steps {
				if got := w.look(s.n, t0.Add(s.at), 1000, 5*time.Second); got != s.release {
					t.Errorf("step %d (n=%d at %v): release %v, want %v", i, s.n, s.at, got, s.release)
				}
			}
		})
	}
}

// TestRun: Run releases once after a burst, and returns when ctx is done.
func TestRun(t *testing.T) {
	var calls, released atomic.Int32
	count := func() int { // 0 when Run starts, then a burst of 20
		if calls.Add(1) == 1 {
			return 0
		}
		return 20
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Count: count, Every: time.Millisecond, Burst: 10, Release: func() { released.Add(1) }})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for released.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // more looks: no second release within MinInterval
	cancel()
	<-done
	if got := released.Load(); got != 1 {
		t.Errorf("released %d times, want 1", got)
	}
}
