package sse

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetryJitter: each stream gets its own retry, Retry times a factor
// in [1-j, 1+j) drawn from Options.Rand; a negative jitter sends Retry.
func TestRetryJitter(t *testing.T) {
	draws := []float64{0, 0.5, 0.999}
	for _, tt := range []struct {
		jitter float64
		want   []time.Duration
	}{
		{0, []time.Duration{1500 * time.Millisecond, 3 * time.Second, 4497 * time.Millisecond}}, // the default ±50 %
		{0.1, []time.Duration{2700 * time.Millisecond, 3 * time.Second, 3299 * time.Millisecond}},
		{-1, []time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second}},
	} {
		i := 0
		_, srv := newTestBroker(t, http1Mode, Options{Retry: 3 * time.Second, RetryJitter: tt.jitter,
			Rand: func() float64 { i++; return draws[(i-1)%len(draws)] }})
		var got []time.Duration
		for range draws {
			got = append(got, retryOf(t, srv))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("jitter %v: retries %v, want %v", tt.jitter, got, tt.want)
		}
	}
}

// TestDrain: Drain closes the open streams, stream i of n not before
// (i+1)/(n+1) of the window (timers never fire early: the check cannot
// fail on a slow machine); Shutdown afterwards finds none.
func TestDrain(t *testing.T) { run(t, testDrain, hijackMode, http1Mode) }

func testDrain(t *testing.T, mode testMode) {
	type end struct {
		at     time.Time
		reason error
	}
	ch := make(chan end, 10) // buffered: every stream's end, read at the end
	b, srv := newTestBroker(t, mode, Options{Hooks: Hooks{OnDisconnect: func(_ ClientInfo, reason error) { ch <- end{time.Now(), reason} }}})
	for range 4 {
		connect(t, srv, "", nil)
	}
	waitFor(t, "4 streams", func() bool { return b.Stats().Clients == 4 })
	const window = 800 * time.Millisecond
	start := time.Now()
	b.Drain(context.Background(), window)
	var ends []time.Duration
	for range 4 {
		e := <-ch
		if !errors.Is(e.reason, ErrClosed) {
			t.Errorf("stream ended with %v, want ErrClosed", e.reason)
		}
		ends = append(ends, e.at.Sub(start))
	}
	slices.Sort(ends)
	for i, d := range ends {
		if due := window * time.Duration(i+1) / 5; d < due {
			t.Errorf("stream %d of 4 ended %v after Drain began, before its time, %v: the streams were not spread", i+1, d, due)
		}
	}
	if n := b.Stats().Clients; n != 0 {
		t.Errorf("%d streams open after Drain", n)
	}
}

// TestDrainOneAtATime: Drain closes one stream, then waits: cancelled as
// soon as the first stream has ended, it has closed that one only.
func TestDrainOneAtATime(t *testing.T) { run(t, testDrainOneAtATime, hijackMode, http1Mode) }

func testDrainOneAtATime(t *testing.T, mode testMode) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ended atomic.Int32
	b, srv := newTestBroker(t, mode, Options{Hooks: Hooks{OnDisconnect: func(ClientInfo, error) {
		ended.Add(1)
		cancel() // the next stream is due a second later
	}}})
	for range 4 {
		connect(t, srv, "", nil)
	}
	waitFor(t, "4 streams", func() bool { return b.Stats().Clients == 4 })
	b.Drain(ctx, 5*time.Second) // the first stream is due at 1 s
	waitFor(t, "the first stream's end", func() bool { return b.Stats().Clients == 3 })
	// Drain has returned: no stream can end now but by Shutdown.
	if n := ended.Load(); n != 1 {
		t.Errorf("%d streams ended when Drain was cancelled after the first, want 1", n)
	}
}

// retryOf opens a stream and returns the retry it is sent first.
func retryOf(t *testing.T, srv *httptest.Server) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	ms, ok := strings.CutPrefix(strings.TrimSpace(line), "retry: ")
	n, perr := strconv.Atoi(ms)
	if err != nil || !ok || perr != nil {
		t.Fatalf("first line %q (%v): want a retry", line, err)
	}
	return time.Duration(n) * time.Millisecond
}
