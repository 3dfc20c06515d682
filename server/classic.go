package main

import (
	"net/http"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/demo"
)

// classicRetry is the reconnection delay the classic demo asks browsers for.
const classicRetry = 10 * time.Second

// classicStream serves the classic EventSource demo, wire-compatible with
// the Node original: `Access-Control-Allow-Origin: *` (the stream carries
// no credentials, so a page from any origin may read it), `retry: 10000`,
// a named connecttime event with the server's time, an unnamed ping with
// the time at once, then one every interval.
// b serves it as a stream of its own (sse.Broker.ServeStream): it counts
// under the broker's client limits, a write is bounded by its write
// timeout, a client that takes nothing for that long is evicted
// (sse.ErrNotReading), and it ends when the client leaves or the broker
// shuts down.
func classicStream(b *sse.Broker, interval time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.ServeStream(anyOrigin{w}, r, func(s *sse.Stream) error {
			if err := s.Retry(classicRetry); err != nil {
				return err
			}
			now := time.Now()
			if err := s.SendValue(demo.ConnectTime{Time: now}); err != nil {
				return err
			}
			// The first ping right away, as the original sends it: pages
			// show a ping at once instead of an interval late.
			if err := s.SendValue(demo.Ping{Time: now}); err != nil {
				return err
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-s.Context().Done():
					return nil
				case now := <-tick.C:
					if err := s.SendValue(demo.Ping{Time: now}); err != nil {
						return err
					}
				}
			}
		})
	})
}

// anyOrigin lets a page from any origin read the stream once it opens
// (status 200). Set, not added: this replaces whatever the /events
// allow-list middleware put there, and drops its credentials. A refusal
// (503 over a limit) keeps the allow-list's headers: a page of another
// origin sees a network error and its EventSource reconnects, where a
// readable 503 would close it for good.
type anyOrigin struct{ http.ResponseWriter }

func (w anyOrigin) WriteHeader(code int) {
	if code == http.StatusOK {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Del("Access-Control-Allow-Credentials")
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the writer that flushes.
func (w anyOrigin) Unwrap() http.ResponseWriter { return w.ResponseWriter }
