package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestReaders runs each client through a stream that ends after its
// first event, and checks what ssereader prints: the events as the
// client reports them, its retry, and the resume with Last-Event-ID.
func TestReaders(t *testing.T) {
	for _, tt := range []struct {
		client string
		want   []record // in order, errors left out
	}{
		{"gosse", []record{
			{Kind: "open"},
			// go-sse's Connection dispatches the "retry: 50" block, which
			// has no data (the spec does not dispatch it).
			{Kind: "event", Event: "message", Data: ""},
			{Kind: "event", Event: "message", Data: "a", ID: "1"},
			{Kind: "retry", RetryMS: -1}, // 50 ms ±50% jitter: checked below
			{Kind: "open"},
			{Kind: "event", Event: "message", Data: "", ID: "1"},
			{Kind: "event", Event: "x", Data: "b\nc", ID: "2"},
		}},
		{"launchdarkly", []record{
			{Kind: "open"},
			// LaunchDarkly dispatches the "retry: 50" block too, with its
			// Retry() (the spec does not dispatch it).
			{Kind: "retry", RetryMS: 50},
			{Kind: "event", Event: "message", Data: ""},
			{Kind: "event", Event: "message", Data: "a", ID: "1"},
			{Kind: "retry", RetryMS: 50},
			{Kind: "event", Event: "message", Data: "", ID: "1"},
			{Kind: "event", Event: "x", Data: "b\nc", ID: "2"},
		}},
	} {
		t.Run(tt.client, func(t *testing.T) {
			var conns atomic.Int32
			var resumedWith atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				if conns.Add(1) == 1 {
					fmt.Fprint(w, "retry: 50\n\nid: 1\ndata: a\n\n")
					return // the stream ends: the client must reconnect
				}
				resumedWith.Store(r.Header.Get("Last-Event-ID"))
				fmt.Fprint(w, "retry: 50\n\nid: 2\nevent: x\ndata: b\ndata: c\n\n")
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}))
			defer srv.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pr, pw := io.Pipe()
			done := make(chan error, 1) // buffered: the reader never waits for the test
			go func() { done <- clients[tt.client](ctx, srv.URL, newOutput(pw)); pw.Close() }()

			var got []record
			dec := json.NewDecoder(pr)
			for len(got) < len(tt.want) {
				var r record
				if err := dec.Decode(&r); err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				if r.Kind != "error" {
					got = append(got, r)
				}
			}
			cancel()
			go io.Copy(io.Discard, pr) // let the reader finish writing
			if err := <-done; err != nil && ctx.Err() == nil {
				t.Errorf("reader returned %v", err)
			}
			for i, w := range tt.want {
				g := got[i]
				if w.RetryMS == -1 {
					if g.Kind != "retry" || g.RetryMS < 25 || g.RetryMS > 76 {
						t.Errorf("record %d: %+v, want a retry of 50 ms ±50%%", i, g)
					}
					continue
				}
				if g != w {
					t.Errorf("record %d: %+v, want %+v", i, g, w)
				}
			}
			if id, _ := resumedWith.Load().(string); id != "1" {
				t.Errorf("reconnected with Last-Event-ID %q, want 1", id)
			}
		})
	}
}
