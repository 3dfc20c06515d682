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

// TestDrain: Drain closes the open streams one by one, spread over the
// window; Shutdown afterwards finds none.
func TestDrain(t *testing.T) { run(t, testDrain, hijackMode, http1Mode) }

func testDrain(t *testing.T, mode testMode) {
	ch := make(chan error, 10) // buffered: every stream's end, read at the end
	b, srv := newTestBroker(t, mode, Options{Hooks: Hooks{OnDisconnect: func(_ ClientInfo, reason error) { ch <- reason }}})
	for range 4 {
		connect(t, srv, "", nil)
	}
	waitFor(t, "4 streams", func() bool { return b.Stats().Clients == 4 })
	const window = 800 * time.Millisecond
	start := time.Now()
	b.Drain(context.Background(), window)
	took := time.Since(start)
	for range 4 {
		if err := <-ch; !errors.Is(err, ErrClosed) {
			t.Errorf("stream ended with %v, want ErrClosed", err)
		}
	}
	if took < window*4/5-50*time.Millisecond || took > window {
		t.Errorf("Drain took %v; the last stream is due at 4/5 of %v", took, window)
	}
	if n := b.Stats().Clients; n != 0 {
		t.Errorf("%d streams open after Drain", n)
	}
	t.Logf("4 streams drained over %v in %v", window, took)
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
