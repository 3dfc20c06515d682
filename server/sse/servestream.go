package sse

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// ServeStream serves r with a stream of your own: serve writes to s what
// topics cannot carry, such as events made for each client, until
// s.Context() is done or a write fails, and returns why it stopped.
//
// The stream is one of the broker's clients, so that no way in escapes
// the limits: it counts under Options.MaxClients and MaxClientsPerIP
// and in BrokerStats.Clients, and Hooks see it (its ClientInfo has no
// Topics). Over a limit, or after Shutdown, the request is refused as
// ServeHTTP refuses it, with 503 and Retry-After, and serve is not
// called. Headers set on w before the call go out with the stream.
//
// s bounds each write by Options.WriteTimeout. Its context is done when
// the client leaves or Shutdown begins, and Shutdown waits for serve to
// return; Drain leaves it open. The broker sends it no heartbeats. An
// error from serve that wraps [ErrNotReading] evicts the client: it is
// counted in BrokerStats.Evicted, and its connection is closed rather than
// kept for a next request that a client that reads nothing never
// sends.
//
//	mux.HandleFunc("GET /clock", func(w http.ResponseWriter, r *http.Request) {
//		b.ServeStream(w, r, func(s *sse.Stream) error {
//			t := time.NewTicker(time.Second)
//			defer t.Stop()
//			for {
//				select {
//				case <-s.Context().Done():
//					return nil
//				case now := <-t.C:
//					if err := s.Send(sse.Event{Data: now.Format(time.RFC3339)}); err != nil {
//						return err
//					}
//				}
//			}
//		})
//	})
func (b *Broker) ServeStream(w http.ResponseWriter, r *http.Request, serve func(s *Stream) error) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	o := &ownStream{cancel: cancel, info: ClientInfo{ID: b.nextID.Add(1), IP: strings.Clone(b.opts.ClientIP(r)), Connected: time.Now()}}
	if err := b.admit(o); err != nil {
		b.reject(w, r, http.StatusServiceUnavailable, err)
		return
	}
	defer b.unadmit(o)
	s, err := NewStream(w, r.WithContext(ctx))
	if err != nil {
		b.reject(w, r, http.StatusInternalServerError, err)
		return
	}
	s.SetWriteTimeout(b.opts.WriteTimeout)
	b.opts.Logger.Debug("sse: client connected", "client", o.info.ID, "ip", o.info.IP)
	if f := b.opts.Hooks.OnConnect; f != nil {
		f(o.info)
	}
	reason := serve(s)
	if reason == nil {
		reason = context.Cause(ctx) // nil if serve ended it of its own accord
	}
	if errors.Is(reason, ErrNotReading) {
		b.stats.evicted.Add(1)
		b.opts.Logger.Warn("sse: client evicted", "client", o.info.ID, "ip", o.info.IP, "reason", reason)
		if f := b.opts.Hooks.OnEvict; f != nil {
			f(o.info)
		}
		// A deadline already past fails net/http's end of the response,
		// and a connection whose write failed is closed, not kept.
		http.NewResponseController(w).SetWriteDeadline(time.Now()) //nolint:errcheck // without deadlines, the connection is kept as after any stream
	}
	b.opts.Logger.Debug("sse: client disconnected", "client", o.info.ID, "reason", reason)
	if f := b.opts.Hooks.OnDisconnect; f != nil {
		f(o.info, reason)
	}
}

// ownStream is a stream of ServeStream, in the registry for the limits
// and for Shutdown.
type ownStream struct {
	info   ClientInfo
	cancel context.CancelCauseFunc // ends the stream's context: Shutdown's
}

// admit registers o, or says why it may not open.
func (b *Broker) admit(o *ownStream) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.mayOpen(o.info.IP); err != nil {
		return err
	}
	b.own[o] = struct{}{}
	b.perIP[o.info.IP]++
	b.stats.clients.Add(1)
	b.wg.Add(1) // before Shutdown's Wait: both happen under mu, and closed is checked above
	return nil
}

// unadmit removes o from the registry; Shutdown no longer waits for it.
func (b *Broker) unadmit(o *ownStream) {
	b.mu.Lock()
	delete(b.own, o)
	b.leaveIP(o.info.IP)
	b.stats.clients.Add(-1)
	b.mu.Unlock()
	b.wg.Done()
}
