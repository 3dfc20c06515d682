// reader.mjs reads an SSE stream with the npm package eventsource (the
// independent client for Node) and prints what it sees as JSON lines, for
// e2e/interop_test.go:
//
//	node reader.mjs URL [EVENT-NAME...]
//
// prints {"kind":"open"} each time the stream opens,
// {"kind":"event","event":NAME,"data":DATA,"id":LASTEVENTID} for each
// event, and {"kind":"error","message":...} for each error (the client
// then reconnects by itself). It listens to "message" and to every event
// name given (the test passes the corpus's), since an EventSource delivers
// only the types it has listeners for. It runs until it is killed.
import { EventSource } from 'eventsource';

const [url, ...more] = process.argv.slice(2);
if (!url) {
  console.error('usage: node reader.mjs URL [EVENT-NAME...]');
  process.exit(2);
}
const names = new Set(['message', ...more]);

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const es = new EventSource(url);
es.onopen = () => out({ kind: 'open' });
es.onerror = (e) => out({ kind: 'error', message: String(e.message ?? e.type) });
for (const name of names) {
  es.addEventListener(name, (e) => out({ kind: 'event', event: e.type, data: e.data, id: e.lastEventId }));
}
