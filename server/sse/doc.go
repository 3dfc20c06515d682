// Package sse writes and reads server-sent events, the text/event-stream
// format that a browser's EventSource consumes, as specified by the WHATWG
// HTML standard:
// https://html.spec.whatwg.org/multipage/server-sent-events.html
//
// The package has two layers. The wire format, one file each:
//
//   - event.go, the encoder: [Event] is one event; [AppendEvent],
//     [WriteEvent], [AppendComment] and [AppendRetry] produce its wire
//     form. Event names and IDs that would break the framing (CR, LF,
//     NUL) are rejected, never rewritten.
//   - decoder.go, the decoder: [Decoder] parses a stream exactly as a
//     browser does; the tests and Go clients use it.
//   - stream.go, the HTTP helper: [NewStream] checks that the response can
//     flush, sends the headers, and returns a [Stream] that writes and
//     flushes one event per call. It starts no goroutines.
//
// And the broker, which serves many clients many topics:
//
//   - broker.go: [Broker] publishes to topics ([Broker.Publish], or to
//     this instance's clients only with [Broker.PublishLocal]) and
//     keeps the registry of clients; [Broker.Shutdown] ends every stream.
//   - idempotency.go: [Broker.PublishWith] with an idempotency key, so
//     that a publish retried after a lost answer is stored once and
//     every try gets the first event's ID.
//   - handler.go: [Broker.ServeHTTP], the /events handler: topics, limits,
//     authorisation, then the one stream lifecycle of both paths (open:
//     hooks, retry, replay or gap; finish).
//   - client.go: one stream's queue, bounded by bytes of lag, the batch
//     it writes and how its bytes reach the socket; hijack.go: hijacked
//     streams, their writer pool and the epoll watcher.
//   - engine.go: [Engine], which assigns IDs, keeps history and delivers
//     events; memory.go: [MemoryEngine], the in-process one.
//   - options.go: [Options], [Hooks] and the reserved names of
//     docs/protocol.md (from shared/protocol, which the browser client
//     imports too); id.go and topic.go: ID and topic syntax.
//
// Serving topics takes a Broker and an http.Server:
//
//	b, err := sse.New(sse.Options{Retry: 3 * time.Second})
//	if err != nil {
//		log.Fatal(err)
//	}
//	srv := &http.Server{Addr: ":8080", Handler: b} // WriteTimeout 0: see below
//	srv.RegisterOnShutdown(func() { b.Shutdown(context.Background()) })
//	go srv.ListenAndServe()
//	...
//	id, err := b.Publish(ctx, "news", sse.Event{Name: "headline", Data: "..."})
//
// A browser subscribes with new EventSource("/events?topic=news&topic=sport").
// Every event gets an ID "<epoch>-<seq>" from the engine, and is encoded
// once, at publish; each client's queue holds a pointer to the shared
// frame. A client that reconnects sends the last ID it saw (the
// Last-Event-ID header, or the lastEventId query parameter from a fresh
// EventSource) and gets every event it missed on its topics, in order,
// exactly once; if the history no longer holds them, or the ID is from
// another run, it gets the [protocol.GapEvent] first, and should reload its state.
//
// A client that reads too slowly never holds up other clients: fan-out
// only appends to its queue, and its writer sends everything queued in
// one write (a writev of the shared frames). It may fall Options.MaxLag
// bytes behind; past that, Publish waits for it, at most
// Options.PublishWait, so a burst slows the publisher instead of
// cutting a reader that paused; a client still behind after that is
// evicted. Its stream ends; the browser reconnects with its
// Last-Event-ID and catches up from history. docs/design.md has the
// whole delivery path.
// Each write has a deadline (Options.WriteTimeout). After Options.Heartbeat
// of silence a stream gets a heartbeat, a comment or, with
// heartbeat=event, a [protocol.HeartbeatEvent]. The protocol is in docs/protocol.md.
//
// Goroutines: on Linux, an HTTP/1.x stream is hijacked once its
// headers and replay are written (hijack.go): an idle stream then holds
// no goroutine and no net/http buffers; a pool of GOMAXPROCS writers
// writes queued events, and one goroutine watches the sockets for
// clients that hang up. Over TLS this holds too; serve through
// [TLSListener] so that the pool's writes do not block. HTTP/2 and
// writers that cannot be hijacked keep the request's goroutine as their
// writer. The broker runs one more
// goroutine, for heartbeats.
//
// Without a broker, a handler sends events with a [Stream] in a loop until
// the client goes away:
//
//	func ticks(w http.ResponseWriter, r *http.Request) {
//		s, err := sse.NewStream(w, r)
//		if err != nil {
//			http.Error(w, err.Error(), http.StatusInternalServerError)
//			return
//		}
//		s.SetWriteTimeout(10 * time.Second) // a stopped client ends the loop
//		if err := s.Retry(10 * time.Second); err != nil {
//			return
//		}
//		t := time.NewTicker(time.Second)
//		defer t.Stop()
//		for {
//			select {
//			case <-r.Context().Done():
//				return // the client left
//			case now := <-t.C:
//				if err := s.Send(sse.Event{Name: "tick", Data: now.Format(time.RFC3339)}); err != nil {
//					return
//				}
//			}
//		}
//	}
//
// A broker serves such a stream of your own with [Broker.ServeStream],
// counted under its limits and ended by its Shutdown like its topic
// streams.
//
// Serve streams from an http.Server whose WriteTimeout is 0, since
// WriteTimeout would cut every stream at that age; [Stream.SetWriteTimeout]
// bounds each write instead. http.Server.Shutdown waits for open streams
// to end and does not cancel their request contexts: end them from a
// function registered with RegisterOnShutdown.
package sse
