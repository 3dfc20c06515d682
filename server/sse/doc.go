// Package sse writes and reads server-sent events, the text/event-stream
// format that a browser's EventSource consumes, as specified by the WHATWG
// HTML standard:
// https://html.spec.whatwg.org/multipage/server-sent-events.html
//
// The package has three parts, one file each:
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
// A handler sends events in a loop until the client goes away:
//
//	func ticks(w http.ResponseWriter, r *http.Request) {
//		s, err := sse.NewStream(w, r)
//		if err != nil {
//			http.Error(w, err.Error(), http.StatusInternalServerError)
//			return
//		}
//		s.SetWriteTimeout(10 * time.Second) // a stalled client ends the loop
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
//				if err := s.Send(sse.Event{Event: "tick", Data: now.Format(time.RFC3339)}); err != nil {
//					return
//				}
//			}
//		}
//	}
//
// Serve streams from an http.Server whose WriteTimeout is 0, since
// WriteTimeout would cut every stream at that age; [Stream.SetWriteTimeout]
// bounds each write instead. http.Server.Shutdown waits for open streams
// to end and does not cancel their request contexts: end them from a
// function registered with RegisterOnShutdown.
package sse
