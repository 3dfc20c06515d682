package eventsource

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// earlyGlobal is the JavaScript global under which EarlyScript's streams
// wait for Open.
const earlyGlobal = "ssewasmEarlyStreams"

// Limits of a stream that EarlyScript opened and no Open adopted (the
// app failed to load, or the page never opens that URL): it would
// otherwise hold a connection and buffer a live stream for the page's
// whole life. Past either, the early stream closes, and an Open that
// comes later opens its own.
const (
	earlyMax  = 1000        // events kept for Open
	earlyWait = time.Minute // time to wait for Open: a 1.5 MB app.wasm at 200 kbit/s
)

// EarlyScript returns a <script> element for the head of the page at path
// page (go-app's Handler.RawHeaders) that opens an EventSource for stream
// (a path or URL, without credentials) as soon as the browser parses the
// HTML, while the app itself downloads. It keeps the stream's open and
// error events, its events of the named types and those every Source
// listens to, until the app's [Open] of the same URL, without
// credentials and without a watchdog, takes the EventSource over: the
// handlers added right after Open then receive what arrived meanwhile, in
// order, before anything later. The connection's set-up and the server's
// first events then overlap the app's download instead of following its
// start. On other pages the script does nothing. A stream no Open takes
// within a minute, or that kept 1,000 events, is closed.
func EarlyScript(page, stream string, events ...string) string {
	types := append([]string{"open", "error", "message", protocol.GapEvent, protocol.ExpiredEvent}, events...)
	// encoding/json escapes <, > and &: nothing can end the script early.
	p, _ := json.Marshal(page)
	s, _ := json.Marshal(stream)
	t, _ := json.Marshal(types)
	return fmt.Sprintf(`<script>(() => {
if (location.pathname !== %s) return;
const reg = globalThis.%s ??= {};
const es = new EventSource(%s), types = %s, kept = [];
const keep = ev => {
	kept.push(ev instanceof MessageEvent ? new MessageEvent(ev.type, {data: ev.data, lastEventId: ev.lastEventId, origin: ev.origin}) : new Event(ev.type));
	if (kept.length >= %d) drop();
};
const stop = () => { clearTimeout(timer); for (const t of types) es.removeEventListener(t, keep); if (reg[es.url]?.es === es) delete reg[es.url]; };
const drop = () => { stop(); es.close(); };
const timer = setTimeout(drop, %d);
for (const t of types) es.addEventListener(t, keep);
reg[es.url] = {es, take: () => { stop(); return kept; }};
})();</script>`, p, earlyGlobal, s, t, earlyMax, earlyWait.Milliseconds())
}
