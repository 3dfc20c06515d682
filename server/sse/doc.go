// Package sse serves server-sent events, the text/event-stream format a
// browser's EventSource reads (https://html.spec.whatwg.org/multipage/server-sent-events.html),
// to many clients on topics, and replays what a client missed when it
// reconnects.
//
// The central type is [Broker]: an http.Handler whose every request is
// one client's stream (GET /events?topic=news&topic=sport), and to which
// the server publishes. [PublishTo] publishes a value on a topic declared
// with package shared/topic, whose payload type it checks at compile
// time; [Broker.Publish] takes a raw [Event]:
//
//	b, err := sse.New(sse.Options{}) // the zero value of every option is its default
//	if err != nil {
//		log.Fatal(err)
//	}
//	srv := &http.Server{Addr: ":8080", Handler: b, ConnContext: sse.ConnContext}
//	srv.RegisterOnShutdown(func() { b.Shutdown(context.Background()) })
//	go srv.ListenAndServe()
//	...
//	id, err := sse.PublishTo(ctx, b, Scores, Score{Team: "blue", Points: 3})
//	id, err = b.Publish(ctx, "news", sse.Event{Name: "headline", Data: "..."})
//
// Every event gets an ID "<epoch>-<seq>" from the broker's [Engine] and
// is encoded once for all its clients. A client that reconnects sends
// the last ID it saw and gets every event it missed on its topics, in
// order, exactly once; when the history no longer holds them it gets the
// gap event (shared/protocol) first, and should reload its state. A
// client that reads too slowly never holds up the others: past
// Options.MaxLag bytes behind, Publish waits for it a moment
// (Options.PublishWait), then it is evicted and catches up from history
// when it reconnects.
//
// Where to go next:
//
//   - [Options]: limits, heartbeats, the retry field, authorisation,
//     hooks, logs.
//   - [Identity]: private topics. Options.Identify says who a stream is
//     for (the app's own sign-in), Options.MayRead which topics it may
//     read; the grants are checked when the stream opens, when it
//     replays and on every delivery, end at the identity's expiry
//     (the protocol.ExpiredEvent), and [Broker.Revoke] takes them from
//     the open streams on every instance (the protocol.RevokedEvent).
//     [Broker.ConsumeOnce] makes single-use tokens, such as tickets.
//   - [Broker.ServeStream]: a stream of your own, such as events made for
//     each client, counted under the broker's limits; [Stream] writes it,
//     and [NewStream] makes one without a broker.
//   - [Engine] and [MemoryEngine]: where history lives; package
//     server/sse/jetstream shares topics and history between instances
//     through NATS JetStream.
//   - [Event], [AppendEvent] and [Decoder]: the wire format. Event names
//     and IDs that would break the framing (CR, LF, NUL) are refused,
//     never rewritten; the decoder parses a stream as a browser does.
//   - docs/protocol.md: the protocol (IDs, the gap event, heartbeats,
//     query parameters); docs/design.md: the delivery path, and why an
//     idle stream holds no goroutine.
//
// Serving: use an http.Server whose WriteTimeout is 0, since it would
// cut every stream at that age (each write has Options.WriteTimeout
// instead), and end the streams from RegisterOnShutdown, since
// http.Server.Shutdown waits for them and does not cancel their
// requests. On Linux an HTTP/1.x stream is taken over from net/http once
// open, and an HTTP/2 stream of package server/h2 detached, so that an
// idle stream holds no goroutine; serve TLS through [TLSListener] so
// that their writes never block. A plain HTTP/1.x stream keeps its
// socket as a bare file descriptor, not a net.Conn, when every wrapper
// a listener put around the connection implements [Detacher] (or there
// is none). The broker runs one goroutine of its own, for heartbeats.
package sse
