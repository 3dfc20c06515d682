// server.js: the benchmark's Node peer, a plain `http` broadcast server
// like the classic SSE tutorials': each stream is a response kept open in
// a set per topic, and a publish writes the event to every response in
// the set. No npm dependencies, no history, no backpressure handling
// (res.write buffers in memory for a client that does not read), as in
// the tutorials. It serves the endpoints the load tool uses
// (server/bench/adapter, docs/protocol.md):
//
//	GET  /events?topic=T              the event stream (no topic: "default")
//	POST /publish?topic=T&event=NAME  body = the event's data; 200 {}
//	GET  /healthz                     200 ok
//
// Usage: node server/bench/node/server.js -addr 127.0.0.1:8855
'use strict';

const http = require('node:http');

function parseArgs(argv) {
	let addr = '127.0.0.1:8855';
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '-addr' || a === '--addr') {
			addr = argv[++i];
		} else if (a.startsWith('-addr=') || a.startsWith('--addr=')) {
			addr = a.slice(a.indexOf('=') + 1);
		} else {
			console.error(`node: unknown argument ${a}; usage: server.js -addr host:port`);
			process.exit(2);
		}
	}
	const i = addr.lastIndexOf(':');
	const port = Number(addr.slice(i + 1));
	if (i < 0 || !Number.isInteger(port)) {
		console.error(`node: -addr ${addr}: want host:port`);
		process.exit(2);
	}
	return { host: addr.slice(0, i), port };
}

const maxBody = 1 << 20;
const topics = new Map(); // topic -> Set of open responses
let seq = 0;

// frame encodes one event: an id, the name, one data line per line.
function frame(event, data) {
	let f = `id: ${++seq}\n`;
	if (event) f += `event: ${event}\n`;
	for (const line of data.split('\n')) f += `data: ${line}\n`;
	return f + '\n';
}

function fail(res, status, msg) {
	res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
	res.end(msg + '\n');
}

const server = http.createServer((req, res) => {
	const url = new URL(req.url, 'http://localhost');
	if (req.method === 'GET' && url.pathname === '/events') {
		const topic = url.searchParams.get('topic') || 'default';
		res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
		res.flushHeaders();
		let set = topics.get(topic);
		if (!set) topics.set(topic, (set = new Set()));
		set.add(res);
		req.on('close', () => set.delete(res));
		return;
	}
	if (req.method === 'POST' && url.pathname === '/publish') {
		const topic = url.searchParams.get('topic');
		const event = url.searchParams.get('event') || '';
		if (!topic) return fail(res, 400, 'publish: missing topic parameter');
		if (event.startsWith('sse.') || /[\r\n]/.test(event)) return fail(res, 400, 'publish: reserved or invalid event name');
		const chunks = [];
		let size = 0;
		req.on('data', (c) => {
			size += c.length;
			if (size <= maxBody) chunks.push(c);
		});
		req.on('end', () => {
			if (size > maxBody) return fail(res, 413, 'publish: body over 1 MiB');
			const f = frame(event, Buffer.concat(chunks).toString('utf8'));
			const set = topics.get(topic);
			if (set) for (const r of set) r.write(f);
			res.writeHead(200, { 'Content-Type': 'application/json' });
			res.end('{}\n');
		});
		return;
	}
	if (req.method === 'GET' && url.pathname === '/healthz') {
		res.writeHead(200, { 'Content-Type': 'text/plain' });
		return res.end('ok\n');
	}
	fail(res, 404, 'not found');
});
server.requestTimeout = 0; // Node 18+ would cut a stream after 5 minutes
server.headersTimeout = 10000;

function shutdown() {
	for (const set of topics.values()) for (const r of set) r.end();
	server.close(() => process.exit(0));
	setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

const { host, port } = parseArgs(process.argv.slice(2));
server.listen(port, host, () => {
	const a = server.address();
	console.log(`node is serving on http://${a.address}:${a.port}/`);
});
