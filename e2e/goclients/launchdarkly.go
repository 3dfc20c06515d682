package main

import (
	"context"
	"net/http"

	ld "github.com/launchdarkly/eventsource"
)

// readLaunchDarkly reads url with LaunchDarkly's Stream, which reconnects
// with Last-Event-ID after the delay the stream's retry sets (no backoff
// nor jitter unless asked for). The retry a connection sent shows on the
// first event read from it (publication.Retry, not in the Event interface).
func readLaunchDarkly(ctx context.Context, url string, out *output) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	s, err := ld.SubscribeWithRequestAndOptions(req)
	if err != nil {
		return err
	}
	defer s.Close()
	out.open()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-s.Errors:
			out.failed(err)
		case e, ok := <-s.Events:
			if !ok {
				return nil
			}
			if r, ok := e.(interface{ Retry() int64 }); ok && r.Retry() > 0 {
				out.retry(r.Retry())
			}
			id := e.Id()
			if l, ok := e.(ld.EventWithLastID); ok {
				id = l.LastEventID()
			}
			out.event(e.Event(), e.Data(), id)
		}
	}
}
