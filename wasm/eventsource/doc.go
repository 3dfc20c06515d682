// Package eventsource is a typed Go client over the browser's EventSource,
// for programs compiled with GOOS=js GOARCH=wasm, that survives real
// networks.
//
// A Source, its typed events and its state:
//
//	var src *eventsource.Source
//	src, err := eventsource.Open("/stream", eventsource.Options{
//		Watchdog: 45 * time.Second, // three missed heartbeats
//		OnStateChange: func(s eventsource.State) {
//			log.Print("stream ", s)
//			if s == eventsource.StateFailed {
//				log.Print(src.Err()) // e.g. 401: sign in, then src.Reopen()
//			}
//		},
//	})
//	if err != nil {
//		return err
//	}
//	defer src.Close()
//	eventsource.OnEvent(src, func(p demo.Ping, id string) {
//		show(p.Time, id)
//	}, func(err *eventsource.DecodeError) {
//		log.Print(err) // the server sent something else
//	})
//	src.OnGap(func(g protocol.Gap, id string) { reload() })
//
// A [Source] is one logical stream. [Open] creates a browser EventSource;
// the browser connects, parses the text/event-stream and reconnects by
// itself after a dropped stream. When the browser gives up for good (an
// HTTP status other than 200, a wrong Content-Type), the Source opens a new
// EventSource after an exponential backoff with jitter ([ReopenPolicy]),
// resuming after the last event ID it saw through the lastEventId query
// parameter (docs/protocol.md). A watchdog ([Options.Watchdog]) reopens a
// stream on which nothing arrived for too long; it asks the server for
// heartbeats as the named event "sse.heartbeat" (heartbeat=event).
//
// The browser does not say why it gave up, so the Source asks once, with
// fetch, the URL it would reopen (its probe, whose body it aborts as soon
// as the headers arrive). A status that reopening cannot change (400, 401,
// 403, 404, 405, and 204, 406, 410, 414, 501: see [StatusError]) stops the
// reopening: the Source enters [StateFailed], [Options.OnStateChange]
// reports it, and [Source.Err] returns the [*StatusError], which says what
// to do; once that is done, [Source.Reopen] tries again. Any other answer
// (500, 503, 429, ...), or none (a network error, an answer refused by
// CORS), keeps the Source reopening; a Retry-After in seconds that the page
// may read holds the reopen at least that long. A cross-origin server should therefore
// send its CORS headers on refusals too, and expose Retry-After
// (Access-Control-Expose-Headers), for the client to tell them apart.
//
// A stream behind a sign-in ends when its session expires: the server
// sends "sse.expired" and ends it. With [Options.Renew] (a fetch of the
// app's renewal endpoint) the Source closes its EventSource at once, so
// the browser never reconnects with the expired cookie, renews the session
// and reopens after the last event ID: the server's replay gives every
// event since, none lost and none doubled. A renewal that fails puts the
// Source in StateFailed with a [*RenewError].
//
// Subscriptions keep working across reopens: each is added once and follows
// the Source from one EventSource to the next. The handlers are named as
// in package appstream, which delivers the same events to go-app
// components: OnEvent, OnTopic, OnRaw, OnGap, OnRevoked, OnExpired, and
// Options.OnStateChange.
//
//   - [OnEvent] decodes each event into a type of shared/event and hands
//     it over with the event's ID: the Go type knows its SSE event name
//     (event.Named), so the listener needs no string. A payload that does
//     not decode goes to an error handler as a [*DecodeError], which holds
//     the raw data; it never panics.
//   - [Source.OnRaw] delivers the undecoded [Event]s of one name.
//   - [OnTopic] is OnEvent for a topic declared with shared/topic: the
//     handler takes the topic's payload type, or does not build; the
//     stream's URL comes from the same declarations ([TopicsURL]).
//   - [Source.OnGap] reports the server's "sse.gap" event: the events after
//     the ID the client sent cannot be replayed, and the app should reload
//     its state.
//   - [Source.OnRevoked] and [Source.OnExpired] report the server's
//     "sse.revoked" (the stream lost some topics: a sign-out) and
//     "sse.expired" (the session's grants expired and the stream ended).
//   - [Source.OnOpen] and [Source.OnError] report the underlying
//     EventSource's open and error events; [Options.OnStateChange] reports
//     the Source's [State].
//
// Every subscription returns a [Subscription] whose Close removes exactly
// that listener and drops its handler. [Source.Close] closes the stream,
// cancels a pending reopen, closes every subscription and releases the
// Source's only js.Func, so nothing leaks on the JavaScript side. Both are
// idempotent.
//
// Handlers run on the browser's event loop, in arrival order, in a task
// after the events': each listener is a small JavaScript function that
// queues the event, and the Source's one js.Func drains the queue in
// slices of a few milliseconds, so that a flood of events never freezes
// the page (the browser dispatches every event of a network read in one
// task). Handlers must not block: no channel sends that may wait, no
// network calls, no locks held by code that waits for the event loop. Hand
// the work off instead. For go-app components, package
// [github.com/ssewasm/ssewasm/wasm/eventsource/appstream] does that: it
// opens the stream in OnMount, closes it in OnDismount and delivers events
// through ctx.Dispatch, at most one batch per animation frame. After
// [Source.Close] returns, no handler of that Source is ever called again,
// not even for events the browser had already delivered.
//
// A page need not wait for app.wasm to open its stream: [EarlyScript],
// put in the page's head by the server, opens it with the HTML and keeps
// what arrives, and [Open] of the same URL (no credentials, no watchdog)
// takes that EventSource over, delivering the kept events first.
//
// The package builds on every platform so that code sharing it still builds
// and vets natively, but only the js/wasm build works: elsewhere [Open]
// returns an error that wraps [errors.ErrUnsupported].
package eventsource
