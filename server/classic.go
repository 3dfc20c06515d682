package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/event"
)

// classicRetry is the reconnection delay the classic demo asks browsers for.
const classicRetry = 10 * time.Second

// classicStream serves the classic EventSource demo, wire-compatible with
// the Node original: `Access-Control-Allow-Origin: *` (the stream carries
// no credentials, so a page from any origin may read it), `retry: 10000`,
// a named connecttime event with the server's time, an unnamed ping with
// the time at once, then one every interval.
// It ends when the client leaves or stop is closed, when a write takes
// longer than writeTimeout, or when the client has taken nothing for
// writeTimeout (sse.ErrStalled). b, when not nil, counts the stream
// under the broker's client limits (sse.Broker.Admit), and a stalled
// one in its evictions.
func classicStream(stop <-chan struct{}, interval, writeTimeout time.Duration, b *sse.Broker, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b != nil {
			release := b.Admit(w, r)
			if release == nil {
				return // answered 503
			}
			defer release()
		}
		// Set, not added: this replaces whatever the /events allow-list
		// middleware put there, and drops its credentials.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Del("Access-Control-Allow-Credentials")
		s, err := sse.NewStream(w, r)
		if err != nil {
			log.Error("cannot stream", "err", err)
			http.Error(w, "this server cannot stream responses: "+err.Error(), http.StatusInternalServerError)
			return
		}
		s.SetWriteTimeout(writeTimeout)
		if err := s.Retry(classicRetry); err != nil {
			return
		}
		ended := func(err error) {
			if !errors.Is(err, sse.ErrStalled) {
				log.Debug("stream ended", "err", err)
				return
			}
			if b != nil {
				b.CountEvicted()
			}
			log.Warn("client evicted", "path", r.URL.Path, "client", r.RemoteAddr, "reason", err)
			// Close the connection now: after a response net/http
			// would keep an HTTP/1.1 connection open for the next
			// request, and this client reads nothing.
			panic(http.ErrAbortHandler)
		}
		now := time.Now()
		if err := send(s, event.ConnectTime{Time: now}); err != nil {
			ended(err)
			return
		}
		// The first ping right away, as the original sends it: pages
		// show a ping at once instead of an interval late.
		if err := send(s, event.Ping{Time: now}); err != nil {
			ended(err)
			return
		}
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-stop:
				return
			case now := <-tick.C:
				if err := send(s, event.Ping{Time: now}); err != nil {
					ended(err)
					return
				}
			}
		}
	})
}

// send writes a shared event to the stream.
func send(s *sse.Stream, v event.Named) error {
	name, data, err := event.Encode(v)
	if err != nil {
		return err
	}
	return s.Send(sse.Event{Event: name, Data: data})
}
