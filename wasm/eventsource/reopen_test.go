package eventsource_test

import (
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

func TestReopenPolicyDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		p       eventsource.ReopenPolicy
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{"default first, no draw", eventsource.ReopenPolicy{}, 0, 0, time.Second},
		{"default first, max draw", eventsource.ReopenPolicy{}, 0, 1, 500 * ms},
		{"default doubles", eventsource.ReopenPolicy{}, 3, 0, 8 * time.Second},
		{"default caps at 30s", eventsource.ReopenPolicy{}, 10, 0, 30 * time.Second},
		{"huge attempt does not overflow", eventsource.ReopenPolicy{}, 1 << 30, 0, 30 * time.Second},
		{"no jitter", eventsource.ReopenPolicy{Initial: 100 * ms, Jitter: -1}, 2, 0.99, 400 * ms},
		{"multiplier", eventsource.ReopenPolicy{Initial: 100 * ms, Multiplier: 3, Jitter: -1}, 2, 0.5, 900 * ms},
		{"multiplier 1: constant", eventsource.ReopenPolicy{Initial: 100 * ms, Multiplier: 1, Jitter: -1}, 5, 0, 100 * ms},
		{"multiplier below 1: default", eventsource.ReopenPolicy{Initial: 100 * ms, Multiplier: 0.5, Jitter: -1}, 1, 0, 200 * ms},
		{"max", eventsource.ReopenPolicy{Initial: 100 * ms, Max: 250 * ms, Jitter: -1}, 2, 0, 250 * ms},
		{"initial above max", eventsource.ReopenPolicy{Initial: time.Second, Max: 250 * ms, Jitter: -1}, 0, 0, 250 * ms},
		{"jitter 0.2", eventsource.ReopenPolicy{Initial: 100 * ms, Jitter: 0.2}, 0, 0.5, 90 * ms},
		{"jitter above 1 is 1", eventsource.ReopenPolicy{Initial: 100 * ms, Jitter: 7}, 0, 0.5, 50 * ms},
	} {
		if got := tc.p.Delay(tc.attempt, tc.rnd); got != tc.want {
			t.Errorf("%s: Delay(%d, %v) = %v, want %v", tc.name, tc.attempt, tc.rnd, got, tc.want)
		}
	}
}
