package main

import (
	"context"
	"net/http"
	"time"

	gosse "github.com/tmaxmax/go-sse"
)

// readGoSSE reads url with go-sse's Connection, which reconnects with
// Last-Event-ID and takes the stream's retry as its base delay (its
// OnRetry reports the delay it picked, with go-sse's jitter of ±50%,
// which cannot be turned off: Backoff.Jitter -1 is replaced by the
// default).
func readGoSSE(ctx context.Context, url string, out *output) error {
	c := &gosse.Client{
		ResponseValidator: func(r *http.Response) error {
			err := gosse.DefaultValidator(r)
			if err == nil {
				out.open()
			}
			return err
		},
		OnRetry: func(err error, d time.Duration) {
			out.failed(err)
			out.retry(d.Milliseconds())
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	conn := c.NewConnection(req)
	// The default limit is 64 KiB per line; the corpus has a 1 MiB event.
	conn.Buffer(nil, maxEvent)
	conn.SubscribeToAll(func(e gosse.Event) { out.event(e.Type, e.Data, e.LastEventID) })
	return conn.Connect()
}
